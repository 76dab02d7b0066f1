//! The install manifests of `examples/sesame/` against the binary they run: every document is a
//! known, fully typed Kubernetes object; every `sesame` command line in them is one this
//! binary's own parser accepts; and the objects agree with each other (`wiring`).
//! `examples/render/sesame.yaml` must be the render script's output. The RBAC rules themselves
//! are checked against Sesame's requests elsewhere (`rbac_lists_exactly_what_sesame_uses`);
//! here only that they are bound to Sesame.

mod load;
mod wiring;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use load::{Invocation, Manifests, SESAME_BINARY, SESAME_IMAGE, expand, manifest_files, repo_path};

/// Collects problems and fails once with all of them.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "\n{}", self.0.join("\n"));
    }
}

/// The one `sesame serve` of the manifests.
fn serve<'a>(invocations: &'a [Invocation<'a>]) -> &'a Invocation<'a> {
    let serves: Vec<_> = invocations.iter().filter(|i| i.serve().is_some()).collect();
    assert_eq!(serves.len(), 1, "one `sesame serve` in the manifests");
    serves[0]
}

/// The one invocation for which `pick` says something, and what it says.
fn one<'a, T>(
    invocations: &'a [Invocation<'a>],
    what: &str,
    pick: impl Fn(&'a Invocation<'a>) -> Option<T>,
) -> (&'a Invocation<'a>, T) {
    let found: Vec<_> = invocations
        .iter()
        .filter_map(|i| Some((i, pick(i)?)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one `sesame {what}` in the manifests (one that does not parse counts for none)"
    );
    found.into_iter().next().expect("one")
}

#[test]
fn every_document_is_a_known_typed_object() {
    let m = Manifests::load();
    assert_eq!(manifest_files().len(), 9, "files: {:?}", manifest_files());
    let namespaces: BTreeSet<_> = m
        .namespaces
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["projectsesame"]));
    let mut problems = Problems::default();
    for (kind, meta) in m.namespaced() {
        let ns = meta.namespace.as_deref().unwrap_or_default();
        problems.check(namespaces.contains(ns), || {
            format!(
                "{kind} {:?} is in namespace {ns:?}, which the manifests do not create",
                meta.name
            )
        });
    }
    problems.assert_none();
}

#[test]
fn unknown_kinds_and_misspelled_fields_are_refused() {
    let mut m = Manifests::default();
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                         "metadata": {"name": "a"}});
    assert!(m.add(&ingress).unwrap_err().contains("unknown kind"));
    let misspelled = json!({"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": "a"}, "spec": {"selectr": {"app": "a"}}});
    assert_eq!(
        m.add(&misspelled).unwrap_err(),
        ".spec.selectr is not what the typed object holds"
    );
    let fine = json!({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "a"}, "spec": {"selector": {"app": "a"}}});
    m.add(&fine).unwrap();
    assert_eq!(m.services.len(), 1);
}

#[test]
fn every_sesame_command_line_is_accepted_by_the_cli() {
    let m = Manifests::load();
    let invocations = m.invocations();
    let mut problems = Problems::default();
    for i in &invocations {
        if let Err(e) = &i.cli {
            problems.0.push(format!("{}: {:?}: {e}", i.at(), i.argv));
        }
    }
    // Every container that runs the binary uses the one Sesame image, and the other way round.
    for pod in m.pods() {
        for c in pod.containers() {
            let runs_sesame = c
                .command
                .as_ref()
                .and_then(|c| c.first())
                .map(String::as_str)
                == Some(SESAME_BINARY);
            let image = c.image.as_deref().unwrap_or_default();
            problems.check(runs_sesame == (image == SESAME_IMAGE), || {
                format!("{}: image {image:?}, command {:?}", pod.at(c), c.command)
            });
            problems.check(
                c.image_pull_policy.as_deref() == Some("IfNotPresent"),
                || format!("{}: imagePullPolicy {:?}", pod.at(c), c.image_pull_policy),
            );
        }
    }
    // The commands the manifests are meant to run, each once.
    let commands: Vec<&str> = invocations.iter().filter_map(Invocation::command).collect();
    problems.check(
        commands
            == [
                "serve",
                "bootstrap",
                "envoy shutdown-manager",
                "envoy shutdown",
                "certgen",
            ],
        || format!("the manifests run {commands:?}"),
    );
    let serve = serve(&invocations);
    if let Some(args) = serve.serve() {
        match args.tls_files() {
            Ok(Some(_)) => {}
            Ok(None) => problems.0.push(format!("{}: xDS without TLS", serve.at())),
            Err(e) => problems.0.push(format!("{}: {e:#}", serve.at())),
        }
    }
    problems.assert_none();
}

