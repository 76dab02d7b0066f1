//! One HTTP request to one response: routes the path, maps the verb to a store call and the
//! result (or failure) to JSON. Watches get a streamed body fed by a spawned [`watch::run`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::{Method, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::meta;
use crate::patch::PatchKind;
use crate::query::Query;
use crate::resources::Resource;
use crate::route::{self, Target};
use crate::selector::{FieldSelector, Filter, LabelSelector};
use crate::status::Status;
use crate::store::{Key, ListError, Store, Subresource};
use crate::watch::{self, WatchRequest};

#[cfg(test)]
mod tests;

/// A response body: a whole JSON document or a watch stream.
pub type Body = BoxBody<Bytes, Infallible>;

/// The request parts the handler looks at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The path, without query.
    pub path: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// The `Accept` header, empty if absent.
    pub accept: &'a str,
    /// The `Content-Type` header, empty if absent.
    pub content_type: &'a str,
    /// The whole request body.
    pub body: &'a [u8],
}

/// What the sync part decided to answer.
enum Answer {
    /// A JSON document with an HTTP status.
    Json(u16, Value),
    /// A watch: stream events from the store.
    Watch(WatchRequest, Option<u64>),
}

/// How an object (or list) is presented, from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presentation {
    Full,
    Metadata,
}

impl Presentation {
    fn from_accept(accept: &str, list: bool) -> Presentation {
        let wanted = if list {
            "as=PartialObjectMetadataList"
        } else {
            "as=PartialObjectMetadata"
        };
        let found = accept.split(';').any(|p| p.trim() == wanted);
        if found {
            Presentation::Metadata
        } else {
            Presentation::Full
        }
    }

    fn object(self, object: Value) -> Value {
        match self {
            Presentation::Full => object,
            Presentation::Metadata => meta::partial(&object),
        }
    }
}

fn json_body(value: &Value) -> Body {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Full::new(Bytes::from(bytes)).boxed()
}

