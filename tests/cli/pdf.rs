//! report.pdf and report.html: text extracted from the PDF, determinism, pagination of a long
//! ledger with its header on every page, and the HTML's structure and charts.

use super::{build_in, fixture, gl, tmp_with};
use greenledger::render::Renderer;

fn pdf_of(r: &greenledger::report::Report) -> Vec<u8> {
    let files = greenledger::render::pdf::Pdf::new(None)
        .unwrap()
        .render(r)
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, "report.pdf");
    files[0].1.clone()
}

/// The text of each page, read back with lopdf (through the fonts' ToUnicode maps).
fn pages_text(pdf: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(pdf).expect("the PDF parses");
    let pages = doc.get_pages();
    pages
        .keys()
        .map(|n| doc.extract_text(&[*n]).expect("text extracts"))
        .collect()
}

/// Text without any whitespace: table cells wrap long ids over lines.
fn squeezed(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn the_demo_pdf_carries_teams_totals_and_every_job() {
    let r = build_in(&fixture("demo"));
    let pdf = pdf_of(&r);
    assert!(pdf.starts_with(b"%PDF-"));
    let pages = pages_text(&pdf);
    assert!(pages.len() > 5, "{} pages", pages.len());
    let all = pages.join("\n");
    let flat = squeezed(&all);
    // The cover: title, period and the headline figures as the HTML prints them.
    assert!(pages[0].contains("Aurora Labs"), "{}", pages[0]);
    assert!(pages[0].contains("2026-Q3"));
    let tonnes = format!("{:.2} t", r.totals.location_kgco2e / 1000.0);
    assert!(pages[0].contains(&tonnes), "{tonnes} not on the cover");
    assert!(all.contains("CO₂e"), "non-ASCII text survives");
    for t in &r.teams {
        assert!(all.contains(&t.team), "team {}", t.team);
    }
    for j in &r.jobs {
        assert!(flat.contains(&squeezed(&j.job_id)), "job {}", j.job_id);
    }
    for f in &r.factors {
        assert!(flat.contains(&squeezed(&f.name)), "factor {}", f.name);
    }
    for section in [
        "Summary",
        "Methodology",
        "Findings",
        "Factors used",
        "Contents",
        "Cloud compute (Scope 3, category 1)",
        "EU AI Act documentation",
        "Why emissions changed",
        // The bridge's largest cause, in words.
        "Accelerator-hours at iowa-cloud fell 37 %",
        // The evidence appendix: the largest job's trail.
        "Evidence per job",
        "The trails of the 25 job(s) with the largest location-based emissions, of 76",
    ] {
        assert!(all.contains(section), "{section}");
    }
    // The largest job's trail opens the appendix, with its steps.
    let top = r
        .jobs
        .iter()
        .max_by(|a, b| {
            a.amounts
                .location_kgco2e
                .total_cmp(&b.amounts.location_kgco2e)
        })
        .unwrap();
    let appendix = &all[all.find("Evidence per job").unwrap()..];
    let at = appendix
        .find(&format!("{} ({}, ", top.job_id, top.team))
        .expect("the top job's trail");
    assert!(appendix[at..].contains("facility:") && appendix[at..].contains("location:"));
    // Page numbers on every page.
    let n = pages.len();
    for (i, p) in pages.iter().enumerate() {
        assert!(
            p.contains(&format!("Page {} of {n}", i + 1)),
            "page {} has no number",
            i + 1
        );
    }
}

#[test]
fn renders_in_one_process_are_byte_identical() {
    let demo = build_in(&fixture("demo"));
    let hand = build_in(&fixture("handcalc"));
    let a = pdf_of(&demo);
    let other = pdf_of(&hand);
    let b = pdf_of(&demo);
    assert!(a == b, "two renders of one report differ");
    assert!(a != other);
    // No date without --generated-at: the document carries none.
    let text = String::from_utf8_lossy(&a);
    assert!(!text.contains("CreationDate"));
    assert!(!text.contains("PDFXVersion"));
    // The faces are embedded as subsets: the whole of DejaVu Sans is ~1.4 MB.
    assert!(a.len() < 300_000, "{} bytes", a.len());
    assert!(text.contains("/GLDJVR+DejaVuSans"));
}

#[test]
fn the_date_comes_from_generated_at_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    gl().args(["report", "--quiet", "--format", "pdf", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .args(["--generated-at", "2026-10-02T08:30:00Z", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let pdf = std::fs::read(out.join("report.pdf")).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let info = doc
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference)
        .and_then(|id| doc.get_dictionary(id))
        .unwrap();
    let date = info.get(b"CreationDate").unwrap().as_str().unwrap();
    assert_eq!(date, b"D:20261002083000Z");
    // The same command again: the same bytes.
    let out2 = dir.path().join("r2");
    gl().args(["report", "--quiet", "--format", "pdf", "--config"])
        .arg(fixture("handcalc/greenledger.toml"))
        .args(["--generated-at", "2026-10-02T08:30:00Z", "--out"])
        .arg(&out2)
        .assert()
        .code(0);
    assert!(pdf == std::fs::read(out2.join("report.pdf")).unwrap());
}

#[test]
fn a_thousand_job_ledger_paginates_with_its_header_on_every_page() {
    let mut jobs = String::from("job_id,model,team,site,start,end,hardware,devices\n");
    for i in 0..1000 {
        jobs.push_str(&format!(
            "run-{i:04}-with-a-rather-long-identifier,model-{},team-{},lab,2026-07-{:02}T00:00:00Z,2026-07-{:02}T06:00:00Z,H100-SXM5-80GB,8\n",
            i % 37,
            i % 5,
            1 + i % 28,
            1 + i % 28
        ));
    }
    let d = tmp_with(&[
        (
            "greenledger.toml",
            "[report]\ntitle = \"Long ledger\"\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\n[[site]]\nid = \"lab\"\nzone = \"DE\"\npue = 1.2\n",
        ),
        ("jobs.csv", &jobs),
    ]);
    let r = build_in(d.path());
    assert_eq!(r.jobs.len(), 1000);
    let pages = pages_text(&pdf_of(&r));
    // The pages of the Jobs section: from its title to the next section's (each section
    // starts a page with its title, as listed in the contents).
    let mut section = String::new();
    let mut ledger: Vec<&String> = Vec::new();
    for p in &pages[1..] {
        let first = p
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        if pages[0].lines().any(|l| l.trim() == first) {
            section = first.to_string();
        }
        if section == "Jobs" {
            ledger.push(p);
        }
    }
    assert!(ledger.len() >= 10, "{} ledger pages", ledger.len());
    for p in &ledger {
        let flat = squeezed(p);
        // The jobs table's header row.
        for h in [
            "job",
            "model",
            "site/zone",
            "accel.-h",
            "location",
            "market",
        ] {
            assert!(flat.contains(h), "a ledger page lacks the header {h}:\n{p}");
        }
    }
    let flat = squeezed(&pages.join(""));
    for i in 0..1000 {
        let id = format!("run-{i:04}-with-a-rather-long-identifier");
        assert!(flat.contains(&id), "{id} missing");
    }
}

/// A strict reading of the HTML: every non-void element is closed in order, attributes are
/// quoted, and nothing is left open at the end.
fn check_html(html: &str) -> Result<usize, String> {
    const VOID: [&str; 8] = ["meta", "link", "br", "hr", "img", "input", "col", "wbr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    let mut elements = 0;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix("!--") {
            rest = &r[r.find("-->").ok_or("an unclosed comment")? + 3..];
            continue;
        }
        if rest.starts_with('!') {
            rest = &rest[rest.find('>').ok_or("an unclosed doctype")? + 1..];
            continue;
        }
        let end = rest.find('>').ok_or("an unclosed tag")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        if name.is_empty() || !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("a malformed tag <{tag}>"));
        }
        elements += 1;
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "style" || name == "script" {
            let close = format!("</{name}>");
            rest = &rest[rest.find(&close).ok_or("an unclosed style")? + close.len()..];
            continue;
        }
        stack.push(name);
    }
    match stack.last() {
        Some(open) => Err(format!("<{open}> is never closed")),
        None => Ok(elements),
    }
}

