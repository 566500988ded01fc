//! Node lists as schedulers write them: `a;b;c`, `a,b`, and Slurm hostlists such as
//! `gpu[01-04,07]` or `d09n04s[01-02],d13n[03,05,07-08,16]`; device lists such as `0-3` or `0,2`.

/// The most host names one node list may expand to: more than any machine has nodes, and few
/// enough to expand in well under a second. A list beyond it is refused, not truncated.
pub(crate) const MAX_HOSTS: usize = 100_000;

/// Expand a node list into host names (order kept, duplicates removed).
pub(crate) fn expand_nodes(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for part in split_top(s) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if count_one(part)?.saturating_add(out.len()) > MAX_HOSTS {
            return Err(too_many(s));
        }
        for h in expand_one(part)? {
            if seen.insert(h.clone()) {
                out.push(h);
            }
        }
    }
    if out.is_empty() {
        return Err(format!("'{s}' names no node"));
    }
    Ok(out)
}

fn too_many(s: &str) -> String {
    let shown: String = s.chars().take(60).collect();
    format!("'{shown}' names more than {MAX_HOSTS} hosts")
}

/// How many names one host pattern expands to (the product of its bracket groups), without
/// expanding it; saturating, so a huge product is still a number.
fn count_one(p: &str) -> Result<usize, String> {
    let mut total: usize = 1;
    let mut rest = p;
    while let Some(open) = rest.find('[') {
        let close = rest[open..]
            .find(']')
            .map(|i| i + open)
            .ok_or_else(|| format!("unbalanced '[' in '{p}'"))?;
        let mut group: usize = 0;
        for item in rest[open + 1..close].split(',') {
            let (lo, hi) = range(item.trim(), p)?;
            group = group.saturating_add((hi - lo + 1) as usize);
        }
        total = total.saturating_mul(group);
        rest = &rest[close + 1..];
    }
    Ok(total)
}

/// One bracket item, `07` or `01-16`: its bounds, checked.
fn range(item: &str, p: &str) -> Result<(u64, u64), String> {
    let (a, b) = item.split_once('-').unwrap_or((item, item));
    let bad = || format!("bad range '{item}' in '{p}'");
    let lo: u64 = a.parse().map_err(|_| bad())?;
    let hi: u64 = b.parse().map_err(|_| bad())?;
    if hi < lo || hi - lo >= MAX_HOSTS as u64 {
        return Err(bad());
    }
    Ok((lo, hi))
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

/// Expand one host pattern, which may hold several bracket groups (`r[1-2]n[01-02]`); the
/// caller has bounded its size with [`count_one`].
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
        let width = item.split('-').next().unwrap_or(item).len();
        let (lo, hi) = range(item, p)?;
        for n in lo..=hi {
            for r in &rest {
                out.push(format!("{prefix}{n:0width$}{r}"));
            }
        }
    }
    Ok(out)
}

/// Expand a device list (`0-3`, `0,2,5`, `0;1`) into indices.
pub(crate) fn expand_ids(s: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
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
            if seen.insert(i) {
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
pub(crate) fn node_key(name: &str) -> String {
    let n = name.trim();
    let short = n.split('.').next().unwrap_or(n);
    short.to_ascii_lowercase()
}

/// The nodes of a `[[site]]`: host lists expanded once, globs compiled once, all in
/// [`node_key`] form, so `GPU[01-16]` or `gpu01.cluster.local` match the telemetry's `gpu01`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSet {
    hosts: std::collections::HashSet<String>,
    globs: Vec<glob::Pattern>,
}

impl NodeSet {
    /// Names, host lists and globs (`par-*`), as `[[site]] nodes` gives them.
    pub fn new(patterns: &[String]) -> Result<NodeSet, String> {
        let mut set = NodeSet::default();
        for p in patterns {
            if p.contains(['*', '?']) {
                let g = glob::Pattern::new(&node_key(p))
                    .map_err(|e| format!("bad node pattern '{p}': {e}"))?;
                set.globs.push(g);
            } else {
                for h in expand_nodes(p)? {
                    set.hosts.insert(node_key(&h));
                    if set.hosts.len() > MAX_HOSTS {
                        return Err(too_many(p));
                    }
                }
            }
        }
        Ok(set)
    }

    /// Whether `node` (any spelling) is one of these.
    pub fn contains(&self, node: &str) -> bool {
        let key = node_key(node);
        self.hosts.contains(&key) || self.globs.iter().any(|g| g.matches(&key))
    }
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

    #[test]
    fn a_huge_hostlist_is_refused_quickly() {
        let started = std::time::Instant::now();
        // 10^6 names: each range alone is allowed, their product is not.
        let e = expand_nodes("r[1-1000]n[1-1000]").unwrap_err();
        assert!(e.contains("more than 100000 hosts"), "{e}");
        // Many parts that add up past the limit.
        let parts: Vec<String> = (0..3).map(|k| format!("p{k}n[1-40000]")).collect();
        assert!(expand_nodes(&parts.join(",")).is_err());
        assert!(NodeSet::new(&["r[1-1000]n[1-1000]".to_string()]).is_err());
        // The limit itself is fine, and de-duplication is linear.
        let ok = expand_nodes("n[1-50000],n[1-50000]").unwrap();
        assert_eq!(ok.len(), 50_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn site_nodes_match_in_node_key_form() {
        let set = NodeSet::new(&[
            "GPU[01-16]".to_string(),
            "login.cluster.local".to_string(),
            "par-*".to_string(),
        ])
        .unwrap();
        assert!(set.contains("gpu07"));
        assert!(set.contains("gpu07.cluster.local"));
        assert!(set.contains("GPU16"));
        assert!(!set.contains("gpu17"));
        assert!(set.contains("LOGIN"));
        assert!(set.contains("PAR-gpu42.example.org"));
        assert!(!set.contains("sto-gpu01"));
        assert!(NodeSet::new(&["gpu[1-".to_string()]).is_err());
    }
}