fn respond(code: u16, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Answers one request. Must run inside a tokio runtime (watches spawn a task).
pub fn handle(store: &Arc<Store>, request: Request<'_>) -> Response<Body> {
    match answer(store, request) {
        Ok(Answer::Json(code, value)) => respond(code, json_body(&value)),
        Ok(Answer::Watch(watch, from)) => start_watch(store, watch, from),
        Err(status) => respond(status.code, json_body(&status.to_json())),
    }
}

fn start_watch(store: &Arc<Store>, watch: WatchRequest, from: Option<u64>) -> Response<Body> {
    let start = match store.watch(watch.filter.resource, from) {
        Ok(start) => start,
        Err(oldest) => {
            // As a real server: 200, one ERROR event, end of stream.
            let status = Status::watch_expired(from.unwrap_or_default(), oldest);
            let line = watch::line("ERROR", &status.to_json());
            return respond(200, Full::new(line).boxed());
        }
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(watch::run(watch, start, store.bookmark_requests(), tx));
    respond(200, StreamBody::new(ReceiverStream::new(rx)).boxed())
}

fn parse_body(body: &[u8]) -> Result<Value, Status> {
    serde_json::from_slice(body).map_err(|e| Status::bad_request(format!("invalid JSON body: {e}")))
}

fn answer(store: &Store, request: Request<'_>) -> Result<Answer, Status> {
    let target = route::parse(request.path)
        .filter(|t| t.resource().is_none_or(|r| store.served(r)))
        .ok_or_else(Status::no_route)?;
    let query = Query::parse(request.query).map_err(Status::bad_request)?;
    match target {
        Target::Version if request.method == Method::GET => Ok(Answer::Json(200, version())),
        Target::Version => Err(Status::method_not_allowed(request.method.as_str())),
        Target::Collection {
            resource,
            namespace,
        } => collection(store, request, &query, resource, namespace),
        Target::Object {
            resource,
            namespace,
            name,
            sub,
        } => {
            let key = Key::new(resource, namespace.as_deref(), &name);
            object(store, request, &key, sub).map(|(code, v)| Answer::Json(code, v))
        }
    }
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0",
        "gitCommit": "sesame-apiserver-double",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn collection(
    store: &Store,
    request: Request<'_>,
    query: &Query,
    resource: Resource,
    namespace: Option<String>,
) -> Result<Answer, Status> {
    match *request.method {
        Method::GET => {
            let filter = Filter {
                resource,
                namespace,
                labels: LabelSelector::parse(&query.label_selector).map_err(Status::bad_request)?,
                fields: FieldSelector::parse(resource, &query.field_selector)
                    .map_err(Status::bad_request)?,
            };
            if query.watch {
                let metadata_only =
                    Presentation::from_accept(request.accept, false) == Presentation::Metadata;
                let from = query.watch_from().map_err(Status::bad_request)?;
                let (bookmarks, timeout) = (query.bookmarks, query.timeout);
                let watch = WatchRequest {
                    filter,
                    bookmarks,
                    timeout,
                    metadata_only,
                };
                return Ok(Answer::Watch(watch, from));
            }
            let presentation = Presentation::from_accept(request.accept, true);
            list(store, &filter, query, presentation).map(|v| Answer::Json(200, v))
        }
        Method::POST => {
            let body = parse_body(request.body)?;
            let name = meta::name(&body).to_owned();
            store
                .create(resource, namespace.as_deref(), body)
                .map(|created| Answer::Json(201, created))
                .map_err(|e| Status::from_error(&e, resource, &name))
        }
        ref other => Err(Status::method_not_allowed(other.as_str())),
    }
}

fn list(
    store: &Store,
    filter: &Filter,
    query: &Query,
    presentation: Presentation,
) -> Result<Value, Status> {
    let page = store
        .list(filter, query.limit, query.continue_token.as_deref())
        .map_err(|e| match e {
            ListError::BadToken(why) => Status::bad_request(why),
            ListError::Expired => Status::continue_expired(),
        })?;
    let mut metadata = json!({"resourceVersion": page.rv.to_string()});
    if let (Some(token), Value::Object(map)) = (page.continue_token, &mut metadata) {
        map.insert("continue".into(), Value::String(token));
    }
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|o| presentation.object(o))
        .collect();
    let (kind, api_version) = match presentation {
        Presentation::Full => (
            format!("{}List", filter.resource.descriptor().kind),
            filter.resource.api_version(),
        ),
        Presentation::Metadata => ("PartialObjectMetadataList".into(), "meta.k8s.io/v1".into()),
    };
    Ok(json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items}))
}

fn object(
    store: &Store,
    request: Request<'_>,
    key: &Key,
    sub: Subresource,
) -> Result<(u16, Value), Status> {
    let fail = |e| Status::from_error(&e, key.resource, &key.name);
    let presentation = Presentation::from_accept(request.accept, false);
    if sub == Subresource::Status && !key.resource.descriptor().status_subresource {
        return Err(fail(crate::Error::NotFound));
    }
    let result = match *request.method {
        Method::GET => store.get(key).ok_or(crate::Error::NotFound),
        Method::PUT => {
            let body = parse_body(request.body)?;
            let body_name = meta::name(&body);
            if !body_name.is_empty() && body_name != key.name {
                return Err(Status::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({})",
                    key.name
                )));
            }
            store.replace(key, body, sub)
        }
        Method::PATCH => {
            let kind = PatchKind::from_content_type(request.content_type)
                .ok_or_else(|| Status::unsupported_media_type(request.content_type))?;
            let body = parse_body(request.body)?;
            store.patch(key, kind, &body, sub)
        }
        Method::DELETE if sub == Subresource::Main => store.delete(key),
        ref other => return Err(Status::method_not_allowed(other.as_str())),
    };
    result.map(|o| (200, presentation.object(o))).map_err(fail)
}
