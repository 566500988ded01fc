#!/usr/bin/env python3
"""Regenerate fixtures/demo: a believable quarter (2026-Q3) of the fictional Aurora Labs.

Deterministic (fixed seed). The committed files are what the demo and the golden test use;
this script only documents how they were made.

  python3 scripts/make_demo.py fixtures/demo

The previous quarter (2026-Q2) the demo compares with is a real greenledger run on a Q2 quarter
of the same lab, made by this script with --previous-quarter:

  python3 scripts/make_demo.py /tmp/q2 --previous-quarter
  (cd /tmp/q2 && greenledger report --config greenledger.toml --format json --out out)
  cp /tmp/q2/out/report.json fixtures/demo/previous/2026-Q2.report.json
"""
import csv
import datetime as dt
import json
import math
import os
import random
import sys

R = random.Random(20260701)
Q_START = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)

# team -> [(model, training_type, base_model, teacher_model, hardware, site, precision, sparsity, params)]
PLAN = {
    "foundation": [
        ("aurora-7b", "pretraining", "", "", "H100-SXM5-80GB", "stockholm-1", "bf16", "", 7e9),
        ("aurora-70b", "pretraining", "", "", "H100-SXM5-80GB", "stockholm-1", "bf16", "", 70e9),
        ("aurora-7b-chat", "fine-tuning", "aurora-7b", "", "H100-SXM5-80GB", "paris-1", "bf16", "", 7e9),
    ],
    "applied-nlp": [
        ("support-bot", "fine-tuning", "llama-3-8b", "", "A100-SXM4-80GB", "iowa-cloud", "fp16", "", 8e9),
        ("summarizer", "fine-tuning", "aurora-7b", "", "A100-SXM4-80GB", "paris-1", "bf16", "", 7e9),
        ("aurora-1b-distilled", "distillation", "", "aurora-70b", "H100-SXM5-80GB", "paris-1", "bf16", "", 1.3e9),
    ],
    "vision": [
        ("vit-huge", "pretraining", "", "", "A100-SXM4-80GB", "iowa-cloud", "fp32", "", 632e6),
        ("detector-v2", "fine-tuning", "dinov2-large", "", "L40S", "paris-1", "fp16", "", 300e6),
        ("seg-small", "distillation", "", "vit-huge", "L40S", "paris-1", "fp16", "0.5", 40e6),
    ],
    "speech": [
        ("asr-large", "pretraining", "", "", "A100-SXM4-80GB", "stockholm-1", "tf32", "", 1.5e9),
        ("tts-base", "fine-tuning", "whisper-large-v3", "", "L4", "iowa-cloud", "fp16", "", 240e6),
        ("asr-small-distilled", "distillation", "", "asr-large", "L4", "stockholm-1", "int8", "0.3", 120e6),
    ],
}
PUBLISHED = {"aurora-7b": "https://example.org/aurora-7b/model-card#environmental-impact",
             "seg-small": "arXiv:2607.01234 (appendix C)"}
