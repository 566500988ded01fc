//! Live telemetry from a real Prometheus (Debian's `prometheus` package) on loopback, loaded with
//! a synthetic DCGM fleet by `promtool tsdb create-blocks-from openmetrics`; plus a proxy in
//! front of it that answers 500 first, and a server that never answers.
//!
//! Without the binaries these tests print SKIPPED loudly and pass; under `scripts/test.sh`
//! (`GREENLEDGER_REQUIRE_SERVERS=1`) a missing server fails them.

use super::{gl, job, read_json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// 2026-07-01T00:00:00Z in epoch seconds.
const T0: i64 = 1_782_864_000;
const STEP: i64 = 30;

/// A running Prometheus over a temporary TSDB; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// Start Prometheus with `openmetrics` loaded, or `None` (skipped, said loudly) when the
/// binaries are missing and the run does not require them.
pub fn start(openmetrics: &str) -> Option<Server> {
    let (Some(prom), Some(promtool)) = (find("prometheus"), find("promtool")) else {
        if std::env::var("GREENLEDGER_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("prometheus/promtool are not on PATH but GREENLEDGER_REQUIRE_SERVERS=1: install Debian's `prometheus` package (scripts/test.sh does)");
        }
        super::loud("*** SKIPPED: a Prometheus test needs `prometheus` and `promtool` on PATH (apt-get install prometheus, or run scripts/test.sh) ***");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("fleet.om");
    std::fs::write(&om, openmetrics).unwrap();
    let data = dir.path().join("data");
    let out = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global: {}\n").unwrap();
    let child = Command::new(&prom)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = ureq::get(&format!("{}/-/ready", server.url)).call() {
            if r.status() == 200 {
                return Some(server);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("Prometheus did not become ready at {}", server.url);
}

/// One synthetic series: labels and (epoch seconds, value) samples.
pub struct S {
    pub metric: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub points: Vec<(i64, f64)>,
}

/// The series as OpenMetrics text (families contiguous, `# EOF` last). The energy counter is
/// declared a gauge: the TSDB stores no type, and promtool's parser wants `_total` on counters.
pub fn openmetrics(series: &[S]) -> String {
    let mut by_metric: BTreeMap<&str, Vec<&S>> = BTreeMap::new();
    for s in series {
        by_metric.entry(s.metric).or_default().push(s);
    }
    let mut out = String::new();
    for (m, ss) in by_metric {
        out.push_str(&format!("# TYPE {m} gauge\n"));
        for s in ss {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            for (t, v) in &s.points {
                out.push_str(&format!("{m}{{{}}} {v} {t}\n", labels.join(",")));
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn dcgm(
    host: &str,
    gpu: u32,
    uuid: &str,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut l = vec![
        ("Hostname", host.to_string()),
        ("gpu", gpu.to_string()),
        ("UUID", uuid.to_string()),
        ("modelName", "NVIDIA A100-SXM4-80GB".to_string()),
        ("instance", format!("{host}:9400")),
    ];
    l.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    l
}

/// Samples every 30 s over [from, to] (seconds after T0) at `w` watts, skipping (gap_from, gap_to).
fn steady(from: i64, to: i64, w: f64, gap: Option<(i64, i64)>) -> Vec<(i64, f64)> {
    (from / STEP..=to / STEP)
        .map(|k| k * STEP)
        .filter(|t| gap.is_none_or(|(a, b)| *t <= a || *t >= b))
        .map(|t| (T0 + t, w))
        .collect()
}

/// The fleet (times in seconds after 2026-07-01T00:00Z; the period is 00:00-06:00):
/// - n1 gpu0, gpu1: job 101 (pod nlp/train-101) 01:00-03:00 at 300 W; idle at 100 W from
///   00:00 to 00:59:30 and 03:00:30 to 06:00; gpu1 has a 10-minute gap from 02:00 to 02:10.
/// - n2 gpu0: job 102 (pod vision/train-102) 00:30-04:00 at 200 W, scraped twice (two
///   `instance` labels, identical samples); its energy counter resets at 02:00.
/// - n2 gpu1: pods vision/a and vision/b share it 01:00-02:00 (240 W copied onto both series).
pub fn fleet() -> Vec<S> {
    let mut v = Vec::new();
    for (gpu, uuid) in [(0, "GPU-n1-0"), (1, "GPU-n1-1")] {
        let gap = (gpu == 1).then_some((7200, 7800));
        v.push(S {
            metric: "DCGM_FI_DEV_POWER_USAGE",
            labels: dcgm(
                "n1",
                gpu,
                uuid,
                &[
                    ("hpc_job", "101"),
                    ("pod", "train-101"),
                    ("namespace", "nlp"),
                ],
            ),
            points: steady(3600, 10800, 300.0, gap),
        });
        let mut idle = steady(0, 3570, 100.0, None);
        idle.extend(steady(10830, 21600, 100.0, None));
        v.push(S {
            metric: "DCGM_FI_DEV_POWER_USAGE",
            labels: dcgm("n1", gpu, uuid, &[]),
            points: idle,
        });
    }
    for instance in ["10.0.0.2:9400", "dcgm-b:9400"] {
        let mut l = dcgm(
            "n2",
            0,
            "GPU-n2-0",
            &[
                ("hpc_job", "102"),
                ("pod", "train-102"),
                ("namespace", "vision"),
                ("label_job_name", "resnet"),
                ("label_team", "cv-research"),
            ],
        );
        l.retain(|(k, _)| *k != "instance");
        l.push(("instance", instance.to_string()));
        v.push(S {
            metric: "DCGM_FI_DEV_POWER_USAGE",
            labels: l.clone(),
            points: steady(1800, 14400, 200.0, None),
        });
        // 200 W for 30 s is 6,000,000 mJ a scrape; the counter restarts from 0 at 02:00.
        let counter = (1800 / STEP..=14400 / STEP)
            .map(|k| {
                let t = k * STEP;
                let mj = if t < 7200 {
                    5.0e9 + (t - 1800) as f64 * 200_000.0
                } else {
                    (t - 7200) as f64 * 200_000.0
                };
                (T0 + t, mj)
            })
            .collect();
        v.push(S {
            metric: "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            labels: l,
            points: counter,
        });
    }
    for pod in ["a", "b"] {
        v.push(S {
            metric: "DCGM_FI_DEV_POWER_USAGE",
            labels: dcgm(
                "n2",
                1,
                "GPU-n2-1",
                &[("pod", pod), ("namespace", "vision")],
            ),
            points: steady(3600, 7200, 240.0, None),
        });
    }
    v
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `report` over the fleet's six hours with the config `cfg`, writing `format` (add `--out`).
fn report_cmd(cfg: &Path, format: &str) -> assert_cmd::Command {
    let mut c = gl();
    c.args([
        "report", "--quiet", "--format", format, "--force", "--period",
    ])
    .arg("2026-07-01T00:00:00Z..2026-07-01T06:00:00Z")
    .arg("--config")
    .arg(cfg);
    c
}

/// The lab's site: both nodes, French grid, PUE 1.2.
const SITE: &str = "[[site]]\nid = \"lab\"\nname = \"Lab\"\nzone = \"FR\"\npue = 1.2\nnodes = [\"n1\", \"n2\"]\n\n";

/// Run `report` with `config` (a greenledger.toml body after the lab's site) and return
/// (exit code, report.json, stderr).
fn run(dir: &Path, config: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let cfg = write(dir, "greenledger.toml", &format!("{SITE}{config}"));
    let out = dir.join("out");
    let a = report_cmd(&cfg, "json")
        .args(extra)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let code = a.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&a.stderr).into_owned();
    let json = if out.join("report.json").exists() {
        read_json(&out.join("report.json"))
    } else {
        serde_json::Value::Null
    };
    (code, json, stderr)
}

/// Start Prometheus with the fleet and report with `[prometheus] url = <it>` then `settings`
/// (run in a fresh folder, so `args` may name files written there by the caller); asserts the
/// run succeeded and returns report.json, or `None` when the server is skipped.
fn fleet_report(settings: &str, args: &[&str]) -> Option<Live> {
    let server = start(&openmetrics(&fleet()))?;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[prometheus]\nurl = \"{}\"\n{settings}", server.url);
    let (code, r, err) = run(dir.path(), &config, args);
    assert!(code <= 1, "{err}");
    Some(Live {
        _server: server,
        dir,
        r,
    })
}

/// A report from the running fleet server (kept alive for reruns) and its folder.
struct Live {
    _server: Server,
    dir: tempfile::TempDir,
    r: serde_json::Value,
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn codes(r: &serde_json::Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn jobs_come_from_hpc_job_labels_with_hand_computed_energy() {
    let Some(Live { r, _server, .. }) = fleet_report("energy = \"\"\n", &[]) else {
        return;
    };
    // Job 101: 2 GPUs at 300 W from 01:00 to 03:00, gpu1 without 02:00-02:10 (a gap):
    // sampled 300 W x (7200 + 6600) s = 4.14 MJ = 1.15 kWh.
    let j = job(&r, "101");
    assert_eq!(j["origin"], "prometheus labels");
    assert_eq!(
        j["energy_detail"],
        "integrated from power samples (Prometheus (DCGM))"
    );
    // It held both GPUs of n1; job 102 one of n2's two (gpu1 is the shared one).
    assert_eq!(j["node_share"], 1.0);
    assert_eq!(job(&r, "102")["node_share"], 0.5);
    assert_eq!(j["hardware"], "A100-SXM4-80GB");
    assert_eq!(j["start"], "2026-07-01T01:00:00Z");
    assert_eq!(j["end"], "2026-07-01T03:00:00Z");
    assert!((f(&j["sampled_kwh"]) - 1.15).abs() < 1e-9, "{j}");
    // Job 102: one GPU (two copies of its series counted once), 200 W for 3.5 h = 0.7 kWh.
    let j = job(&r, "102");
    assert!((f(&j["sampled_kwh"]) - 0.7).abs() < 1e-9, "{j}");
    assert!(codes(&r).contains(&"prometheus.duplicate-series".to_string()));
    // The shared GPU names no hpc_job: it is idle, not a job.
    assert_eq!(r["jobs"].as_array().unwrap().len(), 2);
}

#[test]
fn pods_are_jobs_and_a_shared_gpu_is_split_not_doubled() {
    let Some(Live { r, _server, .. }) = fleet_report(
        "energy = \"\"\njobs = \"pod\"\n\n[prometheus.namespaces]\nvision = \"cv-team\"\n",
        &[],
    ) else {
        return;
    };
    let a = job(&r, "vision/a");
    let b = job(&r, "vision/b");
    // 240 W for one hour, split equally: 0.12 kWh each, and the GPU's 0.24 kWh once.
    assert!((f(&a["sampled_kwh"]) - 0.12).abs() < 1e-9, "{a}");
    assert!((f(&b["sampled_kwh"]) - 0.12).abs() < 1e-9, "{b}");
    assert_eq!(a["team"], "cv-team");
    assert_eq!(job(&r, "nlp/train-101")["team"], "nlp");
    assert!(codes(&r).contains(&"prometheus.shared-gpu".to_string()));
}

/// The same samples as a generic CSV and a manifest with the same jobs.
fn file_equivalent(dir: &Path) -> (PathBuf, PathBuf) {
    let mut rows: BTreeMap<(String, u32, i64), f64> = BTreeMap::new();
    for s in fleet()
        .iter()
        .filter(|s| s.metric == "DCGM_FI_DEV_POWER_USAGE")
    {
        let get = |k: &str| {
            s.labels
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        if get("Hostname") == "n2" && get("gpu") == "1" {
            continue; // the shared GPU has no job in hpc_job mode and is left out of both
        }
        for (t, w) in &s.points {
            rows.insert((get("Hostname"), get("gpu").parse().unwrap(), *t), *w);
        }
    }
    let mut csv = String::from("timestamp,node,device,power_w\n");
    for ((n, d, t), w) in &rows {
        let ts = chrono::DateTime::from_timestamp(*t, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ");
        csv.push_str(&format!("{ts},{n},{d},{w}\n"));
    }
    let samples = write(dir, "samples.csv", &csv);
    let jobs = write(dir, "jobs.csv", "job_id,model,team,site,start,end,hardware,devices,nodes,gpu_ids\n101,101,unassigned,lab,2026-07-01T01:00:00Z,2026-07-01T03:00:00Z,NVIDIA A100-SXM4-80GB,2,n1,\"0,1\"\n102,102,unassigned,lab,2026-07-01T00:30:00Z,2026-07-01T04:00:00Z,NVIDIA A100-SXM4-80GB,1,n2,0\n");
    (samples, jobs)
}

#[test]
fn prometheus_and_the_same_samples_in_a_file_agree() {
    let mut series = fleet();
    series.retain(|s| {
        !s.labels
            .iter()
            .any(|(k, v)| *k == "UUID" && v == "GPU-n2-1")
    });
    let Some(server) = start(&openmetrics(&series)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Chunks of 1000 s: boundaries fall inside both jobs and between samples.
    let config = format!(
        "[prometheus]\nurl = \"{}\"\nenergy = \"\"\nstep_s = 1000\n",
        server.url
    );
    let (code, live, err) = run(dir.path(), &config, &[]);
    assert!(code <= 1, "{err}");
    let (samples, jobs) = file_equivalent(dir.path());
    let fdir = tempfile::tempdir().unwrap();
    let (code, file, err) = run(
        fdir.path(),
        "",
        &[
            "--telemetry",
            samples.to_str().unwrap(),
            "--jobs",
            jobs.to_str().unwrap(),
        ],
    );
    assert!(code <= 1, "{err}");
    for id in ["101", "102"] {
        for k in ["sampled_kwh", "it_energy_kwh", "facility_energy_kwh"] {
            let (a, b) = (&job(&live, id)[k], &job(&file, id)[k]);
            if a.is_null() && b.is_null() {
                continue;
            }
            let (a, b) = (f(a), f(b));
            assert!(
                (a - b).abs() <= 1e-9 * b.abs(),
                "job {id} {k}: prometheus {a}, file {b}"
            );
        }
    }
    let (a, b) = (
        f(&live["telemetry"]["idle_kwh"]),
        f(&file["telemetry"]["idle_kwh"]),
    );
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1e-12),
        "idle: prometheus {a}, file {b}"
    );
}

#[test]
fn the_energy_counter_is_read_across_its_reset() {
    let Some(Live { r, _server, .. }) = fleet_report("", &[]) else {
        return;
    };
    // 200 W for 3.5 h by the counter too: the reset at 02:00 restarts from 0, and the
    // interval 01:59:30-02:00:00 counts the 0-based reading (0 mJ).
    assert_eq!(r["telemetry"]["counter_resets"], 1, "{}", r["telemetry"]);
    let j = job(&r, "102");
    assert!((f(&j["it_energy_kwh"]) - 0.7).abs() < 0.002, "{j}");
}

/// A proxy to `upstream` whose first `fail` answers are HTTP 500.
fn flaky_proxy(upstream: String, fail: usize) -> String {
    recording_proxy(upstream, fail, Default::default())
}

/// [`flaky_proxy`] that also keeps each request's head (lower-cased) in `heads`.
fn recording_proxy(
    upstream: String,
    fail: usize,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut n = 0;
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let Some((head, body)) = read_request(&mut c) else {
                continue;
            };
            heads.lock().unwrap().push(head.to_ascii_lowercase());
            n += 1;
            if n <= fail {
                let _ = c.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops");
                continue;
            }
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let form: Vec<(String, String)> = url_decode_form(&body);
            let resp = ureq::post(&format!("{upstream}{path}"))
                .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let text = resp
                .map(|mut r| r.body_mut().read_to_string().unwrap_or_default())
                .unwrap_or_default();
            let _ = c.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len()).as_bytes());
        }
    });
    url
}

/// One HTTP request from a connection: its head and its body (by Content-Length).
pub(super) fn read_request(c: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        let n = c.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = c.read(&mut tmp).ok()?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            return Some((head, String::from_utf8_lossy(&buf[end + 4..]).into_owned()));
        }
    }
}

fn url_decode_form(body: &str) -> Vec<(String, String)> {
    let dec = |s: &str| {
        let b = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                out.push(
                    u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
                );
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (dec(k), dec(v)))
        .collect()
}

#[test]
fn a_server_that_fails_then_answers_is_retried_to_the_same_figures() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let direct = format!("[prometheus]\nurl = \"{}\"\nenergy = \"\"\n", server.url);
    let (_, want, _) = run(dir.path(), &direct, &[]);
    let proxy = flaky_proxy(server.url.clone(), 2);
    let config = format!("[prometheus]\nurl = \"{proxy}\"\nenergy = \"\"\nbackoff_s = 0.05\n");
    let (code, got, err) = run(dir.path(), &config, &[]);
    assert!(code <= 1, "{err}");
    assert!(
        !codes(&got).contains(&"prometheus.missing-chunk".to_string()),
        "{}",
        got["findings"]
    );
    assert_eq!(
        job(&got, "101")["sampled_kwh"],
        job(&want, "101")["sampled_kwh"]
    );
}

#[test]
fn a_chunk_that_keeps_failing_is_an_error_finding_not_a_smaller_figure() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Retries 1: the first chunk's power query fails twice (500), the rest answers.
    let proxy = flaky_proxy(server.url.clone(), 2);
    let config =
        format!("[prometheus]\nurl = \"{proxy}\"\nenergy = \"\"\nretries = 1\nbackoff_s = 0.05\nconcurrency = 1\n");
    let (code, r, err) = run(dir.path(), &config, &[]);
    assert_eq!(code, 1, "{err}");
    let missing: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "prometheus.missing-chunk")
        .collect();
    assert_eq!(missing.len(), 1, "{}", r["findings"]);
    let m = missing[0]["message"].as_str().unwrap();
    assert!(
        m.contains("2026-06-30T23:58:00Z..2026-07-01T00:58:00Z") || m.contains("1 chunk"),
        "{m}"
    );
    assert!(m.contains("HTTP 500"), "{m}");
}

