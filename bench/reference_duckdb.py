#!/usr/bin/env python3
"""Per-job energy from power samples, in DuckDB: greenledger's correctness oracle and speed peer.

It applies the integration rules of the guide (Methodology > "Power samples to job energy") to
jobs that hold whole nodes, as bench/gen_fleet.py writes them:
  1. samples whose power is negative, NaN or above --max-power (2 x TDP: 1400 W for the fleet's
     H100s) are dropped;
  2. rows with the same (node, device, timestamp) count once, at their mean power;
  3. two consecutive samples of one device make a segment; a segment longer than --max-gap
     seconds is a gap and carries no energy;
  4. a segment's energy is the integral of the straight line between its two samples over the
     part of it inside the job's [start, end) (and inside --period when given), exactly;
  5. a job holds every device of each node in its `nodes` column (`;`-separated).

  python3 bench/reference_duckdb.py DIR [--max-gap 120] [--max-power 1400] [--csv]
                                        [--period START..END] [--threads N] [--no-total]
DIR holds power.parquet (power.csv with --csv) and jobs.csv; it may be a glob ('fleet/part*'),
read as one data set. Prints one CSV row per job, by job_id: job_id, sampled_kwh,
covered_device_s. On stderr: the energy of all samples, the part jobs hold and the rest (idle),
and the seconds the per-job query took.
Needs: duckdb.
"""
import argparse
import datetime as dt
import os
import sys
import tempfile
import time

import duckdb

# The clean samples: invalid power dropped, duplicates at their mean, as epoch seconds.
SAMPLES = """
CREATE TEMP VIEW samples AS
SELECT CAST(node AS VARCHAR) AS node, device, epoch_ms(timestamp) / 1000.0 AS t, avg(power_w) AS w
FROM {source}
WHERE power_w >= 0 AND power_w <= {max_power} AND NOT isnan(power_w)
GROUP BY ALL
"""

# Segments between consecutive samples of a device, gaps left out.
SEGMENTS = """
CREATE TEMP VIEW segments AS
SELECT * FROM (
    SELECT node, device, t AS t0, w AS w0,
           lead(t) OVER (PARTITION BY node, device ORDER BY t) AS t1,
           lead(w) OVER (PARTITION BY node, device ORDER BY t) AS w1
    FROM samples)
WHERE t1 IS NOT NULL AND t1 - t0 <= {max_gap}
"""

# Each job on each of its nodes, as [js, je) in epoch seconds, clipped to the period.
CLAIMS = """
CREATE TEMP VIEW claims AS
SELECT job_id,
       greatest(epoch(CAST("start" AS TIMESTAMPTZ)), {period_start}) AS js,
       least(epoch(CAST("end" AS TIMESTAMPTZ)), {period_end}) AS je,
       trim(unnest(string_split(nodes, ';'))) AS node
FROM read_csv('{jobs}', header = true, all_varchar = true)
"""

# The line through (t0, w0) and (t1, w1) integrated over [a, b]: the mean of its values at a
# and b, times b - a.
PER_JOB = """
WITH pieces AS (
    SELECT c.job_id, s.t0, s.w0, s.t1, s.w1,
           greatest(s.t0, c.js) AS a, least(s.t1, c.je) AS b
    FROM segments s JOIN claims c ON s.node = c.node AND s.t1 > c.js AND s.t0 < c.je
),
energy AS (
    SELECT job_id,
           sum((w0 + (w1 - w0) * (a - t0) / (t1 - t0) + w0 + (w1 - w0) * (b - t0) / (t1 - t0))
               / 2 * (b - a)) AS joules,
           sum(b - a) AS covered
    FROM pieces WHERE b > a GROUP BY job_id
)
SELECT j.job_id, coalesce(e.joules, 0) / 3.6e6, coalesce(e.covered, 0)
FROM (SELECT DISTINCT job_id FROM claims) j LEFT JOIN energy e USING (job_id)
ORDER BY j.job_id
"""

TOTAL = """
SELECT coalesce(sum((w0 + (w1 - w0) * (a - t0) / (t1 - t0) + w0 + (w1 - w0) * (b - t0) / (t1 - t0))
                    / 2 * (b - a)), 0) / 3.6e6
FROM (SELECT *, greatest(t0, {period_start}) AS a, least(t1, {period_end}) AS b FROM segments)
WHERE b > a
"""


def period_bounds(text):
    """'START..END' (dates, END inclusive) as epoch seconds [start, end + 1 day)."""
    if not text:
        return "-1e18", "1e18"
    try:
        lo, hi = (dt.date.fromisoformat(x) for x in text.split(".."))
    except ValueError:
        sys.exit(f"--period takes START..END as dates (2026-07-01..2026-09-30), not {text!r}")
    def epoch(d):
        return repr(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp())
    return epoch(lo), epoch(hi + dt.timedelta(days=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--max-gap", type=float, default=120.0, help="seconds (greenledger's max_gap_s)")
    ap.add_argument("--max-power", type=float, default=1400.0, help="watts: 2 x the TDP")
    ap.add_argument("--period", help="START..END, dates, END inclusive (default: no clipping)")
    ap.add_argument("--csv", action="store_true", help="read power.csv instead of power.parquet")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-total", action="store_true", help="skip the pass over all samples")
    a = ap.parse_args()
    period_start, period_end = period_bounds(a.period)
    con = duckdb.connect()
    # DuckDB spills to `.tmp` in the working folder unless told otherwise: keep it out of the
    # user's checkout, in a scratch folder removed at exit.
    spill = tempfile.TemporaryDirectory(prefix="reference-duckdb-")
    con.execute(f"SET temp_directory = '{spill.name}'")
    if a.threads:
        con.execute(f"SET threads = {a.threads}")
    if a.csv:
        source = (f"read_csv('{os.path.join(a.dir, 'power.csv')}', header = true, columns = "
                  "{'timestamp': 'TIMESTAMPTZ', 'node': 'VARCHAR', 'device': 'INTEGER', 'power_w': 'DOUBLE'})")
    else:
        source = f"read_parquet('{os.path.join(a.dir, 'power.parquet')}')"
    con.execute(SAMPLES.format(source=source, max_power=a.max_power))
    con.execute(SEGMENTS.format(max_gap=a.max_gap))
    con.execute(CLAIMS.format(jobs=os.path.join(a.dir, "jobs.csv"),
                              period_start=period_start, period_end=period_end))
    began = time.perf_counter()
    rows = con.execute(PER_JOB).fetchall()
    took = time.perf_counter() - began
    print("job_id,sampled_kwh,covered_device_s")
    for job_id, kwh, covered in rows:
        print(f"{job_id},{kwh:.9f},{covered:.3f}")
    if not a.no_total:
        total = con.execute(TOTAL.format(period_start=period_start, period_end=period_end)).fetchone()[0]
        held = sum(r[1] for r in rows)
        print(f"total_kwh={total:.6f} allocated_kwh={held:.6f} unallocated_kwh={total - held:.6f}",
              file=sys.stderr)
    print(f"jobs={len(rows)} seconds={took:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
