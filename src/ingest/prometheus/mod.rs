//! Live telemetry from a Prometheus-compatible server (Prometheus, Thanos, Mimir,
//! VictoriaMetrics): DCGM power and energy as **raw samples**, fetched chunk by chunk with range
//! selectors (`selector[Nms] @ T`, never `query_range`, which resamples), de-duplicated by GPU,
//! split on shared GPUs, spilled to disk once, and streamed to compute like any file; jobs come
//! from the series' labels.

mod assemble;
mod http;
mod jobs;
mod series;

use super::samples::{CounterReading, Nodes, SampleBatch, ScanOutput};
use super::{Ingested, InputRecord};
use crate::config::prometheus::Prometheus;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::findings::{codes, Finding};
use crate::ingest::spill::{Record, Spill, NO_JOB};
use assemble::{Gpu, Ident, Metric, State};

/// The device number of the k-th job (k from 0) sharing GPU `gpu`: `65536 * (k + 1) + gpu`,
/// so that each job's share integrates as a device of its own.
pub(crate) fn slot_device(gpu: u32, k: usize) -> u32 {
    (1u32 << 16) * (k as u32 + 1) + gpu
}

/// Everything fetched from the servers, ready to be streamed.
#[derive(Debug)]
pub(crate) struct Fetched {
    gpus: Vec<Gpu>,
    idents: Vec<Ident>,
    /// Share weight of each job (by ident index), for shared GPUs.
    shares: Vec<f64>,
    power: Spill,
    energy: Spill,
    /// The source's input record: servers, selectors, the samples' sha256 and row counts.
    pub(crate) record: InputRecord,
}

/// The seconds of an epoch-ms instant as Prometheus reads them (`1782864015.5`).
fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// A selector with the extra matchers added inside its braces.
fn selector(base: &str, matchers: &[String]) -> String {
    if matchers.is_empty() {
        return base.to_string();
    }
    let extra = matchers.join(",");
    match base.trim_end().strip_suffix('}') {
        Some(head) if head.trim_end().ends_with('{') => format!("{head}{extra}}}"),
        Some(head) => format!("{head},{extra}}}"),
        None => format!("{base}{{{extra}}}"),
    }
}

/// A query that could not be made (its server, query and window), and why.
struct Missing {
    task: Task,
    why: String,
}

/// Live telemetry from Prometheus (`[prometheus]`, `--prometheus`).
pub(crate) struct PrometheusReader;

impl super::Reader for PrometheusReader {
    fn name(&self) -> &'static str {
        "Prometheus"
    }
    fn given(&self, cfg: &Config) -> bool {
        cfg.prometheus.is_some()
    }
    fn read(&self, cx: &super::Cx, out: &mut Ingested) -> Result<()> {
        load(cx.cfg, out)
    }
}

/// Fetch the period from every server, add the jobs the labels name to `out.jobs`, and the
/// source to `out.telemetry`. Nothing to do without `[prometheus]`/`--prometheus`.
fn load(cfg: &Config, out: &mut Ingested) -> Result<()> {
    let Some(p) = &cfg.prometheus else {
        return Ok(());
    };
    let period = cfg.report.period.as_ref().ok_or_else(|| {
        Error::new("Prometheus telemetry needs a reporting period")
            .hint("give --period (e.g. 2026-Q3) or [report] period")
    })?;
    let gap = (cfg.telemetry.max_gap_s * 1000.0).round() as i64;
    // Samples up to one gap outside the period still bound segments that cross into it.
    let (q0, q1) = (
        period.start.timestamp_millis() - gap - 1,
        period.end.timestamp_millis() + gap,
    );
    let client = http::Client::new(p)?;
    let mut st = State::new()?;
    let mut missing = Vec::new();
    let step = ((p.step_s * 1000.0).round() as i64).max(1);
    let mut windows = Vec::new();
    let mut a = q0;
    while a < q1 {
        windows.push((a, (a + step).min(q1)));
        a += step;
    }
    let workers = p.concurrency.max(1);
    let (mut asked, mut answered, mut bytes) = (0usize, 0usize, 0u64);
    // Waves of `workers` chunks fetched at once, then assembled in time order: the server
    // and the parsing work in parallel, and memory holds one wave.
    for wave in windows.chunks(workers) {
        let tasks = tasks(p, wave);
        let results = fetch_all(&client, &tasks, workers);
        let mut chunks: Vec<Vec<(Metric, series::Series)>> = vec![Vec::new(); wave.len()];
        for (t, r) in tasks.into_iter().zip(results) {
            asked += 1;
            match r {
                Ok((series, warnings, n)) => {
                    answered += 1;
                    bytes += n;
                    st.warnings.extend(warnings);
                    chunks[t.chunk].extend(series.into_iter().map(|s| (t.metric, s)));
                }
                Err(http::Failure::Fatal(why)) => {
                    return Err(Error::new(format!("Prometheus refused the query: {why}; query: {}", t.query))
                        .hint("check [prometheus] power, energy and matchers (PromQL series selectors), the URL and the credentials"));
                }
                Err(f) => missing.push(Missing {
                    task: t,
                    why: f.why(),
                }),
            }
        }
        for chunk in chunks {
            st.add_chunk(chunk, p)?;
        }
    }
    if answered == 0 {
        let why = missing
            .first()
            .map_or("the period holds no chunk", |m| m.why.as_str());
        return Err(Error::new(format!(
            "no Prometheus query succeeded ({asked} tried): {why}"
        ))
        .hint("check the URL and that the server is up; --prometheus takes the base URL, e.g. http://prometheus:9090"));
    }
    missing_findings(&missing, &mut out.findings);
    finish(st, p, cfg, bytes, out)
}

