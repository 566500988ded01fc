//! A job's energy tier: a meter for the whole job (energy_kwh, CodeCarbon), energy counters
//! (DCGM), power samples (with uncovered time imputed), else an estimate from a measured
//! average power or TDP; and the embodied rate of its hardware.

use super::{JobContext, Resolver};
use crate::compute::energy::JobTelemetry;
use crate::factors::{self, Hardware};
use crate::findings::{codes, Finding};
use crate::format::plain;
use crate::ingest::{CpuUse, Job};
use crate::ledger::{Boundary, Tier};

/// The energy of a job as its best tier gives it.
pub(super) struct EnergyTier<'h> {
    pub tier: Tier,
    /// IT energy of the whole job (telemetry: of its time in the period), kWh: accelerators
    /// plus host where the host is known.
    pub it_kwh_full: f64,
    /// What `it_kwh_full` covers, and its split (on the same basis); `None` when unknown.
    pub boundary: Boundary,
    pub accelerator_kwh_full: Option<f64>,
    pub host_kwh_full: Option<f64>,
    /// Host energy greenledger added from `host_w_per_device` (not measured with the rest).
    pub host_assumed_kwh: f64,
    /// Device-hours of the whole job (gpu_hours, else devices x duration).
    pub device_hours_full: f64,
    /// The power an estimate uses: avg_power_w, else TDP x utilisation.
    pub power_w: Option<f64>,
    pub hw: Option<&'h Hardware>,
    /// Energy from telemetry (counters or samples), when that is the tier.
    pub sampled: Option<Telemetered>,
    /// How a CPU-only job's energy was found, as the ledger states it.
    pub cpu_detail: Option<String>,
}

/// What a job's energy covers and how it splits.
struct Split {
    boundary: Boundary,
    accelerator: Option<f64>,
    host: Option<f64>,
    /// Host energy added by assumption (`host_w_per_device`).
    assumed: f64,
}

/// Energy measured by telemetry over the job's claim.
#[derive(Debug, Clone, Copy)]
pub(super) struct Telemetered {
    pub measured_kwh: f64,
    /// Uncovered device-time filled at the job's mean measured power.
    pub imputed_kwh: f64,
    /// Covered device-seconds / (devices x seconds in the period).
    pub coverage: f64,
}

impl EnergyTier<'_> {
    /// The factor applied to `it_kwh_full`: 1 for telemetry, which is already clipped to the
    /// period; the job's `fraction` in the period for whole-job energy (prorated by time).
    pub(super) fn energy_fraction(&self, fraction: f64) -> f64 {
        if self.sampled.is_some() {
            1.0
        } else {
            fraction
        }
    }

    /// Measured mean power per device: from samples, a whole-job meter over device-hours,
    /// energy counters, or avg_power_w; `None` for TDP estimates.
    pub(super) fn measured_power_w(&self, job: &Job, tel: Option<&JobTelemetry>) -> Option<f64> {
        match (self.tier, tel) {
            (Tier::Sampled, Some(t)) if t.covered_s > 0.0 => Some(t.sampled_j / t.covered_s),
            (Tier::Metered, _) if self.device_hours_full > 0.0 && job.metered.is_some() => {
                Some((self.it_kwh_full - self.host_assumed_kwh) * 1000.0 / self.device_hours_full)
            }
            (Tier::Metered, Some(t)) if t.counter_covered_s > 0.0 => {
                Some(t.counter_j / t.counter_covered_s)
            }
            (Tier::Estimated, _) => job.avg_power_w,
            _ => None,
        }
    }
}

