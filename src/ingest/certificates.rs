//! Granular certificates (EnergyTag's Granular Certificate scheme, with the reference
//! registry's column names): `certificate_id, site, production_starting_interval,
//! production_ending_interval, face_value_wh` (or `bundle_quantity`, Wh), `energy_source,
//! issue_market_zone`, optionally `device_id, device_name, certificate_status`. Each covers at
//! most an hour of production; the hourly Scope 2 matches them with the site's consumption.

use super::InputRecord;
use crate::config::{Config, InputFile};
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::timeutil::parse_timestamp;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One granular certificate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Certificate {
    pub id: String,
    pub site: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The energy it certifies, Wh.
    pub wh: f64,
    pub energy_source: String,
    /// The market (bidding) zone it was issued in: deliverable only to a site of that zone.
    pub zone: String,
    pub device: Option<String>,
    pub file: String,
    pub line: u64,
}

/// A CSV reader over `bytes` and its header, trimmed and in lower case.
fn reader<'b>(bytes: &'b [u8], f: &InputFile) -> Result<(csv::Reader<&'b [u8]>, Vec<String>)> {
    let mut rdr = super::csv_reader(bytes);
    let header = super::csv_header(&mut rdr, &f.shown)?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    Ok((rdr, header))
}

/// Statuses of certificates that certify nothing any more.
const NOT_USED: [&str; 2] = ["cancelled", "withdrawn"];

