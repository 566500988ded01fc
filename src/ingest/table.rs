//! Read a CSV or Parquet file with polars into a table of text cells, so that every adapter can
//! validate rows one by one and name the line of each problem.

use crate::error::{Error, Result};
use polars::prelude::*;
use std::io::Cursor;

/// A table of optional text cells, column names as in the file (trimmed, BOM removed).
#[derive(Debug, Clone, Default)]
pub(crate) struct TextTable {
    pub columns: Vec<String>,
    /// Column-major cells: `cells[c][r]`.
    pub cells: Vec<Vec<Option<String>>>,
    /// Line (CSV, header = line 1) or row (Parquet, first row = 1) of row 0.
    pub first_line: u64,
    pub rows: usize,
}

impl TextTable {
    pub(crate) fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
    /// The cell of column `c` in row `r`, trimmed, `None` when empty.
    pub(crate) fn get(&self, c: usize, r: usize) -> Option<&str> {
        self.cells[c][r]
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
    pub(crate) fn line(&self, r: usize) -> u64 {
        self.first_line + r as u64
    }
}

/// Is this path a Parquet file (by its extension)?
pub(crate) fn is_parquet(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// Read CSV bytes (BOM and CRLF tolerated) with every column as text.
pub(crate) fn read_csv(bytes: &[u8], shown: &str) -> Result<TextTable> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::in_file(shown, "the file is empty")
            .hint("a jobs manifest needs a header line and one row per job"));
    }
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(Cursor::new(body.to_vec()))
        .finish()
        .map_err(|e| {
            Error::in_file(shown, format!("cannot read as CSV: {e}"))
                .hint("check that every line has the header's number of fields")
        })?;
    from_frame(&df, 2)
}

/// Read a Parquet file; typed columns are turned into text (timestamps as RFC 3339 UTC).
pub(crate) fn read_parquet(bytes: &[u8], shown: &str) -> Result<TextTable> {
    let df = ParquetReader::new(Cursor::new(bytes.to_vec()))
        .finish()
        .map_err(|e| Error::in_file(shown, format!("cannot read as Parquet: {e}")))?;
    from_frame(&df, 1).map_err(|e| Error::in_file(shown, e.message))
}

fn from_frame(df: &DataFrame, first_line: u64) -> Result<TextTable> {
    let mut t = TextTable {
        first_line,
        rows: df.height(),
        ..Default::default()
    };
    for col in df.columns() {
        let name = col.name().trim().trim_start_matches('\u{feff}').to_string();
        let cells: Vec<Option<String>> = match col.dtype() {
            DataType::String => col
                .str()
                .map_err(pe)?
                .iter()
                .map(|v| v.map(String::from))
                .collect(),
            DataType::Datetime(unit, tz) => {
                let to_ms = match unit {
                    TimeUnit::Nanoseconds => |v: i64| v.div_euclid(1_000_000),
                    TimeUnit::Microseconds => |v: i64| v.div_euclid(1_000),
                    TimeUnit::Milliseconds => |v: i64| v,
                };
                // A zone-less Parquet timestamp is naive wall-clock time: keep it naive so the
                // configured input time zone applies and a finding is raised.
                let naive = tz.is_none();
                let phys = col.cast(&DataType::Int64).map_err(pe)?;
                phys.i64()
                    .map_err(pe)?
                    .iter()
                    .map(|v| {
                        v.and_then(|v| chrono::DateTime::from_timestamp_millis(to_ms(v)))
                            .map(|d| {
                                if naive {
                                    d.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
                                } else {
                                    crate::timeutil::fmt_utc(d)
                                }
                            })
                    })
                    .collect()
            }
            DataType::Float32 | DataType::Float64 => {
                let c = col.cast(&DataType::Float64).map_err(pe)?;
                c.f64()
                    .map_err(pe)?
                    .iter()
                    .map(|v| v.map(|v| format!("{v}")))
                    .collect()
            }
            DataType::Boolean => col
                .bool()
                .map_err(pe)?
                .iter()
                .map(|v| v.map(|b| b.to_string()))
                .collect(),
            dt if dt.is_integer() => {
                let c = col.cast(&DataType::Int64).map_err(pe)?;
                c.i64()
                    .map_err(pe)?
                    .iter()
                    .map(|v| v.map(|v| v.to_string()))
                    .collect()
            }
            other => {
                let c = col.cast(&DataType::String).map_err(|_| {
                    Error::new(format!(
                        "column '{name}' has type {other}, which cannot be read as text"
                    ))
                })?;
                c.str()
                    .map_err(pe)?
                    .iter()
                    .map(|v| v.map(String::from))
                    .collect()
            }
        };
        t.columns.push(name);
        t.cells.push(cells);
    }
    Ok(t)
}

fn pe(e: PolarsError) -> Error {
    Error::new(format!("{e}"))
}
