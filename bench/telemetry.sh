#!/usr/bin/env bash
# Benchmark (not a test): per-job energy from power samples, greenledger vs the DuckDB reference
# (bench/reference_duckdb.py) on gen_fleet.py fleets, alternating runs, both on 2 threads.
# Prints wall time, the ratio greenledger/DuckDB and peak memory (/usr/bin/time -f %M).
#
#   bench/telemetry.sh [SIZES...]      sizes in millions of samples, default: 10 20 100
# Environment: BENCH_DIR (fleets, default /tmp/greenledger-bench), RUNS (default 2),
#              FORMATS (default "parquet csv"), GREENLEDGER (default target/release/greenledger).
# Needs: PYTHON with duckdb, numpy, pyarrow; /usr/bin/time; a release build (cargo build --release).
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
formats=${FORMATS:-parquet csv}
gl=${GREENLEDGER:-$root/target/release/greenledger}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 20 100)
[ -x "$gl" ] || { echo "build first: cargo build --release" >&2; exit 2; }
mkdir -p "$dir"

# nodes x 8 GPUs x days x 8640 samples a day (10 s interval) = size.
fleet() {
  local m=$1 out="$dir/f${1}m"
  if [ ! -f "$out/power.parquet" ] || { [[ " $formats " == *" csv "* ]] && [ ! -f "$out/power.csv" ]; }; then
    local nodes=$(( m >= 50 ? 64 : 32 ))
    local days; days=$("$py" -c "print(round($m * 1e6 / ($nodes * 8 * 8640), 3))")
    echo "making a fleet of ${m}M samples: $nodes nodes, $days days" >&2
    "$py" "$tools/gen_fleet.py" "$out" --nodes "$nodes" --days "$days" --interval 10 --csv --seed "$m" >&2
  fi
  echo "$out"
}

# The period covering the fleet: the day it starts to the day after its last sample.
period_of() {
  "$py" - "$1" <<'PY'
import sys, pyarrow.parquet as pq, pyarrow.compute as pc, datetime as dt
t = pq.read_table(sys.argv[1] + "/power.parquet", columns=["timestamp"]).column(0)
lo, hi = pc.min(t).as_py(), pc.max(t).as_py()
print(f"{(lo - dt.timedelta(days=1)).date()}..{(hi + dt.timedelta(days=1)).date()}")
PY
}

measure() { # prints "seconds peak_kib"
  local log; log=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$log" "$@" >/dev/null 2>"$log.err" || { cat "$log.err" >&2; rm -f "$log" "$log.err"; return 1; }
  cat "$log"; rm -f "$log" "$log.err"
}

printf "%-6s %-8s %-4s %12s %12s %8s %14s %14s\n" size format run greenledger_s duckdb_s ratio gl_peak_MiB duck_peak_MiB
for m in "${sizes[@]}"; do
  f=$(fleet "$m")
  period=$(period_of "$f")
  for fmt in $formats; do
    csvflag=""; [ "$fmt" = csv ] && csvflag="--csv"
    for r in $(seq 1 "$runs"); do
      out=$(mktemp -d)
      read -r gs gm < <(POLARS_MAX_THREADS=2 measure "$gl" report -q --format json --force --out "$out/r" \
          --config "$f/greenledger.toml" --jobs "$f/jobs.csv" --telemetry "$f/power.$fmt" --period "$period")
      read -r ds dm < <(measure "$py" "$tools/reference_duckdb.py" "$f" --threads 2 $csvflag)
      rm -rf "$out"
      printf "%-6s %-8s %-4s %12.2f %12.2f %8.2f %14.0f %14.0f\n" "${m}M" "$fmt" "$r" "$gs" "$ds" \
        "$("$py" -c "print($gs / $ds)")" "$(( gm / 1024 ))" "$(( dm / 1024 ))"
    done
  done
done