/// One query to make: a chunk of a wave, a server and a selector.
#[derive(Debug, Clone)]
struct Task {
    chunk: usize,
    url: String,
    metric: Metric,
    query: String,
    time: String,
    from_ms: i64,
    to_ms: i64,
}

/// The queries of a wave: each chunk's window, for every server and selector.
fn tasks(p: &Prometheus, wave: &[(i64, i64)]) -> Vec<Task> {
    let mut out = Vec::new();
    for (chunk, &(a, b)) in wave.iter().enumerate() {
        for url in &p.urls {
            for (metric, sel) in selectors(p) {
                out.push(Task {
                    chunk,
                    url: url.clone(),
                    metric,
                    query: format!("{sel}[{}ms] @ {}", b - a, secs(b)),
                    time: secs(b),
                    from_ms: a,
                    to_ms: b,
                });
            }
        }
    }
    out
}

/// A task's series within its window (a, b], the server's warnings and the bytes read.
type Answer = std::result::Result<(Vec<series::Series>, Vec<String>, u64), http::Failure>;

/// Run the tasks on `workers` threads; the answers in task order.
fn fetch_all(client: &http::Client, tasks: &[Task], workers: usize) -> Vec<Answer> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Answer>>> =
        tasks.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(tasks.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(t) = tasks.get(i) else { break };
                let answer = fetch(client, t);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(answer);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(http::Failure::Missing("the fetch thread stopped".into())))
        })
        .collect()
}

/// The power selector and, when enabled, the energy counter's, with the extra matchers.
fn selectors(p: &Prometheus) -> Vec<(Metric, String)> {
    let mut v = vec![(Metric::Power, selector(&p.power, &p.matchers))];
    if let Some(e) = &p.energy {
        v.push((Metric::Energy, selector(e, &p.matchers)));
    }
    v
}

/// One query and its parsed answer.
fn fetch(client: &http::Client, t: &Task) -> Answer {
    let body = client.query(&t.url, &t.query, &t.time)?;
    let (a, b) = (t.from_ms, t.to_ms);
    match series::parse(&body, |ms| ms > a && ms <= b) {
        Ok((series, warnings)) => Ok((series, warnings, body.len() as u64)),
        Err(e) => Err(http::Failure::Missing(format!("{}: {e}", t.url))),
    }
}

/// One error finding per server listing the windows it did not give.
fn missing_findings(missing: &[Missing], findings: &mut Vec<Finding>) {
    let mut by_url: std::collections::BTreeMap<&str, Vec<&Missing>> = Default::default();
    for m in missing {
        by_url.entry(&m.task.url).or_default().push(m);
    }
    for (url, ms) in by_url {
        let windows: Vec<String> = ms
            .iter()
            .take(10)
            .map(|m| {
                format!(
                    "{}..{}",
                    crate::timeutil::fmt_utc_ms(m.task.from_ms + 1),
                    crate::timeutil::fmt_utc_ms(m.task.to_ms)
                )
            })
            .collect();
        findings.push(
            Finding::error(
                codes::PROM_MISSING_CHUNK,
                format!(
                    "{} chunk queries failed: the samples of {}{} are missing, so the energy of those hours is not counted (first error: {}; query: {}); rerun when the server answers",
                    ms.len(),
                    windows.join(", "),
                    if ms.len() > 10 { ", ..." } else { "" },
                    ms[0].why,
                    ms[0].task.query
                ),
            )
            .at(url, None),
        );
    }
}

/// Close the spills, turn the labels into jobs and register the source and its record.
fn finish(st: State, p: &Prometheus, cfg: &Config, bytes: u64, out: &mut Ingested) -> Result<()> {
    let (fetched, findings) = st.finish(p, bytes)?;
    out.findings.extend(findings);
    jobs::merge(&fetched, cfg, p, &mut out.jobs, &mut out.findings);
    out.inputs.push(fetched.record.clone());
    out.telemetry.push(super::samples::Source::live(
        p.urls.join(" "),
        super::samples::Kind::Prometheus,
        std::sync::Arc::new(fetched),
    ));
    Ok(())
}

