//! End-to-end tests: `sesame serve --manifests` + `sesame bootstrap` + a real Envoy + echo
//! backends on 127.0.0.1, proven with real HTTP and HTTPS requests.
#![allow(missing_docs)]

mod cluster_policies;
mod config;
mod config_upstream;
mod delta;
mod drain;
mod extauth;
#[allow(dead_code)] // shared with the pipeline test and the serve benchmark
mod harness;
mod httpproxy;
mod httpproxy_tls;
mod kube;
mod kube_real;
mod policies;
mod ratelimit;
mod routing;
mod tls;
mod updates;
mod xds_mtls;
