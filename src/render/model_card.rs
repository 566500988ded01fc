//! model-cards/: for each model, the Hugging Face `co2_eq_emissions` block (YAML; emissions in
//! grams, location-based) and a Markdown "Environmental impact" section with a paper statement
//! in Markdown and LaTeX that cites the method and factors.

use super::{Rendered, Renderer};
use crate::error::Result;
use crate::report::{ModelView, Report};

pub struct ModelCards {
    /// Name each model's BoAmps file (written with this report).
    pub boamps: bool,
}

/// A YAML double-quoted string.
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Escape LaTeX's special characters.
fn tex(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                o.push('\\');
                o.push(c);
            }
            '~' => o.push_str("\\textasciitilde{}"),
            '^' => o.push_str("\\textasciicircum{}"),
            c => o.push(c),
        }
    }
    o
}

fn source(r: &Report) -> String {
    format!(
        "{} (factor set {} {}, sha256 {})",
        r.generator,
        r.factor_set.name,
        r.factor_set.version,
        &r.factor_set.sha256[..12.min(r.factor_set.sha256.len())]
    )
}

fn yaml(m: &ModelView, r: &Report) -> String {
    let c = &m.card;
    format!(
        // Grams to a tenth: the figures behind them are not more precise than that.
        "co2_eq_emissions:\n  emissions: {:.1}\n  source: {}\n  training_type: {}\n  geographical_location: {}\n  hardware_used: {}\n",
        c.emissions_g,
        q(&source(r)),
        q(&c.training_type),
        q(&c.geographical_location),
        q(&c.hardware_used)
    )
}

/// The paper statement: what training used and emitted, with its sources, its share of its
/// sites' electricity and where the measurements are published.
fn statement(m: &ModelView, r: &Report, market: &str, boamps: Option<&str>) -> String {
    let (c, a) = (&m.card, &m.amounts);
    let context = match c.share_of_sites {
        Some(s) => format!(
            " These jobs are {:.2} % of the electricity (Scope 2 energy) of {} in {}.",
            s * 100.0,
            c.sites.join(", "),
            r.period.label
        ),
        None => String::new(),
    };
    let published = boamps
        .map(|p| format!(" The measurements are published as the BoAmps report {p}."))
        .unwrap_or_default();
    format!(
        "Training {model} used {gpu:.0} accelerator-hours ({hw}) in {period}, consuming {it:.1} kWh of IT energy and {fac:.1} kWh at the facility. \
         This corresponds to {loc:.1} kgCO2e location-based and {market} market-based (GHG Protocol Scope 2), computed with {src}.{context}{published}",
        model = m.model,
        gpu = a.gpu_hours,
        hw = c.hardware_used,
        period = r.period.label,
        it = a.it_energy_kwh,
        fac = a.facility_energy_kwh,
        loc = a.location_kgco2e,
        src = source(r)
    )
}

/// Energy per billion tokens and energy MFU, against the closest published run (with the
/// boundary difference said).
fn per_token(m: &ModelView) -> String {
    let e = &m.efficiency;
    let Some(kwh) = e.kwh_per_billion_tokens else {
        return "unknown (no training job gives tokens)".into();
    };
    let mfu = e
        .energy_mfu
        .map(|x| format!(", energy MFU {x:.3}"))
        .unwrap_or_default();
    let peer = e
        .peer
        .as_ref()
        .and_then(|p| {
            Some(format!(
                "; {:.2} x the energy per token of {} ({:.2} kWh per billion tokens; {}; its published energy is {}, this model's its IT energy, so the boundaries differ)",
                p.times_energy_per_token?, p.model, p.kwh_per_billion_tokens, p.source, p.energy_basis
            ))
        })
        .unwrap_or_default();
    format!("{kwh:.2} kWh per billion tokens{mfu}{peer}")
}

fn markdown(m: &ModelView, r: &Report, boamps: Option<&str>) -> String {
    let c = &m.card;
    let a = &m.amounts;
    let market = a
        .market_kgco2e
        .map(|v| format!("{v:.1} kgCO2e"))
        .unwrap_or_else(|| "not computed".into());
    let sci = c
        .sci_kgco2e_per_run
        .map(|v| format!("{v:.2} kgCO2e per training run"))
        .unwrap_or_else(|| "unknown".into());
    let sci_tok = c
        .sci_kgco2e_per_million_tokens
        .map(|v| format!("; {v:.5} kgCO2e per million tokens"))
        .unwrap_or_default();
    let statement = statement(m, r, &market, boamps);
    let per_token = per_token(m);
    format!(
        "## Environmental impact\n\n\
         Carbon emissions were computed with greenledger from the training jobs' measured or estimated energy (method and factors in the report's methodology section).\n\n\
         - **Hardware type:** {hw}\n\
         - **Hours used:** {gpu:.1} accelerator-hours in {runs} training run(s)\n\
         - **Provider / site:** {loc_name}\n\
         - **Compute region:** {loc_name}\n\
         - **Energy:** {it:.1} kWh IT, {fac:.1} kWh facility\n\
         - **Carbon emitted (location-based):** {loc:.1} kgCO2e ({g:.0} g)\n\
         - **Carbon emitted (market-based):** {market}\n\
         - **Embodied (hardware share):** {emb}\n\
         - **Software Carbon Intensity (ISO/IEC 21031):** {sci}{sci_tok}\n\
         - **Energy per token:** {per_token}\n\
         - **Share of its sites' electricity:** {share}\n\
         - **BoAmps report:** {boamps}\n\n\
         ### Paper statement\n\n{statement}\n\n\
         ```latex\n{latex}\n```\n",
        hw = c.hardware_used,
        gpu = a.gpu_hours,
        runs = c.runs,
        loc_name = c.geographical_location,
        it = a.it_energy_kwh,
        fac = a.facility_energy_kwh,
        loc = a.location_kgco2e,
        g = c.emissions_g,
        market = market,
        emb = a.embodied_kgco2e.map(|v| format!("{v:.1} kgCO2e")).unwrap_or_else(|| "unknown".into()),
        sci = sci,
        sci_tok = sci_tok,
        share = c
            .share_of_sites
            .map(|s| format!("{:.2} % of the Scope 2 energy of {} in {}", s * 100.0, c.sites.join(", "), r.period.label))
            .unwrap_or_else(|| "unknown (no site)".into()),
        boamps = boamps.unwrap_or("not written (add boamps to --format)"),
        statement = statement,
        latex = tex(&statement)
    )
}

impl Renderer for ModelCards {
    fn render(&self, r: &Report) -> Result<Rendered> {
        let mut out = Vec::new();
        // Each model's BoAmps file, named once for all cards.
        let files: std::collections::BTreeMap<String, String> = if self.boamps {
            crate::report::boamps_files(r)
                .into_iter()
                .filter_map(|(path, subject)| match subject {
                    crate::report::BoampsSubject::Model(m) => Some((m, path)),
                    crate::report::BoampsSubject::Job(_) => None,
                })
                .collect()
        } else {
            Default::default()
        };
        for m in &r.models {
            out.push((
                format!("model-cards/{}.yaml", m.card.file),
                yaml(m, r).into_bytes(),
            ));
            out.push((
                format!("model-cards/{}.md", m.card.file),
                markdown(m, r, files.get(&m.model).map(String::as_str)).into_bytes(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::{q, tex};

    #[test]
    fn quoting() {
        assert_eq!(q("a \"b\" \\ c"), "\"a \\\"b\\\" \\\\ c\"");
        assert_eq!(tex("50% of CO2_e & $x"), "50\\% of CO2\\_e \\& \\$x");
    }
}
