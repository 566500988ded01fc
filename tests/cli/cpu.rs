//! CPU-only jobs (issue 32): Green Algorithms' estimate by hand from the manifest, sacct `-P`
//! and sacct `--json` (the Slurm 23.02 and 24.11 layouts), ConsumedEnergyRaw as a meter and
//! its "not measured" sentinels, node power shared by cores, and practice-neutral team rows.

use super::{close, findings_of, gl, job, report_json, tmp_with};

const CONFIG: &str = "[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\n[cpu]\nw_per_core = 10.0\nsource = \"hand case\"\n[[site]]\nid = \"hpc\"\nzone = \"FR\"\npue = 1.0\n";

fn f(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// The issue's case: 10 cores at 10 W and 0.5 usage, and 40 GB at 0.3725 W/GB, for 1 h:
/// 50 + 14.9 = 64.9 Wh, on the node boundary, all of it host energy.
#[test]
fn a_manifest_cpu_job_by_hand() {
    let d = tmp_with(&[
        ("greenledger.toml", CONFIG),
        (
            "jobs.csv",
            "job_id,model,team,site,start,end,hardware,devices,cpus,memory_gb,cpu_usage\n\
             prep,tok,data,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,,,10,40,0.5\n\
             gpu,m,data,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,A100,1,,,\n",
        ),
    ]);
    let r = report_json(d.path(), 0);
    let j = job(&r, "prep");
    assert!(close(f(j, "it_energy_kwh"), 0.0649), "{j}");
    assert_eq!(j["energy_source"], "estimated");
    assert_eq!(j["boundary"], "node");
    assert_eq!(j["devices"], 0.0);
    assert_eq!(j["hardware"], "cpu");
    assert!(close(f(j, "host_kwh"), 0.0649));
    assert_eq!(f(j, "accelerator_kwh"), 0.0);
    assert_eq!(f(j, "gpu_hours"), 0.0);
    assert_eq!(j["cpu"]["cores"], 10.0);
    assert_eq!(
        j["energy_detail"],
        "CPU-only job: 1 h x (10 cores x 10 W x 0.5 usage + 40 GB x 0.3725 W)"
    );
    // The GPU job keeps no `cpu` key (report.json extends only where a CPU job is).
    assert!(job(&r, "gpu").get("cpu").is_none());
    // The factors it used are listed with their sources.
    let names: Vec<&str> = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"CPU power per core") && names.contains(&"memory power"));
    // Its team: the CPU job is in the amounts, and apart as its own row.
    let t = &r["teams"][0];
    assert_eq!(t["jobs"], 2);
    assert_eq!(t["cpu_only"]["jobs"], 1);
    assert!(close(f(&t["cpu_only"], "it_energy_kwh"), 0.0649));
    assert!(close(f(t, "it_energy_kwh"), 0.0649 + 0.4), "{t}");
}

