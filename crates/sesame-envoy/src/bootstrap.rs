//! The Envoy bootstrap written by `sesame bootstrap`.
