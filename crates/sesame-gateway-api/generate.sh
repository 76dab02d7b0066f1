#!/bin/sh
# Regenerates src/generated/*.rs from the upstream CRDs checked in under examples/gateway/.
#
# Upstream: kubernetes-sigs/gateway-api tag v1.6.1 (commit 8bb74df00e56ec8f944d48c25e6c1c9c2f6848e3),
# config/crd/standard/. Generator: kopium 0.24.1 (`cargo install kopium --version 0.24.1`).
# The only edits after generation are the ones below: the kube paths Sesame uses (kube-derive and
# kube-core, not the kube facade), and the redirect `statusCode`, an integer enum in the CRD that
# kopium 0.24 turns into string variants (which would refuse `statusCode: 301`), typed as an integer.
# tests/crd.rs checks that the types still match the checked-in CRDs field for field.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
crds="$here/../../examples/gateway"
out="$here/src/generated"
mkdir -p "$out"
gen() { # plural version module
    kopium -f "$crds/gateway.networking.k8s.io_$1.yaml" --api-version "$2" \
        --schema derived --derive PartialEq |
        sed -e 's/pub use kube::CustomResource;/pub use kube_derive::CustomResource;/' \
            -e 's/^#\[kube(namespaced)\]/#[kube(namespaced)]\n#[kube(crates(kube_core = "::kube_core"))]/' \
            -e 's/^#\[kube(group = "gateway.networking.k8s.io", version = "[a-z0-9]*", kind = "GatewayClass"\(.*\))\]$/&\n#[kube(crates(kube_core = "::kube_core"))]/' \
            -e 's/pub status_code: Option<HttpRoute[A-Za-z]*RequestRedirectStatusCode>/pub status_code: Option<i64>/' \
            -e 's/^\/\/ kopium command: kopium -f [^ ]*\//\/\/ kopium command: kopium -f /' \
            >"$out/$3.rs"
}
gen gatewayclasses v1 gatewayclass
gen gateways v1 gateway
gen httproutes v1 httproute
gen referencegrants v1 referencegrant
gen grpcroutes v1 grpcroute
gen tlsroutes v1 tlsroute
gen tcproutes v1 tcproute
gen backendtlspolicies v1 backendtlspolicy
gen listenersets v1 listenerset
rustfmt --edition 2024 "$out"/*.rs
