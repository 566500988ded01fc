//! `[prometheus]` and `--prometheus URL`: where live DCGM telemetry is read, how to reach the
//! server (timeouts, retries, auth, TLS, headers) and how jobs are found in the series' labels.

use super::{Site, Where};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// DCGM exporter's power gauge (W) and energy counter (mJ since boot).
pub(crate) const POWER: &str = "DCGM_FI_DEV_POWER_USAGE";
pub(crate) const ENERGY: &str = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION";

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PrometheusSection {
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) urls: Vec<String>,
    pub(super) power: Option<String>,
    pub(super) energy: Option<String>,
    #[serde(default)]
    pub(super) matchers: Vec<String>,
    pub(super) step_s: Option<f64>,
    pub(super) timeout_s: Option<f64>,
    pub(super) retries: Option<u32>,
    pub(super) backoff_s: Option<f64>,
    #[serde(default)]
    pub(super) gzip: bool,
    pub(super) concurrency: Option<usize>,
    pub(super) bearer_token_env: Option<String>,
    pub(super) basic_user: Option<String>,
    pub(super) basic_password_env: Option<String>,
    pub(super) ca_file: Option<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    pub(super) jobs: Option<LabelJobs>,
    pub(super) job_label: Option<String>,
    pub(super) team_label: Option<String>,
    pub(super) model_label: Option<String>,
    pub(super) hardware: Option<String>,
    pub(super) site: Option<String>,
    #[serde(default)]
    pub(super) sites: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) namespaces: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) shares: BTreeMap<String, f64>,
}

/// How jobs are read from the series' labels (`[prometheus] jobs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelJobs {
    /// DCGM exporter's Slurm mapping: the `hpc_job` label is the job id.
    #[default]
    HpcJob,
    /// Kubernetes: a job is a pod, or the owner named by `job_label`.
    Pod,
    /// Labels name no job: the samples are matched with the manifest's jobs only.
    None,
}

/// Authentication of every request.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    None,
    /// The token is read from this environment variable when the run starts.
    Bearer {
        env: String,
    },
    Basic {
        user: String,
        password_env: Option<String>,
    },
}

/// The validated Prometheus source.
#[derive(Debug, Clone, PartialEq)]
pub struct Prometheus {
    pub urls: Vec<String>,
    /// Series selector of the power gauge (W).
    pub power: String,
    /// Series selector of the energy counter (mJ since boot); `None` when disabled.
    pub energy: Option<String>,
    /// Extra label matchers added to both selectors, e.g. `cluster="a"`.
    pub matchers: Vec<String>,
    /// Length of one fetched chunk, seconds.
    pub step_s: f64,
    pub timeout_s: f64,
    /// Attempts after the first one, with doubling waits from `backoff_s`.
    pub retries: u32,
    pub backoff_s: f64,
    /// Ask for gzip answers (for slow links: the server compresses at about 10 MB/s).
    pub gzip: bool,
    /// Queries in flight at once (chunks fetched in parallel).
    pub concurrency: usize,
    pub auth: Auth,
    pub ca_file: Option<PathBuf>,
    pub headers: Vec<(String, String)>,
    pub jobs: LabelJobs,
    pub job_label: Option<String>,
    pub team_label: Option<String>,
    pub model_label: Option<String>,
    /// Hardware of series without `modelName`.
    pub hardware: Option<String>,
    pub site: Option<String>,
    /// Hostname globs to site ids, tried in order of the map (sorted).
    pub sites: Vec<(glob::Pattern, String)>,
    pub namespaces: BTreeMap<String, String>,
    /// Relative shares of jobs on a shared GPU, by job id (1 when not listed).
    pub shares: BTreeMap<String, f64>,
}

impl Prometheus {
    /// The site of a hostname by the first matching glob of `[prometheus.sites]`.
    pub fn site_by_glob(&self, host: &str) -> Option<String> {
        self.sites
            .iter()
            .find(|(g, _)| g.matches(host))
            .map(|(_, s)| s.clone())
    }
}

