//! The complete inventory (issue 12): job boundaries, idle energy, site meters and the
//! reconciliation, every figure worked out by hand.

use super::{close, report_json, tmp_with};

fn job<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == id)
        .unwrap_or_else(|| panic!("{id}"))
}

fn f(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// H100-SXM5-80GB: 700 W TDP (embedded), host 200 W per device (configured).
/// j1 estimated, 8 devices x 10 h: accelerators 8 x 10 x 700 W = 56 kWh, host 8 x 10 x 200 W =
///    16 kWh; IT 72 kWh, boundary node; facility x 1.5 = 108 kWh; 100 g/kWh -> 10.8 kg.
/// j2 energy_kwh 50 declared `accelerator`: host 16 kWh is added -> IT 66 kWh, boundary node.
/// j3 energy_kwh 40 (default boundary node): split unknown -> accelerator and host null.
/// j4 CodeCarbon-like split is tested with the CodeCarbon reader below.
/// j5 on hardware without host power (A100): host outside the boundary, with a finding.
#[test]
fn boundaries_and_host_power_per_device() {
    let d = tmp_with(&[
        (
            "greenledger.toml",
            r#"
[report]
period = "2026-07"
[inputs]
jobs = ["jobs.csv"]
[[site]]
id = "a"
grid_intensity_g_per_kwh = 100
pue = 1.5
[[hardware]]
name = "H100-SXM5-80GB"
host_w_per_device = 200
"#,
        ),
        (
            "jobs.csv",
            "job_id,model,team,site,start,end,hardware,devices,energy_kwh,boundary\n\
             j1,m,t,a,2026-07-01T00:00:00Z,2026-07-01T10:00:00Z,H100,8,,\n\
             j2,m,t,a,2026-07-02T00:00:00Z,2026-07-02T10:00:00Z,H100,8,50,accelerator\n\
             j3,m,t,a,2026-07-03T00:00:00Z,2026-07-03T10:00:00Z,H100,8,40,\n\
             j5,m,t,a,2026-07-04T00:00:00Z,2026-07-04T10:00:00Z,A100-SXM4-40GB,1,,\n",
        ),
    ]);
    let r = report_json(d.path(), 0);
    let j1 = job(&r, "j1");
    assert_eq!(j1["boundary"], "node");
    assert!(close(f(j1, "accelerator_kwh"), 56.0));
    assert!(close(f(j1, "host_kwh"), 16.0));
    assert!(close(f(j1, "it_energy_kwh"), 72.0));
    assert!(close(f(j1, "facility_energy_kwh"), 108.0));
    assert!(close(f(j1, "location_kgco2e"), 10.8));
    // The mean power per device stays the accelerators' (the host is not measured power).
    assert!(j1["mean_power_w"].is_null());
    let j2 = job(&r, "j2");
    assert_eq!(j2["boundary"], "node");
    assert!(close(f(j2, "accelerator_kwh"), 50.0));
    assert!(close(f(j2, "host_kwh"), 16.0));
    assert!(close(f(j2, "it_energy_kwh"), 66.0));
    assert!(close(f(j2, "mean_power_w"), 50.0 * 1000.0 / 80.0));
    let j3 = job(&r, "j3");
    assert_eq!(j3["boundary"], "node");
    assert!(j3["accelerator_kwh"].is_null() && j3["host_kwh"].is_null());
    assert!(close(f(j3, "it_energy_kwh"), 40.0));
    let j5 = job(&r, "j5");
    assert_eq!(j5["boundary"], "accelerator");
    assert!(j5["host_kwh"].is_null());
    // A100-SXM4-40GB: 400 W x 10 h = 4 kWh.
    assert!(close(f(j5, "accelerator_kwh"), 4.0));
    let outside: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == "boundary.host-outside")
        .collect();
    assert_eq!(outside.len(), 1, "one finding per site");
    assert!(outside[0]["message"]
        .as_str()
        .unwrap()
        .contains("site 'a': 1 job(s) (4.000 kWh)"));
    let host_factor = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "host power H100-SXM5-80GB")
        .expect("the assumption is listed as a factor");
    assert_eq!(host_factor["value"], 200.0);
    assert!(host_factor["source"]
        .as_str()
        .unwrap()
        .contains("assumption"));
}

/// CodeCarbon measures CPU, GPU and RAM: boundary `system`, split by gpu_energy over the sum.
/// cpu 1, gpu 3, ram 0.5 kWh = 4.5 kWh at CodeCarbon's PUE 1.5 -> IT 3 kWh, of which the
/// accelerators 3 x 3 / 4.5 = 2 kWh and the host 1 kWh.
#[test]
fn codecarbon_is_a_system_boundary_split_by_its_gpu_energy() {
    let d = tmp_with(&[
        (
            "greenledger.toml",
            "[inputs]\ncodecarbon = [\"emissions.csv\"]\n[codecarbon.teams]\np = \"t\"\n",
        ),
        (
            "emissions.csv",
            "timestamp,project_name,run_id,duration,emissions,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_iso_code,pue\n\
             2026-07-01T10:00:00Z,p,r1,3600,1,1,3,0.5,4.5,FRA,1.5\n",
        ),
    ]);
    let r = report_json(d.path(), 0);
    let j = job(&r, "r1");
    assert_eq!(j["boundary"], "system");
    assert!(close(f(j, "it_energy_kwh"), 3.0));
    assert!(close(f(j, "accelerator_kwh"), 2.0));
    assert!(close(f(j, "host_kwh"), 1.0));
}
