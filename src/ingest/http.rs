//! HTTP for the live sources (Prometheus, MLflow): one agent with the configured timeout and
//! TLS roots, the Authorization header and extra headers, and a retry loop with doubling
//! waits for failures a server may recover from.

use crate::error::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// Why a request gave no data.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Retrying cannot help (a bad query, a wrong URL, refused credentials): the run stops.
    Fatal(String),
    /// Still failing after every retry (server down, 5xx, timeouts).
    Missing(String),
}

/// How to reach a server.
pub struct Settings<'a> {
    /// The config section, for messages (`[prometheus]`).
    pub section: &'a str,
    pub timeout_s: f64,
    pub ca_file: Option<&'a Path>,
    /// The Authorization header's value, if any.
    pub auth: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Attempts after the first one, waiting `backoff_s`, then twice as long each time.
    pub retries: u32,
    pub backoff_s: f64,
}

/// One configured client.
pub struct Client {
    pub agent: ureq::Agent,
    /// The Authorization header (if any) and the extra headers, sent with every request.
    pub headers: Vec<(String, String)>,
    retries: u32,
    backoff: Duration,
}

impl Client {
    pub fn new(s: Settings) -> Result<Client> {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(s.timeout_s)))
            .http_status_as_error(false)
            .user_agent(concat!("greenledger/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = s.ca_file {
            let what = format!("read {} ca_file", s.section);
            let pem = std::fs::read(ca).map_err(|e| Error::io(ca, &what, e))?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Error::in_file(
                    ca.display().to_string(),
                    format!("{} ca_file holds no PEM certificate", s.section),
                ));
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        let mut headers = Vec::new();
        if let Some(a) = s.auth {
            headers.push(("Authorization".to_string(), a));
        }
        headers.extend(s.headers);
        Ok(Client {
            agent: config.build().into(),
            headers,
            retries: s.retries,
            backoff: Duration::from_secs_f64(s.backoff_s),
        })
    }

    /// Run `once` until it succeeds, fails fatally or the retries are spent.
    pub fn retrying<T>(
        &self,
        mut once: impl FnMut() -> std::result::Result<T, Failure>,
    ) -> std::result::Result<T, Failure> {
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            match once() {
                Ok(v) => return Ok(v),
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
}

/// A response's status and whole body, or a transport failure (retried).
pub fn read(
    url: &str,
    r: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> std::result::Result<(u16, Vec<u8>), Failure> {
    let mut resp = r.map_err(|e| Failure::Missing(format!("cannot reach {url}: {e}")))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| Failure::Missing(format!("reading the answer of {url}: {e}")))?;
    Ok((status, body))
}

/// `Bearer <token>` or `Basic <base64(user:password)>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {}", token.trim())
}

pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
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
        assert_eq!(basic("a", "b"), "Basic YTpi");
    }
}
