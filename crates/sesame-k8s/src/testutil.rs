//! Helpers shared by this crate's tests.

use sesame_dag::object::Object;

/// `:<port>` of a Service's first port, to tell versions of a Service apart in assertions.
pub(crate) fn port_suffix(object: &Object) -> String {
    match object {
        Object::Service(s) => (s.ports.first())
            .map(|p| format!(":{}", p.port))
            .unwrap_or_default(),
        _ => String::new(),
    }
}
