#!/usr/bin/env bash
# The whole test suite with its real components: installs Debian's `prometheus` (which ships
# `promtool`) and `minisign` (the signing tests check with it) when they are missing and PySpark, DuckDB and MLflow in a virtual environment, then runs
# `cargo test` with them required, so that a missing one fails instead of being skipped.
# Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 || ! command -v minisign >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  for attempt in 1 2 3; do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus minisign >/tmp/greenledger-apt.log 2>&1 ||
       ($sudo apt-get update >/dev/null 2>&1 &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus minisign >/tmp/greenledger-apt.log 2>&1); then
      break
    fi
    echo "apt-get install prometheus minisign failed (attempt $attempt); retrying" >&2
    sleep 10
  done
fi
# The pushdown engines (PySpark in local mode, on the machine's Java 17, and DuckDB) and the
# MLflow tracking server the MLflow tests start, in a virtual environment under the target
# folder, made once and reused.
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
venv="$(cd "$target" && pwd)/test-venv"
if ! command -v java >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends default-jre-headless >/tmp/greenledger-apt-java.log 2>&1 ||
    ($sudo apt-get update >/dev/null 2>&1 &&
     $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends default-jre-headless >/tmp/greenledger-apt-java.log 2>&1) ||
    echo "Java could not be installed: the Spark tests will fail" >&2
fi
if ! "$venv/bin/python" -c "import pyspark, duckdb, mlflow, numpy, pyarrow" >/dev/null 2>&1; then
  python3 -m venv "$venv"
  for attempt in 1 2 3; do
    if "$venv/bin/pip" install --quiet --disable-pip-version-check pyspark==4.3.0 duckdb==2.0.1 mlflow==3.17.2 numpy==2.4.6 pyarrow==25.0.1 >/tmp/greenledger-pip.log 2>&1; then
      break
    fi
    echo "pip install pyspark duckdb mlflow numpy pyarrow failed (attempt $attempt); retrying" >&2
    tail -3 /tmp/greenledger-pip.log >&2 || true
    sleep 10
  done
fi
export GREENLEDGER_PYTHON="$venv/bin/python"
export GREENLEDGER_REQUIRE_SERVERS=1
exec cargo test "$@"
