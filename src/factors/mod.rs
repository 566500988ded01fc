//! Embedded factor data (grid intensity, cloud regions, hardware, default PUE) and lookups.
//!
//! Every value carries its source and year. Only data whose licence allows redistribution with
//! attribution is embedded (see `data/README.md`); Electricity Maps exports (ODbL) are not.

use crate::config::HardwareOverride;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const GRID_CSV: &str = include_str!("data/grid.csv");
const CLOUD_CSV: &str = include_str!("data/cloud_regions.csv");
const HARDWARE_CSV: &str = include_str!("data/hardware.csv");
const CPUS_CSV: &str = include_str!("data/cpus.csv");

pub(crate) mod peers;

/// Industry-average PUE used when a site gives none.
pub(crate) const DEFAULT_PUE: f64 = 1.58;
pub(crate) const DEFAULT_PUE_SOURCE: &str =
    "Uptime Institute Global Data Center Survey 2023 (industry average PUE)";
pub(crate) const DEFAULT_PUE_YEAR: i32 = 2023;
/// Embodied-emission amortisation defaults when a hardware entry gives embodied but not these.
pub(crate) const DEFAULT_LIFETIME_YEARS: f64 = 5.0;
pub(crate) const DEFAULT_USE_FACTOR: f64 = 1.0;

/// Annual grid intensity of one zone.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GridFactor {
    pub zone: String,
    pub iso3: String,
    pub name: String,
    pub g_per_kwh: f64,
    pub year: i32,
    pub source: String,
    pub licence: String,
}

#[derive(Debug, Clone, Deserialize)]
struct CloudRow {
    provider: String,
    region: String,
    zone: String,
    #[allow(dead_code)]
    location: String,
}

/// One accelerator model.
#[derive(Debug, Clone, PartialEq)]
pub struct Hardware {
    pub name: String,
    pub aliases: Vec<String>,
    pub tdp_w: Option<f64>,
    /// Dense 16-bit tensor throughput (BF16; FP16 on V100 and T4), TFLOPS, where published.
    pub tflops: Option<f64>,
    pub embodied_kgco2e: Option<f64>,
    pub lifetime_years: Option<f64>,
    pub use_factor: Option<f64>,
    /// Source of the TDP (and of the row).
    pub source: String,
    pub year: Option<i32>,
    /// Source of the embodied, lifetime and use-factor values, when they came from elsewhere.
    pub embodied_source: Option<String>,
    /// Host power per device (W), configured by `[[hardware]] host_w_per_device`, and its
    /// source; never embedded (hosts differ too much between servers).
    pub host_w_per_device: Option<f64>,
    pub host_source: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HardwareRow {
    name: String,
    aliases: String,
    #[allow(dead_code)]
    vendor: String,
    tdp_w: Option<f64>,
    tflops_bf16: Option<f64>,
    embodied_kgco2e: Option<f64>,
    lifetime_years: Option<f64>,
    use_factor: Option<f64>,
    source: String,
    year: Option<i32>,
}

/// One CPU model: what a CPU-only job's power per core comes from when its model is named.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CpuModel {
    pub name: String,
    /// `;`-separated other spellings (as `/proc/cpuinfo` and `lscpu` print the model).
    pub aliases: String,
    pub tdp_w: f64,
    pub cores: f64,
    pub source: String,
    pub year: i32,
}

impl CpuModel {
    /// Power per core at TDP, W.
    pub fn w_per_core(&self) -> f64 {
        self.tdp_w / self.cores
    }
}

/// How a zone name was resolved to a grid factor.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneMatch<'a> {
    pub factor: &'a GridFactor,
    /// Set when the zone was reached through a cloud region, an ISO-3 code or a country fallback.
    pub via: Option<String>,
    /// True when a sub-national zone fell back to its country's average.
    pub fallback: bool,
}

