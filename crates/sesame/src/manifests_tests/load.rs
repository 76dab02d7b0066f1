//! The install manifests, read and typed: every document of `examples/sesame/*.yaml` as a
//! k8s-openapi object, the Pods they run, and each `sesame` command line in them parsed by the
//! binary's own parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Parser;
use k8s_openapi::Metadata;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PodSpec, PodTemplateSpec, Service, ServiceAccount, Volume,
    VolumeMount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bootstrap::BootstrapArgs;
use crate::certgen::CertgenArgs;
use crate::envoy::EnvoyCommand;
use crate::serve::ServeArgs;
use crate::{Cli, Command};

/// The image of every container that runs Sesame.
pub const SESAME_IMAGE: &str = "ghcr.io/projectsesame/sesame:main";

/// Where the image keeps the binary; every Sesame command line starts with it.
pub const SESAME_BINARY: &str = "/bin/sesame";

/// A path under the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// The manifest files, in name order (the order they are rendered and applied in).
pub fn manifest_files() -> Vec<PathBuf> {
    let dir = repo_path("examples/sesame");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every object of some manifest files, by kind. A kind not listed here is an error: the test
/// must learn about it before a manifest ships it.
#[derive(Default)]
pub struct Manifests {
    pub namespaces: Vec<Namespace>,
    pub service_accounts: Vec<ServiceAccount>,
    pub config_maps: Vec<ConfigMap>,
    pub crds: Vec<CustomResourceDefinition>,
    pub jobs: Vec<Job>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub services: Vec<Service>,
    pub deployments: Vec<Deployment>,
    pub daemon_sets: Vec<DaemonSet>,
}

impl Manifests {
    /// Every manifest of `examples/sesame/`; panics naming each document that is not a known,
    /// fully typed object.
    pub fn load() -> Manifests {
        Manifests::from_files(&manifest_files())
    }

    /// The objects of one file of `examples/sesame/`.
    pub fn file(name: &str) -> Manifests {
        Manifests::from_files(&[repo_path("examples/sesame").join(name)])
    }

    fn from_files(files: &[PathBuf]) -> Manifests {
        let mut manifests = Manifests::default();
        let mut problems = Vec::new();
        for path in files {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
            let docs: Vec<Value> =
                serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            if docs.is_empty() {
                problems.push(format!("{file}: no objects"));
            }
            for (i, doc) in docs.iter().enumerate() {
                if let Err(e) = manifests.add(doc) {
                    problems.push(format!("{file} document {}: {e}", i + 1));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        manifests
    }

    /// Adds one document, typed by its apiVersion and kind.
    pub fn add(&mut self, doc: &Value) -> Result<(), String> {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        match (api_version, kind) {
            ("v1", "Namespace") => self.namespaces.push(typed(doc)?),
            ("v1", "ServiceAccount") => self.service_accounts.push(typed(doc)?),
            ("v1", "ConfigMap") => self.config_maps.push(typed(doc)?),
            ("v1", "Service") => self.services.push(typed(doc)?),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => self.crds.push(typed(doc)?),
            ("batch/v1", "Job") => self.jobs.push(typed(doc)?),
            ("rbac.authorization.k8s.io/v1", "Role") => self.roles.push(typed(doc)?),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => self.role_bindings.push(typed(doc)?),
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => self.cluster_roles.push(typed(doc)?),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                self.cluster_role_bindings.push(typed(doc)?)
            }
            ("apps/v1", "Deployment") => self.deployments.push(typed(doc)?),
            ("apps/v1", "DaemonSet") => self.daemon_sets.push(typed(doc)?),
            _ => return Err(format!("unknown kind {kind:?} of {api_version:?}")),
        }
        Ok(())
    }

    /// The metadata of every namespaced object, with its kind.
    pub fn namespaced(&self) -> Vec<(&'static str, &ObjectMeta)> {
        fn metas<'a, T: Metadata<Ty = ObjectMeta>>(
            kind: &'static str,
            objects: &'a [T],
        ) -> impl Iterator<Item = (&'static str, &'a ObjectMeta)> {
            objects.iter().map(move |o| (kind, o.metadata()))
        }
        metas("ServiceAccount", &self.service_accounts)
            .chain(metas("ConfigMap", &self.config_maps))
            .chain(metas("Job", &self.jobs))
            .chain(metas("Role", &self.roles))
            .chain(metas("RoleBinding", &self.role_bindings))
            .chain(metas("Service", &self.services))
            .chain(metas("Deployment", &self.deployments))
            .chain(metas("DaemonSet", &self.daemon_sets))
            .collect()
    }

    /// Every Role and ClusterRole.
    pub fn roles(&self) -> BTreeSet<RoleId<'_>> {
        let roles = self.roles.iter().map(|r| {
            let (namespace, name) = id(&r.metadata);
            ("Role", namespace, name)
        });
        let cluster_roles = self
            .cluster_roles
            .iter()
            .map(|r| ("ClusterRole", "", id(&r.metadata).1));
        roles.chain(cluster_roles).collect()
    }

    /// Every RoleBinding and ClusterRoleBinding: the role it grants, as in [`Manifests::roles`],
    /// and the subjects it grants it to.
    pub fn bindings(&self) -> Vec<(RoleId<'_>, &[Subject])> {
        let role_bindings = self.role_bindings.iter().map(|b| {
            let namespace = id(&b.metadata).0;
            let role = (
                b.role_ref.kind.as_str(),
                namespace,
                b.role_ref.name.as_str(),
            );
            (role, b.subjects.as_deref().unwrap_or_default())
        });
        let cluster_role_bindings = self.cluster_role_bindings.iter().map(|b| {
            let role = (b.role_ref.kind.as_str(), "", b.role_ref.name.as_str());
            (role, b.subjects.as_deref().unwrap_or_default())
        });
        role_bindings.chain(cluster_role_bindings).collect()
    }

    /// The Pods the workloads run: one per Deployment, DaemonSet and Job.
    pub fn pods(&self) -> Vec<Pod<'_>> {
        let deployments = self.deployments.iter().map(|o| {
            Pod::new(
                "Deployment",
                &o.metadata,
                o.spec.as_ref().map(|s| &s.template),
            )
        });
        let daemon_sets = self.daemon_sets.iter().map(|o| {
            Pod::new(
                "DaemonSet",
                &o.metadata,
                o.spec.as_ref().map(|s| &s.template),
            )
        });
        let jobs = self
            .jobs
            .iter()
            .map(|o| Pod::new("Job", &o.metadata, o.spec.as_ref().map(|s| &s.template)));
        deployments.chain(daemon_sets).chain(jobs).collect()
    }

    /// Every Sesame command line of every Pod, parsed.
    pub fn invocations(&self) -> Vec<Invocation<'_>> {
        self.pods().iter().flat_map(Pod::invocations).collect()
    }
}

