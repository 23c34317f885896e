#!/usr/bin/env bash
# The grid benchmark: builds the release binaries, then `gridbench` starts a throw-away grid
# (registry + two nodes on free loopback ports, in a temp dir), deploys four servers and prints
# median/p99 figures: kill -9 -> active, grid start-up, gridadmin as a process, locate throughput
# (measured with wrk, installed here when missing and possible), RSS at rest, then GET /metrics
# of the registry with 1,000 more servers deployed: one scrape's time (target: under 5 ms) and the
# registry's CPU for a scrape every second (target: under 1 % of a core). Nothing is asserted;
# the figures go in the issue note.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || true
fi
cargo build --release --bins --quiet
exec target/release/gridbench --bin-dir target/release "$@"
