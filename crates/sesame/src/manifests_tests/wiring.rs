//! How the objects of the install manifests fit together: the files Sesame and Envoy read and
//! the volumes and Secrets that hold them, Services and the Pods they select, ports, the
//! bootstrap and drain handshake between containers, ServiceAccounts and their roles.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, KeyToPath, Probe, VolumeMount};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::load::{Invocation, Manifests, Pod, RoleId, id};
use super::{Problems, one, serve};
use crate::certgen::CertgenArgs;

/// The flags whose value is a file the container reads.
const FILE_FLAGS: [&str; 7] = [
    "--sesame-cafile",
    "--sesame-cert-file",
    "--sesame-key-file",
    "--envoy-cafile",
    "--envoy-cert-file",
    "--envoy-key-file",
    "--config-path",
];

/// The Secrets `sesame certgen` writes with these arguments, by name, with their keys.
fn certgen_secrets(args: &CertgenArgs) -> BTreeMap<String, BTreeSet<String>> {
    let now = time::OffsetDateTime::now_utc();
    let certs = crate::certgen::pki::generate(&args.namespace, args.certificate_lifetime, now)
        .expect("certificates");
    let secrets = crate::certgen::secrets::secrets(
        &certs,
        args.secrets_format,
        &args.namespace,
        &args.secrets_name_suffix,
    );
    secrets
        .into_iter()
        .map(|s| {
            let keys = s.data.unwrap_or_default().into_keys().collect();
            (s.metadata.name.unwrap_or_default(), keys)
        })
        .collect()
}

/// The files of a Secret or ConfigMap volume whose object has `keys`: each item's path, or
/// every key when no items are listed.
fn files(items: Option<&[KeyToPath]>, keys: Option<&BTreeSet<String>>) -> BTreeSet<String> {
    match items {
        Some(items) => items.iter().map(|i| i.path.clone()).collect(),
        None => keys.cloned().unwrap_or_default(),
    }
}

#[test]
fn files_sesame_reads_are_what_certgen_and_the_config_map_provide() {
    let m = Manifests::load();
    let invocations = m.invocations();
    let (job, certgen) = one(&invocations, "certgen", Invocation::certgen);
    assert_eq!(
        certgen.namespace, job.pod.namespace,
        "certgen's --namespace"
    );
    let secrets = certgen_secrets(certgen);
    let config_maps: BTreeMap<(&str, &str), BTreeSet<String>> = m
        .config_maps
        .iter()
        .map(|c| {
            (
                id(&c.metadata),
                c.data.iter().flatten().map(|(k, _)| k.clone()).collect(),
            )
        })
        .collect();

    let mut problems = Problems::default();
    // Every Secret a Pod mounts is one certgen writes.
    for pod in m.pods() {
        for v in pod.spec.volumes.iter().flatten() {
            if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_ref()) {
                problems.check(secrets.contains_key(name), || {
                    format!(
                        "{}: volume {} is Secret {name:?}, which certgen does not write",
                        pod.owner, v.name
                    )
                });
            }
        }
    }
    // Every file flag names a file of a mounted Secret or ConfigMap.
    let mut read = 0;
    for i in &invocations {
        for (flag, path) in FILE_FLAGS
            .iter()
            .flat_map(|f| i.flag_values(f).into_iter().map(move |p| (f, p)))
        {
            read += 1;
            let Some((mount, file)) = i.pod.mount_of(i.container, path) else {
                problems
                    .0
                    .push(format!("{}: {flag}={path} is on no volume", i.at()));
                continue;
            };
            let volume = i.pod.volume(&mount.name);
            let provided = if let Some(secret) = volume.and_then(|v| v.secret.as_ref()) {
                let name = secret.secret_name.as_deref().unwrap_or_default();
                files(secret.items.as_deref(), secrets.get(name))
            } else if let Some(cm) = volume.and_then(|v| v.config_map.as_ref()) {
                let keys = config_maps.get(&(i.pod.namespace, cm.name.as_str()));
                files(cm.items.as_deref(), keys)
            } else {
                BTreeSet::new()
            };
            problems.check(provided.contains(file), || {
                format!(
                    "{}: {flag}={path}: volume {} holds only {provided:?}",
                    i.at(),
                    mount.name
                )
            });
        }
    }
    // Sesame's three TLS files and config file; the init container's three TLS files.
    assert_eq!(read, 7, "file flags in the manifests");
    problems.assert_none();
}