/// Practice-neutral: a team's scores with its CPU-only job equal its scores without it.
#[test]
fn cpu_jobs_leave_practice_scores_alone() {
    let gpu = "gpu,m,data,hpc,2026-07-01T00:00:00Z,2026-07-01T05:00:00Z,A100,4,,\n";
    let header = "job_id,model,team,site,start,end,hardware,devices,cpus,memory_gb\n";
    let with = tmp_with(&[
        ("greenledger.toml", CONFIG),
        (
            "jobs.csv",
            &format!("{header}{gpu}prep,tok,data,hpc,2026-07-01T00:00:00Z,2026-07-02T00:00:00Z,,,64,256\n"),
        ),
    ]);
    let without = tmp_with(&[
        ("greenledger.toml", CONFIG),
        ("jobs.csv", &format!("{header}{gpu}")),
    ]);
    let (a, b) = (report_json(with.path(), 0), report_json(without.path(), 0));
    assert_eq!(a["teams"][0]["scores"], b["teams"][0]["scores"]);
    assert_eq!(a["organization_scores"], b["organization_scores"]);
    assert!(b["teams"][0].get("cpu_only").is_none());
    // The CSV and the HTML show the row apart.
    let out = with.path().join("out2");
    gl().args(["report", "--quiet", "--format", "json,html,csv", "--config"])
        .arg(with.path().join("greenledger.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let csv = std::fs::read_to_string(out.join("csv/teams.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let at = |k: &str| row[header.iter().position(|h| *h == k).unwrap()];
    assert_eq!(at("cpu_only_jobs"), "1");
    // 24 h x (64 x 10 W x 1.0 usage (the default) + 256 GB x 0.3725 W) = 17.64864 kWh.
    assert!(close(
        at("cpu_only_it_energy_kwh").parse().unwrap(),
        17.64864
    ));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("↳ of which CPU-only jobs"));
    assert!(html.contains("are practice-neutral"));
    assert!(
        html.contains("CPU-only jobs</b> (1; no accelerator)"),
        "methodology"
    );
    // explain walks its trail: cores, the estimate and both factors.
    let o = gl().arg("explain").arg(&out).arg("prep").output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("64 cores (cpu, CPU-only)"), "{text}");
    assert!(
        text.contains("factor CPU power per core = 10 W/core (hand case)"),
        "{text}"
    );
    assert!(text.contains("factor memory power = 0.3725 W/GB"), "{text}");
}

/// A CPU model the CPU table knows gives its power per core: EPYC 7763, 280 W / 64 cores =
/// 4.375 W; 64 cores at full use for 2 h with no memory given = 560 Wh.
#[test]
fn a_named_cpu_model_gives_its_power_per_core() {
    let d = tmp_with(&[
        ("greenledger.toml", CONFIG),
        (
            "jobs.csv",
            "job_id,model,team,site,start,end,hardware,devices,cpus\n\
             p,tok,data,hpc,2026-07-01T00:00:00Z,2026-07-01T02:00:00Z,AMD EPYC 7763 64-Core Processor,0,64\n",
        ),
    ]);
    let r = report_json(d.path(), 0);
    let j = job(&r, "p");
    assert!(close(f(j, "it_energy_kwh"), 0.56), "{j}");
    assert_eq!(j["hardware"], "EPYC 7763");
    let factor = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "TDP per core EPYC 7763")
        .unwrap();
    assert!(close(f(factor, "value"), 4.375));
}

/// A manifest row without cpus and without devices is still an error, and a `cpus` of 0 too.
#[test]
fn a_row_without_devices_or_cpus_is_refused() {
    let d = tmp_with(&[
        ("greenledger.toml", CONFIG),
        (
            "jobs.csv",
            "job_id,model,team,site,start,end,hardware,devices,cpus\n\
             a,m,t,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,A100,,\n\
             b,m,t,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,,,0\n\
             c,m,t,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,,,2\n",
        ),
    ]);
    let r = report_json(d.path(), 1);
    assert_eq!(r["totals"]["jobs"], 1);
    let mut lines: Vec<u64> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["severity"] == "error")
        .filter_map(|x| x["line"].as_u64())
        .collect();
    lines.dedup();
    assert_eq!(lines, vec![2, 3], "{}", r["findings"]);
    assert_eq!(findings_of(&r, "jobs.bad-number").len(), 1);
}

const SACCT_CONFIG: &str = "[report]\nperiod = \"2026-Q3\"\n[inputs]\nsacct = [\"sacct.txt\"]\n[sacct]\nsite = \"hpc\"\nhardware = \"A100-SXM4-80GB\"\n[cpu]\nw_per_core = 10.0\n[[site]]\nid = \"hpc\"\nzone = \"FR\"\npue = 1.0\n";

