//! End-to-end tests: `sesame serve --manifests` + `sesame bootstrap` + a real Envoy + echo
//! backends on 127.0.0.1, proven with real HTTP and HTTPS requests.
#![allow(missing_docs)]

mod cli;
mod cluster_policies;
mod config;
mod config_upstream;
mod cookies;
mod delta;
mod drain;
mod extauth;
mod gateway;
mod gateway_backend_tls;
mod gateway_client_cert;
mod gateway_grpc;
mod gateway_http;
mod gateway_listener_set;
mod gateway_multiple;
mod gateway_tls;
mod gateway_traffic;
#[allow(dead_code)] // shared with the pipeline test and the serve benchmark
mod harness;
mod httpproxy;
mod httpproxy_tls;
mod jwt;
mod kube;
mod kube_gateway;
mod kube_real;
mod metrics;
mod policies;
mod ratelimit;
mod routing;
mod tls;
mod updates;
mod xds_mtls;
