//! Findings: every problem met in the inputs, with a stable code, a severity and where it was.

use serde::Serialize;
use std::fmt;

/// How serious a finding is. Errors make `report` exit 1 and `validate` fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One problem with the inputs. `code` is stable across versions: tools may match on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The input file, as the user named it; `None` for problems of the run as a whole.
    pub file: Option<String>,
    /// 1-based line (CSV, TOML) or row (Parquet) where the problem is.
    pub line: Option<u64>,
}

impl Finding {
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            message: message.into(),
            file: None,
            line: None,
        }
    }
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }
    pub fn info(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, message)
    }
    /// Attach the file (and optionally the line) the finding is about.
    pub fn at(mut self, file: &str, line: Option<u64>) -> Self {
        self.file = Some(file.to_string());
        // Line 0: a row that is no line of a file (a job found in labels).
        self.line = line.filter(|&l| l > 0);
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        write!(f, "{} [{}]: {}", self.severity, self.code, self.message)
    }
}

/// Up to eight names, then how many more: the lists a finding's message names.
pub(crate) fn list(v: &[String]) -> String {
    let head: Vec<&str> = v.iter().take(8).map(String::as_str).collect();
    let more = if v.len() > 8 {
        format!(" and {} more", v.len() - 8)
    } else {
        String::new()
    };
    format!("{}{more}", head.join(", "))
}

/// Sort findings into their reporting order: by file, line, code, message (deterministic output).
pub(crate) fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.code, &a.message, a.severity)
            .cmp(&(&b.file, b.line, b.code, &b.message, b.severity))
    });
}

