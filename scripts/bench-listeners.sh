#!/usr/bin/env bash
# The live channels benchmark: builds the release binaries and the music library, then
# - for each N of a series, a fresh media-server pinned to core 0 (`taskset -c 0`, `ulimit -n
#   20000`) with one 128 kbit/s channel ("Cloud Save", "Night Transit", in order), and `icyload`
#   pinned to core 1 holding N ICY listeners (joins at --rate per second, then a steady window):
#   one line per N with connected, failed, stalls, bitrate p1, TTFB p50/p99, joins/s, the server's
#   CPU (user, system, µs per listener-second) and RSS per listener, and the generator's own cost;
#   then the largest N with zero stalls (and zero failures);
# - a relay chain of three media-servers (B relays A's channel, C relays B's): one listener on
#   each, 64-byte windows of A's audio found in B's and C's streams, the latency each hop adds.
# Nothing is asserted; the figures go in the issue note. Every process started is killed by pid
# at the end.
#
# Usage: scripts/bench-listeners.sh [--listeners "1000 5000 10000 19000"] [--seconds 20]
#          [--rate 2000] [--relay-seconds 20] [--no-relay] [--no-load] [--standin]
#   --standin  measure the series against icysource (the bench crate's trivial ICY source) instead
#              of media-server: the generator's own limits.
# Environment: MEDIA_DIR (default media), TICK_MS (media-server --live-tick-ms, default its own).
set -euo pipefail
cd "$(dirname "$0")/.."

series="1000 5000 10000 19000"
seconds=20
rate=2000
relay_seconds=20
do_relay=1
do_load=1
standin=0
while [ $# -gt 0 ]; do
  case $1 in
    --listeners) series=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --relay-seconds) relay_seconds=$2; shift 2 ;;
    --no-relay) do_relay=0; shift ;;
    --no-load) do_load=0; shift ;;
    --standin) standin=1; shift ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-listeners: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

library=${MEDIA_DIR:-media}
bin=target/release
cargo build --release --bins --quiet
MEDIA_SYNTH=$bin/media-synth ./scripts/make-media.sh >/dev/null

if ! $bin/media-server --help | grep -q -- '--channels'; then
  echo "cannot measure: this media-server has no --channels (live channels not built)" >&2
  [ "$standin" = 1 ] || exit 1
fi
tick_args=()
[ -n "${TICK_MS:-}" ] && tick_args=(--live-tick-ms "$TICK_MS")

# Pinning: the server on core 0, the generator on core 1.
pin_server=() pin_load=()
if ! command -v taskset >/dev/null; then
  echo "NOT PINNED: taskset (util-linux) is missing; server and generator share the cores"
elif [ "$(nproc)" -lt 2 ]; then
  echo "NOT PINNED: $(nproc) core; server and generator share it"
else
  pin_server=(taskset -c 0) pin_load=(taskset -c 1)
fi

# Open files: 20,000 for the server (soft), the generator raises its own soft limit to the hard.
hard=$(ulimit -Hn)
want=20000
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  ulimit -Hn "$want" 2>/dev/null && hard=$want ||
    echo "open-files hard limit is $hard (< $want) and cannot be raised: larger N will fail"
