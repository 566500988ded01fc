//! boamps/: Boavizta's BoAmps 1.1.0 reports, the research community's format for AI energy
//! measurements: `boamps/<job_id>.json` per job and `boamps/<model>.json` per model (its jobs
//! as `measures`; a model named like a job takes a `-2` suffix). `powerConsumption` is the IT energy in kWh (BoAmps has no emissions field); the task
//! description says the PUE is not included and gives the facility energy with it.

use super::{Rendered, Renderer};
use crate::error::{Error, Result};
use crate::ledger::{JobRow, Tier};
use crate::report::{boamps_files, BoampsSubject, Report};
use serde_json::{json, Map, Value};

pub struct Boamps;

/// BoAmps version written, and where its specification is.
const VERSION: &str = "1.1.0";
const SPEC: &str = "https://github.com/Boavizta/BoAmps/tree/main/model";

impl Renderer for Boamps {
    fn render(&self, r: &Report) -> Result<Rendered> {
        let mut files = Vec::new();
        for (path, subject) in boamps_files(r) {
            let (jobs, name): (Vec<&JobRow>, &str) = match &subject {
                BoampsSubject::Job(id) => (r.jobs.iter().filter(|j| &j.job_id == id).collect(), id),
                BoampsSubject::Model(m) => (r.jobs.iter().filter(|j| &j.model == m).collect(), m),
            };
            if jobs.is_empty() {
                continue;
            }
            files.push((path, bytes(report(r, &jobs, name)?)?));
        }
        Ok(files)
    }
}

fn bytes(v: Value) -> Result<Vec<u8>> {
    let mut s = serde_json::to_string_pretty(&v).map_err(|e| Error::new(e.to_string()))?;
    s.push('\n');
    Ok(s.into_bytes())
}

/// One BoAmps report over `jobs` (one job, or a model's jobs), named `subject`.
fn report(r: &Report, jobs: &[&JobRow], subject: &str) -> Result<Value> {
    let first = jobs[0];
    let mut doc = Map::new();
    doc.insert("header".into(), Value::Null);
    doc.insert("task".into(), task(r, jobs, subject));
    doc.insert(
        "measures".into(),
        Value::Array(jobs.iter().map(|j| measure(j)).collect()),
    );
    let zone = grid_zone(r, first);
    doc.insert("infrastructure".into(), infrastructure(jobs, &zone));
    if let Some(env) = environment(first, &zone) {
        doc.insert("environment".into(), env);
    }
    if let Some(q) = quality(jobs) {
        doc.insert("quality".into(), json!(q));
    }
    // The id is the content's hash (without the header): reruns give the same file.
    let id = {
        use sha2::Digest;
        let body = serde_json::to_string(&doc).map_err(|e| Error::new(e.to_string()))?;
        let h = format!("{:x}", sha2::Sha256::digest(body.as_bytes()));
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    };
    doc.insert("header".into(), header(r, id, &first.team));
    Ok(Value::Object(doc))
}

fn header(r: &Report, id: String, team: &str) -> Value {
    let mut publisher = Map::new();
    if !r.organization.is_empty() {
        publisher.insert("name".into(), json!(r.organization));
    }
    publisher.insert("division".into(), json!(team));
    publisher.insert("projectName".into(), json!(r.title));
    publisher.insert(
        "confidentialityLevel".into(),
        json!(if r.public { "public" } else { "internal" }),
    );
    json!({
        "formatVersion": VERSION,
        "formatVersionSpecificationUri": SPEC,
        "reportId": id,
        // No clock time without --generated-at / SOURCE_DATE_EPOCH: the period's end instead.
        "reportDatetime": r.generated_at.clone().unwrap_or_else(|| crate::timeutil::fmt_utc(r.period.end)),
        "reportStatus": "final",
        "publisher": Value::Object(publisher),
    })
}

/// BoAmps' task stage: fine-tuning is `finetuning`, evaluation `inference`, the rest training.
fn stage(training_type: &str) -> &'static str {
    match training_type {
        "fine-tuning" => "finetuning",
        "evaluation" => "inference",
        _ => "training",
    }
}

fn task(r: &Report, jobs: &[&JobRow], subject: &str) -> Value {
    let j = jobs[0];
    let mut algo = Map::new();
    algo.insert("algorithmName".into(), json!(j.model));
    algo.insert("trainingType".into(), json!(j.training_type));
    if let Some(b) = &j.base_model {
        algo.insert("foundationModelName".into(), json!(b));
    }
    if let Some(p) = j.parameters {
        algo.insert("parametersNumber".into(), json!(p / 1e9));
    }
    if let Some(q) = &j.precision {
        algo.insert("quantization".into(), json!(q));
    }
    let tokens: f64 = jobs.iter().filter_map(|j| j.amounts.tokens).sum();
    let mut data = Map::new();
    data.insert("dataUsage".into(), json!("input"));
    data.insert(
        "dataType".into(),
        json!(if tokens > 0.0 { "token" } else { "other" }),
    );
    if tokens > 0.0 {
        data.insert("dataQuantity".into(), json!(tokens));
    }
    let sum = |f: fn(&JobRow) -> f64| jobs.iter().map(|j| f(j)).sum::<f64>();
    let description = format!(
        "{} of {subject} ({} job{}, team {}), {} to {}, reporting period {}. powerConsumption is \
         the IT energy ({:.6} kWh: accelerators, and hosts where measured) without the data \
         centre's PUE; with it the facility energy is {:.6} kWh. Location-based emissions \
         {:.6} kgCO2e. Written by {}.",
        stage(j.training_type),
        jobs.len(),
        if jobs.len() == 1 { "" } else { "s" },
        j.team,
        jobs.iter().map(|j| j.start.as_str()).min().unwrap_or(""),
        jobs.iter().map(|j| j.end.as_str()).max().unwrap_or(""),
        r.period.label,
        sum(|j| j.amounts.it_energy_kwh),
        sum(|j| j.amounts.facility_energy_kwh),
        sum(|j| j.amounts.location_kgco2e),
        r.generator,
    );
    let family = r
        .boamps
        .task_families
        .get(&j.model)
        .unwrap_or(&r.boamps.task_family);
    json!({
        "taskStage": stage(j.training_type),
        "taskFamily": family,
        "algorithms": [Value::Object(algo)],
        "dataset": [Value::Object(data)],
        "taskDescription": description,
    })
}