/// A Role or ClusterRole: kind, namespace ("" for a ClusterRole) and name.
pub type RoleId<'a> = (&'a str, &'a str, &'a str);

/// An object's namespace ("" for cluster-scoped objects) and name.
pub fn id(meta: &ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

/// `doc` as a `T`, refused unless `T` serializes back to exactly `doc`: k8s-openapi ignores
/// unknown fields, and a misspelled field is exactly what this must catch.
pub fn typed<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<T, String> {
    let object: T = serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&object).map_err(|e| e.to_string())?;
    match first_difference(doc, &back, "") {
        None => Ok(object),
        Some(path) => Err(format!("{path} is not what the typed object holds")),
    }
}

/// The path of the first place `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => a
            .keys()
            .chain(b.keys().filter(|k| !a.contains_key(*k)))
            .find_map(|k| {
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                first_difference(x, y, &format!("{path}.{k}"))
            }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        _ => (a != b).then(|| {
            if path.is_empty() {
                ".".into()
            } else {
                path.into()
            }
        }),
    }
}

/// The Pod a workload runs, with what the tests need to know of it.
#[derive(Clone)]
pub struct Pod<'a> {
    /// `Deployment projectsesame/sesame`, for messages.
    pub owner: String,
    /// The workload's namespace.
    pub namespace: &'a str,
    /// The workload's name.
    pub name: &'a str,
    /// The Pod template's labels.
    pub labels: BTreeMap<String, String>,
    /// The Pod template's spec.
    pub spec: &'a PodSpec,
}