HOSTS = {"stockholm-1": "sto", "paris-1": "par", "iowa-cloud": "ia"}


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def jobs():
    rows = []
    n = 0
    for team, models in PLAN.items():
        for (model, ttype, base, teacher, hw, site, prec, sparsity, params) in models:
            runs = {"pretraining": 7, "fine-tuning": 5, "distillation": 4}[ttype]
            for k in range(runs):
                n += 1
                devices = R.choice({"pretraining": [64, 128, 256], "fine-tuning": [8, 16], "distillation": [8, 16, 32]}[ttype])
                if hw in ("L4", "L40S"):
                    devices = R.choice([2, 4, 8])
                hours = R.uniform(6, 90) if ttype == "pretraining" else R.uniform(2, 30)
                start = Q_START + dt.timedelta(hours=R.uniform(0, 88 * 24))
                if n == 3:
                    start = Q_START - dt.timedelta(hours=20)      # straddles the start of the quarter
                if n == 40:
                    start = dt.datetime(2026, 9, 30, 12, tzinfo=dt.timezone.utc)  # straddles the end
                start = start.replace(minute=0, second=0, microsecond=0)
                end = start + dt.timedelta(minutes=round(hours * 60))
                status = "completed"
                if k == runs - 1 and ttype == "pretraining":
                    status = "failed"
                if n % 11 == 4:
                    status = "cancelled"
                nodes = max(1, devices // 8)
                r = dict(job_id=f"aur-{n:04d}", model=model, team=team, project=f"{team}-q3", site=site, zone="",
                         start=iso(start), end=iso(end), hardware=hw, devices=devices,
                         nodes=f"{HOSTS[site]}-gpu[{R.randint(1, 40):02d}-{R.randint(41, 60):02d}]" if nodes > 1 else f"{HOSTS[site]}-gpu{R.randint(1, 60):02d}",
                         gpu_ids="", training_type=ttype, base_model=base, teacher_model=teacher, sparsity=sparsity,
                         precision=prec, parameters=f"{params:.0f}",
                         tokens=f"{devices * hours * R.uniform(0.8, 1.2) * 2.5e6:.0f}" if ttype != "distillation" else "",
                         status=status, gpu_hours="", avg_power_w="", energy_kwh="", published=PUBLISHED.get(model, "") if k == 0 else "")
                # Energy sources: a third metered from the cluster's counters, some with a measured
                # mean power, the rest estimated from TDP.
                if n % 3 == 0:
                    tdp = {"H100-SXM5-80GB": 700, "A100-SXM4-80GB": 400, "L40S": 350, "L4": 72}[hw]
                    r["energy_kwh"] = f"{devices * hours * tdp * R.uniform(0.55, 0.85) / 1000:.3f}"
                elif n % 3 == 1:
                    tdp = {"H100-SXM5-80GB": 700, "A100-SXM4-80GB": 400, "L40S": 350, "L4": 72}[hw]
                    r["avg_power_w"] = f"{tdp * R.uniform(0.5, 0.9):.1f}"
                if n % 13 == 7:
                    r["gpu_hours"] = f"{devices * hours * 0.9:.2f}"      # scheduler-reported, excludes queueing
                rows.append(r)
    # Two evaluation sweeps run on a public cloud region, located by zone only.
    for i, zone in enumerate(["gcp:europe-west4", "FR"]):
        start = Q_START + dt.timedelta(days=30 + 20 * i, hours=9)
        rows.append(dict(job_id=f"aur-eval-{i + 1}", model="aurora-7b-chat", team="foundation", project="evals", site="", zone=zone,
                         start=iso(start), end=iso(start + dt.timedelta(hours=5)), hardware="H100-SXM5-80GB", devices=8,
                         nodes="", gpu_ids="", training_type="evaluation", base_model="", teacher_model="", sparsity="",
                         precision="bf16", parameters="7000000000", tokens="", status="completed", gpu_hours="",
                         avg_power_w="420.0", energy_kwh="", published=""))
    return rows


def codecarbon(out):
    """A speech-team workstation (standalone runs, cumulative snapshots) and the CodeCarbon trace
    of one manifest job (matched by experiment_id)."""
    header = ("timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,"
              "cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,"
              "os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,"
              "tracking_mode,on_cloud,pue").split(",")
    rows = []
    t0 = dt.datetime(2026, 8, 3, 9, 0, 0)
    for run in range(5):
        run_id = f"6f1c2a9e-0000-4000-8000-00000000000{run + 1}"
        start = t0 + dt.timedelta(days=4 * run, hours=run)
        total_s = R.uniform(3, 9) * 3600
        for snap in range(1, 4):
            d = total_s * snap / 3
            gpu_kw = 2 * R.uniform(0.25, 0.31)
            e = d / 3600 * (gpu_kw + 0.09)
            rows.append(dict(timestamp=(start + dt.timedelta(seconds=d)).strftime("%Y-%m-%dT%H:%M:%S"), project_name="asr-tiny-experiments",
                             run_id=run_id, experiment_id="5b0fa12a-3dd7-45bb-9766-cc326314d9f1", duration=f"{d:.6f}",
                             emissions=f"{e * 0.04:.12e}", emissions_rate=f"{e * 0.04 / d:.12e}", cpu_power="65.0", gpu_power=f"{gpu_kw * 1000:.3f}",
                             ram_power="23.5", cpu_energy=f"{d / 3600 * 0.065:.9f}", gpu_energy=f"{d / 3600 * gpu_kw:.9f}",
                             ram_energy=f"{d / 3600 * 0.025:.9f}", energy_consumed=f"{e:.9f}", country_name="Sweden", country_iso_code="SWE",
                             region="", cloud_provider="", cloud_region="", os="Linux-6.8.0-generic-x86_64-with-glibc2.39",
                             python_version="3.11.9", codecarbon_version="2.8.3", cpu_count="32", cpu_model="AMD Ryzen Threadripper 7970X",
                             gpu_count="2", gpu_model="2 x NVIDIA GeForce RTX 4090", longitude="", latitude="", ram_total_size="125.5",
                             tracking_mode="machine", on_cloud="N", pue="1.0"))
    with open(os.path.join(out, "codecarbon", "speech-workstation.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\r\n")  # written on a Windows share
        w.writeheader()
        w.writerows(rows)
    return header


def codecarbon_job(out, header, job):
    start = dt.datetime.strptime(job["start"], "%Y-%m-%dT%H:%M:%SZ")
    end = dt.datetime.strptime(job["end"], "%Y-%m-%dT%H:%M:%SZ")
    total = (end - start).total_seconds()
    rows = []
    for snap in range(1, 5):
        d = total * snap / 4
        e = d / 3600 * job["devices"] * 0.68 * 1.08  # CodeCarbon here was told the site's PUE 1.08
        rows.append({h: "" for h in header} | dict(
            # CodeCarbon writes the machine's local wall-clock time: Stockholm is UTC+2 in summer.
            timestamp=(start + dt.timedelta(hours=2, seconds=d)).strftime("%Y-%m-%dT%H:%M:%S"), project_name=job["model"],
            run_id="0c1d2e3f-4a5b-4c6d-8e7f-" + job["job_id"].replace("-", "").rjust(12, "0"), experiment_id=job["job_id"],
            duration=f"{d:.3f}", emissions=f"{e * 0.018:.9f}", energy_consumed=f"{e:.9f}", country_name="Sweden",
            country_iso_code="SWE", gpu_count=str(job["devices"]), gpu_model=f"{job['devices']} x NVIDIA H100 80GB HBM3",
            tracking_mode="process", on_cloud="N", pue="1.08"))
    with open(os.path.join(out, "codecarbon", f"{job['job_id']}.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def telemetry(out, rows):
    """Telemetry for two jobs: an nvidia-smi log on a Paris node (local time, units, a [N/A], an
    appended log's repeated header, a partial last sample) and a DCGM query_range export on a
    Stockholm node (power gauge and energy counter, with one counter reset)."""
    os.makedirs(os.path.join(out, "telemetry"), exist_ok=True)
    smi = next(r for r in rows if r["job_id"] == "aur-0017")
    smi.update(nodes="par-gpu42", gpu_ids="0-7", devices=8)
    start = dt.datetime.strptime(smi["start"], "%Y-%m-%dT%H:%M:%SZ") - dt.timedelta(minutes=30)
    end = dt.datetime.strptime(smi["end"], "%Y-%m-%dT%H:%M:%SZ") + dt.timedelta(minutes=30)
    header = "timestamp, index, name, power.draw.average [W], power.draw.instant [W], utilization.gpu [%]"
    lines = [header]
    t, k = start, 0
    job_s = dt.datetime.strptime(smi["start"], "%Y-%m-%dT%H:%M:%SZ")
    job_e = dt.datetime.strptime(smi["end"], "%Y-%m-%dT%H:%M:%SZ")
    while t <= end:
        local = (t + dt.timedelta(hours=2)).strftime("%Y/%m/%d %H:%M:%S.") + f"{R.randint(0, 999):03d}"
        busy = job_s <= t < job_e
        for g in range(8):
            if t + dt.timedelta(seconds=90) > end and g >= 5:
                break  # the logger was stopped mid-sample
            p = R.gauss(540 if busy else 72, 35 if busy else 4)
            avg = "[N/A]" if k == 400 and g == 3 else f"{p:.2f} W"
            lines.append(f"{local}, {g}, NVIDIA H100 80GB HBM3, {avg}, {p + R.gauss(0, 8):.2f} W, {R.randint(85, 99) if busy else 0} %")
        if k == 300:
            lines.append(header)  # the log was appended to after a restart
        t += dt.timedelta(seconds=90)
        k += 1
    with open(os.path.join(out, "telemetry", "par-gpu42.nvidia-smi.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    dcgm = next(r for r in rows if r["job_id"] == "aur-0065")
    dcgm.update(nodes="sto-gpu18", gpu_ids="0-3", devices=4)
    s = dt.datetime.strptime(dcgm["start"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    e = dt.datetime.strptime(dcgm["end"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    t0 = int(s.timestamp()) - 1800
    t1 = int(e.timestamp()) + 1800
    result = []
    for g in range(4):
        labels = {"gpu": str(g), "UUID": f"GPU-5e1f00{g}-aaaa-bbbb-cccc-00000000000{g}", "device": f"nvidia{g}",
                  "modelName": "NVIDIA L4", "Hostname": "sto-gpu18", "DCGM_FI_DRIVER_VERSION": "550.54.15"}
        power, energy = [], []
        counter = 9.1e9 + g * 1e8
        for ts in range(t0, t1 + 1, 120):
            busy = s.timestamp() <= ts < e.timestamp()
            p = R.gauss(58 if busy else 16, 3 if busy else 0.5)
            counter += p * 120 * 1000
            if g == 2 and ts == t0 + 120 * 400:
                counter = p * 60 * 1000  # driver reload: the counter restarts from zero
            power.append([ts, f"{p:.6f}"])
            energy.append([ts, f"{counter:.0f}"])
        result.append({"metric": {"__name__": "DCGM_FI_DEV_POWER_USAGE", **labels}, "values": power})
        result.append({"metric": {"__name__": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", **labels}, "values": energy})
    import json
    with open(os.path.join(out, "telemetry", "sto-gpu18.dcgm.json"), "w", encoding="utf-8") as f:
        json.dump({"status": "success", "data": {"resultType": "matrix", "result": result}}, f, separators=(",", ":"))
        f.write("\n")


def grid_and_sacct(out):
    """A synthetic hourly intensity series for FR over the quarter (diurnal shape around the
    annual level; demo data, not a real export) and a Slurm sacct -P export of the speech team's
    sweep on the Stockholm cluster (allocation and step rows, ConsumedEnergyRaw in joules)."""
    import math
    os.makedirs(os.path.join(out, "grid"), exist_ok=True)
    lines = ["zone,timestamp,g_per_kwh"]
    t = dt.datetime(2026, 7, 1)
    while t < dt.datetime(2026, 10, 1):
        g = 56 + 22 * math.sin((t.hour - 8) / 24 * 2 * math.pi) + R.gauss(0, 4)
        lines.append(f"FR,{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{max(g, 15):.2f}")
        t += dt.timedelta(hours=1)
    with open(os.path.join(out, "grid", "FR_2026Q3_hourly.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.makedirs(os.path.join(out, "sacct"), exist_ok=True)
    rows = ["JobID|JobName|Account|Partition|Cluster|State|Start|End|NodeList|AllocTRES|ConsumedEnergyRaw"]
    start = dt.datetime(2026, 8, 20, 6, 0)
    for k in range(5):
        jid = 880101 + k
        s0 = start + dt.timedelta(hours=30 * k)
        hours = R.uniform(6, 20)
        e = s0 + dt.timedelta(hours=hours)
        state = ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED", "PENDING"][k]
        gpus = 16
        joules = gpus * hours * 3600 * R.uniform(260, 330)
        fmt = "%Y-%m-%dT%H:%M:%S"
        if state == "PENDING":
            rows.append(f"{jid}|asr-large-sweep|speech|a100|sto|PENDING|Unknown|Unknown|None assigned|billing=64,cpu=64,gres/gpu=16,node=2|")
            continue
        nodes = f"sto-a100-[{2 * k + 1:02d}-{2 * k + 2:02d}]"
        # sacct writes the cluster's local time (CEST, UTC+2) without a zone.
        ls, le = (s0 + dt.timedelta(hours=2)).strftime(fmt), (e + dt.timedelta(hours=2)).strftime(fmt)
        rows.append(f"{jid}|asr-large-sweep|speech|a100|sto|{state}|{ls}|{le}|{nodes}|billing=64,cpu=64,gres/gpu={gpus},node=2|{joules:.0f}")
        rows.append(f"{jid}.batch|batch|speech||sto|{state}|{ls}|{le}|sto-a100-{2 * k + 1:02d}|cpu=32|{joules / 2:.0f}")
        rows.append(f"{jid}.extern|extern|speech||sto|COMPLETED|{ls}|{le}|{nodes}|cpu=64|{joules:.0f}")
        rows.append(f"{jid}.0|python|speech||sto|{state}|{ls}|{le}|{nodes}|cpu=64|{joules / 2:.0f}")
    with open(os.path.join(out, "sacct", "sto-cluster-2026Q3.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n\n")  # sacct output ends with an empty line


def cloud_export(out):
    """Google Cloud Carbon Footprint's own estimate for the iowa-cloud project, as `bq extract`
    writes the BigQuery table (JSON lines, nested records; INT64 as text). Demo values: the
    provider's Scope 2 for the project's Compute Engine use in us-central1, month by month,
    and an unrelated project of the same billing account (no site claims it)."""
    os.makedirs(os.path.join(out, "cloud"), exist_ok=True)
    months = [("2026-07-01", 1650.4, 52.1), ("2026-08-01", 1912.7, 60.3), ("2026-09-01", 1577.9, 49.8)]
    rows = []
    for month, loc, mkt in months:
        rows.append({
            "usage_month": month,
            "billing_account_id": "01A2B3-C4D5E6-F7A8B9",
            "project": {"id": "aurora-train", "number": "802583874831"},
            "service": {"id": "6F81-5844-456A", "description": "Compute Engine"},
            "location": {"location": "us-central1-a", "region": "us-central1"},
            "carbon_model_version": "12",
            "carbon_footprint_kgCO2e": {"scope1": round(loc * 0.004, 1),
                                        "scope2": {"location_based": loc, "market_based": mkt},
                                        "scope3": round(loc * 0.21, 1)},
            "carbon_footprint_total_kgCO2e": {"location_based": round(loc * 1.214, 1),
                                              "market_based": round(mkt + loc * 0.214, 1)},
        })
    rows.append({
        "usage_month": "2026-08-01",
        "billing_account_id": "01A2B3-C4D5E6-F7A8B9",
        "project": {"id": "aurora-web", "number": "802583874999"},
        "service": {"id": "152E-C115-5142", "description": "Cloud Run"},
        "location": {"location": "us-central1", "region": "us-central1"},
        "carbon_model_version": "12",
        "carbon_footprint_kgCO2e": {"scope1": 0.1, "scope2": {"location_based": 21.3, "market_based": 0.7}, "scope3": 4.2},
        "carbon_footprint_total_kgCO2e": {"location_based": 25.6, "market_based": 5.0},
    })
    with open(os.path.join(out, "cloud", "gcp-carbon-footprint.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


CONFIG = '''# Aurora Labs, third quarter 2026: the bundled demo of greenledger.
[report]
title = "Aurora Labs: training footprint"
organization = "Aurora Labs"
period = "2026-Q3"
reference_intensity_g_per_kwh = 475
previous = "previous/2026-Q2.report.json"   # last quarter's greenledger report: deltas

[inputs]
jobs = ["jobs.csv"]
codecarbon = ["codecarbon/*.csv"]
telemetry = ["telemetry/*"]
grid = ["grid/FR_2026Q3_hourly.csv"]
sacct = ["sacct/*.txt"]
cloud_carbon = ["cloud/*.jsonl"] # Google's own estimate for the cloud project, for comparison
timezone = "Europe/Stockholm"   # CodeCarbon writes local wall-clock time

[[site]]
id = "stockholm-1"
name = "Stockholm DC (colocation)"
zone = "SE3"
pue = 1.08
wue_l_per_kwh = 0.2
residual_mix_g_per_kwh = 35      # demo value: the supplier's residual mix

[[site.instrument]]              # market-based: a wind PPA for the quarter
kind = "PPA"
period = "2026-Q3"
mwh = 70
intensity_g_per_kwh = 0
technology = "wind"
market = "SE"
reference = "Aurora wind PPA, contract 2025-031 (demo)"

[[site]]
id = "paris-1"
name = "Paris DC1"
zone = "FR"
wue_l_per_kwh = 0.4
residual_mix_g_per_kwh = 60
[[site.instrument]]
kind = "GO"
period = "2026-07"
mwh = 15
technology = "hydro"
market = "FR"
reference = "French GO registry, lot FR-2026-0712 (demo)"
[[site.meter]]                   # the July invoice and the UPS output meter: the reconciliation
period = "2026-07"
kwh = 745
scope = "facility"
reference = "EDF invoice 2026-07 (demo)"
[[site.meter]]
period = "2026-07"
kwh = 560
scope = "it"
reference = "UPS-A output meter (demo)"
[[site.pue]]
period = "2026-07"
value = 1.31
[[site.pue]]
period = "2026-08"
value = 1.34
[[site.pue]]
period = "2026-09"
value = 1.27

[[site]]                         # Google Cloud: the provider buys the power (Scope 3 cat. 1)
id = "iowa-cloud"
name = "Cloud, us-central1"
zone = "gcp:us-central1"
kind = "cloud"                   # the default for a cloud-region zone, written out
cloud_project = "aurora-train"   # its rows in the provider's export
pue = 1.10

# Embodied emissions: the lab's own procurement assumptions (no manufacturer figure is
# embedded in greenledger). Values per accelerator including its share of the host server.
[[hardware]]
name = "H100-SXM5-80GB"
embodied_kgco2e = 460
lifetime_years = 6
use_factor = 0.85
source = "Aurora Labs procurement assumption (demo)"

[[hardware]]
name = "A100-SXM4-80GB"
embodied_kgco2e = 350
lifetime_years = 6
use_factor = 0.85
source = "Aurora Labs procurement assumption (demo)"

[sacct]                          # the Stockholm cluster's accounting
site = "stockholm-1"
hardware = "A100-SXM4-80GB"
models = { "asr-large-sweep" = "asr-large" }
exclusive = true                 # whole nodes per job: ConsumedEnergyRaw is the job's own

[[published_footprint]]          # external base models' published training emissions
model = "llama-3-8b"
kgco2e = 390000
source = "Meta Llama 3 model card: 8B pretraining, 390 tCO2eq"

[[published_model]]              # its training compute, for the AI Act's one-third line
model = "llama-3-8b"
training_compute_flop = 7.2e23
source = "6 x 8e9 parameters x 15e12 tokens (Meta Llama 3 model card)"

[[ai_act.inference_benchmark]]   # the AI Act form's benchmarked inference computation
model = "aurora-7b"
task = "answer a 1,000-token prompt with 500 tokens"
tokens = 1500
hardware = "H100-SXM5-80GB"

[codecarbon]
teams = { "asr-tiny-experiments" = "speech", "aurora-70b" = "foundation" }
sites = { "asr-tiny-experiments" = "stockholm-1" }
'''


def previous_quarter(out):
    """2026-Q2 of the same lab: jobs only (its telemetry and contracts are not bundled)."""
    global Q_START, R
    Q_START = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)
    R = random.Random(20260401)
    os.makedirs(out, exist_ok=True)
    rows = jobs()
    for r in rows:
        r["nodes"] = ""
    with open(os.path.join(out, "jobs.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    cfg = CONFIG.replace('period = "2026-Q3"\nreference', 'period = "2026-Q2"\nreference')
    cfg = "".join(line for line in cfg.splitlines(keepends=True) if not line.startswith("previous ="))
    start = cfg.index("[inputs]")
    end = cfg.index("timezone =", start)
    cfg = cfg[:start] + '[inputs]\njobs = ["jobs.csv"]\n' + cfg[end:]
    cfg = cfg.replace("third quarter 2026", "second quarter 2026")
    with open(os.path.join(out, "greenledger.toml"), "w", encoding="utf-8") as f:
        f.write(cfg)


def node_power(out):
    """Whole-node power of par-gpu42 from its BMC, in the wide layout of a Redfish poller: one
    reading a minute, the node's eight GPUs (their last nvidia-smi sample) plus a host of about
    800 W, and three zero readings (a BMC glitch: a gap, not zero watts)."""
    path = os.path.join(out, "telemetry", "par-gpu42.nvidia-smi.csv")
    samples = {}
    for line in open(path, encoding="utf-8"):
        parts = [p.strip() for p in line.split(",")]
        if parts[0] == "timestamp" or len(parts) < 5:
            continue
        t = dt.datetime.strptime(parts[0][:19], "%Y/%m/%d %H:%M:%S") - dt.timedelta(hours=2)
        w = parts[3] if parts[3].endswith(" W") else parts[4]
        samples.setdefault(t, {})[int(parts[1])] = float(w.split()[0])
    times = sorted(samples)
    lines = ["timestamp,par-gpu42_power_w"]
    t, last, k = times[0].replace(second=0), {}, 0
    i = 0
    while t <= times[-1]:
        while i < len(times) and times[i] <= t:
            last.update(samples[times[i]])
            i += 1
        host = 800 + 40 * math.sin(k / 17.0)
        w = 0.0 if 500 <= k < 503 else sum(last.values()) + host
        lines.append(f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{w:.1f}")
        t += dt.timedelta(minutes=1)
        k += 1
    with open(os.path.join(out, "telemetry", "par-gpu42.bmc.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main():
    out = sys.argv[1]
    if "--previous-quarter" in sys.argv:
        previous_quarter(out)
        return
    os.makedirs(os.path.join(out, "codecarbon"), exist_ok=True)
    rows = jobs()
    for r in rows:
        r["nodes"] = ""  # only the jobs with telemetry name their nodes
    telemetry(out, rows)
    node_power(out)
    grid_and_sacct(out)
    cloud_export(out)
    cols = list(rows[0].keys())
    with open(os.path.join(out, "jobs.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    header = codecarbon(out)
    # The CodeCarbon-traced job: an aurora-70b run without energy_kwh in the manifest.
    traced = next(r for r in rows if r["model"] == "aurora-70b" and not r["energy_kwh"] and r["status"] == "completed")
    codecarbon_job(out, header, traced)
    with open(os.path.join(out, "greenledger.toml"), "w", encoding="utf-8") as f:
        f.write(CONFIG)


if __name__ == "__main__":
    main()
