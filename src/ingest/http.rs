//! HTTP for the live sources (Prometheus, MLflow): one agent with the configured timeout and
//! TLS roots, the Authorization header and extra headers, and a retry loop with doubling
//! waits for failures a server may recover from.

use crate::config::MAX_WAIT_S;
use crate::error::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// Why a request gave no data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// Retrying cannot help (a bad query, a wrong URL, refused credentials): the run stops.
    Fatal(String),
    /// Still failing after every retry (server down, 5xx, timeouts).
    Missing(String),
    /// The server asked to be called again later (`Retry-After` on a 429 or 503): retried after
    /// that long (capped at [`MAX_WAIT_S`]); [`Client::retrying`] never returns it.
    Busy(String, Duration),
}

impl Failure {
    /// What went wrong, whatever the kind.
    pub(crate) fn why(self) -> String {
        match self {
            Failure::Fatal(w) | Failure::Missing(w) | Failure::Busy(w, _) => w,
        }
    }
}

/// How to reach a server.
pub(crate) struct Settings<'a> {
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
pub(crate) struct Client {
    pub agent: ureq::Agent,
    /// The Authorization header (if any) and the extra headers, sent with every request.
    pub headers: Vec<(String, String)>,
    retries: u32,
    backoff: Duration,
}

impl Client {
    pub(crate) fn new(s: Settings) -> Result<Client> {
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

    /// Run `once` until it succeeds, fails fatally or the retries are spent. The waits double
    /// from the backoff, capped at [`MAX_WAIT_S`], with jitter (half the wait fixed, half
    /// random) so that parallel queries do not retry in step; a server's Retry-After wins when
    /// longer (within the cap).
    pub(crate) fn retrying<T>(
        &self,
        mut once: impl FnMut() -> std::result::Result<T, Failure>,
    ) -> std::result::Result<T, Failure> {
        let cap = Duration::from_secs_f64(MAX_WAIT_S);
        let mut wait = self.backoff.min(cap);
        let mut attempt = 0;
        loop {
            let (why, asked) = match once() {
                Ok(v) => return Ok(v),
                Err(Failure::Missing(why)) => (why, None),
                Err(Failure::Busy(why, after)) => (why, Some(after)),
                Err(f) => return Err(f),
            };
            if attempt >= self.retries {
                return Err(Failure::Missing(format!(
                    "{why} (after {} attempts)",
                    attempt + 1
                )));
            }
            std::thread::sleep(jitter(wait).max(asked.unwrap_or_default()).min(cap));
            wait = (wait * 2).min(cap);
            attempt += 1;
        }
    }
}

/// Half of `wait`, plus a random part of the other half.
fn jitter(wait: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // A randomly keyed hasher's output: random enough to spread retries, with no extra crate.
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let half = wait / 2;
    half + half.mul_f64((r % 1_000_000) as f64 / 1_000_000.0)
}

/// A server's `Retry-After`: seconds, or an HTTP date (as long as until then).
fn retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// A retryable failure of a response that carried a Retry-After becomes [`Failure::Busy`].
pub(crate) fn with_retry_after<T>(
    r: std::result::Result<T, Failure>,
    after: Option<Duration>,
) -> std::result::Result<T, Failure> {
    match (r, after) {
        (Err(Failure::Missing(why)), Some(d)) => Err(Failure::Busy(why, d)),
        (r, _) => r,
    }
}

/// A response's status, whole body and `Retry-After` (if any), or a transport failure
/// (retried).
pub(crate) fn read(
    url: &str,
    r: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> std::result::Result<(u16, Vec<u8>, Option<Duration>), Failure> {
    let mut resp = r.map_err(|e| Failure::Missing(format!("cannot reach {url}: {e}")))?;
    let status = resp.status().as_u16();
    let after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after);
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| Failure::Missing(format!("reading the answer of {url}: {e}")))?;
    Ok((status, body, after))
}

/// `Bearer <token>` or `Basic <base64(user:password)>`.
pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {}", token.trim())
}

pub(crate) fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_base64_of_user_and_password() {
        // RFC 7617's example.
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic("a", "b"), "Basic YTpi");
    }

    fn client(retries: u32, backoff_s: f64) -> Client {
        Client::new(Settings {
            section: "[test]",
            timeout_s: 1.0,
            ca_file: None,
            auth: None,
            headers: Vec::new(),
            retries,
            backoff_s,
        })
        .unwrap()
    }

    #[test]
    fn waits_are_jittered_within_half_to_all_of_the_backoff() {
        let w = Duration::from_millis(1000);
        let spread: std::collections::BTreeSet<u128> =
            (0..20).map(|_| jitter(w).as_micros()).collect();
        assert!(spread.iter().all(|&us| (500_000..=1_000_000).contains(&us)));
        assert!(spread.len() > 1, "no jitter: {spread:?}");
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn retrying_stops_after_the_retries_and_honours_retry_after() {
        // Two retries: three attempts, then the failure says so.
        let c = client(2, 0.001);
        let mut n = 0;
        let r: std::result::Result<(), Failure> = c.retrying(|| {
            n += 1;
            Err(Failure::Missing("down".into()))
        });
        assert_eq!(n, 3);
        assert_eq!(r, Err(Failure::Missing("down (after 3 attempts)".into())));
        // A server's Retry-After of 0.3 s is waited, though the backoff is 1 ms.
        let started = std::time::Instant::now();
        let mut n = 0;
        let r = c.retrying(|| {
            n += 1;
            if n == 1 {
                Err(Failure::Busy("429".into(), Duration::from_millis(300)))
            } else {
                Ok(n)
            }
        });
        assert_eq!(r, Ok(2));
        assert!(started.elapsed() >= Duration::from_millis(300));
        // A fatal failure is never retried.
        let mut n = 0;
        let r: std::result::Result<(), Failure> = c.retrying(|| {
            n += 1;
            Err(Failure::Fatal("401".into()))
        });
        assert_eq!((n, r), (1, Err(Failure::Fatal("401".into()))));
        // Busy becomes Missing only for retryable answers.
        assert_eq!(
            with_retry_after::<()>(Err(Failure::Missing("503".into())), Some(Duration::ZERO)),
            Err(Failure::Busy("503".into(), Duration::ZERO))
        );
        assert_eq!(
            with_retry_after::<()>(Err(Failure::Fatal("400".into())), Some(Duration::ZERO)),
            Err(Failure::Fatal("400".into()))
        );
    }
}
