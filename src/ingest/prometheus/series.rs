//! One chunk's answer: the matrix of a range selector parsed without building a JSON tree, and
//! what its labels say (the device, the job).

use crate::config::prometheus::{LabelJobs, Prometheus};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One series of a chunk: its labels and its raw samples (epoch ms, value).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) points: Vec<(i64, f64)>,
}

#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    data: Data<'a>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType")]
    result_type: Cow<'a, str>,
    #[serde(borrow)]
    result: Vec<Raw<'a>>,
}

#[derive(Deserialize)]
struct Raw<'a> {
    metric: BTreeMap<String, String>,
    #[serde(default, borrow)]
    values: Vec<(f64, Cow<'a, str>)>,
}

/// The series of a `success` answer, their samples kept when `keep(t)`; and the server's
/// warnings. Values Prometheus writes as `NaN`, `+Inf` parse (and are dropped later as
/// invalid power, as in files).
pub(super) fn parse(
    body: &[u8],
    keep: impl Fn(i64) -> bool,
) -> std::result::Result<(Vec<Series>, Vec<String>), String> {
    let a: Answer =
        serde_json::from_slice(body).map_err(|e| format!("not a Prometheus answer: {e}"))?;
    if a.data.result_type != "matrix" {
        return Err(format!(
            "the answer is a {}, not a matrix: the selector must be a plain series selector",
            a.data.result_type
        ));
    }
    let mut out = Vec::with_capacity(a.data.result.len());
    for r in a.data.result {
        let mut points = Vec::with_capacity(r.values.len());
        for (t, v) in r.values {
            let ms = (t * 1000.0).round() as i64;
            if !keep(ms) {
                continue;
            }
            let v = match v.as_ref() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                s => s.parse::<f64>().unwrap_or(f64::NAN),
            };
            points.push((ms, v));
        }
        out.push(Series {
            labels: r.metric,
            points,
        });
    }
    Ok((out, a.warnings))
}

/// The device a series measures: host (`Hostname`, `hostname`, else `instance` without its
/// port), GPU index and UUID.
pub(super) fn device(labels: &BTreeMap<String, String>) -> Option<(String, u32, Option<String>)> {
    let host = ["Hostname", "hostname", "instance", "node"]
        .iter()
        .find_map(|k| labels.get(*k).filter(|h| !h.is_empty()))?;
    let host = host.split(':').next().unwrap_or(host).to_string();
    let gpu = ["gpu", "GPU", "device_index"]
        .iter()
        .find_map(|k| labels.get(*k))
        .and_then(|g| g.trim().parse::<u32>().ok())?;
    let uuid = labels
        .get("UUID")
        .or_else(|| labels.get("uuid"))
        .filter(|u| !u.is_empty())
        .cloned();
    Some((host, gpu, uuid))
}

/// The job a series' labels name, by the configured mode: the `hpc_job` id, or on Kubernetes
/// `namespace/owner` (the `job_label` value) or `namespace/pod`. `None` for an idle GPU.
pub(super) fn job_of(labels: &BTreeMap<String, String>, p: &Prometheus) -> Option<String> {
    let get = |k: &str| labels.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    match p.jobs {
        LabelJobs::None => None,
        LabelJobs::HpcJob => get("hpc_job").map(str::to_string),
        LabelJobs::Pod => {
            let name = p
                .job_label
                .as_deref()
                .and_then(get)
                .or_else(|| get("pod").or_else(|| get("exported_pod")))?;
            let ns = get("namespace").or_else(|| get("exported_namespace"));
            Some(match ns {
                Some(ns) => format!("{ns}/{name}"),
                None => name.to_string(),
            })
        }
    }
}

/// The labels as one `{k="v",...}` text, without the metric name (to name a series).
pub(super) fn label_text(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_parses_with_its_window_and_special_values() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"DCGM_FI_DEV_POWER_USAGE","Hostname":"n1","gpu":"0"},"values":[[1782864000,"100.5"],[1782864015.500,"NaN"],[1782864030,"+Inf"]]}]},"warnings":["w"]}"#;
        let (s, w) = parse(body, |t| t > 1_782_864_000_000).unwrap();
        assert_eq!(w, vec!["w".to_string()]);
        assert_eq!(s[0].points.len(), 2);
        assert_eq!(s[0].points[0].0, 1_782_864_015_500);
        assert!(s[0].points[0].1.is_nan());
        assert_eq!(s[0].points[1].1, f64::INFINITY);
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse(vector, |_| true).unwrap_err().contains("vector"));
    }

    #[test]
    fn devices_and_jobs_from_labels() {
        let l: BTreeMap<String, String> = [
            ("instance", "10.0.0.1:9400"),
            ("gpu", "3"),
            ("UUID", "GPU-x"),
            ("pod", "p1"),
            ("namespace", "nlp"),
            ("hpc_job", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            device(&l),
            Some(("10.0.0.1".into(), 3, Some("GPU-x".into())))
        );
        let mut p = crate::config::prometheus::tests_support::prometheus();
        assert_eq!(job_of(&l, &p), None);
        p.jobs = LabelJobs::Pod;
        assert_eq!(job_of(&l, &p).as_deref(), Some("nlp/p1"));
    }
}
