//! Azure carbon optimisation: the response of an `ItemDetailsReport` by `Location` (the Carbon
//! Service REST API, `POST /providers/Microsoft.Carbon/carbonEmissionReports`), kgCO2e per
//! region for one month. The response does not say which month or which scopes it sums: those
//! are in the request, which may be kept in the same file (its `dateRange` and
//! `carbonScopeList` beside the response's `value`), else the month is read from the file's name.

use super::{number, text, Rejected};
use crate::findings::{codes, Finding};
use crate::ledger::ProviderRow;
use serde_json::Value;
use std::collections::BTreeSet;

/// Whether a parsed JSON document is an Azure report response (an object with a `value` list).
pub(super) fn is_response(v: &Value) -> bool {
    v.get("value").is_some_and(Value::is_array)
}

/// The rows read, the rows set aside, and findings on the file as a whole.
type Read = (Vec<ProviderRow>, Vec<Rejected>, Vec<Finding>);

/// The rows of one response, the rows set aside, and findings on the file as a whole (scopes
/// assumed, subscriptions denied, pages left out). `Err` when the file cannot be used at all.
pub(super) fn rows(v: &Value, body: &str, shown: &str) -> Result<Read, String> {
    let month = month_of(v, shown)?;
    let mut notes = Vec::new();
    check_scopes(v, shown, &mut notes)?;
    incomplete(v, shown, &mut notes);
    let items = v["value"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let kinds: BTreeSet<&str> = items
        .iter()
        .filter_map(|i| i.get("categoryType").and_then(Value::as_str))
        .collect();
    if !items.is_empty() && !kinds.contains("Location") {
        return Err(format!(
            "an Azure carbon optimisation report by {}, not by Location: greenledger matches regions, so export an ItemDetailsReport with categoryType \"Location\"",
            kinds.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let account = account_of(v);
    let lines = element_lines(body);
    let (mut out, mut rejected) = (Vec::new(), Vec::new());
    for (i, item) in items.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(1);
        match row(item, &month, &account, shown, line) {
            Ok(r) => out.push(r),
            Err(why) => rejected.push((line, why)),
        }
    }
    Ok((out, rejected, notes))
}

/// One item: its region (the display name `east us` read as the zone name `eastus`) and its
/// emissions, read as market-based (see the guide's Inputs page on Azure).
fn row(
    item: &Value,
    month: &str,
    account: &Option<String>,
    shown: &str,
    line: u64,
) -> Result<ProviderRow, String> {
    if let Some(t) = item.get("dataType").and_then(Value::as_str) {
        if t != "ItemDetailsData" {
            return Err(format!("dataType is '{t}', not ItemDetailsData"));
        }
    }
    if let Some(c) = item.get("categoryType").and_then(Value::as_str) {
        if c != "Location" {
            return Err(format!("categoryType is '{c}', not Location"));
        }
    }
    let region: String = text(item.get("itemName").unwrap_or(&Value::Null))
        .ok_or("no itemName (the region)")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let kg = number(item.get("latestMonthEmissions").unwrap_or(&Value::Null))
        .ok_or("no latestMonthEmissions (or not a number)")?;
    if kg < 0.0 {
        return Err("a negative emissions figure".into());
    }
    Ok(ProviderRow {
        provider: "azure".into(),
        month: month.to_string(),
        region,
        account: account.clone(),
        project: None,
        service: None,
        location_kgco2e: None,
        market_kgco2e: Some(kg),
        model_version: None,
        file: shown.to_string(),
        line,
    })
}

/// The month the response covers: the request's `dateRange` when the file keeps it (one month:
/// a report over several sums them, which cannot be split back), else the one `YYYY-MM` in the
/// file's name.
fn month_of(v: &Value, shown: &str) -> Result<String, String> {
    if let Some(range) = v.get("dateRange") {
        let end = |k: &str| {
            let raw = text(range.get(k).unwrap_or(&Value::Null))
                .ok_or_else(|| format!("the request's dateRange has no {k}"))?;
            super::month(&raw)
                .ok_or_else(|| format!("the request's dateRange {k} '{raw}' is not a date"))
        };
        let (a, b) = (end("start")?, end("end")?);
        if a != b {
            return Err(format!(
                "the request's dateRange runs from {a} to {b}: an item details report sums its range, which cannot be split by month; export one month per file"
            ));
        }
        return Ok(a);
    }
    let name = shown.rsplit(['/', '\\']).next().unwrap_or(shown);
    let months: BTreeSet<String> = name
        .char_indices()
        .filter_map(|(i, _)| name.get(i..i + 7))
        .filter(|s| {
            let b = s.as_bytes();
            b[4] == b'-'
                && s[..4]
                    .bytes()
                    .chain(s[5..].bytes())
                    .all(|c| c.is_ascii_digit())
        })
        .filter(|s| super::month(&format!("{s}-01")).is_some())
        .map(String::from)
        .collect();
    match months.len() {
        1 => Ok(months.into_iter().next().unwrap_or_default()),
        0 => Err("an Azure item details response does not say which month it covers: keep the request's dateRange in the file, or put the month in the file's name (azure-2026-07.json)".into()),
        _ => Err(format!(
            "the file's name holds several months ({}); name the one month its Azure response covers",
            months.into_iter().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The request's `carbonScopeList` must be Scope 2 alone (greenledger's figure is the
/// electricity's); without it the response is read as Scope 2, and a note says so.
fn check_scopes(v: &Value, shown: &str, notes: &mut Vec<Finding>) -> Result<(), String> {
    let Some(list) = v.get("carbonScopeList") else {
        notes.push(
            Finding::info(
                codes::CLOUD_AZURE_SCOPES,
                "the Azure response does not keep its request's carbonScopeList: its figures are read as Scope 2 alone; keep the request in the file to have this checked",
            )
            .at(shown, Some(1)),
        );
        return Ok(());
    };
    let scopes: Vec<&str> = list
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if scopes != ["Scope2"] {
        return Err(format!(
            "the request's carbonScopeList is [{}]: its figures add other scopes to the electricity's; export with carbonScopeList [\"Scope2\"]",
            scopes.join(", ")
        ));
    }
    Ok(())
}

/// A warning when the response misses part of the footprint: subscriptions denied, or more
/// pages (`skipToken`) not in this file.
fn incomplete(v: &Value, shown: &str, notes: &mut Vec<Finding>) {
    let denied: Vec<String> = decisions(v)
        .filter(|d| d.get("decision").and_then(Value::as_str) != Some("Allowed"))
        .filter_map(|d| text(d.get("subscriptionId").unwrap_or(&Value::Null)))
        .collect();
    if !denied.is_empty() {
        notes.push(
            Finding::warning(
                codes::CLOUD_AZURE_INCOMPLETE,
                format!(
                    "Azure denied subscription(s) {}: their emissions are not in this export (the Carbon Optimization Reader role is needed)",
                    denied.join(", ")
                ),
            )
            .at(shown, Some(1)),
        );
    }
    if v.get("skipToken")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        notes.push(
            Finding::warning(
                codes::CLOUD_AZURE_INCOMPLETE,
                "the Azure response has a skipToken: more pages follow; give each page as its own file",
            )
            .at(shown, Some(1)),
        );
    }
}

fn decisions(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("subscriptionAccessDecisionList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The subscription the rows belong to, when the export covers exactly one (allowed in the
/// response, or listed in the kept request).
fn account_of(v: &Value) -> Option<String> {
    let mut subs: BTreeSet<String> = decisions(v)
        .filter(|d| d.get("decision").and_then(Value::as_str) == Some("Allowed"))
        .filter_map(|d| text(d.get("subscriptionId").unwrap_or(&Value::Null)))
        .collect();
    if subs.is_empty() {
        subs = v
            .get("subscriptionList")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect();
    }
    (subs.len() == 1).then(|| subs.into_iter().next().unwrap_or_default())
}

/// The line each element of the top-level `value` list starts on, so a row set aside is named
/// by its line however the response is laid out.
fn element_lines(body: &str) -> Vec<u64> {
    let (mut depth, mut line) = (0u32, 1u64);
    let (mut in_str, mut escaped, mut in_value) = (false, false, false);
    let (mut key, mut last_str) = (String::new(), String::new());
    let mut out = Vec::new();
    for c in body.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                (false, c) => last_str.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                last_str.clear();
            }
            ':' if depth == 1 => key = std::mem::take(&mut last_str),
            '{' | '[' => {
                if c == '[' && depth == 1 && key == "value" {
                    in_value = true;
                } else if c == '{' && depth == 2 && in_value {
                    out.push(line);
                }
                depth += 1;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_value = false;
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = r#"{
  "subscriptionAccessDecisionList": [
    { "subscriptionId": "sub-1", "decision": "Allowed" }
  ],
  "value": [
    {
      "dataType": "ItemDetailsData",
      "itemName": "east us",
      "categoryType": "Location",
      "latestMonthEmissions": 120.5,
      "previousMonthEmissions": 100
    },
    { "dataType": "ItemDetailsData", "itemName": "west us 2", "categoryType": "Location", "latestMonthEmissions": "lots" }
  ]
}"#;

    #[test]
    fn a_response_named_by_its_month_gives_market_based_rows_with_their_lines() {
        let v: Value = serde_json::from_str(RESPONSE).unwrap();
        let (rows, rejected, notes) = rows(&v, RESPONSE, "exports/azure-2026-07.json").unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.month.as_str(), r.region.as_str()), ("2026-07", "eastus"));
        assert_eq!((r.location_kgco2e, r.market_kgco2e), (None, Some(120.5)));
        assert_eq!(r.account.as_deref(), Some("sub-1"));
        assert_eq!(r.line, 6);
        assert_eq!(
            rejected,
            vec![(13, "no latestMonthEmissions (or not a number)".into())]
        );
        // Without the request, the scopes are assumed, and a note says so.
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].code, codes::CLOUD_AZURE_SCOPES);
    }

    #[test]
    fn the_kept_request_gives_the_month_and_its_scopes_are_checked() {
        let with = |range: &str, scopes: &str| -> Value {
            let mut v: Value = serde_json::from_str(RESPONSE).unwrap();
            v["dateRange"] = serde_json::from_str(range).unwrap();
            v["carbonScopeList"] = serde_json::from_str(scopes).unwrap();
            v
        };
        let one = with(
            r#"{"start":"2026-08-01","end":"2026-08-01"}"#,
            r#"["Scope2"]"#,
        );
        let (rows, _, notes) = rows(&one, "", "azure-2026-07.json").unwrap();
        assert_eq!(rows[0].month, "2026-08", "the request wins over the name");
        assert!(notes.is_empty());
        let span = with(
            r#"{"start":"2026-07-01","end":"2026-09-01"}"#,
            r#"["Scope2"]"#,
        );
        assert!(rows_err(&span).contains("one month per file"));
        let all = with(
            r#"{"start":"2026-08-01","end":"2026-08-01"}"#,
            r#"["Scope1","Scope2","Scope3"]"#,
        );
        assert!(rows_err(&all).contains("[Scope1, Scope2, Scope3]"));
        let bad = with(
            r#"{"start":"2026-02-30","end":"2026-02-30"}"#,
            r#"["Scope2"]"#,
        );
        assert!(rows_err(&bad).contains("not a date"));
    }

    fn rows_err(v: &Value) -> String {
        rows(v, "", "x.json").err().unwrap_or_default()
    }

    #[test]
    fn without_a_month_or_by_another_category_the_file_is_refused() {
        let v: Value = serde_json::from_str(RESPONSE).unwrap();
        assert!(rows(&v, "", "azure.json")
            .unwrap_err()
            .contains("which month"));
        assert!(rows(&v, "", "azure-2026-13.json")
            .unwrap_err()
            .contains("which month"));
        assert!(rows(&v, "", "2026-07-to-2026-08.json")
            .unwrap_err()
            .contains("several months"));
        let by_sub: Value = serde_json::from_str(
            r#"{"value":[{"dataType":"ItemDetailsData","itemName":"sub-1","categoryType":"Subscription","latestMonthEmissions":1}]}"#,
        )
        .unwrap();
        assert!(rows(&by_sub, "", "a-2026-07.json")
            .unwrap_err()
            .contains("not by Location"));
    }

    #[test]
    fn denied_subscriptions_and_more_pages_are_warned_of() {
        let v: Value = serde_json::from_str(
            r#"{"subscriptionAccessDecisionList":[{"subscriptionId":"a","decision":"Allowed"},{"subscriptionId":"b","decision":"Denied","denialReason":"role"}],"skipToken":"abc","dateRange":{"start":"2026-07-01","end":"2026-07-01"},"carbonScopeList":["Scope2"],"value":[]}"#,
        )
        .unwrap();
        let (rows, _, notes) = rows(&v, "", "x.json").unwrap();
        assert!(rows.is_empty());
        assert_eq!(notes.len(), 2);
        assert!(notes[0].message.contains("subscription(s) b"));
        assert!(notes[1].message.contains("skipToken"));
    }
}
