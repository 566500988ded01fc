//! Fetched live samples on local disk (Prometheus, MLflow): one snapshot of the server per
//! run, so that compute can read it twice (a second pass for out-of-order devices) and every
//! pass sees the same data. Records are 24 bytes, little-endian: GPU index (u32), job index (u32, `u32::MAX` for
//! none), epoch ms (i64), value (f64); the file is deleted when the run ends.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::{BufWriter, Read, Write};

/// No job: the series carried no job label (an idle GPU).
pub(crate) const NO_JOB: u32 = u32::MAX;

/// One spilled sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Record {
    pub(crate) gpu: u32,
    pub(crate) job: u32,
    pub(crate) t_ms: i64,
    pub(crate) value: f64,
}

const SIZE: usize = 24;

/// A spill being written: the records and their running sha256.
pub(crate) struct Writer {
    file: BufWriter<tempfile::NamedTempFile>,
    hash: Sha256,
    pub(crate) records: u64,
}

impl Writer {
    pub(crate) fn new() -> Result<Writer> {
        let f = tempfile::Builder::new()
            .prefix("greenledger-live-")
            .suffix(".bin")
            .tempfile()
            .map_err(|e| {
                Error::new(format!(
                    "cannot create a temporary file for the live samples: {e}"
                ))
                .hint("set TMPDIR to a folder with free space")
            })?;
        Ok(Writer {
            file: BufWriter::with_capacity(1 << 20, f),
            hash: Sha256::new(),
            records: 0,
        })
    }

    pub(crate) fn push(&mut self, r: &Record) -> Result<()> {
        let mut b = [0u8; SIZE];
        b[0..4].copy_from_slice(&r.gpu.to_le_bytes());
        b[4..8].copy_from_slice(&r.job.to_le_bytes());
        b[8..16].copy_from_slice(&r.t_ms.to_le_bytes());
        b[16..24].copy_from_slice(&r.value.to_bits().to_le_bytes());
        self.hash.update(b);
        self.records += 1;
        self.file.write_all(&b).map_err(|e| {
            Error::new(format!(
                "cannot write the live samples to a temporary file: {e}"
            ))
            .hint("set TMPDIR to a folder with free space")
        })
    }

    /// The finished spill and the sha256 of its records.
    pub(crate) fn finish(self) -> Result<(Spill, String)> {
        let file = self
            .file
            .into_inner()
            .map_err(|e| Error::new(format!("cannot write the live samples: {e}")))?;
        Ok((
            Spill {
                file,
                records: self.records,
            },
            format!("{:x}", self.hash.finalize()),
        ))
    }
}

/// A finished spill.
#[derive(Debug)]
pub(crate) struct Spill {
    file: tempfile::NamedTempFile,
    pub(crate) records: u64,
}

impl Spill {
    /// Every record in order, in slices of up to 64 Ki records.
    pub(crate) fn read(&self, each: &mut dyn FnMut(&[Record])) -> Result<()> {
        let mut f = std::fs::File::open(self.file.path())
            .map_err(|e| Error::new(format!("cannot reopen the live samples: {e}")))?;
        let mut buf = vec![0u8; SIZE << 16];
        let mut recs = Vec::with_capacity(1 << 16);
        loop {
            let mut n = 0;
            while n < buf.len() {
                let k = f
                    .read(&mut buf[n..])
                    .map_err(|e| Error::new(format!("cannot read the live samples: {e}")))?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            recs.clear();
            for b in buf[..n - n % SIZE].chunks_exact(SIZE) {
                let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                let u64_at = |i: usize| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&b[i..i + 8]);
                    u64::from_le_bytes(a)
                };
                recs.push(Record {
                    gpu: u32_at(0),
                    job: u32_at(4),
                    t_ms: u64_at(8) as i64,
                    value: f64::from_bits(u64_at(16)),
                });
            }
            if !recs.is_empty() {
                each(&recs);
            }
            if n < buf.len() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_order() {
        let mut w = Writer::new().unwrap();
        let recs: Vec<Record> = (0..70_000)
            .map(|i| Record {
                gpu: i % 7,
                job: if i % 3 == 0 { NO_JOB } else { i },
                t_ms: 1_782_864_000_000 + i as i64 * 15_000,
                value: i as f64 * 0.25 - 3.0,
            })
            .collect();
        for r in &recs {
            w.push(r).unwrap();
        }
        let (spill, sha) = w.finish().unwrap();
        assert_eq!(sha.len(), 64);
        let mut back = Vec::new();
        spill.read(&mut |rs| back.extend_from_slice(rs)).unwrap();
        assert_eq!(back, recs);
    }
}
