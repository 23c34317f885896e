#!/usr/bin/env bash
# Installs Spotifice Grid as systemd services: the binaries, /etc/spotifice-grid/ (registry.toml,
# node.toml), the data directories and the units gridregistry.service and gridnode@.service.
# `--uninstall` removes what an install recorded in its manifest, never data or edited configs.
# See docs/install.md.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
binaries=(gridregistry gridnode gridadmin media-server media-render media-control)
user=spotifice

usage() {
  cat <<'EOF'
Usage: scripts/install.sh [--prefix DIR] [--bin-dir DIR]
       scripts/install.sh --uninstall [--prefix DIR]

Installs Spotifice Grid as systemd services.

  --prefix DIR   install under DIR (DIR/bin, DIR/etc/spotifice-grid, DIR/var/lib/spotifice-grid,
                 DIR/lib/systemd/system), with the units' paths pointing there; creates no user
                 and runs no systemctl. Without it (as root): /usr/local/bin,
                 /etc/spotifice-grid, /var/lib/spotifice-grid and /etc/systemd/system, owned by
                 the system user "spotifice", created if missing.
  --bin-dir DIR  take the binaries from DIR (default: target/release of this repository, built
                 with cargo build --release --bins when one is missing)
  --uninstall    remove what the install into the same place recorded in its manifest; data
                 directories and edited config files are kept
  -h, --help     this help

An existing config file is never overwritten.
EOF
}

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

usage_error() {
  printf 'install.sh: %s (see --help)\n' "$*" >&2
  exit 2
}

say() { printf '%s\n' "$*"; }

