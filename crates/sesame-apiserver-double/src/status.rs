//! `Status` objects: how the API server reports failures, in the body and the HTTP code.

use serde_json::{Value, json};

use crate::error::Error;
use crate::resources::Resource;

/// A failure answer: HTTP code, machine-readable reason and human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// HTTP status code, repeated in the body.
    pub code: u16,
    /// `reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details` (name, group, kind as plural), when about one object.
    details: Option<(String, &'static str, &'static str)>,
}

impl Status {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Status {
        Status {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Status {
        Status::new(400, "BadRequest", message)
    }

    /// 404 NotFound for a path the double does not serve.
    pub fn no_route() -> Status {
        Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str) -> Status {
        Status::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource: {method}"),
        )
    }

    /// 415 UnsupportedMediaType for a PATCH with an unknown `Content-Type`.
    pub fn unsupported_media_type(content_type: &str) -> Status {
        Status::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, \
                 application/apply-patch+yaml, application/strategic-merge-patch+json \
                 ({content_type:?} given)"
            ),
        )
    }

    /// 410 Expired for a continue token older than the compaction point.
    pub fn continue_expired() -> Status {
        Status::new(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You \
             can start a new list without the continue parameter, or use the continue token in \
             this response to retrieve the remainder of the results. Continuing with the provided \
             token results in an inconsistent list - objects that were created, modified, or \
             deleted between the time the first chunk was returned and now may show up in the list.",
        )
    }

    /// 410 Expired for a watch from before the compaction point (sent as an ERROR event).
    pub fn watch_expired(requested: u64, oldest: u64) -> Status {
        Status::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// The answer for a store error about `name` of `resource`.
    pub fn from_error(error: &Error, resource: Resource, name: &str) -> Status {
        let plural = resource.qualified_plural();
        let mut status = match error {
            Error::NotFound => Status::new(404, "NotFound", format!("{plural} {name:?} not found")),
            Error::AlreadyExists => Status::new(
                409,
                "AlreadyExists",
                format!("{plural} {name:?} already exists"),
            ),
            Error::Conflict => Status::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {plural} {name:?}: the object has been \
                     modified; please apply your changes to the latest version and try again"
                ),
            ),
            Error::Invalid(why) => Status::new(
                422,
                "Invalid",
                format!("{} {name:?} is invalid: {why}", resource.descriptor().kind),
            ),
            Error::UnknownKind(kind) => {
                Status::new(404, "NotFound", format!("unknown kind {kind}"))
            }
        };
        let d = resource.descriptor();
        status.details = Some((name.to_owned(), d.group, d.plural));
        status
    }

    /// The `Status` object as JSON.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some((name, group, kind)), Value::Object(map)) = (&self.details, &mut body) {
            map.insert(
                "details".into(),
                json!({"name": name, "group": group, "kind": kind}),
            );
        }
        body
    }
}