#[test]
fn a_server_that_never_answers_times_out_and_stops_the_run() {
    // Accepts connections and never writes a byte.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming() {
            held.push(c);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[prometheus]\nurl = \"{url}\"\ntimeout_s = 0.3\nretries = 1\nbackoff_s = 0.05\nstep_s = 43200\n");
    let started = Instant::now();
    let (code, _, err) = run(dir.path(), &config, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&url) && err.contains("no Prometheus query succeeded"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_bad_selector_stops_the_run_with_the_servers_message() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[prometheus]\nurl = \"{}\"\npower = \"DCGM_FI_DEV_POWER_USAGE{{gpu=\"\n",
        server.url
    );
    let (code, _, err) = run(dir.path(), &config, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad_data") && err.contains("query:"), "{err}");
}

#[test]
fn two_replicas_of_one_server_are_counted_once() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let one = format!("[prometheus]\nurl = \"{}\"\nenergy = \"\"\n", server.url);
    let (_, want, _) = run(dir.path(), &one, &[]);
    // An HA pair: the same series from a second URL (a proxy to the same TSDB).
    let replica = flaky_proxy(server.url.clone(), 0);
    let two = format!(
        "[prometheus]\nurls = [\"{}\", \"{replica}\"]\nenergy = \"\"\n",
        server.url
    );
    let (code, got, err) = run(dir.path(), &two, &[]);
    assert!(code <= 1, "{err}");
    for id in ["101", "102"] {
        assert_eq!(
            job(&got, id)["sampled_kwh"],
            job(&want, id)["sampled_kwh"],
            "job {id}"
        );
    }
    assert_eq!(got["telemetry"]["idle_kwh"], want["telemetry"]["idle_kwh"]);
    let input = got["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "prometheus")
        .unwrap();
    assert!(input["rows_superseded"].as_u64().unwrap() > 0, "{input}");
}

