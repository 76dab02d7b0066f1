//! A real control plane: etcd and kube-apiserver from the binaries the user names, on
//! 127.0.0.1, with a serving certificate, a service-account signing key, an admin token, RBAC
//! on, and an audit log of every request. Sesame reaches it as the ServiceAccount `sesame`
//! with the roles of `examples/sesame/02-rbac.yaml`, with a token the API server issued.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

use super::daemon::Daemon;
use super::etcd::Etcd;
use super::objects::Objects;
use crate::harness::{PATIENCE, Pki, eventually, free_port};

/// How long kube-apiserver may take to become ready (it is slow to start on a small machine).
const START_PATIENCE: Duration = Duration::from_secs(120);

/// The user Sesame runs as: the ServiceAccount `sesame`, bound by `examples/sesame/02-rbac.yaml`.
pub const SESAME_USER: &str = "system:serviceaccount:projectsesame:sesame";

/// The binaries to run, from `SESAME_TEST_KUBE_APISERVER` and `SESAME_TEST_ETCD`.
pub struct Binaries {
    /// A `kube-apiserver` binary.
    pub kube_apiserver: PathBuf,
    /// An `etcd` binary.
    pub etcd: PathBuf,
}

impl Binaries {
    /// Both binaries, or `None` when either variable is unset or empty.
    pub fn from_env() -> Option<Binaries> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        Some(Binaries {
            kube_apiserver: var("SESAME_TEST_KUBE_APISERVER")?.into(),
            etcd: var("SESAME_TEST_ETCD")?.into(),
        })
    }
}

/// One request in the API server's audit log, on a resource.
#[derive(Clone, Debug)]
pub struct Audited {
    /// Who made it.
    pub user: String,
    /// The RBAC verb: get, list, watch, create, update, patch, delete.
    pub verb: String,
    /// The API group, empty for the core group.
    pub group: String,
    /// The resource, `<plural>/<subresource>` for a subresource.
    pub resource: String,
    /// The object's name, if the request named one.
    pub name: String,
    /// The response's status code.
    pub code: u16,
    /// Which start of kube-apiserver answered it (1 for the first).
    pub start: u32,
    /// Whether it was answered before that start's `/readyz` said ok.
    pub before_ready: bool,
}

/// etcd and kube-apiserver, killed when dropped.
pub struct ControlPlane {
    apiserver: Daemon,
    /// The etcd the API server stores its objects in.
    pub etcd: Etcd,
    /// The API with the admin token (group `system:masters`).
    pub objects: Objects,
    /// The API server's secure port on 127.0.0.1.
    pub port: u16,
    binary: PathBuf,
    args: Vec<String>,
    starts: u32,
    /// When each start's `/readyz` first said ok.
    ready_at: Vec<k8s_openapi::jiff::Timestamp>,
    dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Starts etcd, then kube-apiserver, and waits until the API server is ready.
    pub async fn start(binaries: &Binaries) -> ControlPlane {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        let etcd = Etcd::start(&binaries.etcd, dir.path()).await;
        let pki = Pki::new();
        let (cert, key) = pki.leaf(&["127.0.0.1", "localhost"]);
        let signing = rcgen::KeyPair::generate().expect("service-account key");
        let admin_token = token();
        for (name, text) in [
            ("ca.crt", pki.ca_pem.clone()),
            ("apiserver.crt", cert),
            ("apiserver.key", key),
            ("sa.key", signing.serialize_pem()),
            ("sa.pub", signing.public_key_pem()),
            // token,user,uid,"group,..."
            (
                "tokens.csv",
                format!("{admin_token},e2e-admin,e2e-admin,system:masters\n"),
            ),
            ("audit-policy.json", AUDIT_POLICY.to_string()),
        ] {
            std::fs::write(path(name), text).expect("control plane file");
        }
        let port = free_port();
        let file = |flag: &str, name: &str| format!("--{flag}={}", path(name).display());
        let args = vec![
            format!("--etcd-servers={}", etcd.url()),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            format!("--secure-port={port}"),
            file("tls-cert-file", "apiserver.crt"),
            file("tls-private-key-file", "apiserver.key"),
            format!("--service-account-issuer=https://127.0.0.1:{port}"),
            file("service-account-key-file", "sa.pub"),
            file("service-account-signing-key-file", "sa.key"),
            file("token-auth-file", "tokens.csv"),
            "--authorization-mode=RBAC".to_string(),
            // Never contacted: Sesame sends traffic to EndpointSlice addresses, not cluster IPs.
            "--service-cluster-ip-range=198.19.0.0/24".to_string(),
            // No Endpoints for the `kubernetes` Service: its address would be loopback.
            "--endpoint-reconciler-type=none".to_string(),
            file("audit-policy-file", "audit-policy.json"),
        ];
        let kubeconfig = write_kubeconfig(dir.path(), port, "admin", &admin_token);
        let mut plane = ControlPlane {
            apiserver: spawn_apiserver(&binaries.kube_apiserver, &args, dir.path(), 1),
            etcd,
            objects: Objects {
                client: client(&kubeconfig).await,
            },
            port,
            binary: binaries.kube_apiserver.clone(),
            args,
            starts: 1,
            ready_at: Vec::new(),
            dir,
        };
        plane.wait_ready().await;
        plane
    }