#[test]
fn every_variable_reference_is_defined_in_the_container_env() {
    let m = Manifests::load();
    let mut problems = Problems::default();
    let mut expanded = 0;
    for pod in m.pods() {
        for c in pod.containers() {
            let env = pod.env(c);
            for arg in c.command.iter().flatten().chain(c.args.iter().flatten()) {
                expanded += usize::from(arg.contains("$("));
                if let Err(e) = expand(arg, &env) {
                    problems.0.push(format!("{}: {arg:?}: {e}", pod.at(c)));
                }
            }
        }
    }
    // SESAME_NAMESPACE for certgen and bootstrap; Envoy's service cluster and node.
    assert_eq!(expanded, 4, "arguments with a $(VAR) reference");
    problems.assert_none();
}

#[test]
fn expand_follows_the_kubelet() {
    let env = BTreeMap::from([("A".to_string(), "x".to_string())]);
    assert_eq!(expand("--n=$(A)", &env).unwrap(), "--n=x");
    assert_eq!(expand("$$(A) $ $(A)$(A)", &env).unwrap(), "$(A) $ xx");
    assert!(expand("$(B)", &env).unwrap_err().contains("$(B)"));
}

/// The example `sesame.yaml` of the ConfigMap.
fn example_config() -> String {
    let m = Manifests::file("01-sesame-config.yaml");
    assert_eq!(m.config_maps.len(), 1);
    let data = m.config_maps[0].data.clone().unwrap_or_default();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["sesame.yaml"]);
    data["sesame.yaml"].clone()
}

#[test]
fn config_map_loads_as_sesame_config() {
    let config = sesame_api::Config::from_yaml(&example_config()).expect("sesame.yaml loads");
    assert_eq!(
        config,
        sesame_api::Config {
            accesslog_format: Some("envoy".to_string()),
            ..sesame_api::Config::default()
        },
        "the example sets only defaults"
    );
}

#[test]
fn config_map_samples_load_when_uncommented() {
    // `# key: value`, `#   key: value` and `#   - item` lines become `key: value`,
    // `  key: value` and `  - item`.
    let example = example_config();
    let mut uncommented = Vec::new();
    for line in example.lines() {
        let sample = line.strip_prefix("# ").filter(|rest| {
            let key = rest.trim_start().split(':').next().unwrap_or_default();
            rest.trim_start().starts_with("- ")
                || (!key.is_empty()
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && rest.contains(&format!("{key}:")))
        });
        match sample {
            Some(rest) => uncommented.push(rest),
            None if line.starts_with('#') => {}
            None => uncommented.push(line),
        }
    }
    let text = uncommented.join("\n");
    let config = sesame_api::Config::from_yaml(&text)
        .unwrap_or_else(|e| panic!("the samples uncommented:\n{text}\n{e}"));
    assert!(
        config.incluster
            && config.tls.fallback_certificate.is_some()
            && config
                .tls
                .cipher_suites
                .as_ref()
                .is_some_and(|c| c.len() == 4)
            && config.json_fields.as_ref().is_some_and(|f| f.len() == 5)
            && config.policy.request_headers.remove.len() == 1,
        "{text}"
    );
}

#[test]
fn crds_are_the_generated_ones() {
    let read = |p: &str| std::fs::read_to_string(repo_path(p)).expect(p);
    assert!(
        read("examples/sesame/01-crds.yaml") == read("examples/crds/sesame-crds.yaml"),
        "examples/sesame/01-crds.yaml differs from examples/crds/sesame-crds.yaml: refresh both \
         with `SESAME_UPDATE_CRDS=1 cargo test -p sesame-api crds`"
    );
    let m = Manifests::file("01-crds.yaml");
    assert_eq!(m.crds, sesame_api::crds());
}

#[test]
fn render_is_up_to_date() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("sesame.yaml");
    let status = std::process::Command::new("bash")
        .arg(repo_path("scripts/render-manifests.sh"))
        .arg(&out)
        .status()
        .expect("run scripts/render-manifests.sh");
    assert!(status.success(), "scripts/render-manifests.sh failed");
    let rendered = std::fs::read_to_string(&out).expect("rendered");
    let committed =
        std::fs::read_to_string(repo_path("examples/render/sesame.yaml")).unwrap_or_default();
    assert!(
        rendered == committed,
        "examples/render/sesame.yaml is stale: run scripts/render-manifests.sh and commit it"
    );
    // The render holds the files' documents, each whole.
    let count = |text: &str| -> usize {
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).expect("YAML");
        docs.len()
    };
    let in_files: usize = manifest_files()
        .iter()
        .map(|f| count(&std::fs::read_to_string(f).expect("manifest")))
        .sum();
    assert_eq!(count(&rendered), in_files, "documents in the render");
}
