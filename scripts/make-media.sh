#!/usr/bin/env bash
# Builds the demo music library: real MP3s, synthesised and encoded in process by media-synth (a
# program of this repository, with LAME built from source by cargo), with ID3 title, artist, album,
# year and track number. Deterministic: the same tracks are byte-identical on every run and every
# machine, so track ids (hashes of the files' content) never change. Needs nothing but cargo and a
# C compiler.
#
# Usage: scripts/make-media.sh [--quick] [--force]
#   --quick   (or MEDIA_QUICK=1) three short tracks (CBR 128, CBR 320, VBR) for tests
#   --force   remake tracks that are already there
# Environment: MEDIA_DIR (default media/ in the repository root); MEDIA_SYNTH, a built media-synth
# to use instead of building one with cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

args=()
[[ ${MEDIA_QUICK:-0} == 1 ]] && args+=(--quick)
for arg in "$@"; do
  case $arg in
    --quick | --force) args+=("$arg") ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'make-media: unknown argument %s (use --quick, --force)\n' "$arg" >&2
      exit 2
      ;;
  esac
done
dir=${MEDIA_DIR:-$root/media}

die() {
  printf 'make-media: %s\n' "$*" >&2
  exit 1
}

# MEDIA_SYNTH names an already built synthesiser (tests and benchmarks pass theirs, so no cargo
# runs inside a cargo test).
if [[ -n ${MEDIA_SYNTH:-} ]]; then
  synth=$MEDIA_SYNTH
  [[ -x $synth ]] || die "MEDIA_SYNTH=$synth is not an executable"
else
  command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"
  printf 'make-media: building media-synth (cargo build --release -p media-synth)\n'
  cargo build --release -p media-synth --manifest-path "$root/Cargo.toml" --quiet ||
    die "cargo could not build media-synth"
  synth=${CARGO_TARGET_DIR:-$root/target}/release/media-synth
  [[ -x $synth ]] || die "$synth is missing after the build"
fi

exec "$synth" library --dir "$dir" ${args[@]+"${args[@]}"}
