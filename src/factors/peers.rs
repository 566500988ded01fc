//! Published training runs to compare a model with: parameters, tokens, accelerator and
//! energy as their papers give them, each row with its citation (data/peers.csv).

use serde::Deserialize;

const PEERS_CSV: &str = include_str!("data/peers.csv");

/// One published pretraining run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Peer {
    pub model: String,
    pub parameters: f64,
    pub tokens: f64,
    /// A name in the hardware table.
    pub accelerator: String,
    pub gpu_hours: Option<f64>,
    pub power_w: Option<f64>,
    pub energy_kwh: f64,
    /// What the published energy covers (mostly GPU-power estimates, some with a PUE).
    pub energy_basis: String,
    pub source: String,
    pub year: i32,
}

/// The embedded table.
pub(crate) fn peers() -> Vec<Peer> {
    super::read_csv(PEERS_CSV)
}

impl Peer {
    /// kWh per billion training tokens.
    pub fn kwh_per_billion_tokens(&self) -> f64 {
        self.energy_kwh / (self.tokens / 1e9)
    }
}

/// A peer further than this factor in parameters is no peer (a 300M model is not compared
/// with a 7B one).
pub(crate) const MAX_SIZE_RATIO: f64 = 3.0;

/// The pretraining run closest in parameters to `parameters` (on a log scale; the first of
/// equals in table order), when one is within [`MAX_SIZE_RATIO`].
pub(crate) fn closest(peers: &[Peer], parameters: f64) -> Option<&Peer> {
    if parameters.is_nan() || parameters <= 0.0 {
        return None;
    }
    let d = |p: &Peer| (p.parameters / parameters).ln().abs();
    peers
        .iter()
        .min_by(|a, b| d(a).total_cmp(&d(b)))
        .filter(|p| d(p) <= MAX_SIZE_RATIO.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_is_sourced_and_on_known_hardware() {
        let f = crate::factors::Factors::embedded();
        let ps = peers();
        assert!(ps.len() >= 10);
        for p in &ps {
            assert!(
                !p.source.is_empty() && p.source.contains("20"),
                "{}",
                p.model
            );
            let hw = f
                .hardware(&p.accelerator)
                .unwrap_or_else(|| panic!("{}", p.accelerator));
            assert!(hw.tflops.is_some() && hw.tdp_w.is_some(), "{}", p.model);
            assert!(p.parameters > 1e9 && p.tokens > 1e10 && p.energy_kwh > 0.0);
            if let (Some(h), Some(w)) = (p.gpu_hours, p.power_w) {
                // Energy is GPU-hours x power, times at most a PUE of 1.1.
                let ratio = p.energy_kwh / (h * w / 1000.0);
                assert!((0.99..1.11).contains(&ratio), "{}: {ratio}", p.model);
            }
        }
        // Llama 2 7B: 184,320 GPU-hours x 400 W = 73.728 MWh over 2T tokens.
        let l2 = ps.iter().find(|p| p.model == "Llama-2-7B").unwrap();
        assert!((l2.kwh_per_billion_tokens() - 36.864).abs() < 1e-9);
        assert_eq!(closest(&ps, 8e9).unwrap().model, "Llama-2-7B");
        assert_eq!(closest(&ps, 6.5e9).unwrap().model, "LLaMA-7B");
        assert_eq!(closest(&ps, 60e9).unwrap().model, "LLaMA-65B");
        // OLMo 2 13B: 230 MWh measured over 5.6T tokens = 41.07 kWh/B; a 14B model is nearer
        // 13.7B than 13.0B (ln 14/13.7 = 0.022 < ln 14/13 = 0.074), a 13B one is LLaMA-13B's.
        let olmo = ps.iter().find(|p| p.model == "OLMo-2-13B").unwrap();
        assert!((olmo.kwh_per_billion_tokens() - 230_000.0 / 5_600.0).abs() < 1e-9);
        assert_eq!(closest(&ps, 14e9).unwrap().model, "OLMo-2-13B");
        assert_eq!(closest(&ps, 13e9).unwrap().model, "LLaMA-13B");
        assert!(closest(&ps, 0.0).is_none());
        // A 1B model has no published peer within a factor of 3.
        assert!(closest(&ps, 1e9).is_none());
        assert_eq!(closest(&ps, 2.5e9).unwrap().model, "LLaMA-7B");
    }
}
