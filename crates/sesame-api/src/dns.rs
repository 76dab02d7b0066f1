//! DNS names as Kubernetes takes them (RFC 1123).

/// The longest DNS label.
pub const MAX_LABEL_LEN: usize = 63;

/// Whether `label` is an RFC 1123 label: 1 to 63 lower-case letters, digits and `-`, not
/// starting or ending with `-` (the form of Service names, namespaces and host name labels).
pub fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= MAX_LABEL_LEN
                && *first != b'-'
                && *last != b'-'
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        }
        _ => false,
    }
}
