//! `[mlflow]` and `--mlflow URL`: the tracking server whose runs become jobs, which runs, which
//! tags name what, and how to reach the server (auth as the MLflow client reads it).

use super::{Site, Where};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::PathBuf;

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MlflowSection {
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) experiments: Vec<String>,
    pub(super) filter: Option<String>,
    pub(super) team_tag: Option<String>,
    pub(super) model_tag: Option<String>,
    pub(super) base_model_tag: Option<String>,
    pub(super) teacher_tag: Option<String>,
    pub(super) training_type_tag: Option<String>,
    pub(super) precision_tag: Option<String>,
    pub(super) site: Option<String>,
    pub(super) site_tag: Option<String>,
    pub(super) hardware: Option<String>,
    pub(super) hardware_tag: Option<String>,
    pub(super) host_tag: Option<String>,
    pub(super) gpus_tag: Option<String>,
    pub(super) timeout_s: Option<f64>,
    pub(super) retries: Option<u32>,
    pub(super) backoff_s: Option<f64>,
    pub(super) page_size: Option<u32>,
    pub(super) history_page_size: Option<u32>,
}

/// The validated MLflow source.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlflow {
    pub url: String,
    /// Experiment names or ids; empty: every active experiment.
    pub experiments: Vec<String>,
    /// A run filter in MLflow's search syntax (`tags.team = 'nlp' and attributes.status != 'FAILED'`).
    pub filter: Option<String>,
    pub team_tag: String,
    pub model_tag: String,
    pub base_model_tag: String,
    pub teacher_tag: String,
    pub training_type_tag: String,
    pub precision_tag: String,
    /// The site of every run, unless `site_tag` names another.
    pub site: Option<String>,
    pub site_tag: String,
    pub hardware: Option<String>,
    pub hardware_tag: String,
    /// The tag naming the host of single-node runs (their system metrics name no node).
    pub host_tag: String,
    /// The tag or param giving the GPU count of runs without GPU series.
    pub gpus_tag: String,
    pub timeout_s: f64,
    pub retries: u32,
    pub backoff_s: f64,
    /// Runs per `runs/search` page and points per `metrics/get-history` page.
    pub page_size: u32,
    pub history_page_size: u32,
    /// `MLFLOW_TRACKING_SERVER_CERT_PATH`: a private CA for https.
    pub ca_file: Option<PathBuf>,
}

/// Validate the section merged with `--mlflow`; `None` when neither names a server.
pub(super) fn mlflow(
    s: MlflowSection,
    cli_url: Option<&str>,
    sites: &[Site],
    w: &Where,
) -> Result<Option<Mlflow>> {
    let Some(url) = cli_url.map(str::to_string).or(s.url.clone()) else {
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(
            Error::new(format!("mlflow: '{url}' is not an http:// or https:// URL"))
                .hint("give the tracking server's base URL, e.g. http://mlflow:5000"),
        );
    }
    if let Some(site) = &s.site {
        if !sites.iter().any(|x| &x.id == site) {
            return Err(w.key(
                "[mlflow]",
                None,
                "site",
                format!("[mlflow] site = '{site}', which no [[site]] defines"),
            ));
        }
    }
    let positive = |name: &str, v: Option<f64>, default: f64| {
        super::seconds(("[mlflow]", name), v, default, w)
    };
    let tag = |v: Option<String>, default: &str| v.unwrap_or_else(|| default.to_string());
    Ok(Some(Mlflow {
        url: url.trim_end_matches('/').to_string(),
        experiments: s.experiments,
        filter: s.filter.filter(|f| !f.trim().is_empty()),
        team_tag: tag(s.team_tag, "team"),
        model_tag: tag(s.model_tag, "model"),
        base_model_tag: tag(s.base_model_tag, "base_model"),
        teacher_tag: tag(s.teacher_tag, "teacher"),
        training_type_tag: tag(s.training_type_tag, "training_type"),
        precision_tag: tag(s.precision_tag, "precision"),
        site: s.site,
        site_tag: tag(s.site_tag, "site"),
        hardware: s.hardware,
        hardware_tag: tag(s.hardware_tag, "hardware"),
        host_tag: tag(s.host_tag, "host"),
        gpus_tag: tag(s.gpus_tag, "gpus"),
        timeout_s: positive("timeout_s", s.timeout_s, 30.0)?,
        retries: super::retries("[mlflow]", s.retries, w)?,
        backoff_s: super::backoff("[mlflow]", s.backoff_s, w)?,
        page_size: s.page_size.unwrap_or(1000).clamp(1, 50_000),
        history_page_size: s.history_page_size.unwrap_or(25_000).clamp(1, 1_000_000),
        ca_file: std::env::var_os("MLFLOW_TRACKING_SERVER_CERT_PATH").map(PathBuf::from),
    }))
}
