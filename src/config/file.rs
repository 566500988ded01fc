//! greenledger.toml as written: the TOML schema (every section, unknown keys refused) and
//! reading it, with errors at their line.

use super::{line_of, InputFile};
use crate::cli::InputArgs;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The config file as read: its parsed sections, its text (for line numbers) and how it is
/// named in the report; all empty without `--config`.
pub(super) struct Read {
    pub(super) file: FileConfig,
    pub(super) text: String,
    pub(super) input: Option<InputFile>,
}

/// Read and parse `--config`, if given.
pub(super) fn read(args: &InputArgs) -> Result<Read> {
    let Some(p) = &args.config else {
        return Ok(Read {
            file: FileConfig::default(),
            text: String::new(),
            input: None,
        });
    };
    let text = std::fs::read_to_string(p)
        .map_err(|e| Error::io(p, "read the config", e).hint("check the path given to --config"))?;
    let file: FileConfig = toml::from_str(&text).map_err(|e| {
        let mut err = Error::in_file(p, e.message().to_string())
            .hint("see the Configuration reference of the user guide (docs/src/configuration.md) for the accepted keys");
        if let Some(span) = e.span() {
            err = err.at_line(line_of(&text, span.start));
        }
        err
    })?;
    let shown = args
        .config_name
        .clone()
        .unwrap_or_else(|| p.display().to_string());
    Ok(Read {
        file,
        text,
        input: Some(InputFile {
            path: p.clone(),
            shown,
        }),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default)]
    pub(super) report: ReportSection,
    #[serde(default)]
    pub(super) inputs: InputsSection,
    #[serde(default)]
    pub(super) site: Vec<toml::Spanned<SiteSection>>,
    #[serde(default)]
    pub(super) hardware: Vec<super::HardwareOverride>,
    #[serde(default)]
    pub(super) codecarbon: CodecarbonSection,
    #[serde(default)]
    pub(super) estimate: EstimateSection,
    #[serde(default)]
    pub(super) cpu: CpuSection,
    #[serde(default)]
    pub(super) telemetry: TelemetrySection,
    #[serde(default)]
    pub(super) uncertainty: super::uncertainty::Uncertainty,
    #[serde(default)]
    pub(super) sacct: SacctSection,
    #[serde(default)]
    pub(super) grid: GridSection,
    #[serde(default)]
    pub(super) accounting: AccountingSection,
    #[serde(default)]
    pub(super) ai_act: AiActSection,
    #[serde(default)]
    pub(super) prometheus: super::prometheus::PrometheusSection,
    #[serde(default)]
    pub(super) mlflow: super::mlflow::MlflowSection,
    #[serde(default)]
    pub(super) boamps: BoampsSection,
    /// Published training footprints of external models (for the reuse dividend).
    #[serde(default)]
    pub(super) published_footprint: Vec<FootprintSection>,
    /// Published training compute of external models (a fine-tune's base, for the AI Act).
    #[serde(default)]
    pub(super) published_model: Vec<super::PublishedModel>,
    /// Overrides of the practice rubric, per practice.
    #[serde(default)]
    pub(super) rubric: Option<BTreeMap<String, super::rubric::PointOverride>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportSection {
    pub(super) title: Option<String>,
    pub(super) organization: Option<String>,
    pub(super) period: Option<toml::Spanned<String>>,
    pub(super) start: Option<String>,
    pub(super) end: Option<String>,
    pub(super) reference_intensity_g_per_kwh: Option<f64>,
    /// An earlier report.json to compare with (relative to this file).
    pub(super) previous: Option<String>,
    /// The entity's net revenue in the period, for ESRS E1 intensities, and its currency.
    pub(super) net_revenue: Option<f64>,
    pub(super) currency: Option<String>,
    /// The Scope 2 method of the headline: `2015` or `hourly`.
    pub(super) scope2_method: Option<super::Scope2Method>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InputsSection {
    #[serde(default)]
    pub(super) jobs: Vec<String>,
    #[serde(default)]
    pub(super) codecarbon: Vec<String>,
    #[serde(default)]
    pub(super) telemetry: Vec<String>,
    #[serde(default)]
    pub(super) sacct: Vec<String>,
    #[serde(default)]
    pub(super) grid: Vec<String>,
    #[serde(default)]
    pub(super) meters: Vec<String>,
    #[serde(default)]
    pub(super) zeus: Vec<String>,
    #[serde(default)]
    pub(super) boamps: Vec<String>,
    #[serde(default)]
    pub(super) cloud_carbon: Vec<String>,
    #[serde(default)]
    pub(super) certificates: Vec<String>,
    pub(super) timezone: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteSection {
    pub(super) id: String,
    pub(super) name: Option<String>,
    /// `grid_zone` is accepted too (an older spelling, still written by some fleet generators).
    #[serde(alias = "grid_zone")]
    pub(super) zone: Option<String>,
    /// `owned`, `colocation` or `cloud` (default: `cloud` for a cloud-region zone).
    pub(super) kind: Option<super::SiteKind>,
    pub(super) cloud_project: Option<String>,
    pub(super) cloud_account: Option<String>,
    pub(super) pue: Option<PueSpec>,
    pub(super) wue_l_per_kwh: Option<f64>,
    pub(super) grid_intensity_g_per_kwh: Option<f64>,
    pub(super) residual_mix_g_per_kwh: Option<f64>,
    #[serde(default)]
    pub(super) instrument: Vec<InstrumentSection>,
    /// Node names of the site (hostlists such as `gpu[01-16]`, or globs such as `gpu*`).
    #[serde(default)]
    pub(super) nodes: Vec<String>,
    #[serde(default)]
    pub(super) meter: Vec<MeterSection>,
}

/// A site meter reading or invoice line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MeterSection {
    pub(super) period: String,
    pub(super) kwh: f64,
    /// `facility` (the site's electricity) or `it` (the IT equipment's).
    pub(super) scope: String,
    #[serde(default)]
    pub(super) reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstrumentSection {
    pub(super) kind: String,
    pub(super) period: String,
    pub(super) mwh: f64,
    pub(super) intensity_g_per_kwh: Option<f64>,
    #[serde(default)]
    pub(super) reference: String,
    /// What generated the energy: wind, solar, hydro, ... (renewable or not, for ESRS E1).
    pub(super) technology: Option<String>,
    /// Where the certificate's energy was produced (a zone or country, e.g. "SE"): the GHG
    /// Protocol's same-market criterion.
    pub(super) market: Option<String>,
    /// A PPA's metered output per hour (CSV `hour, mwh`, relative to this file): hourly
    /// certificates for the hourly Scope 2.
    pub(super) profile: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum PueSpec {
    One(f64),
    ByPeriod(Vec<PuePeriodSection>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PuePeriodSection {
    pub(super) period: String,
    pub(super) value: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodecarbonSection {
    #[serde(default)]
    pub(super) teams: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) sites: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccountingSection {
    /// `separate` (default): idle and unattributed energy stay apart from the teams;
    /// `allocate`: spread over the teams by their energy at each site and month.
    pub(super) overhead: Option<super::Overhead>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AiActSection {
    /// The share of peak FLOP/s the accelerators sustained, for the hardware-based compute.
    pub(super) utilisation: Option<toml::Spanned<f64>>,
    /// Which estimate of the training compute is reported.
    pub(super) reported: Option<super::ComputeMethod>,
    /// Benchmarked inference computation per model.
    #[serde(default)]
    pub(super) inference_benchmark: Vec<super::InferenceBenchmark>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GridSection {
    /// Life-cycle intensities instead of direct (operational) ones.
    #[serde(default)]
    pub(super) lifecycle: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SacctSection {
    /// Field list of headerless output (`--noheader`), in order.
    pub(super) columns: Option<Vec<String>>,
    /// Site of every sacct job, or per cluster.
    pub(super) site: Option<String>,
    #[serde(default)]
    pub(super) sites: BTreeMap<String, String>,
    /// Accelerator of every sacct job, or per partition.
    pub(super) hardware: Option<String>,
    #[serde(default)]
    pub(super) partitions: BTreeMap<String, String>,
    /// JobName -> model.
    #[serde(default)]
    pub(super) models: BTreeMap<String, String>,
    /// Nodes are allocated exclusively (ConsumedEnergyRaw is then the job's own).
    #[serde(default)]
    pub(super) exclusive: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TelemetrySection {
    pub(super) max_gap_s: Option<f64>,
    /// Columns of nvidia-smi logs written with `--format=csv,noheader`.
    pub(super) nvidia_smi_columns: Option<Vec<String>>,
    /// The node of telemetry that names none (W&B events).
    pub(super) node: Option<String>,
}

/// `[[published_footprint]]` as written: `kgco2e` and `source`, or a BoAmps report to read
/// them from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FootprintSection {
    pub(super) model: String,
    pub(super) kgco2e: Option<f64>,
    pub(super) source: Option<String>,
    /// A BoAmps report (relative to the config): its energy times its carbon intensity.
    pub(super) boamps: Option<String>,
}

/// `[boamps]`: what BoAmps exports say that the ledger does not know.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BoampsSection {
    /// BoAmps `taskFamily` of every model (e.g. "text generation"), default "other".
    pub(super) task_family: Option<String>,
    /// Per model, overriding `task_family`.
    #[serde(default)]
    pub(super) task_families: BTreeMap<String, String>,
    /// Imports: the PUE CodeCarbon applied in CodeCarbon-made reports (divided out).
    pub(super) codecarbon_pue: Option<f64>,
    /// Imports: the site, else the zone, of reports whose country names no zone.
    pub(super) site: Option<String>,
    pub(super) zone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EstimateSection {
    pub(super) utilisation: Option<f64>,
    pub(super) default_pue: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CpuSection {
    pub(super) w_per_core: Option<f64>,
    pub(super) w_per_gb: Option<f64>,
    pub(super) usage: Option<f64>,
    pub(super) node_cores: Option<f64>,
    pub(super) source: Option<String>,
}

/// The configuration reference of the user guide and this loader cannot drift apart: every
/// example in it parses, and each section documents exactly the keys the loader accepts.
#[cfg(test)]
mod reference {
    use super::{FileConfig, PuePeriodSection};
    use std::collections::BTreeSet;

    const GUIDE: &str = include_str!("../../docs/src/configuration.md");

    /// One `## `[...]`` section of the reference: its path in the TOML (`site.instrument`), the
    /// keys its table documents, and its examples.
    struct Section {
        path: String,
        keys: BTreeSet<String>,
        examples: Vec<String>,
    }

    fn sections() -> Vec<Section> {
        let mut out: Vec<Section> = Vec::new();
        let mut lines = GUIDE.lines();
        while let Some(line) = lines.next() {
            if let Some(head) = line.strip_prefix("## `[") {
                let path = head.trim_end_matches(['`', ']']).trim_start_matches('[');
                out.push(Section {
                    path: path.replace(".<practice>", ".efficient_hardware"),
                    keys: BTreeSet::new(),
                    examples: Vec::new(),
                });
            } else if let Some(s) = out.last_mut() {
                if let Some(row) = line.strip_prefix("| `") {
                    s.keys.insert(row.split('`').next().unwrap().to_string());
                } else if line == "```toml" {
                    let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
                    s.examples.push(block.join("\n"));
                }
            }
        }
        out
    }

    /// The keys serde expects where it met `zz_not_a_key`, from its error message
    /// ("unknown field `zz_not_a_key`, expected one of `a`, `b`" or "expected `a`").
    fn expected_keys(err: &str) -> BTreeSet<String> {
        let (_, list) = err
            .split_once("expected ")
            .unwrap_or_else(|| panic!("not an unknown-field error: {err}"));
        let list = list.lines().next().unwrap();
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    /// The table at `path` in `doc` (the last element of arrays of tables).
    fn table_at<'a>(doc: &'a mut toml::Table, path: &str) -> &'a mut toml::Table {
        let mut t = doc;
        for part in path.split('.') {
            let v = t
                .get_mut(part)
                .unwrap_or_else(|| panic!("the example of [{path}] has no {part}"));
            t = match v {
                toml::Value::Array(a) => a.last_mut().unwrap().as_table_mut().unwrap(),
                toml::Value::Table(t) => t,
                _ => panic!("[{path}]: {part} is not a table"),
            };
        }
        t
    }

    /// The keys of every table at `path` (each element of arrays of tables).
    fn keys_at(v: &toml::Value, path: &[&str], out: &mut BTreeSet<String>) {
        match (v, path.split_first()) {
            (toml::Value::Array(a), _) => a.iter().for_each(|x| keys_at(x, path, out)),
            (toml::Value::Table(t), None) => out.extend(t.keys().cloned()),
            (toml::Value::Table(t), Some((first, rest))) => {
                if let Some(x) = t.get(*first) {
                    keys_at(x, rest, out);
                }
            }
            _ => {}
        }
    }

    /// What the loader accepts in the table at `path` of `example`, learnt by adding a key it
    /// cannot know and reading serde's refusal.
    fn accepted_keys(example: &str, path: &str) -> BTreeSet<String> {
        let mut doc: toml::Table = toml::from_str(example).unwrap();
        let probe = toml::Value::Integer(1);
        if path == "site.pue" {
            // `pue` is a number or a list (an untagged enum, whose error names no fields):
            // ask the entries' own type.
            let mut entry = table_at(&mut doc, path).clone();
            entry.insert("zz_not_a_key".into(), probe);
            let err =
                toml::from_str::<PuePeriodSection>(&toml::to_string(&entry).unwrap()).unwrap_err();
            return expected_keys(err.message());
        }
        let table = if path.is_empty() {
            &mut doc
        } else {
            table_at(&mut doc, path)
        };
        table.insert("zz_not_a_key".into(), probe);
        let err = toml::from_str::<FileConfig>(&toml::to_string(&doc).unwrap()).unwrap_err();
        expected_keys(err.message())
    }

    #[test]
    fn every_example_in_the_reference_parses() {
        let sections = sections();
        assert!(sections.len() >= 18, "{} sections", sections.len());
        for s in &sections {
            assert!(!s.examples.is_empty(), "[{}] has no example", s.path);
            for e in &s.examples {
                if let Err(err) = toml::from_str::<FileConfig>(e) {
                    panic!("[{}]: the example does not parse: {err}\n{e}", s.path);
                }
            }
        }
    }

    #[test]
    fn the_reference_documents_exactly_the_keys_the_loader_accepts() {
        let sections = sections();
        let mut top = BTreeSet::new();
        for s in &sections {
            top.insert(s.path.split('.').next().unwrap().to_string());
            let accepted = accepted_keys(&s.examples[0], &s.path);
            // `grid_zone` is `zone`'s alias: documented in zone's row, not a row of its own.
            let documented: BTreeSet<String> = s.keys.clone();
            let accepted: BTreeSet<String> =
                accepted.into_iter().filter(|k| k != "grid_zone").collect();
            assert_eq!(documented, accepted, "[{}]", s.path);
            // And the examples use every key it documents, so each is parsed above.
            let mut used: BTreeSet<String> = BTreeSet::new();
            for e in &s.examples {
                let doc: toml::Value = toml::from_str(e).unwrap();
                keys_at(&doc, &s.path.split('.').collect::<Vec<_>>(), &mut used);
            }
            let unused: Vec<&String> = documented
                .iter()
                .filter(|k| !used.contains(*k))
                // A site's PUE periods, instruments and meters have examples of their own.
                .filter(|k| {
                    s.path != "site" || !["pue", "instrument", "meter"].contains(&k.as_str())
                })
                .collect();
            assert!(
                unused.is_empty(),
                "[{}]: no example uses {unused:?}",
                s.path
            );
        }
        // Every section the loader knows has its heading.
        assert_eq!(top, accepted_keys("", ""));
    }
}