impl<'a> Resolver<'a> {
    /// The job's energy from its best tier, or `None` (with an error finding) when nothing
    /// gives an energy: no meter, no samples, no average power and no TDP.
    pub(super) fn energy(&mut self, ctx: &JobContext) -> Option<EnergyTier<'a>> {
        let job = ctx.job;
        if let Some(cpu) = job.cpu.as_ref().filter(|_| job.cpu_only()) {
            return Some(self.cpu_energy(ctx, cpu));
        }
        let factors: &'a factors::Factors = self.factors;
        let hw = factors.hardware(&job.hardware);
        let duration_h = crate::timeutil::seconds(job.start, job.end) / 3600.0;
        let device_hours_full = job.gpu_hours.unwrap_or(job.devices * duration_h);
        let power_w = job.avg_power_w.or_else(|| {
            hw.and_then(|h| h.tdp_w)
                .map(|t| t * self.cfg.estimate.utilisation)
        });
        if hw.is_none() && job.devices > 0.0 && !(job.from_codecarbon && job.hardware == "unknown")
        {
            let e = self
                .tallies
                .unknown_hw
                .entry(job.hardware.clone())
                .or_insert((0, job.origin.file.clone(), job.origin.line));
            e.0 += 1;
        }
        let (tier, accelerator_kwh, sampled) = self.tier(ctx, hw, power_w, device_hours_full)?;
        // Device-hours the energy covers: the whole job, or its time in the period (telemetry).
        let device_hours = if sampled.is_some() {
            job.devices * ctx.inside / 3600.0
        } else {
            device_hours_full
        };
        let split = self.split(ctx, hw, accelerator_kwh, device_hours);
        Some(EnergyTier {
            tier,
            it_kwh_full: match &job.metered {
                Some(m) if m.boundary != Boundary::Accelerator => m.it_kwh,
                _ => accelerator_kwh + split.host.unwrap_or(0.0),
            },
            boundary: split.boundary,
            accelerator_kwh_full: split.accelerator,
            host_kwh_full: split.host,
            host_assumed_kwh: split.assumed,
            device_hours_full,
            power_w,
            hw,
            sampled,
            cpu_detail: None,
        })
    }

    /// A CPU-only job's energy, all of it the node's (no accelerator): a meter for the whole
    /// job (ConsumedEnergyRaw, energy_kwh); else its share of node power; else its mean
    /// power (`avg_power_w`) over its hours; else Green Algorithms' estimate, hours x (cores x
    /// power per core x core usage + memory GB x power per GB), the power per core from the
    /// CPU table when the job names a model it knows.
    fn cpu_energy(&mut self, ctx: &JobContext, cpu: &CpuUse) -> EnergyTier<'a> {
        let job = ctx.job;
        let hours = crate::timeutil::seconds(job.start, job.end) / 3600.0;
        let node = ctx
            .tel
            .filter(|t| t.host_known && t.host_covered_s > 0.0 && job.metered.is_none());
        let (tier, it, sampled, detail) = match (&job.metered, node, job.avg_power_w) {
            (Some(m), _, _) => (Tier::Metered, m.it_kwh, None, m.source.clone()),
            (None, Some(t), _) => {
                let tel = telemetered(t.host_j, t.host_covered_s, ctx.inside);
                self.tally_imputed(&tel);
                let detail = format!(
                    "its share of node power ({} of its cores' share; the node's own meter)",
                    plain(cpu.cores)
                );
                (
                    Tier::Sampled,
                    tel.measured_kwh + tel.imputed_kwh,
                    Some(tel),
                    detail,
                )
            }
            (None, None, Some(w)) => (
                Tier::Estimated,
                hours * w / 1000.0,
                None,
                format!("{} h x {} W (avg_power_w)", plain(hours), plain(w)),
            ),
            (None, None, None) => {
                let (it, detail) = self.cpu_estimate(job, cpu, hours);
                (Tier::Estimated, it, None, detail)
            }
        };
        EnergyTier {
            tier,
            it_kwh_full: it,
            boundary: Boundary::Node,
            accelerator_kwh_full: Some(0.0),
            host_kwh_full: Some(it),
            host_assumed_kwh: 0.0,
            device_hours_full: 0.0,
            power_w: None,
            hw: None,
            sampled,
            cpu_detail: Some(format!("CPU-only job: {detail}")),
        }
    }

    /// Count a job whose telemetry left time uncovered, and the energy imputed for it.
    fn tally_imputed(&mut self, t: &Telemetered) {
        if t.imputed_kwh > 0.0 {
            self.tallies.imputed_jobs.0 += 1;
            self.tallies.imputed_jobs.1 += t.imputed_kwh;
        }
    }

    /// Green Algorithms' CPU estimate (kWh) and how it was made; lists the factors it used.
    fn cpu_estimate(&mut self, job: &Job, cpu: &CpuUse, hours: f64) -> (f64, String) {
        let c = &self.cfg.cpu;
        let (per_core, named) = match self.factors.cpu(&job.hardware) {
            Some(m) => {
                self.res.use_factor(
                    format!("TDP per core {}", m.name),
                    m.w_per_core(),
                    "W/core",
                    &format!("{} ({} W / {} cores)", m.source, m.tdp_w, m.cores),
                    Some(m.year),
                );
                (m.w_per_core(), format!(" ({})", m.name))
            }
            None => {
                self.res.use_factor(
                    "CPU power per core".into(),
                    c.w_per_core,
                    "W/core",
                    &c.core_source,
                    None,
                );
                (c.w_per_core, String::new())
            }
        };
        let usage = cpu.usage.unwrap_or(c.usage);
        let gb = cpu.memory_gb.unwrap_or(0.0);
        if gb > 0.0 {
            self.res.use_factor(
                "memory power".into(),
                c.w_per_gb,
                "W/GB",
                &c.gb_source,
                None,
            );
        }
        let w = cpu.cores * per_core * usage + gb * c.w_per_gb;
        let detail = format!(
            "{} h x ({} cores x {} W{named} x {} usage{} + {} GB x {} W)",
            plain(hours),
            plain(cpu.cores),
            plain(per_core),
            plain(usage),
            if cpu.usage.is_none() {
                " (assumed)"
            } else {
                ""
            },
            plain(gb),
            plain(c.w_per_gb)
        );
        (hours * w / 1000.0, detail)
    }

    /// The best tier and its energy (kWh; telemetry: with the imputed part), and the
    /// telemetry figures when telemetry gives it; `None` with an error finding when no tier
    /// can.
    fn tier(
        &mut self,
        ctx: &JobContext,
        hw: Option<&Hardware>,
        power_w: Option<f64>,
        device_hours_full: f64,
    ) -> Option<(Tier, f64, Option<Telemetered>)> {
        let job = ctx.job;
        match (&job.metered, power_w, self.telemetry_tier(ctx)) {
            (Some(m), _, _) => Some((Tier::Metered, m.it_kwh, None)),
            (None, _, Some((tier, t))) => {
                self.tally_imputed(&t);
                if t.coverage > 1.001 {
                    self.tallies.over_covered.push(format!(
                        "{} ({:.0} %)",
                        job.job_id,
                        t.coverage * 100.0
                    ));
                }
                Some((tier, t.measured_kwh + t.imputed_kwh, Some(t)))
            }
            (None, Some(p), None) => {
                if let (None, Some(h)) = (job.avg_power_w, hw) {
                    self.res.use_factor(
                        format!("TDP {}", h.name),
                        h.tdp_w.unwrap_or(0.0),
                        "W",
                        &h.source,
                        h.year,
                    );
                }
                Some((Tier::Estimated, device_hours_full * p / 1000.0, None))
            }
            (None, None, None) => {
                let why = match hw {
                    Some(h) => format!("'{}' has no published TDP", h.name),
                    None => format!("hardware '{}' is not in the hardware table", job.hardware),
                };
                let f = ctx.at(Finding::error(
                    codes::JOBS_NO_POWER,
                    format!("job '{}': no energy can be estimated: no energy_kwh, no avg_power_w, and {why}; give one of them or a [[hardware]] entry; the job is not counted", job.job_id),
                ));
                self.res.findings.push(f);
                None
            }
        }
    }

    /// What the energy covers and how it splits: a node or tracker meter as it says; else the
    /// accelerators plus the host, measured by node power, else `host_w_per_device`, else
    /// outside the boundary.
    fn split(
        &mut self,
        ctx: &JobContext,
        hw: Option<&Hardware>,
        accelerator_kwh: f64,
        device_hours: f64,
    ) -> Split {
        let job = ctx.job;
        if let Some(m) = job
            .metered
            .as_ref()
            .filter(|m| m.boundary != Boundary::Accelerator)
        {
            return Split {
                boundary: m.boundary,
                accelerator: m.accelerator_share.map(|s| m.it_kwh * s),
                host: m.accelerator_share.map(|s| m.it_kwh * (1.0 - s)),
                assumed: 0.0,
            };
        }
        let measured = ctx
            .tel
            .filter(|t| t.host_known && job.metered.is_none())
            .map(|t| t.host_j / 3.6e6);
        match measured {
            Some(host) => Split {
                boundary: Boundary::Node,
                accelerator: Some(accelerator_kwh),
                host: Some(host),
                assumed: 0.0,
            },
            None => self.host(hw, accelerator_kwh, device_hours),
        }
    }

    /// Accelerator energy and the host around it: `host_w_per_device` x device-hours where the
    /// hardware has it (the boundary becomes the node), else the host stays outside.
    fn host(&mut self, hw: Option<&Hardware>, accelerator: f64, device_hours: f64) -> Split {
        let Some((w, h)) = hw.and_then(|h| h.host_w_per_device.map(|w| (w, h))) else {
            return Split {
                boundary: Boundary::Accelerator,
                accelerator: Some(accelerator),
                host: None,
                assumed: 0.0,
            };
        };
        let source = h
            .host_source
            .clone()
            .unwrap_or_else(|| "greenledger.toml [[hardware]]".into());
        self.res.use_factor(
            format!("host power {}", h.name),
            w,
            "W/device",
            &format!("{source} host_w_per_device (assumption)"),
            None,
        );
        let host = w * device_hours / 1000.0;
        Split {
            boundary: Boundary::Node,
            accelerator: Some(accelerator),
            host: Some(host),
            assumed: host,
        }
    }

    /// The telemetry tier of a job without a whole-job meter: energy counters first, then
    /// power samples. A job listing nodes that no telemetry covers is tallied.
    fn telemetry_tier(&mut self, ctx: &JobContext) -> Option<(Tier, Telemetered)> {
        if ctx.job.metered.is_some() {
            return None;
        }
        let t = ctx.tel?;
        let device_s = ctx.job.devices * ctx.inside;
        // A counter that reads nothing while the power samples read power is broken, never a
        // 0 kWh job: the samples are used.
        let dead_counter = t.counter_covered_s > 0.0
            && t.counter_j <= 0.0
            && t.covered_s > 0.0
            && t.sampled_j > 0.0;
        if dead_counter {
            self.tallies.zero_counter.push(ctx.job.job_id.clone());
        }
        if t.counter_covered_s > 0.0 && !dead_counter {
            Some((
                Tier::Metered,
                telemetered(t.counter_j, t.counter_covered_s, device_s),
            ))
        } else if t.covered_s > 0.0 {
            Some((
                Tier::Sampled,
                telemetered(t.sampled_j, t.covered_s, device_s),
            ))
        } else {
            if ctx.job.nodes.is_some() {
                self.tallies.unsampled.push(ctx.job.job_id.clone());
            }
            None
        }
    }

    /// Embodied kgCO2e per device-hour of the hardware, when its embodied emissions are
    /// known; lists the embodied figure, lifetime and use factor (defaults say so).
    pub(super) fn embodied(&mut self, h: &Hardware) -> Option<f64> {
        let e = h.embodied_kgco2e?;
        let life = h.lifetime_years.unwrap_or(factors::DEFAULT_LIFETIME_YEARS);
        let uf = h.use_factor.unwrap_or(factors::DEFAULT_USE_FACTOR);
        let (src, year) = match &h.embodied_source {
            Some(s) => (s.as_str(), None),
            None => (h.source.as_str(), h.year),
        };
        let default_src = "greenledger default (documented assumption)";
        let given_or_default = |given: bool| if given { src } else { default_src };
        self.res.use_factor(
            format!("embodied {}", h.name),
            e,
            "kgCO2e/device",
            src,
            year,
        );
        self.res.use_factor(
            format!("lifetime {}", h.name),
            life,
            "years",
            given_or_default(h.lifetime_years.is_some()),
            year,
        );
        self.res.use_factor(
            format!("use factor {}", h.name),
            uf,
            "ratio",
            given_or_default(h.use_factor.is_some()),
            year,
        );
        Some(e / (life * 8760.0 * uf))
    }
}

/// Telemetry energy `j` (joules) over `covered` device-seconds of a job holding `device_s`:
/// kWh measured, kWh imputed for the uncovered time at the measured mean power, coverage.
fn telemetered(j: f64, covered: f64, device_s: f64) -> Telemetered {
    let mut coverage = if device_s > 0.0 {
        covered / device_s
    } else {
        0.0
    };
    // Float noise on a fully covered job must not read as over-coverage.
    if coverage > 1.0 && coverage < 1.0 + 1e-9 {
        coverage = 1.0;
    }
    let imputed = if covered > 0.0 && device_s > covered {
        j / covered * (device_s - covered)
    } else {
        0.0
    };
    Telemetered {
        measured_kwh: j / 3.6e6,
        imputed_kwh: imputed / 3.6e6,
        coverage,
    }
}
