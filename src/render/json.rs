//! report.json: the view-model as pretty JSON (schema `greenledger/report@1`).

use super::{Rendered, Renderer};
use crate::error::{Error, Result};
use crate::report::Report;

pub struct Json;

impl Renderer for Json {
    fn render(&self, report: &Report) -> Result<Rendered> {
        let mut s = serde_json::to_string_pretty(report)
            .map_err(|e| Error::new(format!("cannot serialise the report: {e}")))?;
        s.push('\n');
        Ok(vec![("report.json".into(), s.into_bytes())])
    }
}
