#!/usr/bin/env bash
# The media benchmark: builds the release binaries and the music library, then `mediabench`
# measures, on throw-away processes on free loopback ports:
# - the MediaServer chunk API for one client (4096-byte chunks one at a time and 8 in flight; the
#   streamed /data body with 4 KiB and 64 KiB pieces);
# - the failover gap of a render reading as fast as it can while its MediaServer is killed, and
#   while every replica is killed at once (the nodes' restart path);
# - real-time playback at the default buffer with kills: underruns, bytes lost or repeated;
# - RSS of an idle media-server and media-render.
# Nothing is asserted; the figures go in the issue note. Flags are passed on (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins --quiet
MEDIA_SYNTH=target/release/media-synth ./scripts/make-media.sh >/dev/null
exec target/release/mediabench --bin-dir target/release --library "${MEDIA_DIR:-media}" "$@"
