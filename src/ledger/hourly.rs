//! Scope 2 as the GHG Protocol's revision proposes it: granular certificates matched hour by
//! hour with each site's consumption, and Google's 24/7 carbon-free energy (CFE) score.

use serde::Serialize;

/// What the hourly matching gives, for a site or the total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HourlyAmounts {
    /// Facility energy (jobs, idle and unattributed), kWh.
    pub consumption_kwh: f64,
    /// Consumption covered by deliverable certificates of the same hour.
    pub matched_kwh: f64,
    pub unmatched_kwh: f64,
    /// Matched at zero, unmatched at the residual mix (else the grid factor).
    pub market_kgco2e: f64,
    /// Deliverable certificates beyond an hour's consumption (not carried to other hours).
    pub excess_kwh: f64,
    /// Certificates of another market zone: not deliverable, not used.
    pub not_deliverable_kwh: f64,
    /// Every certificate in the period.
    pub certificates_kwh: f64,
    /// matched / consumption.
    pub matched_share: Option<f64>,
    /// 24/7 CFE score: (matched + unmatched x the grid's CFE share, hour by hour) /
    /// consumption; `null` without the grid's hourly CFE share (the total: over the sites that
    /// have it).
    pub cfe_score: Option<f64>,
    /// The 2015 market-based figure (instruments pro rata), for comparison.
    pub market_2015_kgco2e: Option<f64>,
}

/// One site's hourly matching over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HourlySite {
    pub site: String,
    /// Its market zone (the configured zone), against which certificates are deliverable.
    pub zone: Option<String>,
    #[serde(flatten)]
    pub amounts: HourlyAmounts,
    /// Hours whose grid CFE share was missing and took the series' mean.
    pub cfe_hours_filled: u64,
}

/// One hour of one site (for csv/scope2-hourly.csv and the heat map).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourRow {
    pub site: String,
    /// The hour's start, RFC 3339 UTC.
    pub hour: String,
    pub consumption_kwh: f64,
    pub matched_kwh: f64,
    pub excess_kwh: f64,
    pub unmatched_kwh: f64,
    pub not_deliverable_kwh: f64,
    pub grid_cfe: Option<f64>,
}

/// The organisation's consumption against the small-consumer options of the revision (5, 10
/// or 50 GWh a year may keep monthly or annual matching).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Exemption {
    /// The period's Scope 2 consumption scaled to a year.
    pub annual_gwh: f64,
    /// Each threshold under discussion, and whether the organisation is under it.
    pub options: Vec<ExemptionOption>,
}

/// One threshold of the small-consumer exemption.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExemptionOption {
    pub gwh_per_year: f64,
    pub under: bool,
}

/// `scope2.hourly`: the hourly-matched Scope 2, beside the 2015 figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scope2Hourly {
    /// Which method the report's headline uses (`[report] scope2_method`): `2015` or `hourly`.
    pub headline_method: String,
    pub sites: Vec<HourlySite>,
    pub totals: HourlyAmounts,
    pub exemption: Exemption,
    /// Per team and site: what matching would gain had the team's unmatched hours run when the
    /// site's certificates went unmatched.
    pub whatifs: Vec<HourlyWhatIf>,
    pub hours: Vec<HourRow>,
}

/// A team's jobs at a site, against the site's certificates nobody used.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HourlyWhatIf {
    pub team: String,
    pub site: String,
    /// The team's jobs' energy in hours no certificate covered.
    pub unmatched_kwh: f64,
    /// The site's deliverable certificates unmatched in their hours.
    pub excess_kwh: f64,
    /// min(unmatched, excess): what could have been matched.
    pub gain_kwh: f64,
    /// The market-based emissions that energy had (residual mix, else the grid factor).
    pub saving_kgco2e: f64,
    /// The team's 24/7 CFE score at the site now, and had it run then.
    pub cfe_now: Option<f64>,
    pub cfe_if_shifted: Option<f64>,
}