/// The factor set in force: embedded, possibly extended by the config's `[[hardware]]`.
#[derive(Debug, Clone)]
pub struct Factors {
    pub name: String,
    pub version: String,
    pub sha256: String,
    grid: BTreeMap<String, GridFactor>,
    iso3: BTreeMap<String, String>,
    cloud: BTreeMap<String, (String, String)>,
    pub hardware: Vec<Hardware>,
    pub cpus: Vec<CpuModel>,
}

fn read_csv<T: for<'de> Deserialize<'de>>(text: &str) -> Vec<T> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .map(|r| r.expect("embedded factor table is valid (checked by tests)"))
        .collect()
}

/// Normalise an accelerator name for matching: upper case, vendor words and a leading
/// "N x " count dropped, punctuation removed.
pub(crate) fn normalise_hardware(name: &str) -> String {
    let mut s = name.trim().to_uppercase();
    if let Some((n, rest)) = s.split_once(" X ") {
        if n.trim().chars().all(|c| c.is_ascii_digit()) {
            s = rest.to_string();
        }
    }
    for w in ["NVIDIA", "TESLA", "GEFORCE", "AMD", "INTEL", "GOOGLE"] {
        s = s.replace(w, " ");
    }
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// A factor file (`--factors FILE`, TOML): it replaces the embedded grid table, and may add
/// hardware entries and cloud-region mappings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorFile {
    name: String,
    version: String,
    grid: Vec<FactorFileGrid>,
    #[serde(default)]
    hardware: Vec<HardwareOverride>,
    #[serde(default)]
    cloud_region: Vec<FactorFileCloud>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorFileGrid {
    zone: String,
    #[serde(default)]
    iso3: String,
    #[serde(default)]
    name: String,
    g_per_kwh: f64,
    year: i32,
    source: String,
    #[serde(default)]
    licence: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorFileCloud {
    provider: String,
    region: String,
    zone: String,
}

impl Factors {
    /// Restate with a factor file: its grid table replaces the embedded one (zones it lacks have
    /// no factor), its hardware adds to or overrides the embedded table, its cloud regions add
    /// to the embedded map. The set is named by the file's name and version and its sha256.
    pub fn from_file(path: &std::path::Path, shown: &str) -> crate::error::Result<Factors> {
        use crate::error::Error;
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(shown, "read the factor file", e))?;
        let file: FactorFile = toml::from_str(&text).map_err(|e| {
            let mut err = Error::in_file(shown, e.message().to_string()).hint("a factor file has name, version and [[grid]] entries (zone, g_per_kwh, year, source)");
            if let Some(span) = e.span() {
                err = err.at_line(crate::config::line_of(&text, span.start));
            }
            err
        })?;
        let mut f = Factors::embedded();
        f.grid.clear();
        f.iso3.clear();
        for g in file.grid {
            if !(g.g_per_kwh.is_finite() && g.g_per_kwh >= 0.0) {
                return Err(Error::in_file(
                    shown,
                    format!("zone '{}': g_per_kwh must be >= 0", g.zone),
                ));
            }
            let zone = g.zone.trim().to_uppercase();
            if !g.iso3.is_empty() {
                f.iso3.insert(g.iso3.to_uppercase(), zone.clone());
            }
            f.grid.insert(
                zone.clone(),
                GridFactor {
                    zone,
                    iso3: g.iso3,
                    name: g.name,
                    g_per_kwh: g.g_per_kwh,
                    year: g.year,
                    source: g.source,
                    licence: g.licence,
                },
            );
        }
        for c in file.cloud_region {
            f.cloud
                .insert(c.region.to_lowercase(), (c.provider, c.zone.to_uppercase()));
        }
        let mut f = f.with_hardware(&file.hardware);
        f.name = file.name;
        f.version = file.version;
        f.sha256 = format!("{:x}", Sha256::digest(text.as_bytes()));
        Ok(f)
    }

    /// The embedded factor set.
    pub fn embedded() -> Factors {
        let mut grid = BTreeMap::new();
        let mut iso3 = BTreeMap::new();
        for g in read_csv::<GridFactor>(GRID_CSV) {
            if !g.iso3.is_empty() {
                iso3.insert(g.iso3.clone(), g.zone.clone());
            }
            grid.insert(g.zone.clone(), g);
        }
        let cloud = read_csv::<CloudRow>(CLOUD_CSV)
            .into_iter()
            .map(|c| (c.region.to_lowercase(), (c.provider, c.zone)))
            .collect();
        let hardware = read_csv::<HardwareRow>(HARDWARE_CSV)
            .into_iter()
            .map(|h| Hardware {
                aliases: h
                    .aliases
                    .split(';')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(String::from)
                    .collect(),
                name: h.name,
                tdp_w: h.tdp_w,
                tflops: h.tflops_bf16,
                embodied_kgco2e: h.embodied_kgco2e,
                lifetime_years: h.lifetime_years,
                use_factor: h.use_factor,
                source: h.source,
                year: h.year,
                embodied_source: None,
                host_w_per_device: None,
                host_source: None,
            })
            .collect();
        let mut hash = Sha256::new();
        for part in [GRID_CSV, CLOUD_CSV, HARDWARE_CSV, CPUS_CSV] {
            hash.update(part.as_bytes());
        }
        Factors {
            name: "greenledger-embedded".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sha256: format!("{:x}", hash.finalize()),
            grid,
            iso3,
            cloud,
            hardware,
            cpus: read_csv(CPUS_CSV),
        }
    }

    /// Apply `[[hardware]]` entries: an entry naming a known accelerator overrides the values it
    /// gives; any other adds a new accelerator.
    pub fn with_hardware(mut self, overrides: &[HardwareOverride]) -> Factors {
        for o in overrides {
            let source = o
                .source
                .clone()
                .unwrap_or_else(|| "greenledger.toml [[hardware]]".to_string());
            if let Some(i) = self.hardware_index(&o.name) {
                let h = &mut self.hardware[i];
                if o.tdp_w.is_some() {
                    h.tdp_w = o.tdp_w;
                    h.source = source.clone();
                    h.year = None;
                }
                if o.embodied_kgco2e.is_some()
                    || o.lifetime_years.is_some()
                    || o.use_factor.is_some()
                {
                    h.embodied_source = Some(source.clone());
                }
                if o.embodied_kgco2e.is_some() {
                    h.embodied_kgco2e = o.embodied_kgco2e;
                }
                if o.lifetime_years.is_some() {
                    h.lifetime_years = o.lifetime_years;
                }
                if o.use_factor.is_some() {
                    h.use_factor = o.use_factor;
                }
                if o.host_w_per_device.is_some() {
                    h.host_w_per_device = o.host_w_per_device;
                    h.host_source = Some(source.clone());
                }
                h.aliases.extend(o.aliases.iter().cloned());
            } else {
                self.hardware.push(Hardware {
                    name: o.name.clone(),
                    aliases: o.aliases.clone(),
                    tdp_w: o.tdp_w,
                    tflops: o.tflops,
                    embodied_kgco2e: o.embodied_kgco2e,
                    lifetime_years: o.lifetime_years,
                    use_factor: o.use_factor,
                    embodied_source: Some(source.clone()),
                    host_w_per_device: o.host_w_per_device,
                    host_source: o.host_w_per_device.map(|_| source.clone()),
                    source,
                    year: None,
                });
            }
        }
        self
    }

    fn hardware_index(&self, name: &str) -> Option<usize> {
        let n = normalise_hardware(name);
        if n.is_empty() {
            return None;
        }
        self.hardware
            .iter()
            .position(|h| normalise_hardware(&h.name) == n)
            .or_else(|| {
                self.hardware
                    .iter()
                    .position(|h| h.aliases.iter().any(|a| normalise_hardware(a) == n))
            })
    }

    /// Find a CPU model by name or alias (case, vendor words and punctuation ignored).
    pub fn cpu(&self, name: &str) -> Option<&CpuModel> {
        let n = normalise_hardware(name);
        if n.is_empty() {
            return None;
        }
        self.cpus.iter().find(|c| {
            normalise_hardware(&c.name) == n
                || c.aliases.split(';').any(|a| normalise_hardware(a) == n)
        })
    }

    /// Find an accelerator by name or alias (case, vendor words and punctuation ignored).
    pub fn hardware(&self, name: &str) -> Option<&Hardware> {
        self.hardware_index(name).map(|i| &self.hardware[i])
    }

    /// The zone of a country named in full ("France", any case), from the factor table.
    pub fn zone_by_name(&self, name: &str) -> Option<String> {
        let n = name.trim();
        self.grid
            .values()
            .find(|f| f.name.eq_ignore_ascii_case(n))
            .map(|f| f.zone.clone())
    }

    /// Resolve a zone: a grid zone (ISO-2 country, bidding zone), an ISO-3 country code, a cloud
    /// region (`us-east-1`, `gcp:europe-west9`), or a sub-zone such as `US-CAL-CISO` falling back
    /// to its country.
    pub fn zone(&self, zone: &str) -> Option<ZoneMatch<'_>> {
        let z = zone.trim();
        if z.is_empty() {
            return None;
        }
        let up = z.to_uppercase();
        if let Some(f) = self.grid.get(&up) {
            return Some(ZoneMatch {
                factor: f,
                via: None,
                fallback: false,
            });
        }
        if let Some(f) = self.iso3.get(&up).and_then(|z2| self.grid.get(z2)) {
            return Some(ZoneMatch {
                factor: f,
                via: Some(format!("ISO-3 code {up}")),
                fallback: false,
            });
        }
        let low = z.to_lowercase();
        let region = low.split_once(':').map(|(_, r)| r).unwrap_or(&low);
        if let Some((provider, gz)) = self.cloud.get(region) {
            if let Some(f) = self.grid.get(gz) {
                return Some(ZoneMatch {
                    factor: f,
                    via: Some(format!("{provider} region {region}")),
                    fallback: false,
                });
            }
        }
        if let Some((country, _)) = up.split_once('-') {
            if let Some(f) = self
                .grid
                .get(country)
                .or_else(|| self.iso3.get(country).and_then(|c| self.grid.get(c)))
            {
                return Some(ZoneMatch {
                    factor: f,
                    via: Some(format!("country average for {z}")),
                    fallback: true,
                });
            }
        }
        None
    }

    /// The accelerator doing the most work per watt (TFLOPS / TDP), among those with both.
    pub fn most_efficient(&self) -> Option<&Hardware> {
        self.most_efficient_by(None)
    }

    /// [`Self::most_efficient`] among the accelerators of `year` or earlier (the table's year:
    /// its datasheet's), when given.
    pub fn most_efficient_by(&self, year: Option<i32>) -> Option<&Hardware> {
        self.hardware
            .iter()
            .filter(|h| h.tflops.is_some_and(|t| t > 0.0) && h.tdp_w.is_some_and(|w| w > 0.0))
            .filter(|h| year.is_none_or(|y| h.year.is_some_and(|hy| hy <= y)))
            .max_by(|a, b| {
                (a.tflops.unwrap_or(0.0) / a.tdp_w.unwrap_or(1.0))
                    .total_cmp(&(b.tflops.unwrap_or(0.0) / b.tdp_w.unwrap_or(1.0)))
                    .then(b.name.cmp(&a.name))
            })
    }

    /// Number of grid zones and cloud regions known (for the report's methodology section).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.grid.len(), self.cloud.len(), self.hardware.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_parse_and_cover_what_people_use() {
        let f = Factors::embedded();
        let (zones, regions, hw) = f.counts();
        assert!(zones > 200, "{zones}");
        assert!(regions > 90, "{regions}");
        assert!(hw >= 38, "{hw}");
        // Namibia's ISO code is NA: a code, not a null.
        let na = f.zone("NA").unwrap();
        assert_eq!(na.factor.name, "Namibia");
        assert_eq!(f.zone("NAM").unwrap().factor.zone, "NA");
        assert_eq!(f.zone("fra").unwrap().factor.zone, "FR");
        assert_eq!(f.zone("SE3").unwrap().factor.g_per_kwh, 18.0);
        let aws = f.zone("eu-west-3").unwrap();
        assert_eq!(aws.factor.zone, "FR");
        assert_eq!(f.zone("gcp:europe-north1").unwrap().factor.zone, "FI");
        assert_eq!(f.zone("azure:norwayeast").unwrap().factor.zone, "NO1");
        let sub = f.zone("US-CAL-CISO").unwrap();
        assert!(sub.fallback);
        assert_eq!(sub.factor.zone, "US");
        assert!(f.zone("XX").is_none());
        for g in f.grid.values() {
            assert!(
                g.g_per_kwh >= 0.0 && (2000..=2030).contains(&g.year),
                "{g:?}"
            );
            assert!(!g.source.is_empty());
        }
    }

    #[test]
    fn hardware_matching_ignores_case_vendor_and_counts() {
        let f = Factors::embedded();
        assert_eq!(f.hardware("H100-SXM5-80GB").unwrap().tdp_w, Some(700.0));
        assert_eq!(
            f.hardware("NVIDIA H100 80GB HBM3").unwrap().name,
            "H100-SXM5-80GB"
        );
        assert_eq!(
            f.hardware("1 x NVIDIA GeForce RTX 3060").unwrap().tdp_w,
            Some(170.0)
        );
        assert_eq!(f.hardware("a100-sxm4-40gb").unwrap().tdp_w, Some(400.0));
        assert_eq!(f.hardware("Tesla T4").unwrap().tdp_w, Some(70.0));
        assert_eq!(f.hardware("MI300X").unwrap().tdp_w, Some(750.0));
        assert!(f.hardware("TPU v5e").unwrap().tdp_w.is_none());
        assert!(f.hardware("Abacus").is_none());
        for name in [
            "V100",
            "A100-PCIE-80GB",
            "H200",
            "B200",
            "GH200",
            "MI250X",
            "Gaudi 2",
            "Gaudi3",
            "TPU v3",
            "TPU-v4",
            "L4",
            "L40S",
            "A10G",
            "RTX 4090",
        ] {
            assert!(f.hardware(name).is_some(), "{name}");
        }
    }

    #[test]
    fn overrides_replace_and_add() {
        let f = Factors::embedded().with_hardware(&[
            HardwareOverride {
                name: "H100-SXM5-80GB".into(),
                tdp_w: None,
                tflops: None,
                embodied_kgco2e: Some(460.0),
                lifetime_years: Some(6.0),
                use_factor: Some(0.85),
                host_w_per_device: None,
                aliases: vec![],
                source: None,
            },
            HardwareOverride {
                name: "Custom-ASIC".into(),
                tdp_w: Some(300.0),
                tflops: Some(900.0),
                embodied_kgco2e: None,
                lifetime_years: None,
                use_factor: None,
                host_w_per_device: Some(150.0),
                aliases: vec!["asic1".into()],
                source: None,
            },
        ]);
        let h = f.hardware("H100").unwrap();
        assert_eq!(
            (h.tdp_w, h.embodied_kgco2e, h.use_factor),
            (Some(700.0), Some(460.0), Some(0.85))
        );
        assert_eq!(f.hardware("ASIC1").unwrap().tdp_w, Some(300.0));
        // 900 TFLOPS at 300 W (3.0 per W) beats the embedded best, H100 PCIe (756 / 350 = 2.16).
        assert_eq!(f.most_efficient().unwrap().name, "Custom-ASIC");
        assert_eq!(
            Factors::embedded().most_efficient().unwrap().name,
            "H100-PCIE-80GB"
        );
    }
}
