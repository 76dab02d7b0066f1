//! hostname
