#!/usr/bin/env bash
# Benchmark (not a test): the telemetry integration pushed down to Spark (local[1] and local[2]) and DuckDB,
# against greenledger in-process and the DuckDB reference (bench/reference_duckdb.py),
# on a gen_fleet.py fleet, in the same run. Prints wall time, peak memory (/usr/bin/time -f %M;
# for Spark the JVM's RSS, polled) and the rows per second each sustains; checks that
# the pushdown's per-job energy equals the in-process one.
#
#   bench/pushdown.sh [SIZES...]      sizes in millions of samples, default: 20
# Environment: BENCH_DIR (default /tmp/greenledger-bench), RUNS (default 1),
#              GREENLEDGER (default target/release/greenledger), PYTHON (with pyspark, duckdb,
#              numpy, pyarrow; default: the test environment), SPARK_MASTERS (default
#              "local[1] local[2]": Spark runs once per master, for the scale-out), NODE_POWER
#              (set: also Spark local[2] and DuckDB with node power and energy counters made by
#              bench/gen_node_counters.py).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/bench"
# The Python with duckdb, numpy and pyarrow: PYTHON, else the test environment scripts/test.sh
# makes (pinned versions), else python3.
venv="${CARGO_TARGET_DIR:-$root/target}/test-venv/bin/python"
[ -x "$venv" ] || venv=python3
py=${PYTHON:-$venv}
dir=${BENCH_DIR:-/tmp/greenledger-bench}
runs=${RUNS:-1}
gl=${GREENLEDGER:-$root/target/release/greenledger}
masters=${SPARK_MASTERS:-local[1] local[2]}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20)
[ -x "$gl" ] || { echo "build first: cargo build --release" >&2; exit 2; }
mkdir -p "$dir"

fleet() {
  local m=$1 out="$dir/f${1}m"
  if [ ! -f "$out/power.parquet" ]; then
    local nodes=$(( m >= 50 ? 64 : 32 ))
    local days; days=$("$py" -c "print(round($m * 1e6 / ($nodes * 8 * 8640), 3))")
    echo "making a fleet of ${m}M samples: $nodes nodes, $days days" >&2
    "$py" "$tools/gen_fleet.py" "$out" --nodes "$nodes" --days "$days" --interval 10 --seed "$m" >&2
  fi
  echo "$out"
}

period_of() {
  "$py" - "$1" <<'PY'
import sys, pyarrow.parquet as pq, pyarrow.compute as pc, datetime as dt
t = pq.read_table(sys.argv[1] + "/power.parquet", columns=["timestamp"]).column(0)
lo, hi = pc.min(t).as_py(), pc.max(t).as_py()
print(f"{(lo - dt.timedelta(days=1)).date()}..{(hi + dt.timedelta(days=1)).date()}")
PY
}

rows_of() {
  "$py" -c "import pyarrow.parquet as pq, sys; print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)" "$1"
}

measure() { # prints "seconds peak_kib"
  local log; log=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$log" "$@" >/dev/null 2>"$log.err" || { cat "$log.err" >&2; rm -f "$log" "$log.err"; return 1; }
  cat "$log"; rm -f "$log" "$log.err"
}

# Per-job sampled kWh (or the key $3) of two report.json files agree to 1e-9 relative.
agree() {
  "$py" - "$1" "$2" "${3:-sampled_kwh}" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = sys.argv[3]
ja = {j["job_id"]: j[key] for j in a["jobs"]}
jb = {j["job_id"]: j[key] for j in b["jobs"]}
bad = [k for k in ja if abs(ja[k] - jb.get(k, float("nan"))) > 1e-9 * max(abs(ja[k]), 1e-12)]
print("equal" if not bad and ja.keys() == jb.keys() else "DIFFER: %s" % bad[:5])
PY
}

# One Spark driver run: master, pushdown folder, step name, driver arguments. /usr/bin/time sees
# the Python driver, not the JVM it starts (driver and executor in local mode) nor the Python
# workers: their RSS is polled.
spark_run() {
  local master=$1 pd=$2 name=$3; shift 3
  (/usr/bin/time -f "%e %M" -o "$w/spark.time" "$py" "$pd/run_spark.py" "$@" --master "$master" --driver-memory 4g --timings > /dev/null 2> "$w/spark.err") &
  local pid=$! jvm=0 worker=0 rss
  while kill -0 "$pid" 2>/dev/null; do
    rss=$( (ps -C java -o rss= || true) | sort -n | tail -1 | tr -d " ")
    if [ -n "$rss" ] && [ "$rss" -gt "$jvm" ]; then jvm=$rss; fi
    rss=$( (ps -eo rss=,args= | grep "pyspark.daemon\|pyspark.worker" | grep -v grep || true) | awk '{s+=$1} END {print s+0}')
    if [ -n "$rss" ] && [ "$rss" -gt "$worker" ]; then worker=$rss; fi
    sleep 0.5
  done
  wait "$pid" || { cat "$w/spark.err" >&2; return 1; }
  read -r es em < "$w/spark.time"
  line "$name" "$es" "$em" "$n"
  printf "      JVM (driver and executor) peak %d MiB, Python workers together peak %d MiB; stages:\n" "$(( jvm / 1024 ))" "$(( worker / 1024 ))"
  grep -E '^ +[0-9.]+ s  ' "$w/spark.err" | sed 's/^/    /' || true
}