/// sacct -P: 201 is the issue's case (TotalCPU 5 h over 10 cores x 1 h = 0.5; mem=40G) =
/// 64.9 Wh; 202 measured 360 kJ = 0.1 kWh (metered, node); 203 has energy 0 and no TotalCPU:
/// ReqMem 4000Mc x 2 CPUs = 7.8125 GB, usage 1 (the default): 2 h x (2 x 10 + 7.8125 x 0.3725)
/// W = 45.8203125 Wh; 204 is a GPU job with a negative energy. The notes count 201, 203 and
/// 204 as not measured and 203 as without usage.
#[test]
fn sacct_p_cpu_jobs_by_hand() {
    let sacct = "JobID|JobName|Account|Partition|State|Start|End|NodeList|AllocTRES|NCPUS|TotalCPU|ReqMem|NNodes|ConsumedEnergyRaw\n\
201|tokenise|data|cpu|COMPLETED|2026-07-01T00:00:00|2026-07-01T01:00:00|c01|billing=10,cpu=10,mem=40G,node=1|10|05:00:00|40G|1|\n\
201.batch|batch|||COMPLETED|2026-07-01T00:00:00|2026-07-01T01:00:00|c01|cpu=10,mem=40G,node=1|10|05:00:00||1|\n\
202|eval|data|cpu|COMPLETED|2026-07-01T00:00:00|2026-07-01T01:00:00|c02|cpu=4,node=1|4|02:00:00|8G|1|360000\n\
203|dedup|data|cpu|FAILED|2026-07-02T00:00:00|2026-07-02T02:00:00|c03||2|00:00:00|4000Mc|1|0\n\
204|train|nlp|gpu|COMPLETED|2026-07-03T00:00:00|2026-07-03T01:00:00|g01|cpu=8,gres/gpu=1,node=1|8|07:00:00|64G|1|-2\n";
    let d = tmp_with(&[("greenledger.toml", SACCT_CONFIG), ("sacct.txt", sacct)]);
    let r = report_json(d.path(), 0);
    let j = job(&r, "201");
    assert!(close(f(j, "it_energy_kwh"), 0.0649), "{j}");
    assert_eq!(j["cpu"]["usage"], 0.5);
    assert_eq!(j["hardware"], "cpu");
    let j = job(&r, "202");
    assert_eq!(j["energy_source"], "metered");
    assert_eq!(j["boundary"], "node");
    assert!(close(f(j, "it_energy_kwh"), 0.1), "{j}");
    let j = job(&r, "203");
    assert!(close(f(j, "it_energy_kwh"), 0.0458203125), "{j}");
    assert!(close(j["cpu"]["memory_gb"].as_f64().unwrap(), 7.8125));
    // The GPU job is a GPU job: TDP estimate, no cpu key, its energy -2 not taken as a meter.
    let j = job(&r, "204");
    assert_eq!(j["devices"], 1.0);
    assert_eq!(j["energy_source"], "estimated");
    assert!(j.get("cpu").is_none());
    let note = &findings_of(&r, "sacct.energy-not-measured")[0]["message"];
    assert!(note.as_str().unwrap().starts_with("3 job(s)"), "{note}");
    assert!(note.as_str().unwrap().ends_with("201, 203, 204"), "{note}");
    let usage = &findings_of(&r, "sacct.cpu-usage")[0]["message"];
    assert!(usage.as_str().unwrap().ends_with(": 203"), "{usage}");
    assert_eq!(r["teams"].as_array().unwrap().len(), 2);
    assert_eq!(r["teams"][0]["cpu_only"]["jobs"], 3);
}

