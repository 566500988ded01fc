//! Each model's energy per token and energy-normalised MFU, and the published pretraining run
//! closest to it in parameters (factors/data/peers.csv), for the models table and the cards.

use crate::factors::peers::{closest, Peer};
use crate::factors::Factors;
use crate::ledger::JobRow;
use serde::Serialize;

/// The published run a model is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerRef {
    pub model: String,
    pub source: String,
    pub parameters: f64,
    pub kwh_per_billion_tokens: f64,
    pub energy_mfu: Option<f64>,
    /// What the published energy covers: the boundary differs from a measured IT energy.
    pub energy_basis: String,
    /// This model's kWh per billion tokens over the peer's.
    pub times_energy_per_token: Option<f64>,
}

/// A model's efficiency figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Efficiency {
    /// IT kWh per billion tokens over its pretraining and fine-tuning jobs that give tokens.
    pub kwh_per_billion_tokens: Option<f64>,
    /// `6 x parameters x tokens` per IT joule over the peak FLOPs per joule (energy-weighted).
    pub energy_mfu: Option<f64>,
    pub peer: Option<PeerRef>,
}

/// The figures of `model` from its jobs.
pub fn of(model: &str, jobs: &[JobRow], factors: &Factors, peers: &[Peer]) -> Efficiency {
    let mine: Vec<&JobRow> = jobs.iter().filter(|j| j.model == model).collect();
    let with_tokens: Vec<&&JobRow> = mine
        .iter()
        .filter(|j| crate::score::trains_from_tokens(j) && j.tokens.is_some_and(|t| t > 0.0))
        .collect();
    let tokens: f64 = with_tokens.iter().filter_map(|j| j.tokens).sum();
    let kwh: f64 = with_tokens.iter().map(|j| j.amounts.it_energy_kwh).sum();
    let kwh_per_billion_tokens = (tokens > 0.0 && kwh > 0.0).then(|| kwh / (tokens / 1e9));
    let energy_mfu = crate::score::energy_mfu(&mine);
    let parameters = mine
        .iter()
        .filter_map(|j| j.parameters)
        .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
    let peer = parameters
        .and_then(|p| closest(peers, p))
        .map(|p| peer_ref(p, factors, kwh_per_billion_tokens));
    Efficiency {
        kwh_per_billion_tokens,
        energy_mfu,
        peer,
    }
}

fn peer_ref(p: &Peer, factors: &Factors, mine: Option<f64>) -> PeerRef {
    let per_token = p.kwh_per_billion_tokens();
    let peak = factors
        .hardware(&p.accelerator)
        .and_then(|h| Some(h.tflops? * 1e12 / h.tdp_w?))
        .filter(|x| *x > 0.0);
    PeerRef {
        model: p.model.clone(),
        source: p.source.clone(),
        parameters: p.parameters,
        kwh_per_billion_tokens: per_token,
        energy_mfu: peak.map(|f| 6.0 * p.parameters * p.tokens / (p.energy_kwh * 3.6e6) / f),
        energy_basis: p.energy_basis.clone(),
        times_energy_per_token: mine.map(|m| m / per_token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measured_peer_on_h100() {
        // OLMo 2 13B: 6 x 13.7e9 x 5.6e12 = 4.6032e23 FLOP over 230 MWh = 8.28e11 J is
        // 5.5594e11 FLOP/J; an H100 SXM peaks at 989e12 / 700 = 1.41286e12 FLOP/J: 0.393488.
        let f = Factors::embedded();
        let peers = crate::factors::peers::peers();
        let olmo = peers.iter().find(|p| p.model == "OLMo-2-13B").unwrap();
        let r = peer_ref(olmo, &f, Some(82.142857));
        assert!((r.energy_mfu.unwrap() - 0.393488).abs() < 1e-6, "{r:?}");
        assert!((r.kwh_per_billion_tokens - 41.071429).abs() < 1e-6);
        // A model at 82.14 kWh/B used twice OLMo's 41.07 kWh/B.
        assert!((r.times_energy_per_token.unwrap() - 2.0).abs() < 1e-6);
        assert!(r.energy_basis.contains("measured"));
    }
}