printf "%-5s %-3s %-22s %10s %10s %14s %12s\n" size run step seconds peak_MiB Msamples_per_s vs_duckdb_ref
for m in "${sizes[@]}"; do
  f=$(fleet "$m")
  period=$(period_of "$f")
  n=$(rows_of "$f/power.parquet")
  inputs=(--config "$f/greenledger.toml" --jobs "$f/jobs.csv" --period "$period")
  for r in $(seq 1 "$runs"); do
    w=$(mktemp -d)
    line() { # step seconds kib [samples]
      local mps="-"; [ -n "${4:-}" ] && mps=$(awk "BEGIN{printf \"%.2f\", $4 / $2 / 1e6}")
      printf "%-5s %-3s %-22s %10s %10d %14s %12s\n" "${m}M" "$r" "$1" "$2" "$(( $3 / 1024 ))" "$mps" "$(awk "BEGIN{printf \"%.2fx\", $2 / $ds}")"
    }
    read -r ds dm < <(measure "$py" "$tools/reference_duckdb.py" "$f" --threads 2 --no-total)
    line "duckdb reference" "$ds" "$dm" "$n"
    read -r gs gm < <(POLARS_MAX_THREADS=2 measure "$gl" report -q --format json --out "$w/in" "${inputs[@]}" --telemetry "$f/power.parquet")
    line "greenledger in-process" "$gs" "$gm" "$n"
    for engine in spark duckdb; do
      read -r ps pm < <(measure "$gl" pushdown -q --engine "$engine" --out "$w/pd-$engine" "${inputs[@]}")
      line "pushdown ($engine)" "$ps" "$pm"
      if [ "$engine" = spark ]; then
        for master in $masters; do
          spark_run "$master" "$w/pd-$engine" "spark run $master" --samples "$f/power.parquet"
        done
      else
        read -r es em < <(measure "$py" "$w/pd-$engine/run_duckdb.py" --samples "$f/power.parquet" --threads 2)
        line "$engine run" "$es" "$em" "$n"
      fi
      read -r rs rm < <(measure "$gl" report -q --format json --out "$w/r-$engine" "${inputs[@]}" --pushdown "$w/pd-$engine")
      line "report --pushdown" "$rs" "$rm"
      echo "  $engine per-job energy vs in-process: $(agree "$w/in/report.json" "$w/r-$engine/report.json")"
    done
    if [ -n "${NODE_POWER:-}" ]; then
      # The same samples with node power and energy counters (bench/gen_node_counters.py):
      # Spark local[2] and DuckDB, each report's per-job IT energy held against the other's.
      [ -f "$f/counters.parquet" ] || "$py" "$tools/gen_node_counters.py" "$f" >&2
      more=(--node-power "$f/node_power.parquet" --counters "$f/counters.parquet")
      nc=$(rows_of "$f/counters.parquet")
      spark_run "local[2]" "$w/pd-spark" "spark + node, counters" --samples "$f/power.parquet" "${more[@]}"
      read -r rs rm < <(measure "$gl" report -q --format json --out "$w/rn-spark" "${inputs[@]}" --pushdown "$w/pd-spark")
      line "report --pushdown" "$rs" "$rm"
      read -r es em < <(measure "$py" "$w/pd-duckdb/run_duckdb.py" --samples "$f/power.parquet" "${more[@]}" --threads 2)
      line "duckdb + node, counters" "$es" "$em" "$(( n + nc ))"
      read -r rs rm < <(measure "$gl" report -q --format json --out "$w/rn-duckdb" "${inputs[@]}" --pushdown "$w/pd-duckdb")
      line "report --pushdown" "$rs" "$rm"
      echo "  with node power and $nc counter readings, Spark vs DuckDB per-job IT energy: $(agree "$w/rn-spark/report.json" "$w/rn-duckdb/report.json" it_energy_kwh)"
    fi
    rm -rf "$w"
  done
done
