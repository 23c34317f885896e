#!/usr/bin/env bash
# The distribution tree benchmark (docs/live.md, "The distribution tree"): builds the
# release binaries and the music library, then `treebench` starts a root media-server playing a
# channel and N relay media-servers of it (default 14: a full binary tree three deep), on free
# loopback ports in a temporary directory, and prints:
# - the time for the relays to form one consistent tree, its depth histogram, the root's redirects;
# - the latency each hop adds along the chain from the root to a deepest relay (one ICY listener
#   per copy, 64-byte windows of the root's audio found downstream);
# - K times (default 10): a depth-1 relay with children SIGKILLed, the time until every orphan
#   plays again under another parent, the largest read gap and the rate of a plain listener on an
#   orphan in [kill, heal + 1 s] and whether it stayed connected, the orphans' reconnects; a
#   replacement relay then joins before the next kill; then the tree's shape and stale paths;
# - RSS of the root and of a relay.
# Nothing is asserted; the figures go in the issue note. Every process is killed by pid; the
# temporary directory (logs) is shown only when the run fails.
#
# Usage: scripts/bench-tree.sh [--relays 14] [--kills 10] [--latency-seconds 15]
# Environment: MEDIA_DIR (default media).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins --quiet
MEDIA_SYNTH=target/release/media-synth ./scripts/make-media.sh >/dev/null
exec target/release/treebench --bin-dir target/release --library "${MEDIA_DIR:-media}" "$@"