fi
fd_limit=$want
[ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && fd_limit=$hard
if ! (ulimit -Sn "$fd_limit") 2>/dev/null; then
  echo "cannot set the open-files soft limit to $fd_limit; the server keeps $(ulimit -Sn)"
  fd_limit=$(ulimit -Sn)
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CHANNELS_FILE: a media-server pinned to core 0; sets $server_pid and $server_addr.
start() {
  local name=$1 channels=$2
  rm -f "$tmp/$name.addr"
  (
    ulimit -Sn "$fd_limit"
    exec "${pin_server[@]}" "$bin/media-server" --listen 127.0.0.1:0 --addr-file "$tmp/$name.addr" \
      --library "$library" --channels "$channels" "${tick_args[@]}"
  ) >"$tmp/$name.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_addr "$name"
}

start_standin() {
  local name=$1
  (
    ulimit -Sn "$fd_limit"
    exec "${pin_server[@]}" "$bin/icysource" 127.0.0.1:0 "${TICK_MS:-250}"
  ) >"$tmp/$name.addr" 2>"$tmp/$name.log" &
  server_pid=$!
  pids+=("$server_pid")
  wait_addr "$name"
}

wait_addr() {
  local name=$1 i
  for i in $(seq 200); do
    if [ -s "$tmp/$name.addr" ]; then
      server_addr=$(head -n1 "$tmp/$name.addr")
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "$name did not start:" >&2
      cat "$tmp/$name.log" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "$name wrote no address within 10 s" >&2
  exit 1
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

cat >"$tmp/a.toml" <<'EOF'
[[channel]]
name = "bench"
description = "Listener benchmark (CBR 128)"
genre = "Bench"
playlist = ["Cloud Save", "Night Transit"]
order = "in-order"
EOF

echo "live channel benchmark: server ${pin_server[*]:-unpinned}, generator ${pin_load[*]:-unpinned}," \
  "open files $fd_limit, joins $rate/s, steady window $seconds s"

if [ "$do_load" = 1 ]; then
  best=none
  for n in $series; do
    if [ "$standin" = 1 ]; then
      start_standin standin
      url="http://$server_addr/live/test"
    else
      start a "$tmp/a.toml"
      url="http://$server_addr/live/bench"
    fi
    sleep 1 # the channel starts playing; the RSS before the joins is read at rest
    if line=$("${pin_load[@]}" "$bin/icyload" "$url" --listeners "$n" --rate "$rate" \
      --seconds "$seconds" --server-pid "$server_pid" --json); then
      python3 - "$line" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); f = r["failures"]; s = r.get("server"); g = r["generator"]
print(f"N={r['listeners']:>6}: connected {r['connected']} failed {r['failed']}"
      f" (refused {f['refused']} reset {f['reset']} closed {f['closed']} parse {f['parse']}"
      f" status {f['status']} timeout {f['timeout']} other {f['other']})"
      f" stalls {r['stalls']} (in the steady window {r['stalls_in_window']}, max gap {r['max_gap_ms']:.0f} ms)"
      f" | bitrate p1 {r['bitrate_p1_kbps']:.1f} p50 {r['bitrate_p50_kbps']:.1f} kbit/s"
      f" | TTFB p50 {r['ttfb_p50_ms']:.1f} p99 {r['ttfb_p99_ms']:.1f} ms, over 1 s {r['slow_joins']}"
      f" | joins {r['joins_per_s']:.0f}/s (generator late by {r['join_lag_ms']:.0f} ms at worst) | blocks {r['blocks']} (titled {r['titled_blocks']}, changes {r['title_changes']})")
if s:
    print(f"          server CPU user {s['user_s']:.2f} s sys {s['system_s']:.2f} s over {r['window_s']:.1f} s"
          f" = {s['cpu_pct']:.1f} % of a core (during the joins {s['join_cpu_pct']:.1f} %), {s['us_per_listener_s']:.2f} µs/listener-s"
          f" | server RSS {s['rss_before_kib']/1024:.1f} -> {s['rss_end_kib']/1024:.1f} MiB"
          f" = {s['kib_per_listener']:.2f} KiB/listener")
else:
    print(f"          server not measured: {r.get('server_error')}")
print(f"          icyload CPU {g['cpu_pct']:.1f} % (joins {g['join_cpu_pct']:.1f} %), RSS {g['rss_kib']/1024:.1f} MiB"
      + (f" | first error: {r['first_error']}" if r.get('first_error') else ""))
PY
      if python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["stalls"]==0 and r["failed"]==0 else 1)' "$line"; then
        best=$n
      fi
    else
      echo "N=$n: icyload failed"
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "N=$n: the server died; its log ends:"
      tail -n 5 "$tmp/a.log" "$tmp/standin.log" 2>/dev/null || true
    fi
    stop "$server_pid"
  done
  echo "largest N with zero stalls and zero failures: $best"
fi

if [ "$do_relay" = 1 ] && [ "$standin" = 0 ]; then
  start a "$tmp/a.toml"
  a_addr=$server_addr
  printf '[[channel]]\nname = "bench"\nsource = "http://%s/live/bench"\n' "$a_addr" >"$tmp/b.toml"
  start b "$tmp/b.toml"
  b_addr=$server_addr
  printf '[[channel]]\nname = "bench"\nsource = "http://%s/live/bench"\n' "$b_addr" >"$tmp/c.toml"
  start c "$tmp/c.toml"
  c_addr=$server_addr
  sleep 3 # the relays connect and fill their burst
  echo "relay chain A=$a_addr <- B=$b_addr <- C=$c_addr (${relay_seconds} s, one listener each):"
  "${pin_load[@]}" "$bin/icyload" "http://$a_addr/live/bench" --relay "http://$b_addr/live/bench" \
    --relay "http://$c_addr/live/bench" --seconds "$relay_seconds" ||
    echo "relay latency: not measured (icyload failed)"
fi