impl<'a> Pod<'a> {
    fn new(kind: &str, meta: &'a ObjectMeta, template: Option<&'a PodTemplateSpec>) -> Pod<'a> {
        let (namespace, name) = id(meta);
        let template = template.unwrap_or_else(|| panic!("{kind} {name}: no spec"));
        Pod {
            owner: format!("{kind} {namespace}/{name}"),
            namespace,
            name,
            labels: template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default(),
            spec: template
                .spec
                .as_ref()
                .unwrap_or_else(|| panic!("{kind} {name}: no spec")),
        }
    }

    /// The Pod's ServiceAccount, as (namespace, name).
    pub fn service_account(&self) -> (&'a str, &'a str) {
        let name = self.spec.service_account_name.as_deref();
        (self.namespace, name.unwrap_or("default"))
    }

    /// The init containers, then the containers.
    pub fn containers(&self) -> impl Iterator<Item = &'a Container> + use<'a> {
        let spec = self.spec;
        spec.init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
    }

    /// The container named `name`.
    pub fn container(&self, name: &str) -> Option<&'a Container> {
        self.containers().find(|c| c.name == name)
    }

    /// `where` for messages: `Deployment ns/name container c`.
    pub fn at(&self, container: &Container) -> String {
        format!("{} container {}", self.owner, container.name)
    }

    /// The container's environment as the kubelet resolves it: literal values, and the Pod's
    /// namespace and name for field references (the name a placeholder).
    pub fn env(&self, container: &Container) -> BTreeMap<String, String> {
        container
            .env
            .iter()
            .flatten()
            .map(|var| {
                let field = var
                    .value_from
                    .as_ref()
                    .and_then(|from| from.field_ref.as_ref())
                    .map(|f| f.field_path.as_str());
                let value = match (&var.value, field) {
                    (Some(value), _) => value.clone(),
                    (None, Some("metadata.namespace")) => self.namespace.to_string(),
                    (None, Some("metadata.name")) => format!("{}-pod", self.name),
                    _ => format!("<{}>", var.name),
                };
                (var.name.clone(), value)
            })
            .collect()
    }

    /// The container's command and arguments with `$(VAR)` expanded from its environment.
    pub fn argv(&self, container: &Container) -> Result<Vec<String>, String> {
        let env = self.env(container);
        container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .map(|arg| expand(arg, &env))
            .collect()
    }

    /// The volume named `name`.
    pub fn volume(&self, name: &str) -> Option<&'a Volume> {
        self.spec.volumes.iter().flatten().find(|v| v.name == name)
    }

    /// The mount of `container` that holds `path`, and the path inside the volume.
    pub fn mount_of(
        &self,
        container: &'a Container,
        path: &'a str,
    ) -> Option<(&'a VolumeMount, &'a str)> {
        container
            .volume_mounts
            .iter()
            .flatten()
            .filter_map(|m| {
                let rest = path.strip_prefix(m.mount_path.trim_end_matches('/'))?;
                Some((m, rest.strip_prefix('/')?))
            })
            .max_by_key(|(m, _)| m.mount_path.len())
    }

    /// The Sesame command lines of this Pod: each Sesame container's command and arguments,
    /// and every exec hook or probe that runs the binary.
    pub fn invocations(&self) -> Vec<Invocation<'a>> {
        let mut all = Vec::new();
        for container in self.containers() {
            if container.image.as_deref() == Some(SESAME_IMAGE) {
                let argv = self.argv(container);
                all.push(Invocation::new(self, container, "command", argv));
            }
            for (hook, exec) in execs(container) {
                if exec.first().map(String::as_str) == Some(SESAME_BINARY) {
                    all.push(Invocation::new(self, container, hook, Ok(exec.to_vec())));
                }
            }
        }
        all
    }
}

/// The exec commands of a container's hooks and probes, by name.
fn execs(container: &Container) -> Vec<(&'static str, &[String])> {
    let lifecycle = container.lifecycle.as_ref();
    let hooks = [
        ("postStart", lifecycle.and_then(|l| l.post_start.as_ref())),
        ("preStop", lifecycle.and_then(|l| l.pre_stop.as_ref())),
    ]
    .map(|(name, hook)| (name, hook.and_then(|h| h.exec.as_ref())));
    let probes = [
        ("livenessProbe", &container.liveness_probe),
        ("readinessProbe", &container.readiness_probe),
        ("startupProbe", &container.startup_probe),
    ]
    .map(|(name, probe)| (name, probe.as_ref().and_then(|p| p.exec.as_ref())));
    hooks
        .into_iter()
        .chain(probes)
        .filter_map(|(name, exec)| Some((name, exec?.command.as_deref()?)))
        .collect()
}

