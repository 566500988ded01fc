//! `[[site]]` entries validated: unique ids, PUE as one value or non-overlapping per-period
//! values within 1..5, non-negative factors, a zone or an intensity, and the contractual
//! instruments of market-based Scope 2.

use super::file::{InstrumentSection, MeterSection, PueSpec, SiteSection};
use super::{line_of, InputFile, Instrument, MeterScope, PueEntry, Site, SiteMeter, Where};
use crate::error::{Error, Result};
use crate::timeutil::Period;

/// Every site of the file, validated, in file order.
pub(super) fn sites(entries: &[toml::Spanned<SiteSection>], w: &Where) -> Result<Vec<Site>> {
    let mut sites: Vec<Site> = Vec::new();
    for s in entries {
        let line = line_of(w.text, s.span().start);
        let site = s.get_ref();
        let bad = |m: String| {
            Error::in_file(w.path, format!("[[site]] '{}': {m}", site.id)).at_line(line)
        };
        if sites.iter().any(|x| x.id == site.id) {
            return Err(bad("a site with this id is already defined".into()));
        }
        let pue = pue(site.pue.as_ref(), &bad)?;
        for (name, v) in [
            ("wue_l_per_kwh", site.wue_l_per_kwh),
            ("grid_intensity_g_per_kwh", site.grid_intensity_g_per_kwh),
            ("residual_mix_g_per_kwh", site.residual_mix_g_per_kwh),
        ] {
            if v.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
                return Err(bad(format!("{name} must be a number >= 0")));
            }
        }
        if site.zone.is_none() && site.grid_intensity_g_per_kwh.is_none() {
            return Err(bad("give a zone or a grid_intensity_g_per_kwh".into()));
        }
        let instruments = site
            .instrument
            .iter()
            .map(|i| instrument(i, &bad))
            .collect::<Result<Vec<_>>>()?;
        let meters = site
            .meter
            .iter()
            .map(|m| meter(m, &bad))
            .collect::<Result<Vec<_>>>()?;
        sites.push(Site {
            id: site.id.clone(),
            name: site.name.clone().unwrap_or_else(|| site.id.clone()),
            zone: site.zone.clone(),
            kind: site
                .kind
                .unwrap_or_else(|| super::SiteKind::default_for(site.zone.as_deref())),
            cloud_project: site.cloud_project.clone(),
            cloud_account: site.cloud_account.clone(),
            pue,
            wue_l_per_kwh: site.wue_l_per_kwh,
            grid_intensity_g_per_kwh: site.grid_intensity_g_per_kwh,
            residual_mix_g_per_kwh: site.residual_mix_g_per_kwh,
            instruments,
            nodes: crate::hostlist::NodeSet::new(&site.nodes)
                .map_err(|e| bad(format!("nodes: {e}")))?,
            meters,
            line,
        });
    }
    Ok(sites)
}

/// A site's PUE entries: each within 1.0..5.0, per-period values not overlapping (each
/// instant has one PUE).
fn pue(spec: Option<&PueSpec>, bad: &dyn Fn(String) -> Error) -> Result<Vec<PueEntry>> {
    let mut pue = Vec::new();
    match spec {
        Some(PueSpec::One(v)) => pue.push(PueEntry {
            period: None,
            value: *v,
        }),
        Some(PueSpec::ByPeriod(list)) => {
            for e in list {
                let p = Period::parse(&e.period).map_err(|m| bad(format!("pue period: {m}")))?;
                pue.push(PueEntry {
                    period: Some(p),
                    value: e.value,
                });
            }
        }
        None => {}
    }
    if let Some(e) = pue.iter().find(|e| !(1.0..=5.0).contains(&e.value)) {
        return Err(bad(format!("pue {} is outside 1.0..5.0", e.value)));
    }
    let periods: Vec<&Period> = pue.iter().filter_map(|e| e.period.as_ref()).collect();
    for (i, a) in periods.iter().enumerate() {
        for b in &periods[i + 1..] {
            if a.start < b.end && b.start < a.end {
                return Err(bad(format!(
                    "pue periods {} and {} overlap; give each instant one PUE",
                    a.label, b.label
                )));
            }
        }
    }
    Ok(pue)
}

/// One contractual instrument: a known kind, a period, MWh >= 0, and its factor (certificates
/// carry the zero-emission attribute unless stated; a supplier-specific factor must be given).
fn instrument(i: &InstrumentSection, bad: &dyn Fn(String) -> Error) -> Result<Instrument> {
    let kind = i.kind.trim().to_ascii_uppercase();
    let kind = match kind.as_str() {
        "PPA" | "REC" | "GO" => kind,
        "SUPPLIER" => "supplier".to_string(),
        _ => {
            return Err(bad(format!(
                "instrument kind '{}' is not one of PPA, REC, GO, supplier",
                i.kind
            )))
        }
    };
    let period = Period::parse(&i.period).map_err(|m| bad(format!("instrument period: {m}")))?;
    if !(i.mwh.is_finite() && i.mwh >= 0.0) {
        return Err(bad(format!("instrument mwh must be >= 0, not {}", i.mwh)));
    }
    let g = match (i.intensity_g_per_kwh, kind.as_str()) {
        (Some(g), _) if g.is_finite() && g >= 0.0 => g,
        (Some(g), _) => {
            return Err(bad(format!(
                "instrument intensity_g_per_kwh must be >= 0, not {g}"
            )))
        }
        (None, "supplier") => {
            return Err(bad("a supplier instrument needs intensity_g_per_kwh".into()))
        }
        (None, _) => 0.0,
    };
    Ok(Instrument {
        kind,
        period,
        mwh: i.mwh,
        intensity_g_per_kwh: g,
        reference: i.reference.clone(),
        technology: i.technology.as_ref().map(|t| t.trim().to_lowercase()),
        market: i.market.as_ref().map(|m| m.trim().to_string()),
        // Resolved against the config's folder once the sites are read.
        profile: i.profile.as_ref().map(|p| InputFile {
            path: p.into(),
            shown: p.clone(),
        }),
    })
}

/// One `[[site.meter]]`: a period, kWh >= 0 and a scope (`facility` or `it`).
fn meter(m: &MeterSection, bad: &dyn Fn(String) -> Error) -> Result<SiteMeter> {
    let period = Period::parse(&m.period).map_err(|e| bad(format!("meter period: {e}")))?;
    if !(m.kwh.is_finite() && m.kwh >= 0.0) {
        return Err(bad(format!("meter kwh must be >= 0, not {}", m.kwh)));
    }
    let scope = MeterScope::parse(&m.scope).ok_or_else(|| {
        bad(format!(
            "meter scope '{}' is not 'facility' or 'it'",
            m.scope
        ))
    })?;
    Ok(SiteMeter {
        period,
        kwh: m.kwh,
        scope,
        reference: m.reference.clone(),
    })
}
