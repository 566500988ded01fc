//! Timestamps, time zones and reporting periods.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The zone naive timestamps of an input are read in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum InputZone {
    #[default]
    Utc,
    Fixed(chrono::FixedOffset),
    Named(Tz),
}

impl InputZone {
    /// Parse `UTC`, a fixed offset such as `+02:00`, or an IANA name such as `Europe/Paris`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(InputZone::Utc);
        }
        if let Some(off) = parse_offset(t) {
            return Ok(InputZone::Fixed(off));
        }
        t.parse::<Tz>().map(InputZone::Named).map_err(|_| {
            format!("unknown time zone '{s}': use UTC, an offset like +02:00 or an IANA name like Europe/Paris")
        })
    }

    /// Read a wall-clock time in this zone. Ambiguous times (DST fall-back) take the earlier
    /// instant; times that do not exist (DST spring-forward) are an error.
    pub fn to_utc(self, naive: NaiveDateTime) -> Result<DateTime<Utc>, String> {
        let r = match self {
            InputZone::Utc => return Ok(Utc.from_utc_datetime(&naive)),
            InputZone::Fixed(o) => o
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc)),
            InputZone::Named(z) => z
                .from_local_datetime(&naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc)),
        };
        r.ok_or_else(|| format!("{naive} does not exist in this time zone (daylight-saving gap)"))
    }
}

fn parse_offset(t: &str) -> Option<chrono::FixedOffset> {
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = rest
        .split_once(':')
        .unwrap_or((rest.get(..2)?, rest.get(2..).unwrap_or("0")));
    let h: i32 = h.parse().ok()?;
    let m: i32 = if m.is_empty() { 0 } else { m.parse().ok()? };
    if h > 23 || m > 59 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// A parsed timestamp, and whether it carried no zone of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stamp {
    pub utc: DateTime<Utc>,
    pub naive: bool,
}

/// Parse RFC 3339 (with `T` or a space), or a naive date-time / date read in `zone`.
pub(crate) fn parse_timestamp(s: &str, zone: &InputZone) -> Result<Stamp, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty timestamp".into());
    }
    // Accept a space between date and time, and a lower-case z.
    let norm: String = if t.len() > 10 && t.as_bytes()[10] == b' ' {
        format!("{}T{}", &t[..10], &t[11..])
    } else {
        t.to_string()
    };
    let norm = norm.replace(" +", "+").replace(" -", "-");
    if let Ok(d) = DateTime::parse_from_rfc3339(&norm) {
        return Ok(Stamp {
            utc: d.with_timezone(&Utc),
            naive: false,
        });
    }
    // Offsets without a colon (+0200) and UTC spelled out.
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(d) = DateTime::parse_from_str(&norm, f) {
            return Ok(Stamp {
                utc: d.with_timezone(&Utc),
                naive: false,
            });
        }
    }
    if let Some(stripped) = norm
        .strip_suffix(" UTC")
        .or_else(|| norm.strip_suffix("UTC"))
    {
        if let Some(n) = parse_naive(stripped.trim_end()) {
            return Ok(Stamp {
                utc: Utc.from_utc_datetime(&n),
                naive: false,
            });
        }
    }
    match parse_naive(&norm) {
        Some(n) => Ok(Stamp {
            utc: zone.to_utc(n)?,
            naive: true,
        }),
        None => Err(format!("cannot read '{t}' as a timestamp")),
    }
}

fn parse_naive(t: &str) -> Option<NaiveDateTime> {
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%dT%H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Some(n);
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN))
}

/// Format an instant as RFC 3339 UTC with second precision (milliseconds when present).
pub(crate) fn fmt_utc(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_millis() == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// Format epoch milliseconds as [`fmt_utc`] does (out-of-range values as the number).
pub(crate) fn fmt_utc_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(fmt_utc)
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// Seconds between two instants, with millisecond precision.
pub(crate) fn seconds(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// The reporting period: a half-open interval `[start, end)` with a label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    pub label: String,
    #[serde(serialize_with = "ser_utc")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "ser_utc")]
    pub end: DateTime<Utc>,
}

fn ser_utc<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_utc(*t))
}

impl Period {
    /// Parse `2026-Q3`, `2026-07` (a month), `2026` (a year) or `START..END`. In `START..END`,
    /// dates are whole days with END included (`2026-07-01..2026-09-30` is the third quarter);
    /// timestamps are exact and END is excluded. Periods are in UTC.
    pub fn parse(s: &str) -> Result<Period, String> {
        let t = s.trim();
        let bad = || {
            format!("cannot read period '{s}': use a quarter like 2026-Q3, a month like 2026-07, a year like 2026, or START..END")
        };
        if let Some((a, b)) = t.split_once("..") {
            let start = period_bound(a.trim(), false).ok_or_else(bad)?;
            let end = period_bound(b.trim(), true).ok_or_else(bad)?;
            if end <= start {
                return Err(format!("period '{s}' ends before it starts"));
            }
            return Ok(Period {
                label: t.to_string(),
                start,
                end,
            });
        }
        if let Some((y, q)) = t.split_once("-Q").or_else(|| t.split_once("-q")) {
            let y: i32 = y.parse().map_err(|_| bad())?;
            let q: u32 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            let start = ymd(y, 3 * (q - 1) + 1).ok_or_else(bad)?;
            let end = if q == 4 {
                ymd(y + 1, 1)
            } else {
                ymd(y, 3 * q + 1)
            }
            .ok_or_else(bad)?;
            return Ok(Period {
                label: format!("{y}-Q{q}"),
                start,
                end,
            });
        }
        if t.len() == 7 && t.as_bytes()[4] == b'-' {
            let y: i32 = t[..4].parse().map_err(|_| bad())?;
            let m: u32 = t[5..].parse().map_err(|_| bad())?;
            let start = ymd(y, m).ok_or_else(bad)?;
            let end = month_after(y, m).ok_or_else(bad)?;
            return Ok(Period {
                label: t.to_string(),
                start,
                end,
            });
        }
        if t.len() == 4 {
            let y: i32 = t.parse().map_err(|_| bad())?;
            return Ok(Period {
                label: t.to_string(),
                start: ymd(y, 1).ok_or_else(bad)?,
                end: ymd(y + 1, 1).ok_or_else(bad)?,
            });
        }
        Err(bad())
    }

