//! `sacct --json` (Slurm 21.08 and later), as the allocation rows and step energies of the
//! `-P` reader. Tolerant of the format's generations: times as epoch seconds or
//! `{set, infinite, number}` wrappers, `state.current` as a string or a list, step ids as
//! strings or `{job_id, step_id}`, array tasks as `array.job_id` + `array.task_id`. Energy is
//! the `energy` TRES consumed by the job, else by its steps (the extern step only when nothing
//! else measured).

use super::Acc;
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// A number, or the number in a `{set, infinite, number}` wrapper (unset or infinite: none).
fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Object(o) => {
            let set = o.get("set").and_then(Value::as_bool).unwrap_or(true);
            let infinite = o.get("infinite").and_then(Value::as_bool).unwrap_or(false);
            (set && !infinite)
                .then(|| o.get("number").and_then(num))
                .flatten()
        }
        _ => None,
    }
}

/// A string, or the first of a list of strings.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(text),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `count` of the TRES entries of `type` (and `name`, when given) in a list.
fn tres(list: Option<&Value>, kind: &str, name: Option<&str>) -> Option<f64> {
    let items = list?.as_array()?;
    let mut total = None;
    for t in items {
        let matches = t.get("type").and_then(Value::as_str) == Some(kind)
            && name.is_none_or(|n| t.get("name").and_then(Value::as_str) == Some(n));
        if matches {
            if let Some(c) = t.get("count").and_then(num) {
                total = Some(total.unwrap_or(0.0) + c);
            }
        }
    }
    total
}

/// An epoch time as RFC 3339.
fn epoch(v: Option<&Value>) -> Option<String> {
    let s = num(v?)? as i64;
    (s > 0).then(|| {
        crate::timeutil::fmt_utc(chrono::DateTime::from_timestamp(s, 0).unwrap_or_default())
    })
}

/// The job's id: `123`, or `100_3` for task 3 of array 100.
fn job_id(j: &Value) -> Option<String> {
    let array = j.get("array");
    let task = array.and_then(|a| a.get("task_id")).and_then(num);
    let array_job = array
        .and_then(|a| a.get("job_id"))
        .and_then(num)
        .filter(|v| *v > 0.0);
    match (array_job, task) {
        (Some(a), Some(t)) => Some(format!("{}_{}", a as i64, t as i64)),
        _ => j
            .get("job_id")
            .and_then(num)
            .map(|v| (v as i64).to_string()),
    }
}

/// The name of a step: `batch`, `extern`, `0`...
fn step_name(s: &Value) -> String {
    let step = s.get("step");
    if let Some(n) = step.and_then(|x| x.get("name")).and_then(Value::as_str) {
        return n.to_string();
    }
    match step.and_then(|x| x.get("id")) {
        Some(Value::String(id)) => id.rsplit('.').next().unwrap_or("").to_string(),
        Some(Value::Object(o)) => o.get("step_id").and_then(text).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Seconds of a `{seconds, microseconds}` time (microseconds may exceed a second: Slurm
/// sums them per field), or a bare number of seconds.
fn seconds(v: &Value) -> Option<f64> {
    match v {
        Value::Object(o) if o.contains_key("seconds") => {
            let s = o.get("seconds").and_then(num)?;
            Some(s + o.get("microseconds").and_then(num).unwrap_or(0.0) / 1e6)
        }
        other => num(other),
    }
}

/// The job's CPU time (TotalCPU), seconds: its own `time.total`, else its steps' summed.
fn cpu_time(j: &Value) -> Option<String> {
    let own = j
        .get("time")
        .and_then(|t| t.get("total"))
        .and_then(seconds)
        .filter(|s| *s > 0.0);
    let steps = || {
        let list = j.get("steps")?.as_array()?;
        let s: f64 = list
            .iter()
            .filter_map(|s| s.get("time")?.get("total").and_then(seconds))
            .sum();
        (s > 0.0).then_some(s)
    };
    own.or_else(steps).map(|s| s.to_string())
}

/// The allocation as `-P`'s AllocTRES: `cpu=`, `mem=` (MB), `node=`, `gres/gpu=` from the
/// job's allocated TRES, else what it required (`required.CPUs`, memory per node or per CPU).
fn alloc_tres(j: &Value, alloc: Option<&Value>) -> Option<String> {
    let required = j.get("required");
    let cpus = tres(alloc, "cpu", None)
        .or_else(|| required.and_then(|r| r.get("CPUs")).and_then(num))
        .filter(|c| *c > 0.0);
    let per = |k: &str| {
        required
            .and_then(|r| r.get(k))
            .and_then(num)
            .filter(|m| *m > 0.0)
    };
    let nodes = tres(alloc, "node", None);
    let mem = tres(alloc, "mem", None)
        .filter(|m| *m > 0.0)
        .or_else(|| per("memory_per_node").map(|m| m * nodes.unwrap_or(1.0)))
        .or_else(|| Some(per("memory_per_cpu")? * cpus?));
    let mut parts = Vec::new();
    if let Some(c) = cpus {
        parts.push(format!("cpu={c}"));
    }
    if let Some(m) = mem {
        parts.push(format!("mem={m}M"));
    }
    if let Some(n) = nodes {
        parts.push(format!("node={n}"));
    }
    if let Some(g) = tres(alloc, "gres", Some("gpu")) {
        parts.push(format!("gres/gpu={g}"));
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Every job of the export, with its allocation row and step energies, in file order.
pub(super) fn jobs(body: &str, shown: &str) -> Result<Vec<(String, Acc)>> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        Error::in_file(shown, format!("not valid sacct JSON: {e}")).at_line(e.line() as u64)
    })?;
    let list = v.get("jobs").and_then(Value::as_array).ok_or_else(|| {
        Error::in_file(shown, "sacct JSON without a 'jobs' list")
            .hint("give the output of sacct --json")
    })?;
    let mut out = Vec::new();
    for (i, j) in list.iter().enumerate() {
        let Some(id) = job_id(j) else { continue };
        let get = |k: &str| j.get(k).and_then(text);
        let time = j.get("time");
        let mut row = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                row.insert(k.to_string(), v);
            }
        };
        put("jobid", Some(id.clone()));
        put("jobname", get("name"));
        put("account", get("account"));
        put("partition", get("partition"));
        put("cluster", get("cluster"));
        put("nodelist", get("nodes"));
        put(
            "state",
            j.get("state").and_then(|s| s.get("current")).and_then(text),
        );
        put("start", epoch(time.and_then(|t| t.get("start"))));
        put("end", epoch(time.and_then(|t| t.get("end"))));
        let alloc = j.get("tres").and_then(|t| t.get("allocated"));
        put("alloctres", alloc_tres(j, alloc));
        put("totalcpu", cpu_time(j));
        let mut acc = Acc {
            line: i as u64 + 1,
            alloc_energy_j: tres(
                j.get("tres").and_then(|t| t.get("consumed")),
                "energy",
                None,
            )
            .filter(|e| *e > 0.0),
            ..Default::default()
        };
        for s in j
            .get("steps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            acc.steps += 1;
            let consumed = s
                .get("tres")
                .and_then(|t| t.get("consumed"))
                .and_then(|c| c.get("total").or(Some(c)));
            let e = tres(consumed, "energy", None).unwrap_or(0.0).max(0.0);
            if step_name(s) == "extern" {
                acc.extern_energy_j += e;
            } else {
                acc.step_energy_j += e;
            }
        }
        acc.alloc = Some(row);
        out.push((id, acc));
    }
    Ok(out)
}
