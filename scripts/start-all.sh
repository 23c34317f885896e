#!/usr/bin/env bash
# Starts a local Spotifice Grid in the background: one registry, node1 and node2, and deploys
# config/spotifice.toml (MediaServer-1/2, MediaRender-1/2), then waits until all four are active.
# Running it again while the grid is up starts nothing twice. Stop it with scripts/stop-all.sh.
#
# Usage: scripts/start-all.sh [--tls]
#   --tls  the registry makes a grid CA (registry_data/ca.pem) and speaks HTTPS, and so do the
#          nodes, with certificates it issues; gridadmin and media-control are given the CA.
#
# Environment: GRID_REGISTRY_LISTEN (default 127.0.0.1:4061).
set -euo pipefail
cd "$(dirname "$0")/.."

tls=0
for arg in "$@"; do
  case $arg in
    --tls) tls=1 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) printf 'start-all: unknown argument %s (try --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

listen=${GRID_REGISTRY_LISTEN:-127.0.0.1:4061}
host=${listen%:*}
port=${listen##*:}
case $host in 0.0.0.0 | "[::]" | "") host=127.0.0.1 ;; esac
scheme=http
# What every client of the grid is given when it speaks TLS: the grid CA.
ca=()
curl_ca=()
registry_tls=()
if ((tls)); then
  scheme=https
  ca=(--ca registry_data/ca.pem)
  curl_ca=(--cacert registry_data/ca.pem)
  registry_tls=(--tls)
fi
registry_url="$scheme://$host:$port"
# Where cargo put the binaries: ./target unless CARGO_TARGET_DIR says otherwise.
bin=${CARGO_TARGET_DIR:-target}/release
pids=run/grid.pids
# gridadmin logs in as GRID_USER with GRID_PASSWORD (admin/admin until you change it; then
# run start-all with yours). Given in its environment, the password stays out of `ps`.
admin=(env "GRID_USER=${GRID_USER:-admin}" "GRID_PASSWORD=${GRID_PASSWORD:-admin}"
  "$bin/gridadmin" --registry "$registry_url" "${ca[@]}")

say() { printf '%s\n' "$*"; }
die() {
  printf 'start-all: %s\n' "$*" >&2
  exit 1
}

# The pid recorded for NAME in the pid file, if any.
recorded_pid() {
  [[ -f $pids ]] || return 0
  awk -v name="$1" '$1 == name { print $2 }' "$pids" | tail -n 1
}

# True when PID runs (a zombie waiting for its new parent to reap it does not count).
running() {
  local stat
  [[ -n $1 ]] && stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $stat != Z* ]]
}

# True when PID runs EXE (so a recycled pid is not taken for ours).
alive() {
  local pid=$1 exe=$2
  running "$pid" && [[ $(ps -o comm= -p "$pid" 2>/dev/null) == "$exe"* ]]
}

# Records NAME PID in the pid file, replacing an older entry.
record() {
  local name=$1 pid=$2 tmp
  mkdir -p run
  tmp=$(mktemp run/grid.pids.XXXXXX)
  if [[ -f $pids ]]; then
    awk -v name="$name" '$1 != name' "$pids" >"$tmp"
  fi
  printf '%s %s\n' "$name" "$pid" >>"$tmp"
  mv "$tmp" "$pids"
}

# Polls CMD every 0.1 s for up to TIMEOUT seconds, while the process PID (if not empty) lives.
wait_until() {
  local timeout=$1 pid=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  while ((SECONDS <= deadline)); do
    "$@" && return 0
    if [[ -n $pid ]] && ! running "$pid"; then
      return 2
    fi
    sleep 0.1
  done
  return 1
}

# Starts NAME (for the pid file) in its own session, detached from this terminal, logging to LOG.
start() {
  local name=$1 log=$2 exe=$3
  shift 3
  local pid
  pid=$(recorded_pid "$name")
  if alive "$pid" "$exe"; then
    say "$name already running (pid $pid)"
    return
  fi
  if command -v setsid >/dev/null; then
    nohup setsid "$bin/$exe" "$@" >>"$log" 2>&1 </dev/null &
  else
    nohup "$bin/$exe" "$@" >>"$log" 2>&1 </dev/null &
  fi
  pid=$!
  record "$name" "$pid"
  say "$name started (pid $pid, log $log)"
}

registry_up() {
  [[ -s registry_data/cluster.secret ]] &&
    curl -fsS "${curl_ca[@]}" -o /dev/null --max-time 1 "$registry_url/v1/registry" 2>/dev/null
}

# True when `server list` shows every server of the default application active.
servers_active() {
  local list id
  list=$("${admin[@]}" -e "server list" 2>/dev/null) || return 1
  for id in MediaServer-1 MediaServer-2 MediaRender-1 MediaRender-2; do
    grep -E "(^|[[:space:]])$id([[:space:]]|$)" <<<"$list" | grep -qw active || return 1
  done
}

command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"
command -v curl >/dev/null || die "curl is not installed"
command -v make >/dev/null || die "make is not installed: cargo builds LAME, the demo library's MP3 encoder, from source with it (it comes with the C compiler's build tools)"

say "Building (cargo build --release --bins)..."
cargo build --release --bins
if [[ -z $(find media -name '*.mp3' -print -quit 2>/dev/null) ]]; then
  say "media/ has no tracks: making the demo library (scripts/make-media.sh)..."
  MEDIA_DIR="$PWD/media" scripts/make-media.sh || die "could not make the music library (scripts/make-media.sh)"