/// Validate the section merged with the command line's URLs; `None` when neither names a
/// server.
pub(super) fn prometheus(
    s: PrometheusSection,
    cli_urls: &[String],
    sites: &[Site],
    base: &Path,
    w: &Where,
) -> Result<Option<Prometheus>> {
    let urls = urls(&s, cli_urls)?;
    if urls.is_empty() {
        return Ok(None);
    }
    let positive = |name: &str, v: Option<f64>, default: f64| {
        super::seconds(("[prometheus]", name), v, default, w)
    };
    let jobs = s.jobs.unwrap_or_default();
    let site_globs = site_globs(&s, sites, w)?;
    let auth = auth(
        s.bearer_token_env.clone(),
        s.basic_user.clone(),
        s.basic_password_env.clone(),
        w,
    )?;
    Ok(Some(Prometheus {
        urls,
        power: s.power.unwrap_or_else(|| POWER.to_string()),
        energy: match s.energy {
            Some(e) if e.trim().is_empty() => None,
            Some(e) => Some(e),
            None => Some(ENERGY.to_string()),
        },
        matchers: s.matchers,
        step_s: positive("step_s", s.step_s, 3600.0)?,
        timeout_s: positive("timeout_s", s.timeout_s, 30.0)?,
        retries: super::retries("[prometheus]", s.retries, w)?,
        backoff_s: super::backoff("[prometheus]", s.backoff_s, w)?,
        gzip: s.gzip,
        concurrency: concurrency(s.concurrency, w)?,
        auth,
        ca_file: s.ca_file.map(|f| base.join(f)),
        headers: s.headers.into_iter().collect(),
        jobs,
        job_label: s.job_label,
        team_label: s.team_label,
        model_label: s.model_label,
        hardware: s.hardware,
        site: s.site,
        sites: site_globs,
        namespaces: s.namespaces,
        shares: s.shares,
    }))
}

/// The config's URLs, then the command line's not already listed; each http(s), without a
/// trailing slash.
fn urls(s: &PrometheusSection, cli_urls: &[String]) -> Result<Vec<String>> {
    let mut urls: Vec<String> = Vec::new();
    for u in s.url.iter().chain(&s.urls).chain(cli_urls) {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(Error::new(format!(
                "prometheus: '{u}' is not an http:// or https:// URL"
            ))
            .hint("give the server's base URL, e.g. http://prometheus:9090 (Mimir: http://mimir/prometheus)"));
        }
        let u = u.trim_end_matches('/').to_string();
        if !urls.contains(&u) {
            urls.push(u);
        }
    }
    Ok(urls)
}

/// `[prometheus.sites]` as globs; every named site must be defined, every share positive.
fn site_globs(
    s: &PrometheusSection,
    sites: &[Site],
    w: &Where,
) -> Result<Vec<(glob::Pattern, String)>> {
    for site in s.site.iter().chain(s.sites.values()) {
        if !sites.iter().any(|x| &x.id == site) {
            let key = match s.site.as_ref() == Some(site) {
                true => "site",
                false => "sites",
            };
            return Err(w.key(
                "[prometheus]",
                None,
                key,
                format!("[prometheus] names site '{site}', which no [[site]] defines"),
            ));
        }
    }
    for (job, share) in &s.shares {
        if !(share.is_finite() && *share > 0.0) {
            return Err(w.key(
                "[prometheus.shares]",
                None,
                job,
                format!("[prometheus.shares] '{job}' = {share}: a share must be a number > 0"),
            ));
        }
    }
    s.sites
        .iter()
        .map(|(g, site)| {
            glob::Pattern::new(g)
                .map(|p| (p, site.clone()))
                .map_err(|e| {
                    let msg = format!("[prometheus.sites] '{g}' is not a glob: {e}");
                    w.key("[prometheus.sites]", None, g, msg)
                })
        })
        .collect()
}

/// Queries in flight: 1 to 64 (0 would fetch nothing; more would only flood the server).
fn concurrency(c: Option<usize>, w: &Where) -> Result<usize> {
    match c.unwrap_or(2) {
        n @ 1..=64 => Ok(n),
        n => Err(w.key(
            "[prometheus]",
            None,
            "concurrency",
            format!(
                "[prometheus] concurrency = {n}: give a number of queries in flight from 1 to 64"
            ),
        )),
    }
}

fn auth(
    bearer_env: Option<String>,
    user: Option<String>,
    password_env: Option<String>,
    w: &Where,
) -> Result<Auth> {
    Ok(match (bearer_env, user) {
        (Some(_), Some(_)) => {
            return Err(w.key(
                "[prometheus]",
                None,
                "basic_user",
                "[prometheus] give bearer_token_env or basic_user, not both",
            ))
        }
        (Some(env), None) => Auth::Bearer { env },
        (None, Some(user)) => Auth::Basic { user, password_env },
        (_, None) if password_env.is_some() => return Err(w.key(
            "[prometheus]",
            None,
            "basic_password_env",
            "[prometheus] basic_password_env is given without basic_user: give both (or remove it)",
        )),
        (None, None) => Auth::None,
    })
}

/// A default source for unit tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// `[prometheus]` with every default and one URL.
    pub(crate) fn prometheus() -> Prometheus {
        let w = Where {
            path: "t.toml",
            text: "",
        };
        super::prometheus(
            PrometheusSection::default(),
            &["http://127.0.0.1:9090".to_string()],
            &[],
            Path::new(""),
            &w,
        )
        .expect("defaults are valid")
        .expect("a URL was given")
    }
}