/// The layout of a Slurm 23.02 `sacct --json` export of one CPU job (10 CPUs, 38,400 MB):
/// job-level TRES and times, steps whose consumed energy is 0 and whose allocated energy is
/// -2 (not measured), CPU time as `{seconds, microseconds}` with microseconds over a million.
const SACCT_23_02: &str = r#"{
  "meta": {"plugin": {"type": "openapi/v0.0.39", "name": "Slurm OpenAPI v0.0.39"}, "Slurm": {"version": {"major": 23, "micro": 6, "minor": 2}, "release": "23.02.6"}},
  "errors": [],
  "warnings": [],
  "jobs": [
    {
      "account": "data",
      "allocation_nodes": 1,
      "array": {"job_id": 0, "limits": {"max": {"running": {"tasks": 0}}}, "task_id": {"set": false, "infinite": false, "number": 0}, "task": ""},
      "cluster": "cluster1",
      "flags": ["CLEAR_SCHEDULING", "STARTED_ON_SUBMIT"],
      "job_id": 4242,
      "name": "tokenise",
      "nodes": "cpu-a2-1",
      "partition": "cpu",
      "required": {"CPUs": 10, "memory": 38400},
      "state": {"current": "COMPLETED", "reason": "None"},
      "time": {
        "elapsed": 3600, "eligible": 1783296000, "end": 1783299600, "start": 1783296000, "submission": 1783295990, "suspended": 0,
        "system": {"seconds": 17, "microseconds": 997649},
        "limit": {"set": true, "infinite": false, "number": 60},
        "total": {"seconds": 17999, "microseconds": 1000000},
        "user": {"seconds": 17982, "microseconds": 2351}
      },
      "tres": {
        "allocated": [
          {"type": "cpu", "name": "", "id": 1, "count": 10},
          {"type": "mem", "name": "", "id": 2, "count": 38400},
          {"type": "energy", "name": "", "id": 3, "count": -2},
          {"type": "node", "name": "", "id": 4, "count": 1},
          {"type": "billing", "name": "", "id": 5, "count": 9}
        ],
        "requested": [{"type": "cpu", "name": "", "id": 1, "count": 10}, {"type": "mem", "name": "", "id": 2, "count": 38400}]
      },
      "steps": [
        {
          "time": {"elapsed": 3600, "end": 1783299600, "start": 1783296000, "total": {"seconds": 17999, "microseconds": 1000000}},
          "state": "COMPLETED",
          "statistics": {"energy": {"consumed": {"set": true, "infinite": false, "number": 0}}},
          "step": {"id": {"job_id": 4242, "step_id": "batch"}, "name": "batch"},
          "tres": {
            "consumed": {"total": [{"type": "energy", "name": "", "id": 3, "count": 0}]},
            "allocated": [{"type": "cpu", "name": "", "id": 1, "count": 10}, {"type": "energy", "name": "", "id": 3, "count": -2}]
          }
        },
        {
          "time": {"elapsed": 3600, "end": 1783299600, "start": 1783296000, "total": {"seconds": 0, "microseconds": 1365}},
          "state": "COMPLETED",
          "step": {"id": {"job_id": 4242, "step_id": "extern"}, "name": "extern"},
          "tres": {"consumed": {"total": [{"type": "energy", "name": "", "id": 3, "count": 0}]}}
        }
      ]
    }
  ]
}"#;

/// The 23.02 layout reads as one CPU job: 10 cores, 38,400 MB = 37.5 GB, TotalCPU 18,000 s
/// over 10 cores x 3,600 s = usage 0.5; 1 h x (10 x 10 W x 0.5 + 37.5 x 0.3725 W) =
/// 63.96875 Wh. Energy 0 and -2 are "not measured", never 0 kWh.
#[test]
fn sacct_json_23_02_cpu_job_reads_as_one_job() {
    let d = tmp_with(&[
        ("greenledger.toml", SACCT_CONFIG),
        ("sacct.txt", SACCT_23_02),
    ]);
    let r = report_json(d.path(), 0);
    assert_eq!(r["totals"]["jobs"], 1);
    let j = job(&r, "4242");
    assert_eq!(j["team"], "data");
    assert_eq!(j["energy_source"], "estimated");
    assert!(close(j["cpu"]["memory_gb"].as_f64().unwrap(), 37.5));
    assert!(close(j["cpu"]["usage"].as_f64().unwrap(), 0.5), "{j}");
    assert!(close(f(j, "it_energy_kwh"), 0.06396875), "{j}");
    assert_eq!(findings_of(&r, "sacct.energy-not-measured").len(), 1);
    assert!(findings_of(&r, "sacct.no-job").is_empty());
}