    /// The span of the data: from the earliest start to the latest end.
    pub fn spanning(start: DateTime<Utc>, end: DateTime<Utc>) -> Period {
        Period {
            label: format!("{}..{}", fmt_utc(start), fmt_utc(end)),
            start,
            end,
        }
    }

    /// Seconds of `[a, b)` that fall inside the period.
    pub fn overlap_s(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
        overlap_s(self.start, self.end, a, b)
    }

    /// The calendar year most of the period lies in (its midpoint's year).
    pub fn year(&self) -> i32 {
        (self.start + (self.end - self.start) / 2).year()
    }
}

/// Seconds of overlap between `[a0, a1)` and `[b0, b1)`.
pub(crate) fn overlap_s(
    a0: DateTime<Utc>,
    a1: DateTime<Utc>,
    b0: DateTime<Utc>,
    b1: DateTime<Utc>,
) -> f64 {
    let s = a0.max(b0);
    let e = a1.min(b1);
    if e > s {
        seconds(s, e)
    } else {
        0.0
    }
}

/// The first instant of the month after year `y`, month `m`.
fn month_after(y: i32, m: u32) -> Option<DateTime<Utc>> {
    if m == 12 {
        ymd(y + 1, 1)
    } else {
        ymd(y, m + 1)
    }
}

/// The first instant of the calendar month (UTC) after the one `t` falls in.
pub(crate) fn next_month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Datelike;
    month_after(t.year(), t.month()).unwrap_or(t + Duration::days(31))
}

fn ymd(y: i32, m: u32) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(y, m, 1).map(|d| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)))
}

fn period_bound(s: &str, is_end: bool) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if is_end { d + Duration::days(1) } else { d };
        return Some(Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)));
    }
    parse_timestamp(s, &InputZone::Utc).ok().map(|st| st.utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn quarters_months_years_and_ranges() {
        let q = Period::parse("2026-Q3").unwrap();
        assert_eq!(q.start, utc("2026-07-01T00:00:00Z"));
        assert_eq!(q.end, utc("2026-10-01T00:00:00Z"));
        let q4 = Period::parse("2025-Q4").unwrap();
        assert_eq!(q4.end, utc("2026-01-01T00:00:00Z"));
        let m = Period::parse("2026-02").unwrap();
        assert_eq!(m.end, utc("2026-03-01T00:00:00Z"));
        let r = Period::parse("2026-07-01..2026-09-30").unwrap();
        assert_eq!((r.start, r.end), (q.start, q.end));
        let exact = Period::parse("2026-07-01T06:00:00Z..2026-07-02T06:00:00Z").unwrap();
        assert_eq!(seconds(exact.start, exact.end), 86400.0);
        assert!(Period::parse("2026-Q5").is_err());
        assert!(Period::parse("2026-09-01..2026-07-01").is_err());
        assert!(Period::parse("last quarter").is_err());
    }

    #[test]
    fn timestamps_in_every_accepted_form() {
        let z = InputZone::Utc;
        let want = utc("2026-07-01T10:00:00Z");
        for s in [
            "2026-07-01T10:00:00Z",
            "2026-07-01 10:00:00Z",
            "2026-07-01T12:00:00+02:00",
            "2026-07-01 12:00:00 +02:00",
            "2026-07-01T12:00:00+0200",
            "2026-07-01 10:00:00 UTC",
        ] {
            let st = parse_timestamp(s, &z).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(st.utc, want, "{s}");
            assert!(!st.naive, "{s}");
        }
        let n = parse_timestamp("2026-07-01T10:00:00", &z).unwrap();
        assert!(n.naive);
        assert_eq!(n.utc, want);
        let paris = InputZone::parse("Europe/Paris").unwrap();
        assert_eq!(
            parse_timestamp("2026-07-01 12:00:00", &paris).unwrap().utc,
            want
        );
        let plus2 = InputZone::parse("+02:00").unwrap();
        assert_eq!(
            parse_timestamp("2026-07-01T12:00", &plus2).unwrap().utc,
            want
        );
        assert!(parse_timestamp("01/07/2026", &z).is_err());
        assert!(InputZone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn overlap_is_clipped() {
        let p = Period::parse("2026-Q3").unwrap();
        assert_eq!(
            p.overlap_s(utc("2026-06-30T23:00:00Z"), utc("2026-07-01T01:00:00Z")),
            3600.0
        );
        assert_eq!(
            p.overlap_s(utc("2026-10-01T00:00:00Z"), utc("2026-10-01T01:00:00Z")),
            0.0
        );
    }
}
