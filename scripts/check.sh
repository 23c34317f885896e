#!/usr/bin/env bash
# The single gate: what CI runs and what a developer runs before pushing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests start the real binaries, so build them all first.
cargo build --workspace --bins --locked
cargo test --workspace --locked
