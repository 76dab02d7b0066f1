//! The store's error type, shared by the direct Rust API and the HTTP verbs.

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No object with that kind, namespace and name.
    #[error("object not found")]
    NotFound,
    /// An object with that kind, namespace and name exists already.
    #[error("object already exists")]
    AlreadyExists,
    /// The write carried a stale `metadata.resourceVersion` (or a conflict was injected).
    #[error(
        "the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict,
    /// The object or patch is malformed.
    #[error("invalid object: {0}")]
    Invalid(String),
    /// The `apiVersion`/`kind` is not one the double serves.
    #[error("unknown kind {0}")]
    UnknownKind(String),
}
