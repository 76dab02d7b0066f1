//! Real kube-rs clients (`Api`, `watcher`, `metadata_watcher`) against the API-server double,
//! over real sockets.
#![allow(missing_docs)]

mod crud;
mod faults;
mod support;
mod watch;