#[test]
fn hpc_jobs_take_team_model_and_state_from_sacct() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sacct = write(dir.path(), "sacct.txt", "JobID|JobName|Account|Partition|State|Start|End|NodeList|AllocTRES\n101|llama-ft|nlp-team|gpu|FAILED|2026-07-01T01:00:00|2026-07-01T03:00:00|n1|billing=16,cpu=16,gres/gpu=2,node=1\n");
    let config = format!("[prometheus]\nurl = \"{}\"\nenergy = \"\"\n\n[sacct]\nsite = \"lab\"\nhardware = \"A100-SXM4-80GB\"\n", server.url);
    let (code, r, err) = run(dir.path(), &config, &["--sacct", sacct.to_str().unwrap()]);
    assert!(code <= 1, "{err}");
    let j = job(&r, "101");
    assert_eq!(j["team"], "nlp-team");
    assert_eq!(j["model"], "llama-ft");
    assert_eq!(j["status"], "failed");
    // The sacct row names its node but not its GPUs: the labels place it on n1 gpu0 and gpu1,
    // so its energy is the same 1.15 kWh as from the labels alone.
    assert!((f(&j["sampled_kwh"]) - 1.15).abs() < 1e-9, "{j}");
    assert!(j.get("origin").is_none(), "{j}");
    assert_eq!(job(&r, "102")["origin"], "prometheus labels");
}