    /// Kills kube-apiserver at once, as a crash would.
    pub fn kill_apiserver(&mut self) {
        self.apiserver.kill();
    }

    /// Starts kube-apiserver again, on the same port, etcd and keys, and waits until it is ready.
    pub async fn restart_apiserver(&mut self) {
        self.starts += 1;
        self.apiserver = spawn_apiserver(&self.binary, &self.args, self.dir.path(), self.starts);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            self.apiserver.assert_running();
            let request = hyper::Request::get("/readyz")
                .body(Vec::new())
                .expect("request");
            let reply = self.objects.client.request_text(request).await;
            if matches!(&reply, Ok(text) if text == "ok") {
                self.ready_at.push(k8s_openapi::jiff::Timestamp::now());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver never became ready: last /readyz {reply:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The ends of kube-apiserver's and etcd's logs, for failure messages.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.apiserver.log(), self.etcd.log())
    }

    /// Creates the Sesame CRDs of `examples/crds/sesame-crds.yaml` and waits until each is
    /// Established.
    pub async fn install_crds(&self) {
        let names = self.install_crd_files(&["crds/sesame-crds.yaml"]).await;
        assert_eq!(names.len(), 3, "CRDs in the example: {names:?}");
    }

    /// Creates the Gateway API CRDs of `examples/gateway/` and waits until each is Established.
    pub async fn install_gateway_crds(&self) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("examples/gateway")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.ends_with(".yaml"))
            .map(|f| format!("gateway/{f}"))
            .collect();
        files.sort();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let names = self.install_crd_files(&files).await;
        assert_eq!(names.len(), 9, "Gateway API CRDs: {names:?}");
    }

    /// Creates the CRDs of the example files, as written, and waits until each is Established;
    /// returns their names.
    async fn install_crd_files(&self, files: &[&str]) -> Vec<String> {
        let api: Api<CustomResourceDefinition> = Api::all(self.objects.client.clone());
        let mut names = Vec::new();
        for doc in files.iter().flat_map(|f| example(f)) {
            if doc["kind"] != "CustomResourceDefinition" {
                continue;
            }
            // As written, through the dynamic API: nothing of the file is lost to a typed copy.
            let created = self.objects.create(doc).await;
            names.extend(created["metadata"]["name"].as_str().map(str::to_string));
        }
        for name in &names {
            let established = eventually(PATIENCE, || async {
                let Ok(crd) = api.get(name).await else {
                    return false;
                };
                let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
                conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
            .await;
            assert!(established, "CRD {name} never became Established");
        }
        names
    }

    /// Creates everything in `examples/sesame/00-common.yaml` (the namespace `projectsesame`
    /// and the ServiceAccounts) and `examples/sesame/02-rbac.yaml`, asks the API server for a
    /// token of the ServiceAccount `sesame`, and writes a kubeconfig with it: Sesame runs with
    /// exactly the rights the project ships.
    pub async fn sesame_kubeconfig(&self) -> PathBuf {
        for file in ["sesame/00-common.yaml", "sesame/02-rbac.yaml"] {
            for doc in example(file) {
                self.objects.create(doc).await;
            }
        }
        let accounts: Api<ServiceAccount> =
            Api::namespaced(self.objects.client.clone(), "projectsesame");
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(2 * 3600),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let issued = accounts
            .create_token_request("sesame", &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("token for the sesame ServiceAccount: {e}"));
        let token = issued.status.map(|s| s.token).expect("token in the reply");
        self.wait_for_sesame_rights().await;
        write_kubeconfig(self.dir.path(), self.port, "sesame", &token)
    }

    /// Waits until the API server's authorizer grants Sesame's ServiceAccount every right the
    /// shipped RBAC gives it: new bindings reach the authorizer's caches a moment after they
    /// are stored, and a request in that moment is refused. Asked as the admin, so nothing of
    /// this shows among Sesame's own requests.
    async fn wait_for_sesame_rights(&self) {
        let reviews: Api<SubjectAccessReview> = Api::all(self.objects.client.clone());
        for (group, resource, verb) in granted_to_sesame() {
            let (resource, subresource) = match resource.split_once('/') {
                Some((r, sub)) => (r.to_string(), Some(sub.to_string())),
                None => (resource.clone(), None),
            };
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(SESAME_USER.to_string()),
                    groups: Some(vec!["system:serviceaccounts".to_string()]),
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(group.clone()),
                        resource: Some(resource.clone()),
                        subresource,
                        verb: Some(verb.clone()),
                        namespace: Some("projectsesame".to_string()),
                        ..ResourceAttributes::default()
                    }),
                    ..SubjectAccessReviewSpec::default()
                },
                ..SubjectAccessReview::default()
            };
            let allowed = eventually(PATIENCE, || async {
                reviews
                    .create(&PostParams::default(), &review)
                    .await
                    .is_ok_and(|r| r.status.is_some_and(|s| s.allowed))
            })
            .await;
            assert!(allowed, "{verb} {group}/{resource} never granted to Sesame");
        }
    }

    /// Every request on a resource in the audit log so far, in order.
    pub fn audit(&self) -> Vec<Audited> {
        (1..=self.starts)
            .filter_map(|start| {
                let text = std::fs::read_to_string(audit_log(self.dir.path(), start)).ok()?;
                Some((start, text))
            })
            .flat_map(|(start, text)| self.audited(start, &text))
            .collect()
    }

    /// The requests on a resource in one start's audit log.
    fn audited(&self, start: u32, text: &str) -> Vec<Audited> {
        let ready_at = self.ready_at.get(start as usize - 1).copied();
        text.lines()
            // A line being written as we read may be cut short: it is not parsed.
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event["objectRef"]["resource"].is_string())
            .map(|event| {
                let at = event["stageTimestamp"]
                    .as_str()
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
                let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
                let object = &event["objectRef"];
                let mut resource = field(&object["resource"]);
                if let Some(sub) = object["subresource"].as_str() {
                    resource = format!("{resource}/{sub}");
                }
                Audited {
                    user: field(&event["user"]["username"]),
                    verb: field(&event["verb"]),
                    group: field(&object["apiGroup"]),
                    resource,
                    name: field(&object["name"]),
                    code: event["responseStatus"]["code"]
                        .as_u64()
                        .and_then(|c| u16::try_from(c).ok())
                        .unwrap_or(0),
                    start,
                    before_ready: matches!((at, ready_at), (Some(at), Some(ready)) if at < ready),
                }
            })
            .collect()
    }

    /// The requests Sesame made, from the audit log.
    pub fn sesame_requests(&self) -> Vec<Audited> {
        self.audit()
            .into_iter()
            .filter(|r| r.user == SESAME_USER)
            .collect()
    }
}