/// Stable finding codes. Kept in one place so that they are documented and never collide.
pub(crate) mod codes {
    pub(crate) const JOBS_MISSING_COLUMN: &str = "jobs.missing-column";
    pub(crate) const JOBS_UNKNOWN_COLUMN: &str = "jobs.unknown-column";
    pub(crate) const JOBS_MISSING_VALUE: &str = "jobs.missing-value";
    pub(crate) const JOBS_BAD_TIMESTAMP: &str = "jobs.bad-timestamp";
    pub(crate) const JOBS_NAIVE_TIMESTAMP: &str = "jobs.naive-timestamp";
    pub(crate) const JOBS_BAD_NUMBER: &str = "jobs.bad-number";
    pub(crate) const JOBS_BAD_VALUE: &str = "jobs.bad-value";
    pub(crate) const JOBS_DUPLICATE_ID: &str = "jobs.duplicate-id";
    pub(crate) const JOBS_END_BEFORE_START: &str = "jobs.end-before-start";
    pub(crate) const JOBS_UNKNOWN_SITE: &str = "jobs.unknown-site";
    pub(crate) const JOBS_NO_LOCATION: &str = "jobs.no-location";
    pub(crate) const JOBS_UNKNOWN_HARDWARE: &str = "jobs.unknown-hardware";
    pub(crate) const JOBS_NO_POWER: &str = "jobs.no-power";
    pub(crate) const JOBS_OUTSIDE_PERIOD: &str = "jobs.outside-period";
    pub(crate) const JOBS_PARTLY_OUTSIDE_PERIOD: &str = "jobs.partly-outside-period";
    pub(crate) const CC_MISSING_COLUMN: &str = "codecarbon.missing-column";
    pub(crate) const CC_SHORT_ROW: &str = "codecarbon.short-row";
    pub(crate) const CC_BAD_TIMESTAMP: &str = "codecarbon.bad-timestamp";
    pub(crate) const CC_NAIVE_TIMESTAMP: &str = "codecarbon.naive-timestamp";
    pub(crate) const CC_BAD_NUMBER: &str = "codecarbon.bad-number";
    pub(crate) const CC_NO_ENERGY: &str = "codecarbon.no-energy";
    pub(crate) const CC_SNAPSHOT: &str = "codecarbon.superseded-snapshot";
    pub(crate) const CC_NO_TEAM: &str = "codecarbon.no-team";
    pub(crate) const CC_MATCHED: &str = "codecarbon.matched-job";
    pub(crate) const CC_TASKS: &str = "codecarbon.tasks";
    pub(crate) const ZONE_NO_FACTOR: &str = "factors.zone-without-factor";
    pub(crate) const FACTOR_YEAR: &str = "factors.year-mismatch";
    pub(crate) const SITE_DEFAULT_PUE: &str = "sites.default-pue";
    pub(crate) const INPUT_EMPTY: &str = "input.no-rows";
    pub(crate) const TELEMETRY_UNRECOGNISED: &str = "telemetry.unrecognised-format";
    pub(crate) const TELEMETRY_BAD_ROW: &str = "telemetry.bad-row";
    pub(crate) const TELEMETRY_ZERO_COUNTER: &str = "telemetry.zero-counter";
    pub(crate) const TELEMETRY_DUAL_DIE: &str = "telemetry.dual-die";
    pub(crate) const TELEMETRY_NAIVE_TIMESTAMP: &str = "telemetry.naive-timestamp";
    pub(crate) const TELEMETRY_DEVICE_COLUMN: &str = "telemetry.device-column";
    pub(crate) const TELEMETRY_POWER_FIELD: &str = "telemetry.power-field";
    pub(crate) const TELEMETRY_NODE_FROM_NAME: &str = "telemetry.node-from-file-name";
    pub(crate) const TELEMETRY_NO_TIME: &str = "telemetry.no-timestamp";
    pub(crate) const TELEMETRY_DUPLICATES: &str = "telemetry.duplicates";
    pub(crate) const TELEMETRY_DROPPED: &str = "telemetry.dropped-power";
    pub(crate) const TELEMETRY_GAPS: &str = "telemetry.gaps";
    pub(crate) const TELEMETRY_OUT_OF_ORDER: &str = "telemetry.out-of-order";
    pub(crate) const TELEMETRY_COUNTER_RESET: &str = "telemetry.counter-reset";
    pub(crate) const TELEMETRY_OVERLAP: &str = "telemetry.overlapping-claims";
    pub(crate) const TELEMETRY_IMPUTED: &str = "telemetry.imputed";
    pub(crate) const TELEMETRY_NO_SAMPLES: &str = "telemetry.no-samples";
    pub(crate) const TELEMETRY_NODE_POWER_UNSPLIT: &str = "telemetry.node-power-unsplit";
    pub(crate) const TELEMETRY_PUSHDOWN: &str = "telemetry.pushdown";
    pub(crate) const BOUNDARY_HOST_OUTSIDE: &str = "boundary.host-outside";
    pub(crate) const INVENTORY_NO_METER: &str = "inventory.no-meter";
    pub(crate) const INVENTORY_METER_PRORATED: &str = "inventory.meter-prorated";
    pub(crate) const INVENTORY_ABOVE_METER: &str = "inventory.ledger-above-meter";
    pub(crate) const INVENTORY_PUE_MISMATCH: &str = "inventory.measured-pue";
    pub(crate) const INVENTORY_UNKNOWN_NODE_SITE: &str = "inventory.node-without-site";
    pub(crate) const INVENTORY_NO_JOBS: &str = "inventory.no-jobs";
    pub(crate) const METERS_BAD_ROW: &str = "meters.bad-row";
    pub(crate) const MARKET_NO_RESIDUAL: &str = "market.no-residual-mix";
    pub(crate) const MARKET_CLOUD_INSTRUMENT: &str = "market.cloud-instrument";
    pub(crate) const CLOUD_BAD_FILE: &str = "cloud.unrecognised";
    pub(crate) const CLOUD_BAD_ROW: &str = "cloud.bad-row";
    pub(crate) const CLOUD_UNMATCHED: &str = "cloud.unmatched-rows";
    pub(crate) const CLOUD_NO_MONTH: &str = "cloud.month-missing";
    pub(crate) const CLOUD_RESTATED: &str = "cloud.restated";
    pub(crate) const PERIOD_FROM_TELEMETRY: &str = "period.from-telemetry";
    pub(crate) const CERTIFICATES_BAD_ROW: &str = "certificates.bad-row";
    pub(crate) const CERTIFICATES_DUPLICATE: &str = "certificates.duplicate";
    pub(crate) const CERTIFICATES_NOT_USED: &str = "certificates.not-used";
    pub(crate) const CERTIFICATES_CLOUD_SITE: &str = "certificates.cloud-site";
    pub(crate) const CERTIFICATES_OUTSIDE: &str = "certificates.outside-period";
    pub(crate) const CERTIFICATES_NOT_DELIVERABLE: &str = "certificates.not-deliverable";
    pub(crate) const CLOUD_AZURE_SCOPES: &str = "cloud.azure-scopes-assumed";
    pub(crate) const CLOUD_AZURE_INCOMPLETE: &str = "cloud.azure-incomplete";
    pub(crate) const MARKET_SURPLUS: &str = "market.surplus";
    pub(crate) const SACCT_BAD_ROW: &str = "sacct.bad-row";
    pub(crate) const GRID_DATE_ORDER: &str = "grid.date-order";
    pub(crate) const GRID_BAD_ROW: &str = "grid.bad-row";
    pub(crate) const GRID_MISSING_HOURS: &str = "grid.missing-hours";
    pub(crate) const GRID_ESTIMATED: &str = "grid.estimated-hours";
    pub(crate) const SACCT_SKIPPED: &str = "sacct.skipped-job";
    pub(crate) const SACCT_SHARED_ENERGY: &str = "sacct.shared-node-energy";
    pub(crate) const SACCT_NO_JOB: &str = "sacct.no-job";
    pub(crate) const SACCT_ENERGY_NOT_MEASURED: &str = "sacct.energy-not-measured";
    pub(crate) const SACCT_CPU_USAGE: &str = "sacct.cpu-usage";
    pub(crate) const ZEUS_BAD_ROW: &str = "zeus.bad-row";
    pub(crate) const ZEUS_NO_JOB: &str = "zeus.no-job";
    pub(crate) const ESRS_NO_TECHNOLOGY: &str = "esrs.instrument-without-technology";
    pub(crate) const BOAMPS_BAD_REPORT: &str = "boamps.bad-report";
    pub(crate) const BOAMPS_CODECARBON_PUE: &str = "boamps.codecarbon-pue";
    pub(crate) const PROM_MISSING_CHUNK: &str = "prometheus.missing-chunk";
    pub(crate) const PROM_WARNING: &str = "prometheus.server-warning";
    pub(crate) const PROM_DUPLICATE_SERIES: &str = "prometheus.duplicate-series";
    pub(crate) const PROM_SHARED_GPU: &str = "prometheus.shared-gpu";
    pub(crate) const PROM_NO_DEVICE: &str = "prometheus.no-device-labels";
    pub(crate) const PROM_LABEL_JOBS: &str = "prometheus.label-jobs";
    pub(crate) const MLFLOW_RUNS: &str = "mlflow.runs";
    pub(crate) const MLFLOW_RUNNING: &str = "mlflow.running-run";
    pub(crate) const MLFLOW_NO_GPUS: &str = "mlflow.no-gpu-count";
    pub(crate) const MLFLOW_NO_START: &str = "mlflow.no-start-time";
    pub(crate) const MLFLOW_UNKNOWN_SITE: &str = "mlflow.unknown-site";
    pub(crate) const MLFLOW_HISTORY: &str = "mlflow.missing-history";
    pub(crate) const PROM_NO_SAMPLES: &str = "prometheus.no-samples";
}

#[cfg(test)]
mod tests {
    /// Every code is documented in the user guide's findings page, and the page names no code
    /// that does not exist.
    #[test]
    fn every_code_is_in_the_guide() {
        let source = include_str!("findings.rs");
        let guide = include_str!("../docs/src/findings.md");
        let codes: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub(crate) const "))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        assert!(codes.len() > 80, "{} codes", codes.len());
        for c in &codes {
            assert!(
                guide.contains(&format!("| `{c}` |")),
                "{c} is not in docs/src/findings.md"
            );
        }
        let documented = guide.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(
            documented,
            codes.len(),
            "the guide lists codes that do not exist"
        );
    }
}