#[test]
fn volume_mounts_refer_to_defined_volumes() {
    let m = Manifests::load();
    let mut problems = Problems::default();
    for pod in m.pods() {
        for c in pod.containers() {
            for mount in c.volume_mounts.iter().flatten() {
                problems.check(pod.volume(&mount.name).is_some(), || {
                    format!("{}: mounts undefined volume {}", pod.at(c), mount.name)
                });
            }
        }
        let mut names = BTreeSet::new();
        for v in pod.spec.volumes.iter().flatten() {
            problems.check(names.insert(&v.name), || {
                format!("{}: volume {} twice", pod.owner, v.name)
            });
        }
    }
    problems.assert_none();
}

#[test]
fn services_select_pods_and_target_their_ports() {
    let m = Manifests::load();
    let pods = m.pods();
    let mut problems = Problems::default();
    for service in &m.services {
        let name = service.metadata.name.clone().unwrap_or_default();
        let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
        let spec = service.spec.clone().unwrap_or_default();
        let selector = spec.selector.unwrap_or_default();
        let selected: Vec<&Pod> = pods
            .iter()
            .filter(|p| p.namespace == namespace)
            .filter(|p| selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
            .collect();
        problems.check(!selector.is_empty() && selected.len() == 1, || {
            format!(
                "Service {name}: selector {selector:?} selects {} Pods",
                selected.len()
            )
        });
        for port in spec.ports.iter().flatten() {
            let target = port
                .target_port
                .clone()
                .unwrap_or(IntOrString::Int(port.port));
            for pod in &selected {
                let found = pod.containers().any(|c| declares(c, &target));
                problems.check(found, || {
                    format!(
                        "Service {name} port {}: no container of {} declares {target:?}",
                        port.port, pod.owner
                    )
                });
            }
        }
    }
    problems.assert_none();
}

/// Whether `container` declares the port, by number or by name.
fn declares(container: &Container, port: &IntOrString) -> bool {
    container.ports.iter().flatten().any(|p| match port {
        IntOrString::Int(n) => p.container_port == *n,
        IntOrString::String(name) => p.name.as_ref() == Some(name),
    })
}

/// The port a probe or hook reaches, if it reaches one.
fn probe_port(probe: &Probe) -> Option<IntOrString> {
    let http = probe.http_get.as_ref().map(|h| h.port.clone());
    http.or_else(|| probe.tcp_socket.as_ref().map(|t| t.port.clone()))
}

#[test]
fn probe_and_hook_ports_are_served() {
    let m = Manifests::load();
    let invocations = m.invocations();
    let mut problems = Problems::default();
    for pod in m.pods() {
        // The ports a Sesame command of the container listens on, without declaring them.
        let listens = |c: &Container| -> BTreeSet<i32> {
            invocations
                .iter()
                .filter(|i| i.pod.owner == pod.owner && i.container.name == c.name)
                .filter_map(|i| i.shutdown_manager().map(|(port, _)| i32::from(port)))
                .collect()
        };
        let served = |c: &Container, port: &IntOrString| {
            declares(c, port) || matches!(port, IntOrString::Int(n) if listens(c).contains(n))
        };
        for c in pod.containers() {
            let probes = [&c.liveness_probe, &c.readiness_probe, &c.startup_probe];
            for port in probes.into_iter().flatten().filter_map(probe_port) {
                // A probe checks its own container.
                problems.check(served(c, &port), || {
                    format!(
                        "{}: a probe on {port:?}, which the container does not serve",
                        pod.at(c)
                    )
                });
            }
            let lifecycle = c.lifecycle.as_ref();
            let hooks = lifecycle
                .into_iter()
                .flat_map(|l| [&l.post_start, &l.pre_stop])
                .flatten();
            for hook in hooks {
                let http = hook.http_get.as_ref().map(|h| h.port.clone());
                let Some(port) = http.or_else(|| hook.tcp_socket.as_ref().map(|t| t.port.clone()))
                else {
                    continue;
                };
                // A hook may reach another container of the Pod (Envoy's preStop waits on the
                // shutdown manager).
                problems.check(pod.containers().any(|other| served(other, &port)), || {
                    format!(
                        "{}: a hook on {port:?}, which no container serves",
                        pod.at(c)
                    )
                });
            }
        }
    }
    // Sesame's declared ports are the ones its flags make it listen on.
    let serve = serve(&invocations);
    if let Some(args) = serve.serve() {
        let declared: BTreeSet<i32> = serve
            .container
            .ports
            .iter()
            .flatten()
            .map(|p| p.container_port)
            .collect();
        let listens =
            BTreeSet::from([args.xds_port, args.http_port, args.debug_http_port].map(i32::from));
        problems.check(declared == listens, || {
            format!(
                "{}: declares {declared:?}, listens on {listens:?}",
                serve.at()
            )
        });
        problems.check(!args.xds_address.is_loopback(), || {
            format!(
                "{}: xDS on {}, unreachable from Envoy",
                serve.at(),
                args.xds_address
            )
        });
    }
    problems.assert_none();
}

#[test]
fn envoy_listens_where_sesame_configures_it() {
    let m = Manifests::load();
    let invocations = m.invocations();
    let args = serve(&invocations).serve().expect("serve");
    let pods = m.pods();
    let envoys: Vec<(&Pod, &Container)> = pods
        .iter()
        .flat_map(|p| p.containers().map(move |c| (p, c)))
        .filter(|(_, c)| {
            c.image
                .as_deref()
                .is_some_and(|i| i.starts_with("docker.io/envoyproxy/envoy:"))
        })
        .collect();
    assert_eq!(envoys.len(), 1, "one Envoy container");
    let (pod, envoy) = envoys[0];
    let mut problems = Problems::default();
    let listeners = [
        ("HTTP", args.envoy_service_http_port),
        ("HTTPS", args.envoy_service_https_port),
        ("stats", args.stats_port),
    ];
    for (what, port) in listeners {
        problems.check(declares(envoy, &IntOrString::Int(port.into())), || {
            format!(
                "{}: Sesame's {what} listener on {port} is not a container port",
                pod.at(envoy)
            )
        });
    }
    let ready = envoy
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref());
    problems.check(
        ready.is_some_and(|h| {
            h.path.as_deref() == Some("/ready")
                && h.port == IntOrString::Int(args.stats_port.into())
        }),
        || {
            format!(
                "{}: readiness is not GET /ready on the stats port: {ready:?}",
                pod.at(envoy)
            )
        },
    );
    problems.assert_none();
}

