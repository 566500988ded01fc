#!/usr/bin/env bash
# Load a report.html in headless Chromium, save a screenshot beside it, and fail when the page
# logs anything to the console (errors, warnings, failed loads: the report has no script, so any
# message is a fault).
#
#   scripts/check_html.sh [REPORT.html]      default: a fresh demo report in a temporary folder
#
# SHOT=FILE saves the screenshot there instead, and SHOT_SIZE=W,H sets the window (default
# 1280,6000: the whole page); the README's picture is `SHOT=docs/src/images/report.png
# SHOT_SIZE=1280,900 scripts/check_html.sh`.
#
# Needs Debian's chromium (apt-get install chromium). Exit 0 clean, 1 console messages, 2 set-up.
set -euo pipefail
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z "$browser" ]]; then
  echo "check_html: no chromium found (apt-get install chromium)" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ $# -ge 1 ]]; then
  html=$(realpath "$1")
else
  # The binary `cargo test` built, when there is one: `cargo run` would rebuild polars
  # without the dev-dependencies' features (several minutes on 2 cores).
  bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/greenledger"
  if [[ -x "$bin" ]]; then
    "$bin" demo --quiet --out "$work/demo" >/dev/null
  else
    cargo run --quiet -- demo --quiet --out "$work/demo" >/dev/null
  fi
  html="$work/demo/report.html"
fi
shot="${html%.html}.png"
[[ $# -ge 1 ]] || shot="${CARGO_TARGET_DIR:-$PWD/target}/check_html.png"
shot=$(realpath -m "${SHOT:-$shot}")
# The flags keep Chromium off the network (this machine's is closed) and out of the user's profile.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
  --window-size="${SHOT_SIZE:-1280,6000}" --screenshot="$shot" "file://$html" 2>"$work/log" >/dev/null || {
  cat "$work/log" >&2
  echo "check_html: chromium failed" >&2
  exit 2
}
if grep -q "CONSOLE" "$work/log"; then
  echo "check_html: console messages in $html:" >&2
  grep "CONSOLE" "$work/log" >&2
  exit 1
fi
[[ -s "$shot" ]] || { echo "check_html: no screenshot was written" >&2; exit 2; }
echo "check_html: no console messages; screenshot $shot"
