//! Node lists as schedulers write them: `a;b;c`, `a,b`, and Slurm hostlists such as
//! `gpu[01-04,07]` or `d09n04s[01-02],d13n[03,05,07-08,16]`; device lists such as `0-3` or `0,2`.

/// Expand a node list into host names (order kept, duplicates removed).
pub fn expand_nodes(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in split_top(s) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        for h in expand_one(part)? {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    if out.is_empty() {
        return Err(format!("'{s}' names no node"));
    }
    Ok(out)
}

/// Split on `;`, `,` and spaces that are outside brackets.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ';' | ',' | ' ' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Expand one host pattern, which may hold several bracket groups (`r[1-2]n[01-02]`).
fn expand_one(p: &str) -> Result<Vec<String>, String> {
    let Some(open) = p.find('[') else {
        if p.contains(']') {
            return Err(format!("unbalanced ']' in '{p}'"));
        }
        return Ok(vec![p.to_string()]);
    };
    let close = p[open..]
        .find(']')
        .map(|i| i + open)
        .ok_or_else(|| format!("unbalanced '[' in '{p}'"))?;
    let prefix = &p[..open];
    let rest = expand_one(&p[close + 1..])?;
    let mut out = Vec::new();
    for item in p[open + 1..close].split(',') {
        let item = item.trim();
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        let width = a.len();
        let lo: u64 = a
            .parse()
            .map_err(|_| format!("bad range '{item}' in '{p}'"))?;
        let hi: u64 = b
            .parse()
            .map_err(|_| format!("bad range '{item}' in '{p}'"))?;
        if hi < lo || hi - lo > 100_000 {
            return Err(format!("bad range '{item}' in '{p}'"));
        }
        for n in lo..=hi {
            for r in &rest {
                out.push(format!("{prefix}{n:0width$}{r}"));
            }
        }
    }
    Ok(out)
}

/// Expand a device list (`0-3`, `0,2,5`, `0;1`) into indices.
pub fn expand_ids(s: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for item in s
        .split([',', ';', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
    {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        let lo: u32 = a
            .trim()
            .parse()
            .map_err(|_| format!("bad device index '{item}' in '{s}'"))?;
        let hi: u32 = b
            .trim()
            .parse()
            .map_err(|_| format!("bad device index '{item}' in '{s}'"))?;
        if hi < lo || hi - lo > 4096 {
            return Err(format!("bad device range '{item}' in '{s}'"));
        }
        for i in lo..=hi {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    if out.is_empty() {
        return Err(format!("'{s}' names no device"));
    }
    Ok(out)
}

/// The form node names are compared in: lower case, without a domain.
pub fn node_key(name: &str) -> String {
    let n = name.trim();
    let short = n.split('.').next().unwrap_or(n);
    short.to_ascii_lowercase()
}

/// The site whose `[[site]] nodes` (names, host lists or globs) name `node`.
pub fn site_of_node(cfg: &crate::config::Config, node: &str) -> Option<String> {
    for site in &cfg.sites {
        for p in &site.nodes {
            let hit = if p.contains(['*', '?']) {
                glob::Pattern::new(p).is_ok_and(|g| g.matches(node))
            } else {
                expand_nodes(p).is_ok_and(|hosts| hosts.iter().any(|h| h == node))
            };
            if hit {
                return Some(site.id.clone());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_hostlists() {
        assert_eq!(
            expand_nodes("gpu[01-04,07]").unwrap(),
            ["gpu01", "gpu02", "gpu03", "gpu04", "gpu07"]
        );
        assert_eq!(
            expand_nodes("d09n04s[01-02],d13n[03,05,07-08,16]").unwrap(),
            [
                "d09n04s01",
                "d09n04s02",
                "d13n03",
                "d13n05",
                "d13n07",
                "d13n08",
                "d13n16"
            ]
        );
        assert_eq!(
            expand_nodes("node0000;node0001").unwrap(),
            ["node0000", "node0001"]
        );
        assert_eq!(
            expand_nodes("r[1-2]n[1-2]").unwrap(),
            ["r1n1", "r1n2", "r2n1", "r2n2"]
        );
        assert_eq!(expand_nodes("a, b ,a").unwrap(), ["a", "b"]);
        assert!(expand_nodes("gpu[01-").is_err());
        assert!(expand_nodes("gpu[5-1]").is_err());
        assert!(expand_nodes(" ; ").is_err());
    }

    #[test]
    fn device_ids() {
        assert_eq!(expand_ids("0-3").unwrap(), [0, 1, 2, 3]);
        assert_eq!(expand_ids("0,2;5").unwrap(), [0, 2, 5]);
        assert!(expand_ids("x").is_err());
        assert_eq!(node_key("GPU01.cluster.local"), "gpu01");
    }
}
