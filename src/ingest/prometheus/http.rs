//! The HTTP side of the Prometheus source: one agent with the configured timeout, TLS roots,
//! auth and headers; instant queries POSTed as forms; retries with doubling waits.

use crate::config::prometheus::{Auth, Prometheus};
use crate::error::{Error, Result};
use std::time::Duration;

/// Why a query gave no data.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Failure {
    /// Retrying cannot help (a bad selector, a wrong URL, refused credentials): the run stops.
    Fatal(String),
    /// Still failing after every retry (server down, 5xx, timeouts): the chunk is missing.
    Missing(String),
}

/// One configured client for every server of the run.
pub(super) struct Client {
    agent: ureq::Agent,
    auth: Option<String>,
    headers: Vec<(String, String)>,
    /// `Accept-Encoding` sent: Prometheus compresses at about 10 MB/s, slower than most links.
    encoding: &'static str,
    retries: u32,
    backoff: Duration,
}

impl Client {
    pub(super) fn new(p: &Prometheus) -> Result<Client> {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(p.timeout_s)))
            .http_status_as_error(false)
            .user_agent(concat!("greenledger/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &p.ca_file {
            let pem =
                std::fs::read(ca).map_err(|e| Error::io(ca, "read [prometheus] ca_file", e))?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::in_file(
                    ca.display().to_string(),
                    "[prometheus] ca_file holds no PEM certificate",
                ));
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        Ok(Client {
            agent: config.build().into(),
            auth: auth_header(&p.auth)?,
            headers: p.headers.clone(),
            encoding: if p.gzip { "gzip" } else { "identity" },
            retries: p.retries,
            backoff: Duration::from_secs_f64(p.backoff_s),
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
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            match self.once(&url, query, time) {
                Ok(body) => return Ok(body),
                Err(Failure::Missing(_)) if attempt < self.retries => {
                    std::thread::sleep(wait);
                    wait *= 2;
                    attempt += 1;
                }
                Err(Failure::Missing(why)) => {
                    return Err(Failure::Missing(format!(
                        "{why} (after {} attempts)",
                        attempt + 1
                    )))
                }
                Err(f) => return Err(f),
            }
        }
    }

    fn once(&self, url: &str, query: &str, time: &str) -> std::result::Result<Vec<u8>, Failure> {
        let mut req = self
            .agent
            .post(url)
            .header("Accept-Encoding", self.encoding);
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let mut resp = req
            .send_form([("query", query), ("time", time)])
            .map_err(|e| Failure::Missing(format!("cannot reach {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| Failure::Missing(format!("reading the answer of {url}: {e}")))?;
        classify(url, status, body)
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
        Auth::Bearer { env: name } => Some(format!("Bearer {}", env(name)?.trim())),
        Auth::Basic { user, password_env } => {
            let pass = match password_env {
                Some(n) => env(n)?,
                None => String::new(),
            };
            Some(format!(
                "Basic {}",
                base64(format!("{user}:{pass}").as_bytes())
            ))
        }
    })
}

/// Standard base64 with padding (for basic auth; no crate for twenty lines).
fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

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
