//! MLflow's REST API, the parts greenledger reads: `experiments/search`, `runs/search` and
//! `metrics/get-history`, each paged with `page_token`, through the shared live-source client
//! (retries, auth as the MLflow client reads it: `MLFLOW_TRACKING_TOKEN`, else
//! `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`).

use crate::config::mlflow::Mlflow;
use crate::error::{Error, Result};
use crate::ingest::http::{self as shared, Failure, Settings};
use serde::Deserialize;

/// A tracking server.
pub(super) struct Api {
    client: shared::Client,
    base: String,
    page_size: u32,
    history_page_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Experiment {
    pub(super) experiment_id: String,
    pub(super) name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct RunInfo {
    pub(super) run_id: String,
    pub(super) run_name: Option<String>,
    pub(super) experiment_id: String,
    pub(super) status: String,
    pub(super) start_time: Option<i64>,
    pub(super) end_time: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct KeyValue {
    pub(super) key: String,
    pub(super) value: String,
}

/// A metric's latest value (in a run) or one point of its history.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct Point {
    pub(super) key: String,
    pub(super) value: Option<f64>,
    pub(super) timestamp: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct RunData {
    pub(super) metrics: Vec<Point>,
    pub(super) tags: Vec<KeyValue>,
    pub(super) params: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct Run {
    pub(super) info: RunInfo,
    pub(super) data: RunData,
}

impl Run {
    pub(super) fn tag(&self, key: &str) -> Option<&str> {
        self.data
            .tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.trim())
            .filter(|v| !v.is_empty())
    }
    pub(super) fn param(&self, key: &str) -> Option<&str> {
        self.data
            .params
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.trim())
            .filter(|v| !v.is_empty())
    }
    pub(super) fn metric(&self, key: &str) -> Option<f64> {
        self.data
            .metrics
            .iter()
            .find(|m| m.key == key)
            .and_then(|m| m.value)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExperimentsPage {
    experiments: Vec<Experiment>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RunsPage {
    runs: Vec<Run>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HistoryPage {
    metrics: Vec<Point>,
    next_page_token: Option<String>,
}

/// The Authorization header as the MLflow client builds it from the environment.
fn auth() -> Option<String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    if let Some(t) = var("MLFLOW_TRACKING_TOKEN") {
        return Some(shared::bearer(&t));
    }
    var("MLFLOW_TRACKING_USERNAME")
        .map(|u| shared::basic(&u, &var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default()))
}

impl Api {
    pub(super) fn new(m: &Mlflow) -> Result<Api> {
        Ok(Api {
            client: shared::Client::new(Settings {
                section: "[mlflow]",
                timeout_s: m.timeout_s,
                ca_file: m.ca_file.as_deref(),
                auth: auth(),
                headers: Vec::new(),
                retries: m.retries,
                backoff_s: m.backoff_s,
            })?,
            base: m.url.clone(),
            page_size: m.page_size,
            history_page_size: m.history_page_size,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow/{path}", self.base)
    }

    /// POST a JSON body; the answer's JSON.
    fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> std::result::Result<T, Failure> {
        let url = self.url(path);
        let text = body.to_string();
        let bytes = self.client.retrying(|| {
            let mut req = self
                .client
                .agent
                .post(&url)
                .header("Content-Type", "application/json");
            for (k, v) in &self.client.headers {
                req = req.header(k, v);
            }
            let (status, b, after) = shared::read(&url, req.send(text.as_bytes()))?;
            shared::with_retry_after(classify(&url, status, b), after)
        })?;
        parse(&url, &bytes)
    }

    /// GET with query parameters; the answer's JSON.
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> std::result::Result<T, Failure> {
        let url = self.url(path);
        let bytes = self.client.retrying(|| {
            let mut req = self.client.agent.get(&url);
            for (k, v) in query {
                req = req.query(*k, *v);
            }
            for (k, v) in &self.client.headers {
                req = req.header(k, v);
            }
            let (status, b, after) = shared::read(&url, req.call())?;
            shared::with_retry_after(classify(&url, status, b), after)
        })?;
        parse(&url, &bytes)
    }

    /// Every active experiment.
    pub(super) fn experiments(&self) -> Result<Vec<Experiment>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut body = serde_json::json!({"max_results": 1000, "view_type": "ACTIVE_ONLY"});
            if let Some(t) = &token {
                body["page_token"] = t.clone().into();
            }
            let page: ExperimentsPage = self
                .post("experiments/search", &body)
                .map_err(|f| stop(f, "list the experiments"))?;
            out.extend(page.experiments);
            match next_page(&mut seen, page.next_page_token)
                .map_err(|why| stop(Failure::Fatal(why), "list the experiments"))?
            {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// Every active run of the experiments matching `filter`, oldest first.
    pub(super) fn runs(&self, experiment_ids: &[String], filter: Option<&str>) -> Result<Vec<Run>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut body = serde_json::json!({
                "experiment_ids": experiment_ids,
                "run_view_type": "ACTIVE_ONLY",
                "max_results": self.page_size,
                "order_by": ["attributes.start_time ASC", "attributes.run_id ASC"],
            });
            if let Some(f) = filter {
                body["filter"] = f.into();
            }
            if let Some(t) = &token {
                body["page_token"] = t.clone().into();
            }
            let page: RunsPage = self
                .post("runs/search", &body)
                .map_err(|f| stop(f, "search the runs"))?;
            out.extend(page.runs);
            match next_page(&mut seen, page.next_page_token)
                .map_err(|why| stop(Failure::Fatal(why), "search the runs"))?
            {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// A metric's whole history in a run (timestamps in ms), page by page.
    pub(super) fn history(
        &self,
        run_id: &str,
        key: &str,
    ) -> std::result::Result<Vec<Point>, Failure> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        let size = self.history_page_size.to_string();
        loop {
            let mut q = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", size.as_str()),
            ];
            if let Some(t) = &token {
                q.push(("page_token", t.as_str()));
            }
            let page: HistoryPage = self.get("metrics/get-history", &q)?;
            out.extend(page.metrics);
            match next_page(&mut seen, page.next_page_token).map_err(Failure::Fatal)? {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

/// The next page's token (none at the end). A token already followed means the server is
/// looping: paging stops with an error instead of reading the same pages forever.
fn next_page(
    seen: &mut std::collections::HashSet<String>,
    next: Option<String>,
) -> std::result::Result<Option<String>, String> {
    match next.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if !seen.insert(t.clone()) => Err(format!(
            "the server gave the page token '{t}' a second time: paging stopped (a server bug; its answers cannot be trusted)"
        )),
        Some(t) => Ok(Some(t)),
    }
}

/// A failure that stops the run, saying what could not be done.
fn stop(f: Failure, what: &str) -> Error {
    let why = f.why();
    Error::new(format!("MLflow: cannot {what}: {why}"))
        .hint("check [mlflow] url (the tracking server's base URL, e.g. http://mlflow:5000), the filter and MLFLOW_TRACKING_TOKEN / MLFLOW_TRACKING_USERNAME")
}

fn parse<T: serde::de::DeserializeOwned>(
    url: &str,
    bytes: &[u8],
) -> std::result::Result<T, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|e| Failure::Missing(format!("{url} answered JSON greenledger cannot read: {e}")))
}

/// A 200 body, or the failure an HTTP status and MLflow's error body mean: client errors stop
/// (retrying cannot help), server errors and rate limits are retried.
fn classify(url: &str, status: u16, body: Vec<u8>) -> std::result::Result<Vec<u8>, Failure> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct ErrorBody {
        error_code: String,
        message: String,
    }
    if status == 200 {
        return Ok(body);
    }
    let e: ErrorBody = serde_json::from_slice(&body).unwrap_or_else(|_| ErrorBody {
        message: String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_string(),
        ..Default::default()
    });
    let code = if e.error_code.is_empty() {
        String::new()
    } else {
        format!(" ({})", e.error_code)
    };
    let what = format!("{url} answered HTTP {status}{code}: {}", e.message);
    match status {
        400..=499 if status != 408 && status != 429 => Err(Failure::Fatal(what)),
        _ => Err(Failure::Missing(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_stop_and_server_errors_are_retried() {
        let bad = br#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad filter"}"#.to_vec();
        assert!(
            matches!(classify("u", 400, bad), Err(Failure::Fatal(m)) if m.contains("INVALID_PARAMETER_VALUE") && m.contains("bad filter"))
        );
        assert!(
            matches!(classify("u", 503, b"busy".to_vec()), Err(Failure::Missing(m)) if m.contains("503"))
        );
        assert!(matches!(
            classify("u", 429, Vec::new()),
            Err(Failure::Missing(_))
        ));
        assert!(classify("u", 200, b"{}".to_vec()).is_ok());
    }

    #[test]
    fn a_repeated_page_token_stops_paging() {
        let mut seen = std::collections::HashSet::new();
        assert_eq!(next_page(&mut seen, Some("a".into())), Ok(Some("a".into())));
        assert_eq!(next_page(&mut seen, Some("b".into())), Ok(Some("b".into())));
        assert!(next_page(&mut seen, Some("a".into()))
            .unwrap_err()
            .contains("'a' a second time"));
        assert_eq!(next_page(&mut seen, Some(String::new())), Ok(None));
        assert_eq!(next_page(&mut seen, None), Ok(None));
    }
}
