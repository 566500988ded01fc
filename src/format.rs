//! Numbers as people read them, shared by every renderer: grouped digits, the unit that suits
//! a headline quantity's size, chart tick labels, unknown as an em dash.

/// Group digits of a number: 1234567.891 with 2 decimals -> "1,234,567.89".
pub(crate) fn group_digits(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s
        .split_once('.')
        .map(|(a, b)| (a.to_string(), Some(b.to_string())))
        .unwrap_or((s.clone(), None));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    let zero = out.chars().all(|c| c == '0' || c == '.' || c == ',');
    if v < 0.0 && !zero {
        out.insert(0, '-');
    }
    out
}

/// A number as a detail line prints it: up to four decimals, no trailing zeros, no grouping
/// (`0.3725`, `10`, `1.5`).
pub(crate) fn plain(x: f64) -> String {
    let s = format!("{x:.4}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A UTC instant as RFC 3339 (`2026-07-01T00:00:00Z`), as every output writes it.
pub(crate) fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    crate::timeutil::fmt_utc(t)
}

/// A number with grouped digits, or an em dash when it is unknown (never zero).
pub(crate) fn digits_or_dash(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| group_digits(x, decimals))
        .unwrap_or_else(|| "—".into())
}

/// A headline quantity in the unit that suits its size: kgCO2e as t from 1,000 kg, kWh as MWh
/// from 1,000 kWh, litres as m³ from 1,000 L; below that the base unit, so that a small
/// report does not print 0.00 t. `like` picks the unit (a range's bounds take their value's).
pub(crate) fn quantity(v: Option<f64>, kind: &str, like: Option<f64>) -> String {
    let Some(v) = v.filter(|x| x.is_finite()) else {
        return "—".into();
    };
    let (small, big, d) = match kind {
        "energy" => ("kWh", "MWh", 2),
        "water" => ("L", "m³", 1),
        _ => ("kg", "t", 2),
    };
    if like.unwrap_or(v).abs() >= 1000.0 {
        format!("{} {big}", group_digits(v / 1000.0, d))
    } else {
        format!("{} {small}", group_digits(v, d))
    }
}

/// A tick label: grouped digits, decimals only when the ticks need them.
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step == 0.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    group_digits(v, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(1234567.891, 2), "1,234,567.89");
        assert_eq!(group_digits(999.0, 0), "999");
        assert_eq!(group_digits(-1000.5, 1), "-1,000.5");
        assert_eq!(group_digits(-0.0001, 2), "0.00");
        assert_eq!(group_digits(0.0, 3), "0.000");
    }

    #[test]
    fn quantities_take_the_unit_of_their_size() {
        assert_eq!(quantity(Some(6985.7), "mass", None), "6.99 t");
        assert_eq!(quantity(Some(3.78373), "mass", None), "3.78 kg");
        assert_eq!(quantity(Some(900.0), "mass", Some(1200.0)), "0.90 t");
        assert_eq!(quantity(Some(42.04), "energy", None), "42.04 kWh");
        assert_eq!(quantity(Some(102104.0), "energy", None), "102.10 MWh");
        assert_eq!(quantity(Some(9.0), "water", None), "9.0 L");
        assert_eq!(quantity(Some(16500.0), "water", None), "16.5 m³");
        assert_eq!(quantity(None, "mass", None), "—");
    }
}