#[test]
fn bootstrap_points_envoy_at_the_sesame_service() {
    let m = Manifests::load();
    let invocations = m.invocations();
    let serve = serve(&invocations);
    let xds_port = i32::from(serve.serve().expect("serve").xds_port);
    let (init, bootstrap) = one(&invocations, "bootstrap", Invocation::bootstrap);
    assert_eq!(
        bootstrap.namespace, init.pod.namespace,
        "bootstrap's --namespace"
    );
    let service = m
        .services
        .iter()
        .find(|s| {
            s.metadata.name.as_deref() == Some(bootstrap.xds_address.as_str())
                && s.metadata.namespace.as_deref() == Some(init.pod.namespace)
        })
        .unwrap_or_else(|| panic!("--xds-address={} names no Service", bootstrap.xds_address));
    let spec = service.spec.clone().unwrap_or_default();
    let port = spec
        .ports
        .iter()
        .flatten()
        .find(|p| p.port == i32::from(bootstrap.xds_port))
        .unwrap_or_else(|| {
            panic!(
                "Service {} has no port {}",
                bootstrap.xds_address, bootstrap.xds_port
            )
        });
    assert_eq!(
        port.target_port,
        Some(IntOrString::Int(xds_port)),
        "the Service targets Sesame's --xds-port"
    );
    let selector = spec.selector.unwrap_or_default();
    assert!(
        selector
            .iter()
            .all(|(k, v)| serve.pod.labels.get(k) == Some(v)),
        "Service {} selects Sesame's Pods",
        bootstrap.xds_address
    );
}

/// The mount of `container` holding `path`: panics if there is none.
fn mount<'a>(pod: &Pod<'a>, container: &'a Container, path: &'a str) -> &'a VolumeMount {
    let (mount, _) = pod
        .mount_of(container, path)
        .unwrap_or_else(|| panic!("{}: {path} is on no volume", pod.at(container)));
    mount
}

/// Whether the mount is writable.
fn writable(mount: &VolumeMount) -> bool {
    !mount.read_only.unwrap_or(false)
}

