#!/usr/bin/env bash
# The web console benchmark (docs/console.md): builds the release binaries, then `consolebench`
# starts a registry on a free loopback port in a temporary directory holding 1,000 servers over
# 50 simulated nodes (they register, heartbeat and report server states with the cluster secret,
# and run nothing), opens the console's servers page in headless chromium and prints:
# - the first load of the servers page (fresh navigations): DOMContentLoaded, and the
#   snapshot's rows in the DOM;
# - an event reaching the DOM at 200 events per second, over the first minute: from the node's
#   POST to the row's new pid, seen by a MutationObserver in the page;
# - the page's JS heap after a garbage collection, at the start and each minute of 10 minutes
#   of events, and the page's main-thread tasks over 50 ms.
# Nothing is asserted; the figures go in the issue note. Needs chromium and chromium-driver
# (apt-get install chromium chromium-driver).
#
# Usage: scripts/bench-console.sh [--servers 1000] [--nodes 50] [--rate 200] [--minutes 10]
#        [--latency-seconds 60] [--loads 10]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins --quiet
exec target/release/consolebench --bin-dir target/release "$@"
