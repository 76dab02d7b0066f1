//! Objects through the real API, as JSON: create, read, replace and delete any kind (found by
//! discovery), and the manifests the scenarios create.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde_json::{Value, json};

use crate::harness::PATIENCE;

/// The API as a client with full rights (the admin token) sees it.
#[derive(Clone)]
pub struct Objects {
    /// The client.
    pub client: kube::Client,
}

impl Objects {
    /// The API of the object's kind, in its namespace if the kind is namespaced.
    async fn api(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
    ) -> kube::Result<Api<DynamicObject>> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await?;
        Ok(match caps.scope {
            Scope::Namespaced => Api::namespaced_with(self.client.clone(), namespace, &resource),
            Scope::Cluster => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// Creates `object` and returns it as stored. A kind the API does not serve yet (a custom
    /// resource just established) is tried again for a while.
    pub async fn create(&self, object: Value) -> Value {
        let (api_version, kind, namespace, name) = identity(&object);
        let typed: DynamicObject = serde_json::from_value(object.clone()).expect("object");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let result = match self.api(&api_version, &kind, &namespace).await {
                Ok(api) => api.create(&PostParams::default(), &typed).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(created) => return serde_json::to_value(created).expect("json"),
                Err(e) if not_served_yet(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("create {kind} {namespace}/{name}: {e}\n{object:#}"),
            }
        }
    }

    /// Creates every object of a JSON manifest (a `List`'s items one by one).
    pub async fn create_all(&self, manifest: &str) {
        let doc: Value = serde_json::from_str(manifest).expect("manifest");
        match doc["kind"].as_str() {
            Some("List") => {
                for item in doc["items"].as_array().into_iter().flatten() {
                    self.create(item.clone()).await;
                }
            }
            _ => {
                self.create(doc).await;
            }
        }
    }

    /// The object, or `Null` if there is none.
    pub async fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Value {
        let api = self
            .api(api_version, kind, namespace)
            .await
            .unwrap_or_else(|e| panic!("discovery of {kind}: {e}"));
        match api.get_opt(name).await {
            Ok(Some(object)) => serde_json::to_value(object).expect("json"),
            Ok(None) => Value::Null,
            Err(e) => panic!("get {kind} {namespace}/{name}: {e}"),
        }
    }

    /// Replaces the object with `object` (which carries the resourceVersion it was read at).
    pub async fn replace(&self, object: Value) -> Value {
        let (api_version, kind, namespace, name) = identity(&object);
        let typed: DynamicObject = serde_json::from_value(object.clone()).expect("object");
        let api = self
            .api(&api_version, &kind, &namespace)
            .await
            .unwrap_or_else(|e| panic!("discovery of {kind}: {e}"));
        let replaced = api
            .replace(&name, &PostParams::default(), &typed)
            .await
            .unwrap_or_else(|e| panic!("replace {kind} {namespace}/{name}: {e}"));
        serde_json::to_value(replaced).expect("json")
    }

    /// Reads the object, lets `edit` change it, and replaces it; returns it as stored.
    pub async fn edit(
        &self,
        (api_version, kind, name): (&str, &str, &str),
        edit: impl FnOnce(&mut Value),
    ) -> Value {
        let mut object = self.get(api_version, kind, "default", name).await;
        assert!(!object.is_null(), "no {kind} default/{name} to edit");
        edit(&mut object);
        self.replace(object).await
    }

    /// Applies `object` server-side as a dry run: the API server checks it against its
    /// schemas (unknown fields, enums, required fields, admission) and stores nothing. The
    /// error names the object and what the server said.
    pub async fn dry_run_apply(&self, object: &Value) -> Result<(), String> {
        let (api_version, kind, namespace, name) = identity(object);
        let api = self
            .api(&api_version, &kind, &namespace)
            .await
            .map_err(|e| format!("{kind} {namespace}/{name}: discovery: {e}"))?;
        let params = PatchParams::apply("sesame-e2e").force().dry_run();
        api.patch(&name, &params, &Patch::Apply(object))
            .await
            .map(|_| ())
            .map_err(|e| format!("{kind} {namespace}/{name}: {e}"))
    }

    /// Deletes the object.
    pub async fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let api = self
            .api(api_version, kind, namespace)
            .await
            .unwrap_or_else(|e| panic!("discovery of {kind}: {e}"));
        api.delete(name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("delete {kind} {namespace}/{name}: {e}"));
    }
}

/// apiVersion, kind, namespace and name of an object.
fn identity(object: &Value) -> (String, String, String, String) {
    let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        field(&object["apiVersion"]),
        field(&object["kind"]),
        field(&object["metadata"]["namespace"]),
        field(&object["metadata"]["name"]),
    )
}

/// Whether an error means the kind is not served (yet): discovery does not know it, or the
/// API answers 404 for its collection.
fn not_served_yet(error: &kube::Error) -> bool {
    match error {
        kube::Error::Discovery(_) => true,
        kube::Error::Api(status) => status.code == 404,
        _ => false,
    }
}

/// A Service `name` with one port 80 (named `http`) and an EndpointSlice pointing at
/// `backend`.
pub fn service(name: &str, backend: SocketAddr) -> [Value; 2] {
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend.port()}]}
    });
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{name}-1"), "namespace": "default",
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [backend.ip().to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "http", "port": backend.port(), "protocol": "TCP"}]
    });
    [service, slice]
}

/// A Secret of `type_` with one key, in the default namespace.
pub fn secret(name: &str, type_: &str, key: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": type_,
           "metadata": {"name": name, "namespace": "default"},
           "data": {key: "AAAA"}})
}