/// Read one certificates CSV. A row that cannot be used is an error finding with its line; a
/// certificate id seen before (in this or an earlier file, `seen`) is an error and not used;
/// cancelled or withdrawn certificates are counted in a note and not used.
pub(crate) fn read(
    bytes: &[u8],
    f: &InputFile,
    cfg: &Config,
    rec: &mut InputRecord,
    seen: &mut BTreeMap<String, (String, u64)>,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Certificate>> {
    let (mut rdr, header) = reader(bytes, f)?;
    let col = |n: &str| header.iter().position(|h| h == n);
    let need = [
        "certificate_id",
        "site",
        "production_starting_interval",
        "production_ending_interval",
        "energy_source",
        "issue_market_zone",
    ];
    let missing: Vec<&str> = need.iter().copied().filter(|n| col(n).is_none()).collect();
    if !missing.is_empty() || (col("face_value_wh").is_none() && col("bundle_quantity").is_none()) {
        return Err(Error::in_file(
            &f.shown,
            format!(
                "not a granular certificates file: column(s) {} missing",
                missing
                    .iter()
                    .copied()
                    .chain((col("face_value_wh").is_none() && col("bundle_quantity").is_none()).then_some("face_value_wh (or bundle_quantity)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .at_line(1)
        .hint("certificates have the columns certificate_id, site, production_starting_interval, production_ending_interval, face_value_wh, energy_source, issue_market_zone"));
    }
    let mut out = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        rec.rows += 1;
        let line = r
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i as u64 + 2, |p| p.line());
        let row = r
            .map_err(|e| format!("unreadable row ({e})"))
            .and_then(|r| certificate(&r, &col, cfg, f, line));
        let bad = |why: String| {
            Finding::error(
                codes::CERTIFICATES_BAD_ROW,
                format!("{why}; the certificate is not used"),
            )
            .at(&f.shown, Some(line))
        };
        match row {
            Err(why) => {
                rec.rows_rejected += 1;
                findings.push(bad(why));
            }
            Ok((_, Some(status))) => {
                rec.rows_superseded += 1;
                dropped.push(status);
            }
            Ok((c, None)) => {
                if let Some((file, at)) = seen.get(&c.id) {
                    rec.rows_rejected += 1;
                    findings.push(
                        Finding::error(
                            codes::CERTIFICATES_DUPLICATE,
                            format!(
                                "certificate {} is listed again (first at {file}:{at}): a certificate counts once; this row is not used",
                                c.id
                            ),
                        )
                        .at(&f.shown, Some(line)),
                    );
                    continue;
                }
                seen.insert(c.id.clone(), (f.shown.clone(), line));
                rec.rows_used += 1;
                out.push(c);
            }
        }
    }
    if !dropped.is_empty() {
        findings.push(
            Finding::info(
                codes::CERTIFICATES_NOT_USED,
                format!(
                    "{} certificate(s) cancelled or withdrawn in the registry are not used: {}",
                    dropped.len(),
                    dropped.join(", ")
                ),
            )
            .at(&f.shown, None),
        );
    }
    Ok(out)
}

/// One row: the certificate, and the id with its status when it is cancelled or withdrawn.
fn certificate(
    r: &csv::StringRecord,
    col: &dyn Fn(&str) -> Option<usize>,
    cfg: &Config,
    f: &InputFile,
    line: u64,
) -> std::result::Result<(Certificate, Option<String>), String> {
    let get = |n: &str| col(n).and_then(|c| r.get(c)).map(str::trim).unwrap_or("");
    let id = get("certificate_id");
    if id.is_empty() {
        return Err("no certificate_id".into());
    }
    let site = get("site");
    if cfg.site(site).is_none() {
        return Err(format!(
            "certificate {id}: site '{site}' is not defined (add a [[site]] with this id)"
        ));
    }
    let time = |k: &str| {
        parse_timestamp(get(k), &cfg.inputs.timezone)
            .map(|s| s.utc)
            .map_err(|e| format!("certificate {id}: {k} '{}': {e}", get(k)))
    };
    let (start, end) = (
        time("production_starting_interval")?,
        time("production_ending_interval")?,
    );
    let secs = (end - start).num_seconds();
    if secs <= 0 {
        return Err(format!(
            "certificate {id}: its production interval ends before it starts"
        ));
    }
    if secs > 3600 {
        return Err(format!(
            "certificate {id}: its production interval is {} minutes; a granular certificate covers at most an hour",
            secs / 60
        ));
    }
    let volume = if col("face_value_wh").is_some() && !get("face_value_wh").is_empty() {
        get("face_value_wh")
    } else {
        get("bundle_quantity")
    };
    let wh = volume
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("certificate {id}: volume '{volume}' is not a number of Wh > 0"))?;
    let zone = get("issue_market_zone");
    if zone.is_empty() {
        return Err(format!("certificate {id}: no issue_market_zone"));
    }
    let status = get("certificate_status").to_ascii_lowercase();
    let device = [get("device_id"), get("device_name")]
        .into_iter()
        .find(|d| !d.is_empty())
        .map(String::from);
    let c = Certificate {
        id: id.to_string(),
        site: site.to_string(),
        start,
        end,
        wh,
        energy_source: get("energy_source").to_string(),
        zone: zone.to_uppercase(),
        device,
        file: f.shown.clone(),
        line,
    };
    let dropped = NOT_USED
        .contains(&status.as_str())
        .then(|| format!("{id} ({status})"));
    Ok((c, dropped))
}

/// A PPA's metered output per hour (`[[site.instrument]] profile`: CSV `hour, mwh`), as one
/// hourly certificate per row, issued in the instrument's market (else the site's zone).
fn profile(
    bytes: &[u8],
    f: &InputFile,
    site: &crate::config::Site,
    ins: &crate::config::Instrument,
    cfg: &Config,
    rec: &mut InputRecord,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Certificate>> {
    let (mut rdr, header) = reader(bytes, f)?;
    let (Some(h_col), Some(m_col)) = (
        header.iter().position(|h| h == "hour"),
        header.iter().position(|h| h == "mwh"),
    ) else {
        return Err(Error::in_file(
            &f.shown,
            "not a generation profile: it needs the columns hour, mwh",
        )
        .at_line(1)
        .hint("a PPA's metered output, one row per hour: hour (the hour's start), mwh"));
    };
    let zone = ins
        .market
        .clone()
        .or_else(|| site.zone.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        rec.rows += 1;
        let line = i as u64 + 2;
        let row = r
            .map_err(|e| format!("unreadable row ({e})"))
            .and_then(|r| {
                let hour = r.get(h_col).unwrap_or("").trim().to_string();
                let start = parse_timestamp(&hour, &cfg.inputs.timezone)
                    .map(|s| s.utc)
                    .map_err(|e| format!("hour '{hour}': {e}"))?;
                let mwh = r.get(m_col).unwrap_or("").trim();
                let v = mwh
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("mwh '{mwh}' is not a number >= 0"))?;
                Ok((start, v))
            });
        match row {
            Ok((start, mwh)) => {
                rec.rows_used += 1;
                out.push(Certificate {
                    id: format!("{}:{line}", f.shown),
                    site: site.id.clone(),
                    start,
                    end: start + chrono::Duration::hours(1),
                    wh: mwh * 1e6,
                    energy_source: ins.technology.clone().unwrap_or_default(),
                    zone: zone.to_uppercase(),
                    device: Some(format!("{} {}", ins.kind, ins.reference)),
                    file: f.shown.clone(),
                    line,
                });
            }
            Err(why) => {
                rec.rows_rejected += 1;
                findings.push(
                    Finding::error(
                        codes::CERTIFICATES_BAD_ROW,
                        format!("{why}; the hour is not used"),
                    )
                    .at(&f.shown, Some(line)),
                );
            }
        }
    }
    // Zero-output hours certify nothing.
    out.retain(|c| c.wh > 0.0);
    Ok(out)
}

/// Granular certificates (`--certificates`, `[inputs] certificates`), and the hourly
/// generation profiles of `[[site.instrument]]` entries.
pub(crate) struct CertificatesReader;

impl super::Reader for CertificatesReader {
    fn name(&self) -> &'static str {
        "granular certificates"
    }
    fn given(&self, cfg: &Config) -> bool {
        !cfg.inputs.certificates.is_empty()
            || cfg
                .sites
                .iter()
                .any(|s| s.instruments.iter().any(|i| i.profile.is_some()))
    }
    fn stands_alone(&self) -> bool {
        false
    }
    fn read(&self, cx: &super::Cx, out: &mut super::Ingested) -> Result<()> {
        let mut seen = BTreeMap::new();
        super::each_file(
            &cx.cfg.inputs.certificates,
            "certificates",
            out,
            |bytes, f, rec, out| {
                let c = read(bytes, f, cx.cfg, rec, &mut seen, &mut out.findings)?;
                out.certificates.extend(c);
                Ok(())
            },
        )?;
        for site in &cx.cfg.sites {
            for ins in site.instruments.iter().filter(|i| i.profile.is_some()) {
                let files: Vec<InputFile> = ins.profile.iter().cloned().collect();
                super::each_file(&files, "generation profile", out, |bytes, f, rec, out| {
                    let c = profile(bytes, f, site, ins, cx.cfg, rec, &mut out.findings)?;
                    out.certificates.extend(c);
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}