/// Slurm 24.11 wraps times in `{set, infinite, number}`, and a running job's end is unset:
/// it is not counted (still running); memory per CPU and `required.CPUs` stand in for TRES.
#[test]
fn sacct_json_24_11_running_and_required() {
    let body = r#"{"jobs": [
      {"account": "data", "job_id": 7, "name": "a", "state": {"current": ["COMPLETED"]},
       "time": {"start": {"set": true, "infinite": false, "number": 1783296000}, "end": {"set": true, "infinite": false, "number": 1783303200}, "total": {"seconds": 0, "microseconds": 0}},
       "required": {"CPUs": 4, "memory_per_cpu": {"set": true, "infinite": false, "number": 2048}, "memory_per_node": {"set": false, "infinite": false, "number": 0}},
       "tres": {"allocated": [], "requested": []}, "steps": []},
      {"account": "data", "job_id": 8, "name": "b", "state": {"current": ["RUNNING"]},
       "time": {"start": {"set": true, "infinite": false, "number": 1783296000}, "end": {"set": false, "infinite": false, "number": 0}},
       "required": {"CPUs": 4}, "tres": {"allocated": [{"type": "cpu", "count": 4}, {"type": "energy", "count": {"set": false, "infinite": false, "number": 0}}]}, "steps": []}
    ]}"#;
    let d = tmp_with(&[("greenledger.toml", SACCT_CONFIG), ("sacct.txt", body)]);
    let r = report_json(d.path(), 0);
    assert_eq!(r["totals"]["jobs"], 1);
    // 2 h x (4 x 10 W x 1 (usage not measured) + 8 GB x 0.3725 W) = 85.96 Wh.
    let j = job(&r, "7");
    assert!(close(f(j, "it_energy_kwh"), 0.08596), "{j}");
    let skipped = findings_of(&r, "sacct.skipped-job");
    assert!(skipped
        .iter()
        .any(|x| x["message"].as_str().unwrap().contains("still running: 8")));
}

/// Node power of a CPU node wins over the estimate, shared by cores: 200 W for 1 h on c01,
/// jobs a (10 cores) and b (30 cores) hold it all hour. With `[cpu] node_cores = 80`: a 25
/// Wh, b 75 Wh, idle host 100 Wh; without it the jobs present share it all: a 50, b 150.
#[test]
fn node_power_of_a_cpu_node_is_shared_by_cores() {
    let mut node = String::from("timestamp,c01_power_w\n");
    for m in 0..=60 {
        let (h, mm) = (m / 60, m % 60);
        node.push_str(&format!("2026-07-01T{h:02}:{mm:02}:00Z,200\n"));
    }
    let jobs = "job_id,model,team,site,start,end,hardware,devices,cpus,nodes\n\
                a,tok,data,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,,,10,c01\n\
                b,tok,data,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,,,30,c01\n";
    let config = |extra: &str| {
        format!("[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"node.csv\"]\n{extra}[[site]]\nid = \"hpc\"\nzone = \"FR\"\npue = 1.0\nnodes = [\"c01\"]\n")
    };
    let d = tmp_with(&[
        ("greenledger.toml", &config("[cpu]\nnode_cores = 80\n")),
        ("jobs.csv", jobs),
        ("node.csv", &node),
    ]);
    let r = report_json(d.path(), 0);
    let (a, b) = (job(&r, "a"), job(&r, "b"));
    assert_eq!(a["energy_source"], "sampled");
    assert!(close(f(a, "it_energy_kwh"), 0.025), "{a}");
    assert!(close(f(b, "it_energy_kwh"), 0.075), "{b}");
    assert!(close(f(a, "coverage"), 1.0));
    let row = &r["inventory"]["sites"][0];
    assert!(close(f(row, "idle_host_kwh"), 0.1), "{row}");
    assert!(close(f(row, "it_energy_kwh"), 0.2), "{row}");
    let d = tmp_with(&[
        ("greenledger.toml", &config("")),
        ("jobs.csv", jobs),
        ("node.csv", &node),
    ]);
    let r = report_json(d.path(), 0);
    assert!(close(f(job(&r, "a"), "it_energy_kwh"), 0.05));
    assert!(close(f(job(&r, "b"), "it_energy_kwh"), 0.15));
}

