//! Property tests: totals reconcile and row order does not matter.

use super::{build_in, fixture, rel};
use proptest::prelude::*;

/// The rows of the demo's jobs.csv (its header excluded).
fn demo_rows() -> usize {
    let text = std::fs::read_to_string(fixture("demo").join("jobs.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// The demo with its jobs.csv rows permuted.
fn demo_with_rows(order: &[usize]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = fixture("demo");
    greenledger::demo::write_inputs(d.path()).unwrap();
    let text = std::fs::read_to_string(src.join("jobs.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    for &i in order {
        out.push_str(rows[i % rows.len()]);
        out.push('\n');
    }
    std::fs::write(d.path().join("jobs.csv"), out).unwrap();
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn row_order_does_not_change_any_figure(seed in any::<u64>()) {
        let n = demo_rows();
        prop_assert!(n > 1);
        let mut order: Vec<usize> = (0..n).collect();
        // Fisher-Yates with a small LCG from the seed.
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let base = build_in(demo_with_rows(&(0..n).collect::<Vec<_>>()).path());
        let shuffled = build_in(demo_with_rows(&order).path());
        prop_assert_eq!(base.jobs.len(), shuffled.jobs.len());
        for (a, b) in base.jobs.iter().zip(&shuffled.jobs) {
            prop_assert_eq!(&a.job_id, &b.job_id);
            prop_assert!(rel(a.amounts.location_kgco2e, b.amounts.location_kgco2e) <= 1e-12);
        }
        for (a, b) in base.teams.iter().zip(&shuffled.teams) {
            prop_assert_eq!(&a.team, &b.team);
            for (p, x) in &a.scores.practices {
                let y = b.scores.practices[p];
                prop_assert!(x.zip(y).is_none_or(|(x, y)| (x - y).abs() < 1e-9) && x.is_some() == y.is_some(), "score {p}: {x:?} vs {y:?}");
            }
            prop_assert!(rel(a.amounts.location_kgco2e, b.amounts.location_kgco2e) <= 1e-9);
            prop_assert!(rel(a.amounts.facility_energy_kwh, b.amounts.facility_energy_kwh) <= 1e-9);
        }
        prop_assert!(rel(base.totals.location_kgco2e, shuffled.totals.location_kgco2e) <= 1e-9);
        prop_assert!(rel(base.totals.gpu_hours, shuffled.totals.gpu_hours) <= 1e-9);
    }

    #[test]
    fn totals_reconcile_for_any_ledger(
        jobs in prop::collection::vec((0usize..3, 0usize..4, 1u32..64, 1u32..200, 0u32..2000, 0u32..5, prop::bool::ANY), 1..40)
    ) {
        let d = tempfile::tempdir().unwrap();
        let cfg = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\n\
            [[site]]\nid = \"s0\"\nzone = \"FR\"\npue = 1.2\nwue_l_per_kwh = 0.3\n\
            [[site]]\nid = \"s1\"\nzone = \"us-east-1\"\n[[site.pue]]\nperiod = \"2026-08\"\nvalue = 1.4\n\
            [[site]]\nid = \"s2\"\nzone = \"SE3\"\npue = 1.05\n\
            [[hardware]]\nname = \"H100\"\nembodied_kgco2e = 400\n";
        let mut csv = String::from("job_id,model,team,site,start,end,hardware,devices,energy_kwh\n");
        for (i, (site, team, devices, hours, energy, start_day, metered)) in jobs.iter().enumerate() {
            let start = chrono::DateTime::parse_from_rfc3339("2026-06-25T00:00:00Z").unwrap() + chrono::Duration::days(*start_day as i64 * 25) + chrono::Duration::hours(i as i64);
            let end = start + chrono::Duration::hours(*hours as i64);
            let e = if *metered { format!("{energy}") } else { String::new() };
            csv.push_str(&format!("j{i},m{},t{team},s{site},{},{},{},{devices},{e}\n", i % 5, start.to_rfc3339(), end.to_rfc3339(), if i % 2 == 0 { "H100" } else { "A100" }));
        }
        std::fs::write(d.path().join("greenledger.toml"), cfg).unwrap();
        std::fs::write(d.path().join("jobs.csv"), csv).unwrap();
        let r = build_in(d.path());
        let v = serde_json::to_value(&r).unwrap();
        super::assert_reconciles(&v);
        // Every job is counted, or reported as outside the period.
        let outside = r.findings.iter().filter(|f| f.code == "jobs.outside-period").count();
        prop_assert_eq!(r.jobs.len() + outside, jobs.len());
    }
}