#[test]
fn verify_refetches_and_finds_the_same_samples() {
    let Some(Live { r, dir, _server }) = fleet_report("", &[]) else {
        return;
    };
    let input = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "prometheus")
        .unwrap()
        .clone();
    assert_eq!(input["sha256"].as_str().unwrap().len(), 64);
    // Without --allow-network verify asks no server, and says it did not recompute.
    let out = gl()
        .arg("verify")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not re-fetched"), "{text}");
    let out = gl()
        .args(["verify", "--allow-network"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("every input, output and figure matches"),
        "{text}"
    );
}

#[test]
fn the_command_line_url_alone_finds_the_jobs() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // No [prometheus] section and no manifest: only the lab's [[site]] (its nodes) in the config.
    let (code, r, err) = run(dir.path(), "", &["--prometheus", &server.url]);
    assert!(code <= 1, "{err}");
    let ids: Vec<&str> = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["101", "102"]);
    assert_eq!(job(&r, "101")["site"], "lab");
}

#[test]
fn a_pod_label_names_the_owner_job_and_its_team() {
    let Some(Live { r, _server, .. }) = fleet_report("energy = \"\"\njobs = \"pod\"\njob_label = \"label_job_name\"\nteam_label = \"label_team\"\n", &[]) else {
        return;
    };
    let j = job(&r, "vision/resnet");
    assert_eq!(j["team"], "cv-research");
    assert_eq!(j["model"], "resnet");
    assert!((f(&j["sampled_kwh"]) - 0.7).abs() < 1e-9, "{j}");
    // Pods without the owner label stay jobs of their own, their team the namespace.
    assert_eq!(job(&r, "nlp/train-101")["team"], "nlp");
}