#[test]
fn the_html_is_well_formed_and_carries_the_svg_charts() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("demo");
    gl().args(["demo", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let n = check_html(&html).unwrap_or_else(|e| panic!("report.html: {e}"));
    assert!(n > 1000, "{n} elements");
    for id in [
        "emissions_by_team",
        "energy_by_month",
        "emissions_by_month",
        "energy_by_tier",
        "scores_by_team",
        "idle_by_node",
    ] {
        assert!(
            html.contains(&format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}""#
            )),
            "chart {id}"
        );
    }
    // The demo writes its PDF beside the HTML.
    let pdf = std::fs::read(out.join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // The checker itself: it rejects what a browser would have to repair.
    assert!(check_html("<p><b>x</p></b>").is_err());
    assert!(check_html("<div><span>x</span>").is_err());
    assert!(check_html(r#"<a href="x>y</a>"#).is_err());
}

/// The text of the hand-calculated case's PDF, page by page: a snapshot of what a reader sees
/// (layout changes show up as a reviewed diff).
#[test]
fn pdf_text_snapshot() {
    // Run from the fixture's folder, so that the findings name files relative to it (as in the
    // HTML snapshot), whatever folder the repository is cloned into.
    let out = tempfile::tempdir().unwrap();
    gl().current_dir(fixture("handcalc"))
        .args([
            "report",
            "--quiet",
            "--format",
            "pdf",
            "--generated-at",
            "2026-10-01T00:00:00Z",
            "--config",
            "greenledger.toml",
            "--out",
        ])
        .arg(out.path().join("r"))
        .assert()
        .code(0);
    let pages = pages_text(&std::fs::read(out.path().join("r/report.pdf")).unwrap());
    let text: Vec<String> = pages
        .iter()
        .enumerate()
        .map(|(i, p)| format!("=== page {} ===\n{}", i + 1, p.trim_end()))
        .collect();
    let snapshot = super::root().join("tests/cli/snapshots/handcalc_report_pdf.txt");
    super::golden::assert_golden(&snapshot, &(text.join("\n") + "\n"));
}
