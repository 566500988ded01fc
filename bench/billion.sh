#!/usr/bin/env bash
# Benchmark (not a test): a billion power samples in ten Parquet files, greenledger vs the DuckDB
# reference (bench/reference_duckdb.py) on the same files, both on 2 threads.
#
# The fleet: ten gen_fleet.py fleets of ~100M samples (64 nodes x 8 GPUs, 22.6 days at 10 s),
# seeds 1000..1009, laid end to end in time (part k is shifted by k x 22.6 days, its jobs
# renamed p<k>-job-NNNNN), so it reads as one fleet of 512 GPUs over 226 days in ten files, as a
# collector that writes a file per three weeks would leave it.
#
#   bench/billion.sh
# Environment: BENCH_DIR (default /tmp/greenledger-bench), RUNS (default 1), PARTS (default 10),
#              GREENLEDGER (default target/release/greenledger), PYTHON (default: the test environment).
# Needs: python with duckdb, numpy, pyarrow; /usr/bin/time; a release build; ~8 GB of disk.
# Prints wall time and peak memory (/usr/bin/time -f %M) of each, their ratio, and the largest
# per-job difference between the two (kWh, relative).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/bench"
# The Python with duckdb, numpy and pyarrow: PYTHON, else the test environment scripts/test.sh
# makes (pinned versions), else python3.
venv="${CARGO_TARGET_DIR:-$root/target}/test-venv/bin/python"
[ -x "$venv" ] || venv=python3
py=${PYTHON:-$venv}
runs=${RUNS:-1}
parts=${PARTS:-10}
gl=${GREENLEDGER:-$root/target/release/greenledger}
dir=${BENCH_DIR:-/tmp/greenledger-bench}/billion-$parts
days=22.605
mkdir -p "$dir"

for k in $(seq 0 $((parts - 1))); do
  p="$dir/part$k"
  [ -f "$p/done" ] && continue
  echo "making part $k of $parts" >&2
  "$py" "$tools/gen_fleet.py" "$p" --nodes 64 --days "$days" --interval 10 --seed $((1000 + k)) >&2
  "$py" - "$p" "$k" "$days" <<'PY'
import sys, csv, datetime as dt
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc
p, k, days = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
shift_ms = k * int(days * 86400_000)
t = pq.read_table(p + "/power.parquet")
ts = pc.add(t.column("timestamp").cast(pa.int64()), shift_ms).cast(pa.timestamp("ms", tz="UTC"))
pq.write_table(t.set_column(0, "timestamp", ts), p + "/power.parquet", row_group_size=1 << 20)
shift = dt.timedelta(milliseconds=shift_ms)
iso = lambda s: (dt.datetime.fromisoformat(s.replace("Z", "+00:00")) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
rows = list(csv.DictReader(open(p + "/jobs.csv")))
with open(p + "/jobs.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=rows[0].keys())
    w.writeheader()
    for r in rows:
        r.update(job_id=f"p{k}-{r['job_id']}", start=iso(r["start"]), end=iso(r["end"]))
        w.writerow(r)
PY
  touch "$p/done"
done

[ -x "$gl" ] || { echo "build first: cargo build --release" >&2; exit 2; }

# The period: the day before the first sample to the day after the last.
start=2026-06-30
end=$("$py" -c "import datetime as d; print((d.date(2026,7,1) + d.timedelta(days=$parts * $days + 1)).isoformat())")
files=("$dir"/part*/power.parquet)
jobs=("$dir"/part*/jobs.csv)

measure() { # OUT CMD...: CMD's stdout to OUT; prints "seconds peak_kib"
  local out=$1 log; shift; log=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$log" "$@" >"$out" 2>"$log.err" || { cat "$log.err" >&2; return 1; }
  cat "$log"; rm -f "$log" "$log.err"
}

printf "%-4s %14s %10s %8s %14s %14s %14s\n" run greenledger_s duckdb_s ratio gl_peak_MiB duck_peak_MiB max_rel_diff
for r in $(seq 1 "$runs"); do
  out=$(mktemp -d)
  args=(report -q --format json --force --out "$out/r" --config "$dir/part0/greenledger.toml" --period "$start..$end")
  for j in "${jobs[@]}"; do args+=(--jobs "$j"); done
  for f in "${files[@]}"; do args+=(--telemetry "$f"); done
  read -r gs gm < <(POLARS_MAX_THREADS=2 measure /dev/null "$gl" "${args[@]}")
  # DuckDB reads the ten files as one by its glob.
  read -r ds dm < <(measure "$out/duck.csv" "$py" "$tools/reference_duckdb.py" "$dir/part*" --threads 2)
  diff=$("$py" - "$out/r/report.json" "$out/duck.csv" <<'PY'
import sys, json, csv
jobs = {j["job_id"]: j["sampled_kwh"] for j in json.load(open(sys.argv[1]))["jobs"]}
worst = 0.0
for r in csv.DictReader(open(sys.argv[2])):
    ref, got = float(r["sampled_kwh"]), jobs[r["job_id"]]
    worst = max(worst, abs(got - ref) / max(abs(ref), 1e-12))
print(f"{worst:.2e} ({len(jobs)} jobs)")
PY
)
  rm -rf "$out"
  printf "%-4s %14.2f %10.2f %8.2f %14.0f %14.0f %14s\n" "$r" "$gs" "$ds" \
    "$("$py" -c "print($gs / $ds)")" "$(( gm / 1024 ))" "$(( dm / 1024 ))" "$diff"
done
