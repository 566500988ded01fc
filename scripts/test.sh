#!/usr/bin/env bash
# The whole test suite with its real components: installs Debian's `prometheus` (which ships
# `promtool`) when it is missing, then runs `cargo test` with the servers required, so that a
# missing server fails instead of being skipped. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  for attempt in 1 2 3; do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/tmp/greenledger-apt.log 2>&1 ||
       ($sudo apt-get update >/dev/null 2>&1 &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/tmp/greenledger-apt.log 2>&1); then
      break
    fi
    echo "apt-get install prometheus failed (attempt $attempt); retrying" >&2
    sleep 10
  done
fi
export GREENLEDGER_REQUIRE_SERVERS=1
exec cargo test "$@"