#[test]
fn headers_and_the_bearer_token_go_with_every_query() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = recording_proxy(server.url.clone(), 0, heads.clone());
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[prometheus]\nurl = \"{proxy}\"\nbearer_token_env = \"GL_TEST_TOKEN\"\nheaders = {{ \"X-Scope-OrgID\" = \"ml-platform\" }}\n");
    let cfg = write(dir.path(), "greenledger.toml", &format!("{SITE}{config}"));
    report_cmd(&cfg, "json")
        .arg("--out")
        .arg(dir.path().join("out"))
        .env("GL_TEST_TOKEN", "s3cret")
        .assert()
        .code(0);
    let heads = heads.lock().unwrap();
    assert!(!heads.is_empty());
    for h in heads.iter() {
        assert!(h.starts_with("post /api/v1/query "), "{h}");
        assert!(h.contains("authorization: bearer s3cret"), "{h}");
        assert!(h.contains("x-scope-orgid: ml-platform"), "{h}");
    }
    // Without the variable the run stops before any request, naming it.
    report_cmd(&cfg, "json")
        .arg("--out")
        .arg(dir.path().join("out2"))
        .env_remove("GL_TEST_TOKEN")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("GL_TEST_TOKEN"));
}

#[test]
fn configured_shares_split_a_shared_gpu_and_sites_come_from_host_globs() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[[site]]\nid = \"annex\"\nname = \"Annex\"\nzone = \"DE\"\npue = 1.4\n\n[prometheus]\nurl = \"{}\"\nenergy = \"\"\njobs = \"pod\"\n\n[prometheus.shares]\n\"vision/a\" = 3\n\n[prometheus.sites]\n\"n2*\" = \"annex\"\n", server.url);
    let (code, r, err) = run(dir.path(), &config, &[]);
    assert!(code <= 1, "{err}");
    // 240 W for an hour split 3:1: 0.18 and 0.06 kWh; together still the GPU's 0.24 kWh.
    let (a, b) = (job(&r, "vision/a"), job(&r, "vision/b"));
    assert!((f(&a["sampled_kwh"]) - 0.18).abs() < 1e-9, "{a}");
    assert!((f(&b["sampled_kwh"]) - 0.06).abs() < 1e-9, "{b}");
    assert_eq!(a["site"], "annex");
    assert_eq!(job(&r, "nlp/train-101")["site"], "lab");
}