prefix='' bin_src='' uninstall=false prefix_set=false
while (($# > 0)); do
  case $1 in
    --prefix | --bin-dir)
      if (($# < 2)) || [[ -z $2 ]]; then usage_error "$1 needs a directory"; fi
      if [[ $1 == --prefix ]]; then prefix=$2 prefix_set=true; else bin_src=$2; fi
      shift 2
      ;;
    --prefix=* | --bin-dir=*)
      value=${1#*=}
      [[ -n $value ]] || usage_error "${1%%=*} needs a directory"
      if [[ $1 == --prefix=* ]]; then prefix=$value prefix_set=true; else bin_src=$value; fi
      shift
      ;;
    --uninstall)
      uninstall=true
      shift
      ;;
    -h | --help) usage && exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
if $uninstall && [[ -n $bin_src ]]; then
  usage_error "--bin-dir has no use with --uninstall"
fi

if $prefix_set; then
  if $uninstall; then
    [[ -d $prefix ]] || die "nothing is installed in $prefix: it does not exist"
  else
    mkdir -p -- "$prefix" || die "cannot create the prefix $prefix"
  fi
  prefix=$(cd -- "$prefix" && pwd -P)
  # The paths end up in unit files, where spaces and % have meanings of their own.
  [[ $prefix =~ ^[A-Za-z0-9._/+-]+$ ]] ||
    usage_error "--prefix '$prefix': only letters, digits and . _ + - / can appear in the path"
  [[ $prefix != / ]] || usage_error "--prefix /: leave --prefix out to install into the system"
  bin=$prefix/bin
  etc=$prefix/etc/spotifice-grid
  data=$prefix/var/lib/spotifice-grid
  units=$prefix/lib/systemd/system
  lib=$prefix/lib/spotifice-grid
  system=false
else
  ((EUID == 0)) || die "installing into the system needs root; use --prefix DIR to install elsewhere"
  bin=/usr/local/bin
  etc=/etc/spotifice-grid
  data=/var/lib/spotifice-grid
  units=/etc/systemd/system
  lib=/usr/local/lib/spotifice-grid
  system=true
fi
manifest=$lib/install.manifest

# systemctl only for a system install on a host that runs systemd.
systemd_running() { $system && [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }

sum() { sha256sum -- "$1" | cut -d' ' -f1; }

# The manifest: one "KIND PATH" line per thing installed, and a config's SHA-256. KIND is bin,
# unit, config (removed only while unchanged), dir (removed when empty) or data (never removed).
declare -A kind_of=() sum_of=()
order=()
record() {
  local kind=$1 path=$2 checksum=${3:-}
  [[ -n ${kind_of[$path]+x} ]] || order+=("$path")
  kind_of[$path]=$kind
  sum_of[$path]=$checksum
}
load_manifest() {
  local kind path checksum
  [[ -f $manifest ]] || return 0
  while read -r kind path checksum; do
    [[ -n $path ]] && record "$kind" "$path" "$checksum"
  done <"$manifest"
}
save_manifest() {
  local path tmp
  tmp=$manifest.tmp
  for path in "${order[@]}"; do
    printf '%s %s%s\n' "${kind_of[$path]}" "$path" "${sum_of[$path]:+ ${sum_of[$path]}}"
  done >"$tmp"
  mv -- "$tmp" "$manifest"
}

# Creates DIR and its missing parents, recording each one it created as KIND.
make_dir() {
  local kind=$1 dir=$2 mode=$3 missing=() d
  d=$dir
  while [[ ! -e $d ]]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname -- "$d")
  done
  [[ -d $d ]] || die "$d is not a directory"
  for d in "${missing[@]}"; do
    # Parents (of a data directory too) are ordinary directories, removed once empty.
    if [[ $d == "$dir" ]]; then
      mkdir -m "$mode" -- "$d" || die "cannot create $d"
      record "$kind" "$d"
    else
      mkdir -m 0755 -- "$d" || die "cannot create $d"
      record dir "$d"
    fi
  done
  if [[ $kind == data ]]; then
    chmod "$mode" -- "$dir"
    [[ -n ${kind_of[$dir]+x} ]] || record data "$dir"
  fi
}

# Writes TEMPLATE to DEST with the system paths replaced by this install's paths.
render() {
  local template=$1 dest=$2 mode=$3 tmp
  tmp=$(mktemp "$dest.XXXXXX")
  sed -e "s|/usr/local/bin|$bin|g" -e "s|/etc/spotifice-grid|$etc|g" \
    -e "s|/var/lib/spotifice-grid|$data|g" "$template" >"$tmp"
  chmod "$mode" -- "$tmp"
  mv -- "$tmp" "$dest"
}

install_all() {
  local name dest

  if [[ -z $bin_src ]]; then
    bin_src=$repo/target/release
    for name in "${binaries[@]}"; do
      if [[ ! -x $bin_src/$name ]]; then
        command -v cargo >/dev/null ||
          die "$bin_src/$name is missing and cargo is not installed: build with cargo build --release --bins, or pass --bin-dir DIR"
        say "Building the release binaries (cargo build --release --bins --locked)..."
        (cd "$repo" && cargo build --release --bins --locked)
        break
      fi
    done
  fi
  for name in "${binaries[@]}"; do
    [[ -x $bin_src/$name ]] || die "$bin_src/$name is missing or not executable"
  done

  if $system && ! getent passwd "$user" >/dev/null; then
    useradd --system --user-group --home-dir "$data" --no-create-home \
      --shell /usr/sbin/nologin "$user" || die "cannot create the user $user"
    say "created the system user $user"
  fi

  load_manifest
  make_dir dir "$lib" 0755
  make_dir dir "$bin" 0755
  make_dir dir "$etc" 0755
  make_dir dir "$units" 0755
  make_dir data "$data" 0700
  make_dir data "$data/registry" 0700
  make_dir data "$data/nodes" 0700
  if $system; then
    chown "$user:$user" -- "$data" "$data/registry" "$data/nodes"
  fi

  for name in "${binaries[@]}"; do
    dest=$bin/$name
    # Through a new file and a rename: a running daemon keeps its old binary.
    if ! cmp -s -- "$bin_src/$name" "$dest"; then
      install -m 0755 -- "$bin_src/$name" "$dest.new"
      mv -- "$dest.new" "$dest"
    fi
    record bin "$dest"
  done
  say "installed ${binaries[*]} into $bin"

  for name in registry.toml node.toml; do
    dest=$etc/$name
    if [[ -e $dest ]]; then
      say "kept the existing $dest"
      continue
    fi
    render "$repo/config/$name" "$dest" 0640
    if $system; then chgrp "$user" -- "$dest"; fi
    record config "$dest" "$(sum "$dest")"
    say "wrote $dest"
  done

  for name in gridregistry.service gridnode@.service; do
    dest=$units/$name
    render "$repo/config/systemd/$name" "$dest" 0644
    record unit "$dest"
  done
  say "installed gridregistry.service and gridnode@.service into $units"
  save_manifest

  if systemd_running; then
    systemctl daemon-reload || say "warning: systemctl daemon-reload failed; run it by hand"
  fi
  if $system; then
    cat <<EOF

Start the registry and a node named node1:
  systemctl enable --now gridregistry.service gridnode@node1.service
EOF
  else
    say "data in $data; manifest in $manifest (scripts/install.sh --uninstall --prefix $prefix removes the rest)"
  fi
}

uninstall_all() {
  local path i kept=()
  [[ -f $manifest ]] || die "no install recorded in $manifest"
  load_manifest
  if systemd_running; then
    local instances
    instances=$(systemctl list-units --all --plain --no-legend 'gridnode@*.service' | awk '{print $1}')
    # shellcheck disable=SC2086 # one unit name per word
    systemctl disable --now gridregistry.service $instances || true
  fi
  for path in "${order[@]}"; do
    case ${kind_of[$path]} in
      bin | unit)
        if [[ -e $path ]]; then
          rm -f -- "$path"
          say "removed $path"
        fi
        ;;
      config)
        if [[ ! -e $path ]]; then
          continue
        elif [[ $(sum "$path") != "${sum_of[$path]}" ]]; then
          kept+=("$path (edited since it was installed)")
        else
          rm -f -- "$path"
          say "removed $path"
        fi
        ;;
    esac
  done
  rm -f -- "$manifest"
  # Deepest directories first; one that still holds something (data, an edited config) stays.
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do
    path=${order[i]}
    case ${kind_of[$path]} in
      dir) rmdir -- "$path" 2>/dev/null || true ;;
      data) kept+=("$path (data)") ;;
    esac
  done
  if systemd_running; then
    systemctl daemon-reload || say "warning: systemctl daemon-reload failed; run it by hand"
  fi
  for path in "${kept[@]}"; do
    say "kept $path"
  done
  if $system && getent passwd "$user" >/dev/null; then
    say "kept the user $user (userdel $user once its data is gone)"
  fi
}

if $uninstall; then uninstall_all; else install_all; fi