/// A CPU-only job beside an accelerator job on a node with node power: 1000 W for 1 h on g01,
/// its two GPUs at 200 W each, so its host draws 1000 - 400 = 600 Wh. With `[cpu] node_cores =
/// 64` the CPU job c (16 cores) takes 16/64 of it, 150 Wh; the GPU job G (GPU 0 of 2) half,
/// 300 Wh, beside its 200 Wh of GPU; idle: 150 Wh of host and GPU 1's 200 Wh. The jobs and idle
/// make the node's 1000 Wh exactly. Without node_cores, c is estimated (16 cores x 12 W = 192
/// Wh), G keeps its 300 Wh and idle host is 300 Wh: a warning says c's draw is counted twice.
#[test]
fn a_cpu_job_beside_accelerators_takes_its_cores_share_of_the_host() {
    let (mut node, mut gpus) = (
        String::from("timestamp,g01_power_w\n"),
        String::from("timestamp,node,device,power_w\n"),
    );
    for m in 0..=60 {
        let t = format!("2026-07-01T{:02}:{:02}:00Z", m / 60, m % 60);
        node.push_str(&format!("{t},1000\n"));
        for d in 0..2 {
            gpus.push_str(&format!("{t},g01,{d},200\n"));
        }
    }
    let jobs = "job_id,model,team,site,start,end,hardware,devices,gpu_ids,cpus,nodes\n\
                G,llm,ml,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,H100-SXM5-80GB,1,0,,g01\n\
                c,tok,data,hpc,2026-07-01T00:00:00Z,2026-07-01T01:00:00Z,,,,16,g01\n";
    let config = |extra: &str| {
        format!("[report]\nperiod = \"2026-Q3\"\n[inputs]\njobs = [\"jobs.csv\"]\ntelemetry = [\"node.csv\", \"gpus.csv\"]\n{extra}[[site]]\nid = \"hpc\"\nzone = \"FR\"\npue = 1.0\nnodes = [\"g01\"]\n")
    };
    let files = |cfg: &str| {
        tmp_with(&[
            ("greenledger.toml", cfg),
            ("jobs.csv", jobs),
            ("node.csv", &node),
            ("gpus.csv", &gpus),
        ])
    };
    let d = files(&config("[cpu]\nnode_cores = 64\n"));
    let r = report_json(d.path(), 0);
    let (g, c) = (job(&r, "G"), job(&r, "c"));
    assert_eq!(c["energy_source"], "sampled", "{c}");
    assert!(close(f(c, "it_energy_kwh"), 0.15), "{c}");
    assert!(close(f(g, "accelerator_kwh"), 0.2), "{g}");
    assert!(close(f(g, "host_kwh"), 0.3), "{g}");
    let row = &r["inventory"]["sites"][0];
    assert!(close(f(row, "idle_host_kwh"), 0.15), "{row}");
    assert!(close(f(row, "idle_accelerator_kwh"), 0.2), "{row}");
    assert!(close(f(row, "it_energy_kwh"), 1.0), "{row}");

    let d = files(&config(""));
    let r = report_json(d.path(), 0);
    let (g, c) = (job(&r, "G"), job(&r, "c"));
    assert_eq!(c["energy_source"], "estimated", "{c}");
    assert!(close(f(c, "it_energy_kwh"), 0.192), "{c}");
    assert!(close(f(g, "host_kwh"), 0.3), "{g}");
    let row = &r["inventory"]["sites"][0];
    assert!(close(f(row, "idle_host_kwh"), 0.3), "{row}");
    let warned = findings_of(&r, "telemetry.node-power-unsplit");
    assert!(
        warned.iter().any(|w| {
            let m = w["message"].as_str().unwrap();
            m.contains("counted twice") && m.contains("g01")
        }),
        "{warned:?}"
    );
}