/// How a job's energy was found, in BoAmps' free-text method field.
fn method(j: &JobRow) -> String {
    let d = j.energy_detail.to_lowercase();
    match j.energy_source {
        Tier::Metered if d.contains("codecarbon") => "codecarbon".into(),
        Tier::Metered if d.contains("sacct") || d.contains("slurm") => "slurm".into(),
        Tier::Metered if d.contains("zeus") => "zeus".into(),
        Tier::Metered if d.contains("dcgm") => "dcgm energy counter".into(),
        Tier::Metered => format!("metered ({})", j.energy_detail),
        // The readers, as the ledger names them: "integrated from power samples (nvidia-smi)".
        Tier::Sampled => j
            .energy_detail
            .split_once('(')
            .and_then(|(_, r)| r.strip_suffix(')'))
            .map(str::to_string)
            .unwrap_or_else(|| "power telemetry".into()),
        Tier::Estimated => "estimate".into(),
    }
}

fn measure(j: &JobRow) -> Value {
    let mut m = Map::new();
    m.insert("measurementMethod".into(), json!(method(j)));
    m.insert("manufacturer".into(), json!("greenledger"));
    m.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    m.insert("powerConsumption".into(), json!(j.amounts.it_energy_kwh));
    if let Some(s) = duration_s(j) {
        m.insert("measurementDuration".into(), json!(s));
    }
    m.insert("measurementDateTime".into(), json!(j.start));
    Value::Object(m)
}

/// Seconds from the job's start to its end (as the ledger writes them, RFC 3339).
fn duration_s(j: &JobRow) -> Option<f64> {
    let p = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    let (a, b) = (p(&j.start)?, p(&j.end)?);
    Some((b - a).num_milliseconds() as f64 / 1000.0)
}

/// The job's grid zone: its own, or its site's configured zone when the site gives its own
/// intensity (`site:<id>`).
fn grid_zone(r: &Report, j: &JobRow) -> String {
    match j.zone.strip_prefix("site:") {
        Some(site) => r.site_zones.get(site).cloned().unwrap_or_default(),
        None => j.zone.clone(),
    }
}

/// On premise unless the zone is a cloud region (`gcp:`, `aws:`, `azure:`).
fn infrastructure(jobs: &[&JobRow], zone: &str) -> Value {
    let zone = zone.to_lowercase();
    let cloud = ["gcp", "aws", "azure"]
        .into_iter()
        .find(|p| zone.starts_with(&format!("{p}:")));
    let mut components: Vec<(String, f64, Option<f64>)> = Vec::new();
    for j in jobs {
        match components.iter_mut().find(|(h, _, _)| *h == j.hardware) {
            Some(c) => c.1 = c.1.max(j.devices),
            None => components.push((j.hardware.clone(), j.devices, j.node_share)),
        }
    }
    let comps: Vec<Value> = components
        .into_iter()
        .map(|(h, n, share)| {
            let mut c = json!({"componentName": h, "componentType": "gpu", "nbComponent": (n.ceil() as i64).max(1)});
            // BoAmps' `share`: the part of the node the job held (one job's report only).
            if let Some(s) = share.filter(|s| *s < 1.0 && jobs.len() == 1) {
                c["share"] = json!(s);
            }
            c
        })
        .collect();
    let mut v = json!({
        "infraType": if cloud.is_some() { "publicCloud" } else { "onPremise" },
        "components": comps,
    });
    if let Some(p) = cloud {
        v["cloudProvider"] = json!(p);
    }
    v
}

/// The country of the job's grid zone (its two-letter prefix) and the factor used.
fn environment(j: &JobRow, zone: &str) -> Option<Value> {
    let country = crate::report::scope2::country(zone)?;
    let mut v = json!({
        "country": country,
        "powerSourceCarbonIntensity": j.intensity_g_per_kwh,
    });
    if let Some(site) = &j.site {
        v["location"] = json!(site);
    }
    Some(v)
}

/// BoAmps quality from the location-based band: half its width over the value, <= 10 % high,
/// <= 25 % medium, else low.
fn quality(jobs: &[&JobRow]) -> Option<&'static str> {
    let (mut lo, mut hi, mut v) = (0.0, 0.0, 0.0);
    for j in jobs {
        lo += j.amounts.location_kgco2e_low?;
        hi += j.amounts.location_kgco2e_high?;
        v += j.amounts.location_kgco2e;
    }
    if v <= 0.0 {
        return None;
    }
    let rel = (hi - lo) / 2.0 / v;
    Some(if rel <= 0.10 {
        "high"
    } else if rel <= 0.25 {
        "medium"
    } else {
        "low"
    })
}