/// Expands `$(NAME)` as the kubelet does (`$$` is a literal `$`); a name the environment does
/// not define is an error, where the kubelet would leave the text as it is.
pub fn expand(text: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            let value = env
                .get(name)
                .ok_or_else(|| format!("$({name}) is not defined in the container's env"))?;
            out.push_str(value);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// One Sesame command line of a Pod, and what the binary's parser made of it.
pub struct Invocation<'a> {
    /// The Pod.
    pub pod: Pod<'a>,
    /// The container it runs in.
    pub container: &'a Container,
    /// `command`, or the hook or probe that runs it.
    pub hook: &'static str,
    /// The command line, variables expanded.
    pub argv: Vec<String>,
    /// The parsed command line, or why it was refused.
    pub cli: Result<Cli, String>,
}

impl<'a> Invocation<'a> {
    fn new(
        pod: &Pod<'a>,
        container: &'a Container,
        hook: &'static str,
        argv: Result<Vec<String>, String>,
    ) -> Invocation<'a> {
        let cli = argv.clone().and_then(|argv| parse(&argv));
        Invocation {
            pod: pod.clone(),
            container,
            hook,
            argv: argv.unwrap_or_default(),
            cli,
        }
    }

    /// `where` for messages.
    pub fn at(&self) -> String {
        format!("{} {}", self.pod.at(self.container), self.hook)
    }

    /// The values given to `flag`, as `--flag=value` or `--flag value`.
    pub fn flag_values(&self, flag: &str) -> Vec<&str> {
        let mut values = Vec::new();
        for (i, arg) in self.argv.iter().enumerate() {
            if let Some(value) = arg.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                values.push(value);
            } else if arg == flag
                && let Some(value) = self.argv.get(i + 1)
            {
                values.push(value.as_str());
            }
        }
        values
    }

    /// The subcommand this runs, if it parsed.
    pub fn command(&self) -> Option<&'static str> {
        Some(match &self.cli.as_ref().ok()?.command {
            Command::Serve(_) => "serve",
            Command::Bootstrap(_) => "bootstrap",
            Command::Envoy {
                command: EnvoyCommand::ShutdownManager(_),
            } => "envoy shutdown-manager",
            Command::Envoy {
                command: EnvoyCommand::Shutdown(_),
            } => "envoy shutdown",
            Command::Certgen(_) => "certgen",
            Command::Cli(_) => "cli",
            Command::Version => "version",
        })
    }

    /// The arguments of `sesame serve`, if that is what this runs.
    pub fn serve(&self) -> Option<&ServeArgs> {
        match &self.cli.as_ref().ok()?.command {
            Command::Serve(args) => Some(args),
            _ => None,
        }
    }

    /// The arguments of `sesame bootstrap`, if that is what this runs.
    pub fn bootstrap(&self) -> Option<&BootstrapArgs> {
        match &self.cli.as_ref().ok()?.command {
            Command::Bootstrap(args) => Some(args),
            _ => None,
        }
    }

    /// The arguments of `sesame certgen`, if that is what this runs.
    pub fn certgen(&self) -> Option<&CertgenArgs> {
        match &self.cli.as_ref().ok()?.command {
            Command::Certgen(args) => Some(args),
            _ => None,
        }
    }

    /// `sesame envoy shutdown-manager`'s port and ready file, if that is what this runs.
    pub fn shutdown_manager(&self) -> Option<(u16, &Path)> {
        match &self.cli.as_ref().ok()?.command {
            Command::Envoy {
                command: EnvoyCommand::ShutdownManager(args),
            } => Some((args.serve_port, &args.ready_file)),
            _ => None,
        }
    }

    /// `sesame envoy shutdown`'s admin address (as `unix:PATH` or `host:port`) and ready
    /// file, if that is what this runs.
    pub fn shutdown(&self) -> Option<(String, &Path)> {
        match &self.cli.as_ref().ok()?.command {
            Command::Envoy {
                command: EnvoyCommand::Shutdown(args),
            } => Some((args.admin_address.to_string(), &args.ready_file)),
            _ => None,
        }
    }
}

/// Parses a command line that starts with [`SESAME_BINARY`] as the binary does.
fn parse(argv: &[String]) -> Result<Cli, String> {
    match argv.split_first() {
        Some((binary, args)) if binary == SESAME_BINARY => {
            Cli::try_parse_from(std::iter::once("sesame").chain(args.iter().map(String::as_str)))
                .map_err(|e| e.to_string())
        }
        Some((binary, _)) => Err(format!("runs {binary}, not {SESAME_BINARY}")),
        None => Err(format!(
            "no command: the image has no entrypoint, run {SESAME_BINARY}"
        )),
    }
}
