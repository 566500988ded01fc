//! Lineage: which models were built on which (base_model for fine-tuning, teacher_model for
//! distillation), and the "reuse dividend": the pretraining emissions a team's fine-tunes and
//! distillations did not have to repeat. An estimate, labelled as such. Pure.

use crate::ledger::JobRow;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub use crate::config::PublishedFootprint;

/// One edge of the model graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    pub model: String,
    pub team: String,
    /// `base` (fine-tuned from) or `teacher` (distilled from).
    pub relation: &'static str,
    pub parent: String,
    /// The parent's pretraining emissions, and where the figure comes from.
    pub parent_kgco2e: Option<f64>,
    pub parent_source: String,
}

/// A team's reuse dividend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dividend {
    pub team: String,
    /// Sum over the distinct models the team built on, of their pretraining emissions.
    pub kgco2e_estimate: f64,
    pub reused: Vec<String>,
    /// Parents whose footprint is unknown (neither in this ledger nor published).
    pub unknown: Vec<String>,
}

/// The model graph and the dividends.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Lineage {
    pub edges: Vec<Edge>,
    pub dividends: Vec<Dividend>,
}

/// Build the lineage of the ledger's jobs.
pub fn lineage(jobs: &[JobRow], published: &[PublishedFootprint]) -> Lineage {
    // Pretraining footprint of models trained in this ledger.
    let mut pretrain: BTreeMap<&str, f64> = BTreeMap::new();
    for j in jobs.iter().filter(|j| j.training_type == "pretraining") {
        *pretrain.entry(j.model.as_str()).or_default() += j.amounts.location_kgco2e;
    }
    let footprint = |m: &str| -> (Option<f64>, String) {
        if let Some(kg) = pretrain.get(m) {
            return (
                Some(*kg),
                "this ledger's pretraining jobs (location-based, this period)".into(),
            );
        }
        match published.iter().find(|p| p.model == m) {
            Some(p) => (Some(p.kgco2e), p.source.clone()),
            None => (None, "unknown".into()),
        }
    };
    let mut edges: BTreeSet<(String, String, &'static str, String)> = BTreeSet::new();
    for j in jobs {
        if let Some(b) = &j.base_model {
            edges.insert((j.model.clone(), j.team.clone(), "base", b.clone()));
        }
        if let Some(t) = &j.teacher_model {
            edges.insert((j.model.clone(), j.team.clone(), "teacher", t.clone()));
        }
    }
    let mut out = Lineage::default();
    let mut per_team: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (model, team, relation, parent) in edges {
        let (kg, source) = footprint(&parent);
        per_team
            .entry(team.clone())
            .or_default()
            .insert(parent.clone());
        out.edges.push(Edge {
            model,
            team,
            relation,
            parent,
            parent_kgco2e: kg,
            parent_source: source,
        });
    }
    for (team, parents) in per_team {
        let mut d = Dividend {
            team,
            kgco2e_estimate: 0.0,
            reused: Vec::new(),
            unknown: Vec::new(),
        };
        for p in parents {
            match footprint(&p).0 {
                Some(kg) => {
                    d.kgco2e_estimate += kg;
                    d.reused.push(p);
                }
                None => d.unknown.push(p),
            }
        }
        out.dividends.push(d);
    }
    out
}