impl super::samples::LiveSource for Fetched {
    fn scan(
        &self,
        nodes: &mut Nodes,
        out: &mut ScanOutput,
        on_batch: &mut dyn FnMut(&SampleBatch),
    ) -> Result<u64> {
        scan(self, nodes, out, on_batch)
    }
    fn expected_rows(&self) -> u64 {
        self.record.rows_used
    }
}

/// Stream the spilled samples as batches (power) and counter readings (energy). On a shared
/// GPU each timestamp's power is split over the jobs present by their shares, onto their slot
/// devices; the GPU's own device keeps what no job holds. Returns the records read.
fn scan(
    f: &Fetched,
    nodes: &mut Nodes,
    out: &mut ScanOutput,
    on_batch: &mut dyn FnMut(&SampleBatch),
) -> Result<u64> {
    let node_of: Vec<u32> = f.gpus.iter().map(|g| nodes.id(&g.host)).collect();
    let mut batch = SampleBatch::default();
    let mut group: Vec<Record> = Vec::new();
    let flush = |group: &mut Vec<Record>, batch: &mut SampleBatch| {
        if let Some(first) = group.first() {
            emit(f, node_of[first.gpu as usize], group, batch);
        }
        group.clear();
    };
    f.power.read(&mut |recs| {
        for r in recs {
            if group
                .first()
                .is_some_and(|g| g.gpu != r.gpu || g.t_ms != r.t_ms)
            {
                flush(&mut group, &mut batch);
                if batch.len() >= 1 << 16 {
                    on_batch(&batch);
                    batch = SampleBatch::default();
                }
            }
            group.push(*r);
        }
    })?;
    flush(&mut group, &mut batch);
    on_batch(&batch);
    let mut last: Option<(u32, i64)> = None;
    f.energy.read(&mut |recs| {
        for r in recs {
            let g = &f.gpus[r.gpu as usize];
            // Counters are not split: a shared GPU's energy comes from its power samples.
            if g.shared || last == Some((r.gpu, r.t_ms)) {
                continue;
            }
            last = Some((r.gpu, r.t_ms));
            out.counters.push(CounterReading {
                node: node_of[r.gpu as usize],
                device: g.gpu,
                t_ms: r.t_ms,
                mj: r.value,
            });
        }
    })?;
    Ok(f.power.records + f.energy.records)
}

/// One GPU's samples at one instant (copies of one reading under several series) as samples.
fn emit(f: &Fetched, node: u32, group: &[Record], batch: &mut SampleBatch) {
    let g = &f.gpus[group[0].gpu as usize];
    let t = group[0].t_ms;
    let mean = |rs: &mut dyn Iterator<Item = &Record>| {
        let (s, n) = rs.fold((0.0, 0usize), |(s, n), r| (s + r.value, n + 1));
        s / n as f64
    };
    if !g.shared {
        batch.push(node, g.gpu, t, mean(&mut group.iter()));
        return;
    }
    let present: Vec<u32> = group
        .iter()
        .map(|r| r.job)
        .filter(|&j| j != NO_JOB)
        .collect();
    if present.is_empty() {
        batch.push(node, g.gpu, t, mean(&mut group.iter()));
        for k in 0..g.slots.len() {
            batch.push(node, slot_device(g.gpu, k), t, 0.0);
        }
        return;
    }
    let p = mean(&mut group.iter().filter(|r| r.job != NO_JOB));
    let total: f64 = present.iter().map(|&j| f.shares[j as usize]).sum();
    batch.push(node, g.gpu, t, 0.0);
    for (k, &j) in g.slots.iter().enumerate() {
        let v = if present.contains(&j) {
            p * f.shares[j as usize] / total
        } else {
            0.0
        };
        batch.push(node, slot_device(g.gpu, k), t, v);
    }
}

/// The input record of the source (for the manifest): the servers, the selectors and the
/// sha256 of the samples as fetched.
fn record(p: &Prometheus, sha256: String, bytes: u64) -> InputRecord {
    InputRecord {
        path: format!("prometheus {}", p.urls.join(" ")),
        kind: "prometheus",
        sha256,
        size: bytes,
        rows: 0,
        rows_used: 0,
        rows_rejected: 0,
        rows_superseded: 0,
        location: format!(
            "{} power={} energy={}",
            p.urls.join(" "),
            selector(&p.power, &p.matchers),
            p.energy
                .as_deref()
                .map(|e| selector(e, &p.matchers))
                .unwrap_or_else(|| "none".into())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_take_extra_matchers() {
        let m = vec!["cluster=\"a\"".to_string()];
        assert_eq!(
            selector("DCGM_FI_DEV_POWER_USAGE", &m),
            "DCGM_FI_DEV_POWER_USAGE{cluster=\"a\"}"
        );
        assert_eq!(selector("P{}", &m), "P{cluster=\"a\"}");
        assert_eq!(selector("P{gpu=\"0\"}", &m), "P{gpu=\"0\",cluster=\"a\"}");
        assert_eq!(selector("P", &[]), "P");
        assert_eq!(secs(1_782_864_015_500), "1782864015.500");
    }
}