#[test]
fn bootstrap_and_drain_files_are_shared_between_containers() {
    let m = Manifests::load();
    let invocations = m.invocations();
    let (init, bootstrap) = one(&invocations, "bootstrap", Invocation::bootstrap);
    let (manager, (serve_port, manager_ready)) = one(
        &invocations,
        "envoy shutdown-manager",
        Invocation::shutdown_manager,
    );
    let (hook, (admin, hook_ready)) = one(&invocations, "envoy shutdown", Invocation::shutdown);
    let pod = &init.pod;
    assert_eq!(
        manager.pod.owner, pod.owner,
        "the shutdown manager runs beside Envoy"
    );
    assert_eq!(
        hook.container.name, manager.container.name,
        "the shutdown manager's preStop drains"
    );
    let envoy = pod.container("envoy").expect("an envoy container");
    let envoy_argv = pod.argv(envoy).expect("envoy argv");

    // The bootstrap is written by the init container where Envoy reads it.
    let config = bootstrap.path.to_str().expect("path");
    let written = mount(pod, init.container, config);
    assert!(
        writable(written),
        "the init container cannot write {config}"
    );
    let read = mount(pod, envoy, config);
    assert_eq!(
        read.name, written.name,
        "Envoy reads {config} from the same volume"
    );
    assert_eq!(
        read.mount_path, written.mount_path,
        "{config} at the same path"
    );
    assert!(
        envoy_argv
            .windows(2)
            .any(|w| w[0] == "-c" && w[1] == config),
        "Envoy runs with -c {config}: {envoy_argv:?}"
    );

    // Envoy creates its admin socket where the drain hook talks to it.
    let socket = bootstrap.admin_address.as_str();
    assert_eq!(
        admin,
        format!("unix:{socket}"),
        "shutdown's --admin-address is the bootstrap's"
    );
    let at_envoy = mount(pod, envoy, socket);
    assert!(writable(at_envoy), "Envoy cannot create {socket}");
    let at_manager = mount(pod, manager.container, socket);
    assert_eq!(at_manager.name, at_envoy.name, "{socket} shared");
    assert_eq!(
        at_manager.mount_path, at_envoy.mount_path,
        "{socket} at the same path"
    );

    // The drain hook writes the ready file that the manager waits for.
    assert_eq!(hook_ready, manager_ready, "one ready file");
    let ready = manager_ready.to_str().expect("path");
    assert!(
        writable(mount(pod, manager.container, ready)),
        "cannot write {ready}"
    );

    // Envoy's preStop waits on the manager's /shutdown.
    let pre_stop = envoy.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref());
    let get = pre_stop
        .and_then(|h| h.http_get.as_ref())
        .expect("Envoy's preStop is an HTTP GET");
    assert_eq!(get.path.as_deref(), Some("/shutdown"));
    assert_eq!(get.port, IntOrString::Int(serve_port.into()));
    assert!(
        pod.spec.termination_grace_period_seconds.unwrap_or(30) >= 300,
        "the drain gets Contour's 300s"
    );
}

#[test]
fn service_accounts_and_bindings_refer_to_defined_objects() {
    let m = Manifests::load();
    let accounts: BTreeSet<(&str, &str)> =
        m.service_accounts.iter().map(|a| id(&a.metadata)).collect();
    let mut problems = Problems::default();
    for pod in m.pods() {
        let account = pod.service_account();
        problems.check(accounts.contains(&account), || {
            format!("{}: ServiceAccount {account:?} is not defined", pod.owner)
        });
    }
    // Every binding's role and subjects exist; the roles each ServiceAccount holds.
    let roles = m.roles();
    let mut held: BTreeMap<(&str, &str), BTreeSet<RoleId>> = BTreeMap::new();
    for (role, subjects) in m.bindings() {
        problems.check(roles.contains(&role), || {
            format!("binding to undefined {role:?}")
        });
        for s in subjects {
            let account = (s.namespace.as_deref().unwrap_or(role.1), s.name.as_str());
            problems.check(
                s.kind == "ServiceAccount" && accounts.contains(&account),
                || format!("{role:?} bound to undefined {} {account:?}", s.kind),
            );
            held.entry(account).or_default().insert(role);
        }
    }
    // Sesame's ServiceAccount holds exactly the roles of 02-rbac.yaml (which the RBAC test
    // checks against Sesame's requests); a Pod that does not mount its token holds none.
    let rbac = Manifests::file("02-rbac.yaml");
    let shipped = rbac.roles();
    let invocations = m.invocations();
    let sesame = serve(&invocations).pod.service_account();
    problems.check(held.get(&sesame) == Some(&shipped), || {
        format!(
            "Sesame's {sesame:?} holds {:?}, not 02-rbac.yaml's {shipped:?}",
            held.get(&sesame)
        )
    });
    for pod in m.pods() {
        let account = pod.service_account();
        let tokenless = pod.spec.automount_service_account_token == Some(false);
        problems.check(!tokenless || !held.contains_key(&account), || {
            format!(
                "{} does not mount its token, yet {account:?} holds roles",
                pod.owner
            )
        });
    }
    problems.assert_none();
}
