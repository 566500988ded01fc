#!/usr/bin/env bash
# Benchmark (not a test): reading a fleet's DCGM power from a local Prometheus, against the same
# samples as a Parquet file and the DuckDB reference on that file. Prints wall time, samples per
# second fetched, peak memory, and checks that per-job energy matches the file path (1e-9).
#
#   bench/prometheus.sh [SIZE]        size in millions of samples, default 10
# Environment: BENCH_DIR (default /tmp/greenledger-bench), RUNS (default 2),
#              GREENLEDGER (default target/release/greenledger), STEP_S (chunk, default 3600).
# Needs: prometheus and promtool (Debian's prometheus), PYTHON with duckdb numpy pyarrow,
#        /usr/bin/time, a release build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/bench"
# The Python with duckdb, numpy and pyarrow: PYTHON, else the test environment scripts/test.sh
# makes (pinned versions), else python3.
venv="${CARGO_TARGET_DIR:-$root/target}/test-venv/bin/python"
[ -x "$venv" ] || venv=python3
py=${PYTHON:-$venv}
dir=${BENCH_DIR:-/tmp/greenledger-bench}
runs=${RUNS:-2}
gl=${GREENLEDGER:-$root/target/release/greenledger}
m=${1:-10}
step=${STEP_S:-3600}
[ -x "$gl" ] || { echo "build first: cargo build --release" >&2; exit 2; }
f="$dir/p${m}m"
if [ ! -f "$f/power.parquet" ]; then
  nodes=32
  days=$("$py" -c "print(round($m * 1e6 / ($nodes * 8 * 8640), 3))")
  echo "making a fleet of ${m}M samples: $nodes nodes, $days days" >&2
  "$py" "$tools/gen_fleet.py" "$f" --nodes "$nodes" --days "$days" --interval 10 --seed "$m" >&2
fi
if [ ! -d "$f/tsdb" ]; then
  "$py" "$root/bench/to_openmetrics.py" "$f" >&2
  /usr/bin/time -f "promtool import: %e s" promtool tsdb create-blocks-from openmetrics "$f/fleet.om" "$f/tsdb" >/dev/null
fi
period=$("$py" - "$f" <<'PY'
import sys, pyarrow.parquet as pq, pyarrow.compute as pc, datetime as dt
t = pq.read_table(sys.argv[1] + "/power.parquet", columns=["timestamp"]).column(0)
lo, hi = pc.min(t).as_py(), pc.max(t).as_py()
print(f"{(lo - dt.timedelta(days=1)).date()}..{(hi + dt.timedelta(days=1)).date()}")
PY
)
port=$("$py" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
prometheus --config.file=/dev/null --storage.tsdb.path="$f/tsdb" --storage.tsdb.retention.time=100y \
  --web.listen-address=127.0.0.1:$port --query.max-samples=200000000 >"$f/prometheus.log" 2>&1 &
prom=$!
trap 'kill $prom 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null; do sleep 0.2; done
samples=$("$py" -c "import pyarrow.parquet as pq; print(pq.ParquetFile('$f/power-dedup.parquet').metadata.num_rows)")
cfg="$f/prom.toml"
{ cat "$f/greenledger.toml"; printf '\n[prometheus]\nurl = "http://127.0.0.1:%s"\nenergy = ""\njobs = "none"\nstep_s = %s\n' "$port" "$step"; } >"$cfg"

measure() { # prints "seconds peak_kib"
  local log; log=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$log" "$@" >/dev/null 2>"$log.err" || { cat "$log.err" >&2; rm -f "$log" "$log.err"; return 1; }
  cat "$log"; rm -f "$log" "$log.err"
}
printf "%-6s %-4s %14s %12s %12s %10s %10s %10s\n" size run prometheus_s Msamples/s file_s duckdb_s gl_prom_MiB gl_file_MiB
for r in $(seq 1 "$runs"); do
  out=$(mktemp -d)
  read -r ps pm < <(POLARS_MAX_THREADS=2 measure "$gl" report -q --format json --force --out "$out/p" \
      --config "$cfg" --jobs "$f/jobs.csv" --period "$period")
  read -r fs fm < <(POLARS_MAX_THREADS=2 measure "$gl" report -q --format json --force --out "$out/f" \
      --config "$f/greenledger.toml" --jobs "$f/jobs.csv" --telemetry "$f/power-dedup.parquet" --period "$period")
  mkdir -p "$out/d"; cp "$f/jobs.csv" "$out/d/"; ln -s "$f/power-dedup.parquet" "$out/d/power.parquet"
  read -r ds dm < <(measure "$py" "$tools/reference_duckdb.py" "$out/d" --threads 2)
  "$py" - "$out/p/report.json" "$out/f/report.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ja = {j["job_id"]: j["sampled_kwh"] or 0 for j in a["jobs"]}
jb = {j["job_id"]: j["sampled_kwh"] or 0 for j in b["jobs"]}
bad = [k for k in jb if abs(ja.get(k, -1) - jb[k]) > 1e-9 * max(abs(jb[k]), 1e-12)]
ia, ib = a["telemetry"]["idle_kwh"], b["telemetry"]["idle_kwh"]
print(f"  per-job sampled energy: {len(jb) - len(bad)}/{len(jb)} equal to 1e-9; idle {ia} vs {ib}", file=sys.stderr)
sys.exit(1 if bad or abs(ia - ib) > 1e-9 * max(abs(ib), 1e-12) else 0)
PY
  rm -rf "$out"
  printf "%-6s %-4s %14.2f %12.2f %12.2f %10.2f %10.0f %10.0f\n" "${m}M" "$r" "$ps" \
    "$("$py" -c "print($samples / $ps / 1e6)")" "$fs" "$ds" "$(( pm / 1024 ))" "$(( fm / 1024 ))"
done
