//! `greenledger estimate`: the quick single-run calculator.

use crate::cli::EstimateArgs;
use crate::error::{Error, Result};
use crate::factors::{self, Factors};
use serde::Serialize;

/// The calculator's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Estimate {
    pub gpu_hours: f64,
    pub power_w: f64,
    pub pue: f64,
    pub intensity_g_per_kwh: f64,
    pub it_energy_kwh: f64,
    pub facility_energy_kwh: f64,
    pub location_kgco2e: f64,
    /// Where the power, PUE and intensity came from.
    pub sources: Vec<String>,
}

fn positive(name: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::new(format!(
            "--{name} must be a number >= 0, not {v}"
        )))
    }
}

/// Compute one run: IT = hours x W / 1000; facility = IT x PUE; location = facility x g / 1000.
pub(crate) fn estimate(a: &EstimateArgs, factors: &Factors) -> Result<Estimate> {
    let mut sources = Vec::new();
    let gpu_hours = positive("gpu-hours", a.gpu_hours)?;
    let power_w = match (a.power_w, &a.hardware) {
        (Some(w), _) => positive("power-w", w)?,
        (None, Some(name)) => {
            let h = factors.hardware(name).ok_or_else(|| {
                Error::new(format!("--hardware: '{name}' is not in the hardware table"))
                    .hint("give --power-w instead")
            })?;
            let tdp = h.tdp_w.ok_or_else(|| {
                Error::new(format!("--hardware: '{}' has no published TDP", h.name))
                    .hint("give --power-w instead")
            })?;
            sources.push(format!(
                "power: TDP of {} ({} W, {})",
                h.name, tdp, h.source
            ));
            tdp
        }
        (None, None) => return Err(Error::new("give --power-w or --hardware")),
    };
    let pue = match a.pue {
        Some(p) if p.is_finite() && p >= 1.0 => p,
        Some(p) => return Err(Error::new(format!("--pue must be >= 1, not {p}"))),
        None => {
            sources.push(format!(
                "PUE: {} ({})",
                factors::DEFAULT_PUE,
                factors::DEFAULT_PUE_SOURCE
            ));
            factors::DEFAULT_PUE
        }
    };
    let intensity = match (a.intensity, &a.zone) {
        (Some(g), _) => positive("intensity", g)?,
        (None, Some(z)) => {
            let m = factors.zone(z).ok_or_else(|| Error::new(format!("--zone: no grid factor for '{z}'")).hint("use an ISO country code, a bidding zone or a cloud region, or give --intensity"))?;
            sources.push(format!(
                "grid: {} {} g/kWh ({}, {})",
                m.factor.zone, m.factor.g_per_kwh, m.factor.source, m.factor.year
            ));
            m.factor.g_per_kwh
        }
        (None, None) => return Err(Error::new("give --zone or --intensity")),
    };
    let it = gpu_hours * power_w / 1000.0;
    let facility = it * pue;
    Ok(Estimate {
        gpu_hours,
        power_w,
        pue,
        intensity_g_per_kwh: intensity,
        it_energy_kwh: it,
        facility_energy_kwh: facility,
        location_kgco2e: facility * intensity / 1000.0,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_example_by_hand() {
        // 1000 GPU-h x 400 W = 400 kWh; x 1.1 = 440 kWh; x 385 g = 169.4 kg.
        let a = EstimateArgs {
            gpu_hours: 1000.0,
            power_w: Some(400.0),
            hardware: None,
            pue: Some(1.1),
            zone: None,
            intensity: Some(385.0),
            json: true,
        };
        let e = estimate(&a, &Factors::embedded()).unwrap();
        assert!((e.it_energy_kwh - 400.0).abs() < 1e-9);
        assert!((e.facility_energy_kwh - 440.0).abs() < 1e-9);
        assert!((e.location_kgco2e - 169.4).abs() < 1e-9);
    }
}