#[test]
fn a_manifest_row_with_the_same_id_keeps_its_fields() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let jobs = write(dir.path(), "jobs.csv", "job_id,model,team,site,start,end,hardware,devices,training_type,nodes,gpu_ids\n101,llama-7b-ft,nlp,lab,2026-07-01T01:00:00Z,2026-07-01T03:00:00Z,A100-SXM4-80GB,1,fine-tuning,n1,0\n");
    let config = format!("[prometheus]\nurl = \"{}\"\nenergy = \"\"\n", server.url);
    let (code, r, err) = run(dir.path(), &config, &["--jobs", jobs.to_str().unwrap()]);
    assert!(code <= 1, "{err}");
    let j = job(&r, "101");
    assert_eq!(j["model"], "llama-7b-ft");
    assert_eq!(j["training_type"], "fine-tuning");
    assert!(j.get("origin").is_none(), "{j}");
    // The manifest names gpu 0 only: 300 W for two hours = 0.6 kWh (gpu1 is then idle).
    assert!((f(&j["sampled_kwh"]) - 0.6).abs() < 1e-9, "{j}");
}

#[test]
fn a_job_on_part_of_a_node_gives_its_share_in_boamps() {
    let Some(server) = start(&openmetrics(&fleet())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "greenledger.toml",
        &format!(
            "{SITE}[prometheus]\nurl = \"{}\"\nenergy = \"\"\n",
            server.url
        ),
    );
    let out = dir.path().join("out");
    report_cmd(&cfg, "boamps")
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    // Job 102 held gpu0 of n2's two GPUs: share 0.5; job 101 held all of n1: no share.
    let b = read_json(&out.join("boamps/102.json"));
    assert_eq!(b["infrastructure"]["components"][0]["share"], 0.5);
    assert_eq!(b["measures"][0]["measurementMethod"], "Prometheus (DCGM)");
    let b = read_json(&out.join("boamps/101.json"));
    assert!(b["infrastructure"]["components"][0].get("share").is_none());
}
