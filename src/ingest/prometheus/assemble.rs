//! Chunks to spilled records: series grouped by physical GPU (its UUID, else host and index)
//! and job; copies of one series (federation, HA replicas, two `instance` labels) merged so
//! that each sample counts once; GPUs carrying several jobs at one instant marked shared.

use super::series::{self, Series};
use super::{record, Fetched};
use crate::config::prometheus::Prometheus;
use crate::error::Result;
use crate::findings::{codes, Finding};
use crate::ingest::spill::{self, Record, NO_JOB};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Which selector a series answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Metric {
    Power,
    Energy,
}

/// One physical GPU.
#[derive(Debug)]
pub(super) struct Gpu {
    pub(super) host: String,
    pub(super) gpu: u32,
    pub(super) uuid: Option<String>,
    pub(super) model: Option<String>,
    /// Several jobs' series at one instant (vGPU, MPS, time-slicing, DRA).
    pub(super) shared: bool,
    /// The jobs seen on it, in order of first sight (their slot devices when shared).
    pub(super) slots: Vec<u32>,
}

/// One job named by labels.
#[derive(Debug)]
pub(super) struct Ident {
    pub(super) id: String,
    /// The labels of its first series (team, model, owner labels).
    pub(super) labels: BTreeMap<String, String>,
    pub(super) first_ms: i64,
    pub(super) last_ms: i64,
    pub(super) gpus: BTreeSet<u32>,
}

/// What the fetch has gathered so far.
pub(super) struct State {
    gpus: Vec<Gpu>,
    gpu_index: HashMap<String, u32>,
    idents: Vec<Ident>,
    ident_index: HashMap<String, u32>,
    power: spill::Writer,
    energy: spill::Writer,
    fetched: u64,
    duplicates: u64,
    duplicate_series: BTreeSet<String>,
    no_device: u64,
    no_device_series: BTreeSet<String>,
    pub(super) warnings: BTreeSet<String>,
}

impl State {
    pub(super) fn new() -> Result<State> {
        Ok(State {
            gpus: Vec::new(),
            gpu_index: HashMap::new(),
            idents: Vec::new(),
            ident_index: HashMap::new(),
            power: spill::Writer::new()?,
            energy: spill::Writer::new()?,
            fetched: 0,
            duplicates: 0,
            duplicate_series: BTreeSet::new(),
            no_device: 0,
            no_device_series: BTreeSet::new(),
            warnings: BTreeSet::new(),
        })
    }

    fn gpu(&mut self, host: String, gpu: u32, uuid: Option<String>, model: Option<&String>) -> u32 {
        let key = uuid.clone().unwrap_or_else(|| format!("{host}\u{0}{gpu}"));
        if let Some(&i) = self.gpu_index.get(&key) {
            return i;
        }
        let i = self.gpus.len() as u32;
        self.gpus.push(Gpu {
            host,
            gpu,
            uuid,
            model: model.cloned(),
            shared: false,
            slots: Vec::new(),
        });
        self.gpu_index.insert(key, i);
        i
    }

    fn ident(&mut self, id: String, labels: &BTreeMap<String, String>) -> u32 {
        if let Some(&i) = self.ident_index.get(&id) {
            return i;
        }
        let i = self.idents.len() as u32;
        self.idents.push(Ident {
            id: id.clone(),
            labels: labels.clone(),
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            gpus: BTreeSet::new(),
        });
        self.ident_index.insert(id, i);
        i
    }

    /// Group one chunk's series by (GPU, metric, job), merge copies, mark shared GPUs and
    /// spill the records of each GPU in time order.
    pub(super) fn add_chunk(&mut self, chunk: Vec<(Metric, Series)>, p: &Prometheus) -> Result<()> {
        let mut groups: BTreeMap<(u32, Metric, u32), Vec<Series>> = BTreeMap::new();
        for (metric, s) in chunk {
            self.fetched += s.points.len() as u64;
            let Some((host, gpu, uuid)) = series::device(&s.labels) else {
                self.no_device += s.points.len() as u64;
                self.no_device_series.insert(series::label_text(&s.labels));
                continue;
            };
            let g = self.gpu(host, gpu, uuid, s.labels.get("modelName"));
            let j = match series::job_of(&s.labels, p) {
                Some(id) => self.ident(id, &s.labels),
                None => NO_JOB,
            };
            groups.entry((g, metric, j)).or_default().push(s);
        }
        let mut merged: BTreeMap<(u32, Metric), Vec<Record>> = BTreeMap::new();
        for ((g, metric, j), mut ss) in groups {
            ss.sort_by_cached_key(|s| series::label_text(&s.labels));
            if ss.len() > 1 {
                let names: Vec<String> = ss.iter().map(|s| series::label_text(&s.labels)).collect();
                self.duplicate_series.insert(names.join(" = "));
            }
            let points = self.union(ss);
            if j != NO_JOB && !points.is_empty() {
                let id = &mut self.idents[j as usize];
                id.first_ms = id.first_ms.min(points[0].0);
                id.last_ms = id.last_ms.max(points[points.len() - 1].0);
                id.gpus.insert(g);
                if !self.gpus[g as usize].slots.contains(&j) {
                    self.gpus[g as usize].slots.push(j);
                }
            }
            merged
                .entry((g, metric))
                .or_default()
                .extend(points.into_iter().map(|(t, v)| Record {
                    gpu: g,
                    job: j,
                    t_ms: t,
                    value: v,
                }));
        }
        for ((g, metric), mut recs) in merged {
            recs.sort_by(|a, b| a.t_ms.cmp(&b.t_ms).then(a.job.cmp(&b.job)));
            if metric == Metric::Power && !self.gpus[g as usize].shared {
                self.gpus[g as usize].shared = recs
                    .windows(2)
                    .any(|w| w[0].t_ms == w[1].t_ms && w[0].job != NO_JOB && w[1].job != NO_JOB);
            }
            let w = match metric {
                Metric::Power => &mut self.power,
                Metric::Energy => &mut self.energy,
            };
            for r in &recs {
                w.push(r)?;
            }
        }
        Ok(())
    }

