//! What every source sends to the rebuild loop.

use sesame_dag::snapshot::Change;

/// One message from a source of objects.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceEvent {
    /// A batch of changes, to be applied together.
    Changes(Vec<Change>),
    /// The initial load is complete: every object that existed at start has been sent.
    Synced,
}