/// Audit every request, at the Metadata level (who, what, which object, the response code),
/// once when its response has started (watches) and once when it is complete.
const AUDIT_POLICY: &str = r#"{
  "apiVersion": "audit.k8s.io/v1",
  "kind": "Policy",
  "omitStages": ["RequestReceived"],
  "rules": [{"level": "Metadata"}]
}"#;

/// Starts kube-apiserver for the `start`th time, with its own log and audit log.
fn spawn_apiserver(binary: &Path, args: &[String], dir: &Path, start: u32) -> Daemon {
    let mut command = Command::new(binary);
    command.args(args).arg(format!(
        "--audit-log-path={}",
        audit_log(dir, start).display()
    ));
    let log = dir.join(format!("kube-apiserver-{start}.log"));
    Daemon::spawn("kube-apiserver", &mut command, log)
}

/// The audit log of the `start`th kube-apiserver: one per process, so that the line a killed
/// one was writing cannot run into the next one's first.
fn audit_log(dir: &Path, start: u32) -> PathBuf {
    dir.join(format!("audit-{start}.log"))
}

/// A bearer token nobody can guess in the few minutes the API server lives (it listens on
/// 127.0.0.1 only).
fn token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let key = rcgen::KeyPair::generate().expect("key");
    let noise: String = key.public_key_raw()[1..17]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{noise}{nanos:x}")
}

/// Writes `<user>.kubeconfig` in `dir`: the API server on 127.0.0.1:`port`, trusted through
/// the test CA, as `user` with `token`.
fn write_kubeconfig(dir: &Path, port: u16, user: &str, token: &str) -> PathBuf {
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "real", "cluster": {
            "server": format!("https://127.0.0.1:{port}"),
            "certificate-authority": dir.join("ca.crt"),
        }}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "real", "user": user}}],
        "current-context": user,
    });
    let path = dir.join(format!("{user}.kubeconfig"));
    std::fs::write(&path, config.to_string()).expect("kubeconfig");
    path
}

async fn client(kubeconfig: &Path) -> kube::Client {
    let file = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// The documents of a YAML file under `examples/`.
pub fn example(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("example yaml");
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// The (group, resource, verb) triples the ClusterRole and Role of
/// `examples/sesame/02-rbac.yaml` grant.
pub fn granted_to_sesame() -> BTreeSet<(String, String, String)> {
    let mut granted = BTreeSet::new();
    let docs = example("sesame/02-rbac.yaml");
    let roles = docs
        .iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role")));
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    for rule in roles.flat_map(|r| r["rules"].as_array().into_iter().flatten()) {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    granted.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    granted
}
