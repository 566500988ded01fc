//! MLflow runs as jobs, read from a real tracking server (`mlflow server` with a SQLite store on
//! a loopback port, started once for these tests), filled by the MLflow Python client with the
//! runs of `mlflow_fill.py`: tags, a failed and a killed run, a two-node run, a power series
//! with a gap, CodeCarbon metrics without power, a run still running; paged with small pages.
//!
//! The server comes from the Python named by `GREENLEDGER_PYTHON` (scripts/test.sh installs
//! mlflow in its virtual environment), else `python3`. Without it these tests print SKIPPED
//! loudly and pass; under scripts/test.sh (`GREENLEDGER_REQUIRE_SERVERS=1`) they fail.

use super::{close, gl, job, read_json, tmp_with};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running server: its URL and the run ids by run name.
struct Server {
    url: String,
    ids: BTreeMap<String, String>,
    _dir: tempfile::TempDir,
    /// The watchdog shell: it ends the server when this process ends.
    _watchdog: std::process::Child,
}

fn python() -> Option<PathBuf> {
    let py = std::env::var("GREENLEDGER_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import mlflow"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from(py))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start the server once (it stops with this test process: a watchdog shell kills it), fill it.
fn start() -> Option<Server> {
    let Some(py) = python() else {
        if std::env::var("GREENLEDGER_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("mlflow cannot be imported but GREENLEDGER_REQUIRE_SERVERS=1: run scripts/test.sh (it installs mlflow in its virtual environment)");
        }
        super::loud("*** SKIPPED: an MLflow test needs Python with `mlflow` (pip install mlflow, or run scripts/test.sh) ***");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let db = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let script = format!(
        "\"$0\" -m mlflow server --backend-store-uri '{db}' --default-artifact-root '{}' --host 127.0.0.1 --port {port} --workers 1 & s=$!; \
         while kill -0 {me} 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 1; done; kill $s 2>/dev/null; pkill -P $s 2>/dev/null",
        dir.path().join("artifacts").display(),
        me = std::process::id()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .arg(&py)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let up = ureq::get(&format!("{url}/health"))
            .call()
            .is_ok_and(|r| r.status() == 200);
        if up {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            panic!("the MLflow server did not start in 180 s: {log}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let fill = super::root().join("tests/cli/mlflow_fill.py");
    let o = Command::new(&py).arg(fill).arg(&url).output().unwrap();
    assert!(
        o.status.success(),
        "filling MLflow: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let last = text.lines().last().unwrap_or("{}");
    let ids: BTreeMap<String, String> = serde_json::from_str(last).unwrap();
    Some(Server {
        url,
        ids,
        _dir: dir,
        _watchdog: watchdog,
    })
}

fn server() -> Option<&'static Server> {
    static S: OnceLock<Option<Server>> = OnceLock::new();
    S.get_or_init(start).as_ref()
}

const CONFIG: &str = "[report]\nperiod = \"2026-07-01..2026-07-01\"\n\
    [[site]]\nid = \"dc\"\nname = \"DC\"\ngrid_zone = \"FR\"\npue = 1.0\n\
    [mlflow]\nsite = \"dc\"\npage_size = 2\nhistory_page_size = 25\nretries = 1\nbackoff_s = 0.1\n";

/// `report --mlflow URL` with the config (and extra files); (exit code, report.json, stderr).
fn report(
    url: &str,
    config: &str,
    files: &[(&str, &str)],
    extra: &[&str],
) -> (i32, serde_json::Value, String) {
    let mut all = vec![("greenledger.toml", config)];
    all.extend_from_slice(files);
    let d = tmp_with(&all);
    let out = d.path().join("out");
    let o = gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .args(["--mlflow", url])
        .args(
            extra
                .iter()
                .map(|e| e.replace("{dir}", &d.path().display().to_string())),
        )
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let r = if out.join("report.json").exists() {
        read_json(&out.join("report.json"))
    } else {
        serde_json::Value::Null
    };
    (
        o.status.code().unwrap_or(-1),
        r,
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn kwh(j: &serde_json::Value, key: &str) -> f64 {
    j[key].as_f64().unwrap_or_else(|| panic!("{key}: {j}"))
}

/// Every run by hand (mlflow_fill.py): energy, tier, coverage, tags, status.
#[test]
fn runs_become_jobs_with_their_energy() {
    let Some(s) = server() else { return };
    let (code, r, err) = report(&s.url, CONFIG, &[], &[]);
    assert!(code == 0 || code == 1, "{err}");
    let id = |name: &str| s.ids[name].as_str();
    // vit-a: gpu 0 at 300 W for 600 s = 180 kJ; gpu 1 at 200 W but for a 180-s gap = 84 kJ.
    let a = job(&r, id("vit-a"));
    assert_eq!(a["energy_source"], "sampled");
    assert!(close(kwh(a, "sampled_kwh"), 264_000.0 / 3.6e6), "{a}");
    // Covered 600 + 420 device-seconds of 2 x 600.
    assert!(close(kwh(a, "coverage"), 0.85), "{a}");
    assert!(
        close(kwh(a, "it_energy_kwh"), 264_000.0 / 0.85 / 3.6e6),
        "{a}"
    );
    assert_eq!(a["team"], "vision");
    assert_eq!(a["model"], "vit-l");
    assert_eq!(a["hardware"], "H100-SXM5-80GB");
    assert_eq!(a["site"], "dc");
    assert_eq!(a["origin"], "mlflow run 'vit-a' in experiment 'pretrain'");
    assert!(
        a["energy_detail"]
            .as_str()
            .unwrap()
            .contains("MLflow system metrics"),
        "{a}"
    );
    // bert-fail: 100 W x 300 s, failed, fine-tuning of bert-base.
    let b = job(&r, id("bert-fail"));
    assert!(close(kwh(b, "sampled_kwh"), 30_000.0 / 3.6e6));
    assert_eq!(b["status"], "failed");
    assert_eq!(b["team"], "nlp");
    assert_eq!(b["training_type"], "fine-tuning");
    // multi: two nodes, one GPU each at 150 W for 600 s.
    let m = job(&r, id("multi"));
    assert!(close(kwh(m, "sampled_kwh"), 180_000.0 / 3.6e6), "{m}");
    assert!(close(kwh(m, "devices"), 2.0));
    // cc: CodeCarbon's energy_consumed metric, 1.5 kWh, metered.
    let c = job(&r, id("cc"));
    assert_eq!(c["energy_source"], "metered");
    assert!(close(kwh(c, "it_energy_kwh"), 1.5), "{c}");
    // est: no power: 4 GPUs (param) x 700 W x 1 h = 2.8 kWh, killed.
    let e = job(&r, id("est"));
    assert_eq!(e["energy_source"], "estimated");
    assert!(close(kwh(e, "it_energy_kwh"), 2.8), "{e}");
    assert_eq!(e["status"], "cancelled");
    // live: still running, counted to the period's end (24:00): 250 W x 300 s of 3600 s.
    let l = job(&r, id("live"));
    assert!(close(kwh(l, "sampled_kwh"), 75_000.0 / 3.6e6), "{l}");
    assert!(close(kwh(l, "coverage"), 300.0 / 3600.0), "{l}");
    let codes = super::finding_codes(&r);
    assert!(codes.contains(&"mlflow.running-run"), "{codes:?}");
    assert!(codes.contains(&"mlflow.runs"), "{codes:?}");
    assert_eq!(r["jobs"].as_array().unwrap().len(), 6);
    let input = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "mlflow")
        .unwrap();
    // 61 + 44 + 31 + 61 + 61 + 31 samples of 6 power series (vit-a's gpu 1 has 17 fewer: the gap).
    assert_eq!(input["rows"], 61 + 44 + 31 + 61 + 61 + 31, "{input}");
}

/// A manifest row with a run's id keeps its own team and model and takes the run's GPUs.
#[test]
fn a_manifest_row_overrides_a_run() {
    let Some(s) = server() else { return };
    let id = &s.ids["bert-fail"];
    let jobs = format!("job_id,model,team,site,start,end,hardware,devices\n{id},bert-x,nlp-core,dc,2026-07-01T00:20:00Z,2026-07-01T00:25:00Z,A100-SXM4-80GB,1\n");
    let (code, r, err) = report(
        &s.url,
        CONFIG,
        &[("jobs.csv", &jobs)],
        &["--jobs", "{dir}/jobs.csv"],
    );
    assert!(code == 0 || code == 1, "{err}");
    let b = job(&r, id);
    assert_eq!(b["team"], "nlp-core");
    assert_eq!(b["model"], "bert-x");
    assert_eq!(b["energy_source"], "sampled");
    assert!(close(kwh(b, "sampled_kwh"), 30_000.0 / 3.6e6));
    assert_eq!(
        r["jobs"].as_array().unwrap().len(),
        6,
        "the row and the run are one job"
    );
}

/// Experiments by name; a filter in MLflow's syntax; an unknown name stops the run.
#[test]
fn experiments_and_filters_choose_the_runs() {
    let Some(s) = server() else { return };
    let cfg = format!("{CONFIG}experiments = [\"finetune\"]\n");
    let (_, r, err) = report(&s.url, &cfg, &[], &[]);
    let ids: Vec<&str> = r["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("{err}"))
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&s.ids["cc"].as_str()) && ids.contains(&s.ids["bert-fail"].as_str()));
    let cfg =
        format!("{CONFIG}filter = \"tags.team = 'vision' and attributes.status = 'FINISHED'\"\n");
    let (_, r, _) = report(&s.url, &cfg, &[], &[]);
    assert_eq!(r["jobs"].as_array().unwrap().len(), 2, "vit-a and multi");
    let cfg = format!("{CONFIG}experiments = [\"nope\"]\n");
    let (code, _, err) = report(&s.url, &cfg, &[], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("'nope'") && err.contains("pretrain"), "{err}");
    let cfg = format!("{CONFIG}filter = \"tags.team ===\"\n");
    let (code, _, err) = report(&s.url, &cfg, &[], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("search the runs") && err.contains("HTTP 400"),
        "{err}"
    );
}

/// A server that does not answer stops the run (exit 2) naming the URL.
#[test]
fn an_unreachable_server_stops_the_run() {
    let port = free_port();
    let d = tmp_with(&[("greenledger.toml", CONFIG)]);
    let o = gl()
        .args(["report", "--quiet", "--format", "json", "--config"])
        .arg(d.path().join("greenledger.toml"))
        .args(["--mlflow", &format!("http://127.0.0.1:{port}")])
        .arg("--out")
        .arg(d.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("list the experiments"),
        "{err}"
    );
}

/// A proxy in front of the server that answers the first `fail` history requests with 503 and
/// forwards everything else (GET with its query, POST with its JSON body).
fn history_failing_proxy(upstream: String, fail: usize) -> String {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut failed = 0;
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let Some((head, body)) = super::prometheus::read_request(&mut c) else {
                continue;
            };
            let mut words = head.split_whitespace();
            let (method, path) = (
                words.next().unwrap_or("GET").to_string(),
                words.next().unwrap_or("/").to_string(),
            );
            if path.contains("metrics/get-history") && failed < fail {
                failed += 1;
                let _ = c.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy");
                continue;
            }
            let target = format!("{upstream}{path}");
            let resp = if method == "POST" {
                ureq::post(&target)
                    .header("Content-Type", "application/json")
                    .send(body.as_bytes())
            } else {
                ureq::get(&target).call()
            };
            let text = resp
                .map(|mut r| r.body_mut().read_to_string().unwrap_or_default())
                .unwrap_or_default();
            let _ = c.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len()).as_bytes());
        }
    });
    url
}

/// History requests failing twice are retried to the same figures; failing for good, each
/// lost series is an error finding naming the run and the metric (exit 1).
#[test]
fn failing_histories_are_retried_then_reported() {
    let Some(s) = server() else { return };
    let cfg = format!(
        "{}experiments = [\"finetune\"]\n",
        CONFIG.replace("retries = 1", "retries = 3")
    );
    let flaky = history_failing_proxy(s.url.clone(), 2);
    let (code, r, err) = report(&flaky, &cfg, &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(close(
        kwh(job(&r, &s.ids["bert-fail"]), "sampled_kwh"),
        30_000.0 / 3.6e6
    ));
    let cfg = format!("{CONFIG}experiments = [\"finetune\"]\n");
    let down = history_failing_proxy(s.url.clone(), usize::MAX);
    let (code, r, err) = report(&down, &cfg, &[], &[]);
    assert_eq!(code, 1, "{err}");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "mlflow.missing-history")
        .expect("a finding");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains(&s.ids["bert-fail"])
            && msg.contains("system/gpu_0_power_usage_watts")
            && msg.contains("503"),
        "{msg}"
    );
    assert_ne!(job(&r, &s.ids["bert-fail"])["energy_source"], "sampled");
}
