//! The HTTP side of the Prometheus source: instant queries POSTed as forms through the shared
//! live-source client ([`crate::ingest::http`]), and what Prometheus's answers mean.

use crate::config::prometheus::{Auth, Prometheus};
use crate::error::{Error, Result};
pub(super) use crate::ingest::http::Failure;
use crate::ingest::http::{self as shared, Settings};

/// One configured client for every server of the run.
pub(super) struct Client {
    inner: shared::Client,
    /// `Accept-Encoding` sent: Prometheus compresses at about 10 MB/s, slower than most links.
    encoding: &'static str,
}

impl Client {
    pub(super) fn new(p: &Prometheus) -> Result<Client> {
        let inner = shared::Client::new(Settings {
            section: "[prometheus]",
            timeout_s: p.timeout_s,
            ca_file: p.ca_file.as_deref(),
            auth: auth_header(&p.auth)?,
            headers: p.headers.clone(),
            retries: p.retries,
            backoff_s: p.backoff_s,
        })?;
        Ok(Client {
            inner,
            encoding: if p.gzip { "gzip" } else { "identity" },
        })
    }

    /// `POST {base}/api/v1/query` with `query` at `time`; the body of a `success` answer.
    pub(super) fn query(
        &self,
        base: &str,
        query: &str,
        time: &str,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let url = format!("{base}/api/v1/query");
        self.inner.retrying(|| self.once(&url, query, time))
    }

    fn once(&self, url: &str, query: &str, time: &str) -> std::result::Result<Vec<u8>, Failure> {
        let mut req = self
            .inner
            .agent
            .post(url)
            .header("Accept-Encoding", self.encoding);
        for (k, v) in &self.inner.headers {
            req = req.header(k, v);
        }
        let (status, body, after) =
            shared::read(url, req.send_form([("query", query), ("time", time)]))?;
        shared::with_retry_after(classify(url, status, body), after)
    }
}

/// A success body, or the failure an HTTP status and a Prometheus error body mean.
fn classify(url: &str, status: u16, body: Vec<u8>) -> std::result::Result<Vec<u8>, Failure> {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "errorType")]
        error_type: Option<String>,
        error: Option<String>,
    }
    if status == 200 && body.starts_with(b"{\"status\":\"success\"") {
        return Ok(body);
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
    let (kind, text) = parsed
        .map(|e| {
            (
                e.error_type.unwrap_or_default(),
                e.error.unwrap_or_default(),
            )
        })
        .unwrap_or_else(|| {
            let t = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            (String::new(), t.trim().to_string())
        });
    let what = format!(
        "{url} answered HTTP {status}{}: {text}",
        if kind.is_empty() {
            String::new()
        } else {
            format!(" ({kind})")
        }
    );
    match status {
        200 if kind == "bad_data" => Err(Failure::Fatal(what)),
        200 => {
            // A success body not at the start (pretty-printed by a proxy) is still a success.
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(v) if v.get("status").and_then(|s| s.as_str()) == Some("success") => Ok(body),
                _ => Err(Failure::Missing(what)),
            }
        }
        400 | 401 | 403 | 404 | 405 | 422 => Err(Failure::Fatal(what)),
        _ => Err(Failure::Missing(what)),
    }
}

/// The Authorization header: the bearer token or basic credentials, read from the
/// environment now so that a missing variable stops the run before any request.
fn auth_header(auth: &Auth) -> Result<Option<String>> {
    let env = |name: &str| {
        std::env::var(name).map_err(|_| {
            Error::new(format!(
                "[prometheus] names the environment variable {name}, which is not set"
            ))
            .hint("export it before the run, or remove the auth setting")
        })
    };
    Ok(match auth {
        Auth::None => None,
        Auth::Bearer { env: name } => Some(shared::bearer(&env(name)?)),
        Auth::Basic { user, password_env } => {
            let pass = match password_env {
                Some(n) => env(n)?,
                None => String::new(),
            };
            Some(shared::basic(user, &pass))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_fatal_or_retried() {
        let ok = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_vec();
        assert!(classify("u", 200, ok).is_ok());
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#.to_vec();
        assert!(
            matches!(classify("u", 400, bad), Err(Failure::Fatal(m)) if m.contains("parse error"))
        );
        assert!(
            matches!(classify("u", 503, b"busy".to_vec()), Err(Failure::Missing(m)) if m.contains("503"))
        );
        let timeout =
            br#"{"status":"error","errorType":"timeout","error":"query timed out"}"#.to_vec();
        assert!(matches!(
            classify("u", 503, timeout),
            Err(Failure::Missing(_))
        ));
        assert!(matches!(
            classify("u", 401, Vec::new()),
            Err(Failure::Fatal(_))
        ));
    }
}
