#!/usr/bin/env bash
# Stops what scripts/start-all.sh started: the nodes first (a node stops its servers on SIGTERM),
# then the registry; SIGKILL after a deadline. Then it kills whatever server process groups the
# nodes left behind (their pids are in node*_data/run/*.json). It never kills by name, and is
# harmless when nothing runs.
set -euo pipefail
cd "$(dirname "$0")/.."

pids=run/grid.pids

say() { printf '%s\n' "$*"; }

# True when PID runs (a zombie waiting for its new parent to reap it does not count).
running() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $stat != Z* ]]
}

# True when PID runs EXE (so a recycled pid is left alone).
alive() {
  local pid=$1 exe=$2
  running "$pid" && [[ $(ps -o comm= -p "$pid" 2>/dev/null) == "$exe"* ]]
}

# Waits up to TIMEOUT seconds until none of the PIDS is alive; true if they all ended.
wait_gone() {
  local timeout=$1 pid running
  shift
  local deadline=$((SECONDS + timeout))
  while true; do
    running=0
    for pid in "$@"; do
      running "$pid" && running=1
    done
    ((running)) || return 0
    ((SECONDS <= deadline)) || return 1
    sleep 0.1
  done
}

# SIGTERM to every "NAME PID" entry of the pid file whose NAME starts with PREFIX and whose
# process still runs EXE; SIGKILL to those left after TIMEOUT seconds.
stop() {
  local prefix=$1 exe=$2 timeout=$3 name pid
  local -a targets=()
  while read -r name pid; do
    [[ $name == "$prefix"* && $pid =~ ^[0-9]+$ ]] || continue
    if alive "$pid" "$exe"; then
      say "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      targets+=("$pid")
    fi
  done <"$pids"
  ((${#targets[@]})) || return 0
  if ! wait_gone "$timeout" "${targets[@]}"; then
    for pid in "${targets[@]}"; do
      if running "$pid"; then
        say "pid $pid did not stop within ${timeout} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    wait_gone 5 "${targets[@]}" || true
  fi
}

# The live (not zombie) members of process group PGID.
group_members() {
  ps -e -o pid= -o pgid= -o stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# True when some member of process group PGID is a grid server (has GRID_SERVER_ID in its
# environment), so a recycled pid from an old run file is never taken for one of ours.
is_server_group() {
  local member
  for member in $(group_members "$1"); do
    grep -qz '^GRID_SERVER_ID=' "/proc/$member/environ" 2>/dev/null && return 0
  done
  return 1
}

# Kills the process groups of servers the nodes left behind.
stop_leftover_servers() {
  local file pgid
  local -a groups=()
  shopt -s nullglob
  for file in node*_data/run/*.json; do
    pgid=$(sed -n 's/.*"pid"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$file" | head -n 1)
    [[ -n $pgid ]] || continue
    if is_server_group "$pgid"; then
      say "stopping leftover server group $pgid ($file)"
      kill -TERM -- "-$pgid" 2>/dev/null || true
      groups+=("$pgid")
    fi
  done
  shopt -u nullglob
  local deadline=$((SECONDS + 5))
  for pgid in "${groups[@]}"; do
    while [[ -n $(group_members "$pgid") ]] && ((SECONDS <= deadline)); do
      sleep 0.1
    done
    if [[ -n $(group_members "$pgid") ]]; then
      say "server group $pgid did not stop: SIGKILL"
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
  done
}

if [[ -f $pids ]]; then
  stop node gridnode 20
  stop registry gridregistry 10
  rm -f "$pids"
else
  say "no run/grid.pids: no grid started by start-all.sh is running"
fi
stop_leftover_servers
say "stopped"
