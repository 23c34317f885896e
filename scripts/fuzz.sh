#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a while each, with cargo fuzz, and prints what
# each did: executions, corpus size, and whether it found a crash (its input is then kept in
# <crate>/fuzz/artifacts/<target>/ and the script exits non-zero).
#
#   scripts/fuzz.sh                      # every target, 600 s each
#   scripts/fuzz.sh --seconds 60 descriptor
#
# cargo fuzz needs nightly Rust; on stable, RUSTC_BOOTSTRAP=1 lets it use the same flags. The
# working corpus grows in <crate>/fuzz/corpus/<target>/ (not committed), starting from the
# committed seeds in <crate>/fuzz/seeds/<target>/, which the normal tests replay.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600
targets=()
while (($#)); do
  case $1 in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(grid-proto:icy_decoder grid-proto:descriptor media-server:control_line)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustc --version | grep -q nightly || export RUSTC_BOOTSTRAP=1
failed=0
for entry in "${all[@]}"; do
  crate=${entry%%:*} target=${entry#*:}
  if ((${#targets[@]})) && [[ ! " ${targets[*]} " == *" $target "* ]]; then continue; fi
  mkdir -p "$crate/fuzz/corpus/$target"
  log=$(mktemp)
  printf '%s/%s: %s s ... ' "$crate" "$target" "$seconds"
  if (cd "$crate" && cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
    -- -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048) >"$log" 2>&1; then
    # libFuzzer's "Done N runs in S second(s)" and its last status line ("#N ... cov: C ...").
    runs=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | cut -d' ' -f2 || true)
    stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)
    printf 'no crash: %s runs, %s\n' "${runs:-?}" "${stats:-no stats}"
    rm -f "$log"
  else
    printf 'FAILED, see %s\n' "$log"
    grep -E 'panicked|ERROR|artifact' "$log" | head -5 || true
    failed=1
  fi
done
exit $failed
