//! ListenerSets: the upstream ListenerSet conformance scenarios replayed on the build (routing
//! by parentRef kind, the Gateway's `allowedListeners`, conflicts by precedence, certificates
//! and route namespaces seen from the ListenerSet).

use pretty_assertions::assert_eq;

use super::more_tests::build_alone;
use super::tests::{config, listeners_of, vhost};
use crate::build::{BuildOutput, build};
use crate::dag::RouteAction;
use crate::object::{Kind, NamespacedName, ObjectKey};
use crate::status::gateway::{
    ConditionReason as R, ConditionType as T, GatewayApiStatus, ListenerStatus,
};
use crate::testutil::{cert, objects, snapshot_of, tls_secret};

/// A Gateway `infra/gw` with `listeners` (YAML flow items) and `allowedListeners.namespaces`
/// from `allowed` (none when empty).
fn gateway(allowed: &str, listeners: &[&str]) -> String {
    let allowed = if allowed.is_empty() {
        String::new()
    } else {
        format!("  allowedListeners: {{namespaces: {{from: {allowed}}}}}\n")
    };
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: sesame\n{allowed}  listeners:\n{}\n",
        listeners
            .iter()
            .map(|l| format!("  - {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// A ListenerSet `namespace/name` of `infra/gw`, created at second `age`.
fn listener_set(namespace: &str, name: &str, age: u32, listeners: &[&str]) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {{name: {name}, namespace: {namespace}, creationTimestamp: \"2026-01-01T00:00:{age:02}Z\"}}\nspec:\n  parentRef: {{name: gw, namespace: infra}}\n  listeners:\n{}\n",
        listeners
            .iter()
            .map(|l| format!("  - {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// An HTTP listener on port 80 for `host`, taking routes from every namespace.
fn http(name: &str, host: &str) -> String {
    format!(
        "{{name: {name}, port: 80, protocol: HTTP, hostname: {host}, allowedRoutes: {{namespaces: {{from: All}}}}}}"
    )
}

/// An HTTPRoute `infra/name` serving `path` from the Service `backend`, with `parents` (YAML
/// flow items).
fn route(name: &str, parents: &[&str], path: &str, backend: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: infra}}\nspec:\n  parentRefs: [{}]\n  rules: [{{matches: [{{path: {{type: PathPrefix, value: {path}}}}}], backendRefs: [{{name: {backend}, port: 80}}]}}]\n",
        parents.join(", ")
    )
}

const SERVICES: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: v1, namespace: infra}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: v2, namespace: infra}\nspec: {ports: [{port: 80}]}\n";

fn build_docs(docs: &[String]) -> BuildOutput {
    build_alone(&docs.join("---\n"))
}

/// A ListenerSet's conditions as (type, status, reason), and its listeners.
fn set_status(
    out: &BuildOutput,
    namespace: &str,
    name: &str,
) -> (Vec<(T, bool, R)>, Vec<ListenerStatus>) {
    let key = ObjectKey::new(Kind::ListenerSet, NamespacedName::new(namespace, name));
    let status = out
        .status
        .objects
        .get(&key)
        .unwrap_or_else(|| panic!("no status for {key:?}"));
    match status.gateway_api.as_deref() {
        Some(GatewayApiStatus::ListenerSet {
            conditions,
            listeners,
        }) => (
            conditions
                .iter()
                .map(|c| (c.type_, c.status, c.reason))
                .collect(),
            listeners.clone(),
        ),
        other => panic!("not a ListenerSet status: {other:?}"),
    }
}

fn attached_sets(out: &BuildOutput) -> u32 {
    let key = ObjectKey::new(Kind::Gateway, NamespacedName::new("infra", "gw"));
    match out.status.objects[&key].gateway_api.as_deref() {
        Some(GatewayApiStatus::Gateway {
            attached_listener_sets,
            ..
        }) => *attached_listener_sets,
        other => panic!("{other:?}"),
    }
}

/// Each parent of route `infra/name`: (kind, name, Accepted status, reason).
fn route_parents(out: &BuildOutput, name: &str) -> Vec<(String, String, bool, R)> {
    let key = ObjectKey::new(Kind::HTTPRoute, NamespacedName::new("infra", name));
    match out.status.objects[&key].gateway_api.as_deref() {
        Some(GatewayApiStatus::Route { parents }) => parents
            .iter()
            .map(|p| {
                let c = &p.conditions[0];
                assert_eq!(c.type_, T::Accepted);
                (
                    p.parent_ref.kind.clone(),
                    p.parent_ref.name.clone(),
                    c.status,
                    c.reason,
                )
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// The paths host `host` routes on Envoy port 8080, each with its backend Service.
fn paths(out: &BuildOutput, host: &str) -> Vec<(String, String)> {
    vhost(out, "http-80", host)
        .routes
        .iter()
        .map(|r| {
            let backend = match &r.action {
                // Clusters are named `namespace/service/port/…`.
                RouteAction::Forward(f) => f.clusters[0]
                    .name
                    .split('/')
                    .nth(1)
                    .unwrap_or_default()
                    .to_string(),
                other => format!("{other:?}"),
            };
            (r.path.value().to_string(), backend)
        })
        .collect()
}

fn accepted_set() -> Vec<(T, bool, R)> {
    vec![
        (T::Accepted, true, R::Accepted),
        (T::Programmed, true, R::Programmed),
    ]
}

#[test]
fn routes_reach_listener_set_listeners_only_through_a_listener_set_parent() {
    let gw = gateway("All", &[&http("gw-1", "gw1.com"), &http("gw-2", "gw2.com")]);
    let ls1 = listener_set(
        "infra",
        "ls1",
        1,
        &[&http("ls1-a", "ls1a.com"), &http("ls1-b", "ls1b.com")],
    );
    let ls2 = listener_set("infra", "ls2", 2, &[&http("ls2-a", "ls2a.com")]);
    let ls = |name: &str, section: &str| {
        let section = if section.is_empty() {
            String::new()
        } else {
            format!(", sectionName: {section}")
        };
        format!("{{kind: ListenerSet, group: gateway.networking.k8s.io, name: {name}{section}}}")
    };
    let out = build_docs(&[
        gw,
        ls1,
        ls2,
        SERVICES.to_string(),
        route(
            "all",
            &["{name: gw}", &ls("ls1", ""), &ls("ls2", "")],
            "/route",
            "v1",
        ),
        route("gw-route", &["{name: gw}"], "/gateway-route", "v2"),
        route(
            "gw-section",
            &["{name: gw, sectionName: gw-1}"],
            "/gateway-section",
            "v2",
        ),
        route("ls1-route", &[&ls("ls1", "")], "/ls1-route", "v2"),
        route("ls1-section", &[&ls("ls1", "ls1-a")], "/ls1-section", "v1"),
        // A Gateway parent cannot name a ListenerSet's listener.
        route(
            "bad-section",
            &["{name: gw, sectionName: ls1-a}"],
            "/bad-section",
            "v1",
        ),
    ]);
    assert_eq!(attached_sets(&out), 2);
    let (conditions, listeners) = set_status(&out, "infra", "ls1");
    assert_eq!(conditions, accepted_set());
    let attached: Vec<(&str, u32)> = listeners
        .iter()
        .map(|l| (l.name.as_str(), l.attached_routes))
        .collect();
    assert_eq!(attached, [("ls1-a", 3), ("ls1-b", 2)]);
    let (_, listeners) = set_status(&out, "infra", "ls2");
    assert_eq!(listeners[0].attached_routes, 1);
    assert_eq!(listeners[0].supported_kinds, ["HTTPRoute", "GRPCRoute"]);
    // The Gateway's own listener statuses do not list the ListenerSets'.
    let own: Vec<String> = listeners_of(&out).into_iter().map(|l| l.name).collect();
    assert_eq!(own, ["gw-1", "gw-2"]);

    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        paths(&out, "gw1.com"),
        p(&[
            ("/gateway-section", "v2"),
            ("/gateway-route", "v2"),
            ("/route", "v1")
        ])
    );
    assert_eq!(
        paths(&out, "gw2.com"),
        p(&[("/gateway-route", "v2"), ("/route", "v1")])
    );
    assert_eq!(
        paths(&out, "ls1a.com"),
        p(&[
            ("/ls1-section", "v1"),
            ("/ls1-route", "v2"),
            ("/route", "v1")
        ])
    );
    assert_eq!(
        paths(&out, "ls1b.com"),
        p(&[("/ls1-route", "v2"), ("/route", "v1")])
    );
    assert_eq!(paths(&out, "ls2a.com"), p(&[("/route", "v1")]));

    let yes = |kind: &str, name: &str| (kind.to_string(), name.to_string(), true, R::Accepted);
    assert_eq!(
        route_parents(&out, "all"),
        [
            yes("Gateway", "gw"),
            yes("ListenerSet", "ls1"),
            yes("ListenerSet", "ls2")
        ]
    );
    // Each route's status names only the parents it wrote.
    assert_eq!(
        route_parents(&out, "ls1-route"),
        [yes("ListenerSet", "ls1")]
    );
    assert_eq!(route_parents(&out, "gw-route"), [yes("Gateway", "gw")]);
    assert_eq!(
        route_parents(&out, "bad-section"),
        [(
            "Gateway".to_string(),
            "gw".to_string(),
            false,
            R::NoMatchingParent
        )]
    );
}

#[test]
fn the_gateways_allowed_listeners_decide_which_listener_sets_attach() {
    let namespaces = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team, labels: {listeners: allowed}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: infra}\n";
    let sets = [
        listener_set("infra", "same", 1, &[&http("same", "same.com")]),
        listener_set("team", "team", 2, &[&http("team", "team.com")]),
    ];
    let run = |allowed: &str| {
        let mut gw = gateway(allowed, &[&http("gw", "gw.com")]);
        if allowed == "Selector" {
            gw = gw.replace(
                "{from: Selector}",
                "{from: Selector, selector: {matchLabels: {listeners: allowed}}}",
            );
        }
        let out = build_docs(&[gw, sets[0].clone(), sets[1].clone(), namespaces.to_string()]);
        let verdict = |ns: &str, name: &str| set_status(&out, ns, name).0[0].2;
        (
            attached_sets(&out),
            verdict("infra", "same"),
            verdict("team", "team"),
        )
    };
    // The default, and None, allow no ListenerSet.
    assert_eq!(run(""), (0, R::NotAllowed, R::NotAllowed));
    assert_eq!(run("None"), (0, R::NotAllowed, R::NotAllowed));
    assert_eq!(run("Same"), (1, R::Accepted, R::NotAllowed));
    assert_eq!(run("Selector"), (1, R::NotAllowed, R::Accepted));
    assert_eq!(run("All"), (2, R::Accepted, R::Accepted));
    let out = build_docs(&[gateway("", &[&http("gw", "gw.com")]), sets[0].clone()]);
    let (conditions, listeners) = set_status(&out, "infra", "same");
    assert_eq!(
        conditions,
        [
            (T::Accepted, false, R::NotAllowed),
            (T::Programmed, false, R::NotAllowed)
        ]
    );
    assert!(listeners.is_empty());
    assert!(
        !out.dag.gateway_listeners["http-80"]
            .virtual_hosts
            .contains_key("same.com"),
        "a ListenerSet that is not allowed adds no listener"
    );
}

/// The listeners of the conflict scenarios: the Gateway's, then ListenerSets that repeat a
/// hostname (or, with `other_protocol`, a port with another protocol) of those before them.
fn conflict_scenario(other_protocol: bool) -> BuildOutput {
    let clash = |name: &str| {
        if other_protocol {
            format!(
                "{{name: {name}, port: 80, protocol: HTTPS, hostname: {name}.com, tls: {{certificateRefs: [{{name: c}}]}}}}"
            )
        } else {
            http(name, &format!("{name}.com"))
        }
    };
    let gw = gateway(
        "Same",
        &[
            &http("gw-listener", "gw-listener.com"),
            &http("with-gw", "with-gw.com"),
        ],
    );
    build_docs(&[
        gw,
        listener_set(
            "infra",
            "ls-gw-1",
            1,
            &[
                &http("ls1", "ls1.com"),
                &clash("with-gw"),
                &http("with-ls", "with-ls.com"),
            ],
        ),
        listener_set("infra", "ls-gw-2", 2, &[&clash("with-gw")]),
        listener_set(
            "infra",
            "ls-ls-1",
            3,
            &[&http("ls2", "ls2.com"), &clash("with-ls")],
        ),
        listener_set("infra", "ls-ls-2", 4, &[&clash("with-ls")]),
    ])
}

#[test]
fn the_later_of_two_conflicting_listeners_is_refused() {
    for (other_protocol, reason) in [(false, R::HostnameConflict), (true, R::ProtocolConflict)] {
        let out = conflict_scenario(other_protocol);
        let listener = |ns_name: &str, listener: &str| -> Vec<(T, bool, R)> {
            set_status(&out, "infra", ns_name)
                .1
                .into_iter()
                .find(|l| l.name == listener)
                .unwrap_or_else(|| panic!("no listener {listener}"))
                .conditions
                .iter()
                .filter(|c| matches!(c.type_, T::Accepted | T::Programmed | T::Conflicted))
                .map(|c| (c.type_, c.status, c.reason))
                .collect()
        };
        let ok = vec![
            (T::Accepted, true, R::Accepted),
            (T::Programmed, true, R::Programmed),
            (T::Conflicted, false, R::NoConflicts),
        ];
        let conflicted = vec![
            (T::Accepted, false, reason),
            (T::Programmed, false, reason),
            (T::Conflicted, true, reason),
        ];
        // The Gateway's listeners win over every ListenerSet's.
        for l in listeners_of(&out) {
            assert!(
                l.conditions
                    .iter()
                    .any(|c| c.type_ == T::Accepted && c.status),
                "{l:?}"
            );
        }
        // Only ListenerSets that keep a valid listener are attached.
        assert_eq!(attached_sets(&out), 2, "{reason:?}");
        assert_eq!(listener("ls-gw-1", "ls1"), ok);
        assert_eq!(listener("ls-gw-1", "with-gw"), conflicted);
        // The older ListenerSet keeps its listener over the younger one.
        assert_eq!(listener("ls-gw-1", "with-ls"), ok);
        assert_eq!(listener("ls-ls-1", "with-ls"), conflicted);
        assert_eq!(listener("ls-gw-2", "with-gw"), conflicted);
        let (conditions, _) = set_status(&out, "infra", "ls-gw-1");
        assert_eq!(conditions[0], (T::Accepted, true, R::ListenersNotValid));
        assert_eq!(conditions[1], (T::Programmed, true, R::Programmed));
        let (conditions, _) = set_status(&out, "infra", "ls-gw-2");
        assert_eq!(
            conditions,
            [
                (T::Accepted, false, R::ListenersNotValid),
                (T::Programmed, false, R::ListenersNotValid)
            ]
        );
    }
}

#[test]
fn a_listener_sets_certificate_in_another_namespace_needs_a_grant_to_the_listener_set() {
    let https = |name: &str| {
        format!(
            "{{name: {name}, port: 443, protocol: HTTPS, hostname: {name}.com, tls: {{certificateRefs: [{{name: c, namespace: default}}]}}}}"
        )
    };
    let grant = |kind: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\nmetadata: {{name: {kind}, namespace: default}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: {kind}, namespace: infra}}]\n  to: [{{group: \"\", kind: Secret}}]\n"
        )
    };
    let yaml = [
        gateway("All", &[&https("gw")]),
        grant("Gateway"),
        listener_set("infra", "granted", 1, &[&https("granted")]),
        grant("ListenerSet"),
        listener_set("elsewhere", "ungranted", 2, &[&https("ungranted")]),
    ]
    .join("---\n");
    let pem = cert(&["gw.com", "granted.com", "ungranted.com"]);
    let class = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: sesame}\nspec: {controllerName: projectsesame.io/gateway-controller}\n---\n";
    let mut objs = objects(&format!("{class}{yaml}"));
    objs.push(tls_secret("c", &pem.crt, &pem.key));
    let out = build(&snapshot_of(objs), &config());
    let resolved = |l: &ListenerStatus| {
        let c = l
            .conditions
            .iter()
            .find(|c| c.type_ == T::ResolvedRefs)
            .expect("ResolvedRefs");
        (c.status, c.reason)
    };
    assert_eq!(resolved(&listeners_of(&out)[0]), (true, R::ResolvedRefs));
    let (conditions, listeners) = set_status(&out, "infra", "granted");
    assert_eq!(conditions, accepted_set());
    assert_eq!(resolved(&listeners[0]), (true, R::ResolvedRefs));
    let (conditions, listeners) = set_status(&out, "elsewhere", "ungranted");
    assert_eq!(conditions[0], (T::Accepted, false, R::ListenersNotValid));
    assert_eq!(resolved(&listeners[0]), (false, R::RefNotPermitted));
    let chains: Vec<Option<&str>> = out.dag.gateway_listeners["https-443"]
        .tls
        .iter()
        .map(|t| t.server_name.as_deref())
        .collect();
    assert_eq!(chains, [Some("gw.com"), Some("granted.com")]);
}

#[test]
fn same_namespace_routes_of_a_listener_set_are_its_own_namespaces() {
    let ls = listener_set(
        "team",
        "ls",
        1,
        &["{name: same, port: 80, protocol: HTTP, hostname: same.com}"],
    );
    let parent = "{kind: ListenerSet, name: ls, namespace: team}";
    let team_route =
        route("r", &[parent], "/team", "v1").replace("namespace: infra}", "namespace: team}");
    let out = build_docs(&[
        gateway("All", &[&http("gw", "gw.com")]),
        ls,
        SERVICES.to_string(),
        team_route,
        route("infra-route", &[parent], "/infra", "v1"),
    ]);
    let key = ObjectKey::new(Kind::HTTPRoute, NamespacedName::new("team", "r"));
    let Some(GatewayApiStatus::Route { parents }) = out.status.objects[&key].gateway_api.as_deref()
    else {
        panic!("no route status");
    };
    assert_eq!(parents[0].conditions[0].reason, R::Accepted);
    assert_eq!(
        route_parents(&out, "infra-route"),
        [(
            "ListenerSet".to_string(),
            "ls".to_string(),
            false,
            R::NotAllowedByListeners
        )]
    );
}

#[test]
fn a_listener_set_listener_naming_a_kind_its_protocol_does_not_serve_is_refused_its_refs() {
    let out = build_docs(&[
        gateway("All", &[&http("gw", "gw.com")]),
        listener_set(
            "infra",
            "kinds",
            1,
            &[
                "{name: tls-only, port: 443, protocol: TLS, hostname: tls.com, tls: {mode: Passthrough}, allowedRoutes: {kinds: [{kind: HTTPRoute}]}}",
            ],
        ),
    ]);
    let (_, listeners) = set_status(&out, "infra", "kinds");
    let resolved = listeners[0]
        .conditions
        .iter()
        .find(|c| c.type_ == T::ResolvedRefs)
        .map(|c| (c.status, c.reason));
    assert_eq!(resolved, Some((false, R::InvalidRouteKinds)));
    assert!(listeners[0].supported_kinds.is_empty());
}
