//! A job's site figures: the time-weighted PUE over its time in the period (with the default
//! where no configured value covers it) and the site's water use.

use super::{JobContext, Resolver};
use crate::config::Site;
use crate::timeutil::{overlap_s, seconds};
use chrono::{DateTime, Utc};

/// Time-weighted PUE of a site over `[a, b)`: per-period values where they apply, else the
/// site's whole-time value, else `default`. The flag says whether `default` filled any time.
pub(crate) fn site_pue(
    site: &Site,
    a: DateTime<Utc>,
    b: DateTime<Utc>,
    default: f64,
) -> (f64, bool) {
    let total = seconds(a, b);
    let whole = site.pue.iter().any(|e| e.period.is_none());
    if total <= 0.0 {
        return (default, !whole);
    }
    let base = site
        .pue
        .iter()
        .find(|e| e.period.is_none())
        .map(|e| e.value)
        .unwrap_or(default);
    let mut covered = 0.0;
    let mut weighted = 0.0;
    for e in &site.pue {
        if let Some(p) = &e.period {
            let o = overlap_s(a, b, p.start, p.end);
            covered += o;
            weighted += o * e.value;
        }
    }
    let uncovered = (total - covered).max(0.0);
    (
        (weighted + uncovered * base) / total,
        !whole && uncovered > 0.0,
    )
}

impl Resolver<'_> {
    /// The job's PUE. Every configured value applying to its time is listed as a factor; the
    /// default is listed, and its users counted, whenever it filled any of the time: jobs
    /// without a site, sites without a PUE, and time no per-period value covers.
    pub(super) fn pue(&mut self, ctx: &JobContext) -> f64 {
        let default = self.default_pue.value;
        let (pue, default_used) = match ctx.site {
            Some(s) => {
                self.list_site_pue(s, ctx);
                site_pue(s, ctx.clip_a, ctx.clip_b, default)
            }
            None => (default, true),
        };
        if default_used {
            let who = ctx
                .site
                .map(|s| format!("site '{}'", s.id))
                .unwrap_or_else(|| "jobs without a site".to_string());
            *self.tallies.default_pue_users.entry(who).or_default() += 1;
            let d = &self.default_pue;
            self.res
                .use_factor("PUE (default)".into(), d.value, "ratio", d.source, d.year);
        }
        pue
    }

    /// List the site's PUE values that apply to the job's time.
    fn list_site_pue(&mut self, s: &Site, ctx: &JobContext) {
        for e in &s.pue {
            let applies = e
                .period
                .as_ref()
                .is_none_or(|p| overlap_s(ctx.clip_a, ctx.clip_b, p.start, p.end) > 0.0);
            if !applies {
                continue;
            }
            let name = match &e.period {
                Some(p) => format!("PUE {} {}", s.id, p.label),
                None => format!("PUE {}", s.id),
            };
            self.res.use_factor(
                name,
                e.value,
                "ratio",
                &format!("greenledger.toml [[site]] {} (line {})", s.id, s.line),
                None,
            );
        }
    }

    /// The site's water use per IT kWh, listed as a factor when configured.
    pub(super) fn wue(&mut self, site: Option<&Site>) -> Option<f64> {
        let s = site?;
        let w = s.wue_l_per_kwh?;
        self.res.use_factor(
            format!("WUE {}", s.id),
            w,
            "L/kWh",
            &format!("greenledger.toml [[site]] {}", s.id),
            None,
        );
        Some(w)
    }
}
