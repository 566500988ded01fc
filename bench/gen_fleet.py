#!/usr/bin/env python3
"""A synthetic GPU fleet for greenledger's benchmarks and agreement checks.

Writes into OUT:
  power.parquet   generic power samples: timestamp (ms, UTC), node, device, power_w
  power.csv       the same samples as CSV (with --csv)
  jobs.csv        a jobs manifest (the columns of the guide's "Jobs manifest" page); each job
                  holds whole nodes (its `nodes` column, `;`-separated)
  greenledger.toml  the one site the jobs run at (FR grid, PUE 1.2), so `greenledger report`
                  runs on these files as they are

What the samples look like, as real collectors leave them:
  - one sample per device every --interval seconds, each offset by up to +-10 % of the interval;
  - a device idles at ~75 W and runs a job at the job's own level (350-650 W) with noise,
    clipped to 20..720 W (an H100's TDP is 700 W, so nothing reaches the 2 x TDP limit);
  - about 0.2 % of samples are missing, and rare bursts of 10-60 missing samples make gaps
    longer than max_gap_s (120 s);
  - about 0.05 % of samples are written twice (the same node, device and instant).

Memory: the samples are made and written one node at a time (a row group per node), so a
fleet of any size needs about one node's samples in memory (~30 MB for 22 days at 10 s).
The same arguments and --seed always give the same files.

  python3 bench/gen_fleet.py OUT [--nodes 16] [--days 7] [--interval 10] [--csv] [--seed 1]
Needs: numpy, pyarrow.
"""
import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

GPUS = 8  # accelerators per node
EPOCH_MS = int(np.datetime64("2026-07-01T00:00:00", "ms").astype(np.int64))
HOUR = 3_600_000
TEAMS = ("foundation", "applied-nlp", "vision", "speech")
# training_type, base_model, teacher_model, precision: one of each kind of work the scores read.
KINDS = (
    ("pretraining", "", "", "bf16"),
    ("fine-tuning", "base-7b", "", "bf16"),
    ("distillation", "", "base-70b", "fp8"),
    ("fine-tuning", "base-70b", "", "fp16"),
)
COLUMNS = ("job_id", "model", "team", "site", "start", "end", "nodes", "hardware", "devices",
           "training_type", "base_model", "teacher_model", "precision", "status")


def node_name(i):
    return f"node{i:04d}"


def plan_jobs(rng, nodes, span_ms):
    """Jobs on groups of 1, 2 or 4 consecutive nodes, one after another with idle time between.

    Returns (jobs, per-node list of (start_ms, end_ms, watts)); times are offsets from EPOCH_MS.
    """
    jobs, busy = [], [[] for _ in range(nodes)]
    first = 0
    while first < nodes:
        members = range(first, min(first + int(rng.choice((1, 2, 4))), nodes))
        first = members[-1] + 1
        t = int(rng.integers(0, 6 * HOUR))
        while True:
            length = int(rng.integers(HOUR, 36 * HOUR))
            if t + length > span_ms:
                break
            k = len(jobs)
            training_type, base, teacher, precision = KINDS[k % len(KINDS)]
            watts = float(rng.uniform(350.0, 650.0))
            jobs.append({
                "job_id": f"job-{k:05d}", "model": f"model-{k % 23:02d}",
                "team": TEAMS[k % len(TEAMS)], "site": "synth-dc",
                "start": iso(t), "end": iso(t + length),
                "nodes": ";".join(node_name(n) for n in members),
                "hardware": "H100-SXM5-80GB", "devices": GPUS * len(members),
                "training_type": training_type, "base_model": base, "teacher_model": teacher,
                "precision": precision,
                # Some work fails: its energy still counts (the low-waste score reads it).
                "status": "failed" if k % 17 == 5 else "completed",
            })
            for n in members:
                busy[n].append((t, t + length, watts))
            t += length + int(rng.integers(10 * 60_000, 8 * HOUR))
    return jobs, busy


def node_samples(rng, node, busy, span_ms, interval_ms):
    """One node's samples (all its devices), device by device in time order."""
    ticks = np.arange(0, span_ms, interval_ms, dtype=np.int64)
    n = ticks.size
    jitter = interval_ms // 10
    t_parts, d_parts, p_parts = [], [], []
    for device in range(GPUS):
        t = ticks + rng.integers(-jitter, jitter + 1, n)
        p = rng.normal(75.0, 5.0, n)
        for start, end, watts in busy:
            lo, hi = np.searchsorted(ticks, (start, end))
            p[lo:hi] = rng.normal(watts, 40.0, hi - lo)
        np.clip(p, 20.0, 720.0, out=p)
        keep = rng.random(n) > 0.002
        for i in np.flatnonzero(rng.random(n) < 0.00005):
            keep[i:i + int(rng.integers(10, 60))] = False
        twice = keep & (rng.random(n) < 0.0005)
        rows = np.sort(np.concatenate((np.flatnonzero(keep), np.flatnonzero(twice))), kind="stable")
        t_parts.append(t[rows])
        p_parts.append(p[rows])
        d_parts.append(np.full(rows.size, device, dtype=np.int32))
    t = np.concatenate(t_parts)
    return pa.table({
        "timestamp": pa.array(t + EPOCH_MS, type=pa.timestamp("ms", tz="UTC")),
        "node": pa.DictionaryArray.from_arrays(np.zeros(t.size, dtype=np.int32),
                                               pa.array([node_name(node)])),
        "device": pa.array(np.concatenate(d_parts)),
        "power_w": pa.array(np.round(np.concatenate(p_parts), 2)),
    })


def iso(offset_ms):
    return str(np.datetime64(EPOCH_MS + int(offset_ms), "ms"))[:19] + "Z"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--interval", type=int, default=10, help="seconds between samples")
    ap.add_argument("--csv", action="store_true", help="also write power.csv")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.nodes < 1 or a.days <= 0 or a.interval < 1:
        ap.error("--nodes, --days and --interval must be positive")
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    span_ms = int(a.days * 86_400_000)
    jobs, busy = plan_jobs(rng, a.nodes, span_ms)

    schema = pa.schema([("timestamp", pa.timestamp("ms", tz="UTC")),
                        ("node", pa.dictionary(pa.int32(), pa.string())),
                        ("device", pa.int32()), ("power_w", pa.float64())])
    csv_schema = schema.set(1, pa.field("node", pa.string()))
    rows = 0
    with pq.ParquetWriter(os.path.join(a.out, "power.parquet"), schema) as parquet:
        csv_out = pacsv.CSVWriter(os.path.join(a.out, "power.csv"), csv_schema,
                                  write_options=pacsv.WriteOptions(quoting_style="none")) if a.csv else None
        for node in range(a.nodes):
            table = node_samples(rng, node, busy[node], span_ms, a.interval * 1000)
            parquet.write_table(table, row_group_size=1 << 20)
            if csv_out:
                csv_out.write_table(table.set_column(1, "node", table.column("node").cast(pa.string())))
            rows += table.num_rows
        if csv_out:
            csv_out.close()

    with open(os.path.join(a.out, "jobs.csv"), "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        for job in jobs:
            f.write(",".join(str(job[c]) for c in COLUMNS) + "\n")
    with open(os.path.join(a.out, "greenledger.toml"), "w") as f:
        f.write('[[site]]\nid = "synth-dc"\nname = "Synthetic DC"\nzone = "FR"\npue = 1.2\n')
    print(f"{rows} samples, {len(jobs)} jobs, {a.nodes * GPUS} GPUs -> {a.out}")


if __name__ == "__main__":
    main()