fi
mkdir -p media run

start registry registry.log gridregistry --listen "$listen" --data registry_data "${registry_tls[@]}"
rc=0
wait_until 10 "$(recorded_pid registry)" registry_up || rc=$?
if ((rc != 0)); then
  tail -n 20 registry.log >&2 || true
  if ((rc == 2)); then
    die "the registry exited (is $listen already taken?); see registry.log"
  fi
  die "the registry did not answer at $registry_url within 10 s; see registry.log"
fi

for node in node1 node2; do
  start "$node" "$node.log" gridnode --name "$node" --data "${node}_data" \
    --secret-file registry_data/cluster.secret --registry "$registry_url" "${ca[@]}"
done

apps=$("${admin[@]}" -e "application list") || die "gridadmin cannot list applications"
if grep -qw Spotifice <<<"$apps"; then
  say "application Spotifice already deployed"
  # A deployment is kept as it is (it may have been changed on purpose with gridadmin); say so
  # when it is not the repository's descriptor any more.
  if diff=$("${admin[@]}" -e "application diff config/spotifice.toml" 2>/dev/null) &&
    grep -Eq '^(added|removed|changed): +[^- ]' <<<"$diff"; then
    say "note: the deployed Spotifice differs from config/spotifice.toml:"
    grep -E '^(added|removed|changed):' <<<"$diff" | sed 's/^/  /'
    say "  deploy the file with: target/release/gridadmin -u admin -p admin -e \"application update config/spotifice.toml\""
  fi
else
  "${admin[@]}" -e "application add config/spotifice.toml"
  say "application Spotifice deployed"
fi

if ! wait_until 30 "" servers_active; then
  "${admin[@]}" -e "server list" >&2 || true
  die "not every server became active within 30 s; see node1.log, node2.log, mediaserver1.log, ..."
fi

# `mpv` command lines for each render's /listen stream.
render_urls() {
  "$bin/media-control" --registry "$registry_url" "${ca[@]}" renders 2>/dev/null |
    awk 'NR > 1 && $3 ~ /^http/ { printf "  mpv --no-video %s/listen   # %s\n", $3, $1 }'
}

# Each live channel's URL on the first MediaServer.
channel_urls() {
  local server
  server=$(curl -fsS "${curl_ca[@]}" "$registry_url/v1/locate/MediaServerGroup" 2>/dev/null |
    grep -o '"endpoint":"[^"]*"' | head -n 1 | cut -d'"' -f4) || return 0
  [[ -n $server ]] || return 0
  curl -fsS "$server/v1/channels" 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4 |
    while read -r name; do printf '  mpv %s/live/%s\n' "$server" "$name"; done
}

# The first MediaServer's control port: line commands, the channel as UDP datagrams.
control_line() {
  local server addr
  server=$(curl -fsS "${curl_ca[@]}" "$registry_url/v1/locate/MediaServerGroup" 2>/dev/null |
    grep -o '"endpoint":"[^"]*"' | head -n 1 | cut -d'"' -f4) || return 0
  [[ -n $server ]] || return 0
  addr=$(curl -fsS "$server/v1/control" 2>/dev/null | grep -o '"addr":"[^"]*"' | cut -d'"' -f4)
  [[ -n $addr ]] || return 0
  printf '  control port %s: send "CONECTAR 5004 lounge", then ffplay udp://127.0.0.1:5004\n' "$addr"
}

# What gridadmin and media-control need to be told beyond the defaults.
client_flags=""
client_env=""
if ((tls)); then
  client_flags=" --registry $registry_url --ca registry_data/ca.pem"
  client_env=" GRID_REGISTRY_URL=$registry_url GRID_CA_FILE=$PWD/registry_data/ca.pem"
fi

cat <<EOF

Spotifice Grid is up.
  registry  $registry_url (pid $(recorded_pid registry), data registry_data/, log registry.log)
  nodes     node1 (pid $(recorded_pid node1), data node1_data/, log node1.log)
            node2 (pid $(recorded_pid node2), data node2_data/, log node2.log)

$("${admin[@]}" -e "server list")

Play music (media-control finds renders and servers through the registry; driving a render
needs an operator's login, here the admin's):
  export GRID_USER=admin GRID_PASSWORD=admin$client_env
  target/release/media-control library
  target/release/media-control load MediaRender-1 "night transit"
  target/release/media-control play MediaRender-1
  target/release/media-control status MediaRender-1
Listen to a render with a media player:
$(render_urls)
Live channels, straight from a MediaServer (any ICY player; gridadmin -e "channel list"):
$(channel_urls)
$(control_line)

Administer it:
  $registry_url/   (the web console: log in as admin / admin, then choose your own password)
  target/release/gridadmin -u admin -p admin$client_flags   (the shell asks for a new password first)
  (later runs of start-all: GRID_PASSWORD=yours scripts/start-all.sh)
  (or export PATH="\$PWD/target/release:\$PATH" and run gridadmin -u admin -p admin)
Server logs: mediaserver1.log, mediaserver2.log, mediarender1.log, mediarender2.log
(stderr in mediaserver1.stderr.log, ...). Stop everything: scripts/stop-all.sh
EOF
