#!/usr/bin/env bash
# What TLS costs the control plane: a registry without TLS and one with --tls, side by side, on
# free loopback ports in a temporary directory. Prints, for each: login (POST /v1/sessions,
# one connection each, median of N), `gridadmin server list` as a process (median of N), and
# requests per second on kept-alive connections (wrk, 4 connections, 5 s) on GET /v1/registry,
# as open and as small as a locate answer. Nothing is asserted; the figures go in the note.
#
#   scripts/bench-tls.sh [N]      # N runs for the medians, default 50
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || true
fi
command -v wrk >/dev/null || { echo "bench-tls: wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --bins --quiet
bin=${CARGO_TARGET_DIR:-target}/release
dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# Starts a registry in DIR/NAME with FLAGS; prints its address.
registry() {
  local name=$1
  shift
  mkdir -p "$dir/$name"
  GRID_ADMIN_PASSWORD=admin "$bin/gridregistry" --listen 127.0.0.1:0 --data "$dir/$name/data" \
    --addr-file "$dir/$name/addr" "$@" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [[ -s $dir/$name/addr ]] && break; sleep 0.1; done
  cat "$dir/$name/addr"
}

# The median of the numbers on stdin.
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Milliseconds one run of a command takes.
ms() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

measure() {
  local label=$1 url=$2
  shift 2
  local curl_ca=("$@") admin_ca=()
  ((${#curl_ca[@]})) && admin_ca=(--ca "${curl_ca[1]}")
  local login list rate
  login=$(for _ in $(seq "$n"); do
    ms curl -fsS "${curl_ca[@]}" -H 'content-type: application/json' \
      -d '{"user":"admin","password":"admin"}' "$url/v1/sessions"
  done | median)
  list=$(for _ in $(seq "$n"); do
    ms "$bin/gridadmin" -u admin -p admin --registry "$url" "${admin_ca[@]}" -e "server list"
  done | median)
  rate=$(wrk -t 2 -c 4 -d 5s "$url/v1/registry" 2>/dev/null | awk '/Requests\/sec/ { print int($2) }')
  printf '%-9s login %4s ms   gridadmin server list %4s ms   GET /v1/registry kept alive %7s req/s\n' \
    "$label" "$login" "$list" "$rate"
}

plain=$(registry plain)
tls=$(registry tls --tls)
measure "plain" "http://$plain"
measure "TLS" "https://$tls" --cacert "$dir/tls/data/ca.pem"
