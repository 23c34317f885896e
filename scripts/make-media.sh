#!/usr/bin/env bash
# Builds the demo music library: real MP3s, synthesised by media-synth (a program of this
# repository) and encoded by lame, with ID3 title, artist, album, year and track number.
# Deterministic: the same script gives byte-identical files, so track ids (hashes of the files'
# content) are the same on every run and every machine with the same lame.
#
# Usage: scripts/make-media.sh [--quick] [--force]
#   --quick   (or MEDIA_QUICK=1) three short tracks (CBR 128, CBR 320, VBR) for tests
#   --force   re-encode tracks that are already there
# Environment: MEDIA_DIR (default media/ in the repository root); MEDIA_SYNTH, a built media-synth
# to use instead of building one with cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

quick=${MEDIA_QUICK:-0}
force=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --force) force=1 ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
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

command -v lame >/dev/null || die "lame is not installed (apt-get install lame)"

# The library. Fields: file (under the library) | title | artist | album | year | track/of |
# seconds | style | seed | key | encoding (cbr:KBPS or vbr:QUALITY).
full_tracks='
kilobyte-choir/eight-bit-weather/01-cloud-save.mp3|Cloud Save|Kilobyte Choir|Eight Bit Weather|2022|1/2|12|chip|101|E|cbr:128
kilobyte-choir/eight-bit-weather/02-pixel-drizzle.mp3|Pixel Drizzle|Kilobyte Choir|Eight Bit Weather|2022|2/2|25|chip|102|Am|cbr:320
floor-theory/basement-hours/01-low-ceiling.mp3|Low Ceiling|Floor Theory|Basement Hours|2025|1/2|40|house|201|Fm|cbr:192
floor-theory/basement-hours/02-basement-hours.mp3|Basement Hours|Floor Theory|Basement Hours|2025|2/2|120|house|202|Gm|cbr:320
vega-lines/night-transit/01-night-transit.mp3|Night Transit|Vega Lines|Night Transit|2024|1/2|60|pop|301|D|cbr:128
vega-lines/night-transit/02-glass-avenue.mp3|Glass Avenue|Vega Lines|Night Transit|2024|2/2|180|pop|302|Bb|cbr:192
slow-meridian/tidal-rooms/01-harbour-lights.mp3|Harbour Lights|Slow Meridian|Tidal Rooms|2021|1/2|90|ambient|401|Eb|vbr:2
slow-meridian/tidal-rooms/02-the-long-swell.mp3|The Long Swell|Slow Meridian|Tidal Rooms|2021|2/2|240|ambient|402|C#m|vbr:0
'
# The quick set shares its first track with the full library (same file, same id).
quick_tracks='
kilobyte-choir/eight-bit-weather/01-cloud-save.mp3|Cloud Save|Kilobyte Choir|Eight Bit Weather|2022|1/2|12|chip|101|E|cbr:128
test-signals/quick-set/01-quick-pop.mp3|Quick Pop|Test Signals|Quick Set|2025|1/2|15|pop|901|G|cbr:320
test-signals/quick-set/02-quick-drift.mp3|Quick Drift|Test Signals|Quick Set|2025|2/2|10|ambient|902|Dm|vbr:2
'
if [[ $quick == 1 ]]; then tracks=$quick_tracks; else tracks=$full_tracks; fi

# What is missing (or everything, with --force); nothing to build when the library is complete.
todo=$(while IFS='|' read -r file rest; do
  [[ -n $file ]] || continue
  [[ -f $dir/$file && $force == 0 ]] || printf '%s|%s\n' "$file" "$rest"
done <<<"$tracks")
kept=$(($(grep -c . <<<"$tracks") - $(grep -c . <<<"$todo" || true)))
if [[ -z $todo ]]; then
  printf 'make-media: all %d track(s) already in %s (--force rebuilds them)\n' "$kept" "$dir"
  exit 0
fi

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
  synth=$root/target/release/media-synth
  [[ -x $synth ]] || die "$synth is missing after the build"
fi

mkdir -p "$dir" || die "cannot create $dir"
tmp_files=()
cleanup() { ((${#tmp_files[@]})) && rm -f "${tmp_files[@]}"; return 0; }
trap cleanup EXIT

made=0
start=$SECONDS
while IFS='|' read -r file title artist album year number seconds style seed key encoding; do
  [[ -n $file ]] || continue
  out=$dir/$file
  case $encoding in
    cbr:*) rate=(-b "${encoding#cbr:}" --cbr) ;;
    vbr:*) rate=(-V "${encoding#vbr:}") ;;
    *) die "track $file: unknown encoding $encoding" ;;
  esac
  mkdir -p "$(dirname "$out")" || die "cannot create $(dirname "$out")"
  # A hidden temporary name in the same folder: the MediaServers skip dot files, and the mv is
  # atomic, so no one ever reads half a track.
  part=$(dirname "$out")/.$(basename "$out").part
  log=$(dirname "$out")/.$(basename "$out").log
  tmp_files+=("$part" "$log")
  if ! "$synth" --seed "$seed" --seconds "$seconds" --style "$style" --key "$key" 2>"$log" |
    lame --quiet -r -s 44.1 --bitwidth 16 --signed --little-endian -m j "${rate[@]}" \
      --noreplaygain --tt "$title" --ta "$artist" --tl "$album" --ty "$year" --tn "$number" \
      --add-id3v2 - "$part" 2>>"$log"; then
    cat "$log" >&2
    die "could not make $out"
  fi
  mv -f "$part" "$out"
  rm -f "$log"
  made=$((made + 1))
  printf 'make-media: %s - %s (%s s, %s) -> %s\n' "$artist" "$title" "$seconds" "$encoding" "$out"
done <<<"$todo"

printf 'make-media: %d track(s) made, %d already there, in %d s; library %s\n' \
  "$made" "$kept" "$((SECONDS - start))" "$dir"