    /// The samples of copies of one series, each instant once (the first copy's value, in label
    /// order); the dropped copies are counted.
    fn union(&mut self, ss: Vec<Series>) -> Vec<(i64, f64)> {
        let n = ss.len();
        let mut all: Vec<(i64, usize, f64)> = Vec::new();
        for (k, s) in ss.into_iter().enumerate() {
            all.extend(s.points.into_iter().map(|(t, v)| (t, k, v)));
        }
        if n > 1 {
            all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        let before = all.len();
        all.dedup_by_key(|x| x.0);
        self.duplicates += (before - all.len()) as u64;
        all.into_iter().map(|(t, _, v)| (t, v)).collect()
    }

    /// The fetched data (with the source's record) and the findings about it.
    pub(super) fn finish(self, p: &Prometheus, bytes: u64) -> Result<(Fetched, Vec<Finding>)> {
        let mut findings = Vec::new();
        let shown = format!("prometheus {}", p.urls.join(" "));
        self.describe(p, &shown, &mut findings);
        let (power, sha_p) = self.power.finish()?;
        let (energy, sha_e) = self.energy.finish()?;
        let sha = {
            use sha2::Digest;
            format!("{:x}", sha2::Sha256::digest(format!("{sha_p}{sha_e}")))
        };
        let mut rec = record(p, sha, bytes);
        rec.rows = self.fetched;
        rec.rows_used = power.records + energy.records;
        rec.rows_superseded = self.duplicates;
        rec.rows_rejected = self.no_device;
        let shares = self
            .idents
            .iter()
            .map(|i| p.shares.get(&i.id).copied().unwrap_or(1.0))
            .collect();
        Ok((
            Fetched {
                gpus: self.gpus,
                idents: self.idents,
                shares,
                power,
                energy,
                record: rec,
            },
            findings,
        ))
    }

    /// Findings: duplicate series, series without device labels, shared GPUs, warnings.
    fn describe(&self, p: &Prometheus, shown: &str, findings: &mut Vec<Finding>) {
        let list = |s: &BTreeSet<String>| {
            let v: Vec<&str> = s.iter().take(5).map(String::as_str).collect();
            format!("{}{}", v.join("; "), if s.len() > 5 { "; ..." } else { "" })
        };
        if !self.duplicate_series.is_empty() {
            findings.push(Finding::info(codes::PROM_DUPLICATE_SERIES, format!("{} GPUs are reported by several series with the same UUID and job (federation, HA replicas or two scrape targets): each instant is counted once ({} copies of samples dropped): {}", self.duplicate_series.len(), self.duplicates, list(&self.duplicate_series))).at(shown, None));
        }
        if self.no_device > 0 {
            findings.push(Finding::warning(codes::PROM_NO_DEVICE, format!("{} samples of {} series name no GPU (no Hostname/hostname/instance and gpu labels) and are not used: {}; relabel them or narrow the selector", self.no_device, self.no_device_series.len(), list(&self.no_device_series))).at(shown, None));
        }
        let shared: Vec<String> = self
            .gpus
            .iter()
            .filter(|g| g.shared)
            .map(|g| {
                let jobs: Vec<&str> = g
                    .slots
                    .iter()
                    .map(|&j| self.idents[j as usize].id.as_str())
                    .collect();
                format!(
                    "{} gpu {} ({}): {}",
                    g.host,
                    g.gpu,
                    g.uuid.as_deref().unwrap_or("no UUID"),
                    jobs.join(", ")
                )
            })
            .collect();
        if !shared.is_empty() {
            findings.push(Finding::warning(codes::PROM_SHARED_GPU, format!("{} GPUs carry several jobs at once (one GPU's power copied onto each job's series): each instant's power is split by [prometheus.shares] (equal by default), never counted twice; their energy counters are not split, so power samples are used: {}", shared.len(), shared.join("; "))).at(shown, None));
        }
        for w in &self.warnings {
            findings.push(
                Finding::warning(codes::PROM_WARNING, format!("the server warned: {w}"))
                    .at(shown, None),
            );
        }
        if self.fetched == 0 {
            findings.push(
                Finding::warning(
                    codes::PROM_NO_SAMPLES,
                    format!(
                        "no samples in the period for the power selector {}",
                        super::selector(&p.power, &p.matchers)
                    ),
                )
                .at(shown, None),
            );
        }
    }
}
