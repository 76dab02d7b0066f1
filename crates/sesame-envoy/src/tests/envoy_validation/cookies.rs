//! Real Envoy accepts cookie rewrites as Sesame translates them: the Lua filter with its fixed
//! script in every ingress chain, and the rules in the `LuaPerRoute` of routes and of weighted
//! clusters (the every-feature DAG carries both).

use pretty_assertions::assert_eq;
use sesame_dag::dag::{CookieRewrite, SameSite};

use super::*;

/// Route-level rules of the every-feature DAG: every attribute, and a removal of `Secure`.
pub(super) fn rewrites() -> Vec<CookieRewrite> {
    vec![
        CookieRewrite {
            name: "__Host-x".into(),
            path: None,
            domain: None,
            secure: Some(false),
            same_site: None,
        },
        CookieRewrite {
            name: "session".into(),
            path: Some("/app path".into()),
            domain: Some("a.example.com".into()),
            secure: Some(true),
            same_site: Some(SameSite::None),
        },
    ]
}

/// Envoy compiles the script when it loads the filter: the fixed script is accepted, and the
/// same configuration with a script that does not compile is refused (so the check does reach
/// it). Envoy does not check the script a route names: it accepts an unknown name.
#[test]
fn envoy_compiles_the_cookie_script() {
    use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
    use envoy_types::pb::envoy::extensions::filters::http::lua::v3 as lua_v3;
    let Some(envoy) = envoy_binary() else { return };
    let dag = every_feature_dag();
    let mut resources = translate(&dag, &TranslateConfig::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));

    let mut http: listener_v3::Listener = decode(&resources.listeners["ingress_http"]);
    let filter = &mut http.filter_chains[0].filters[0];
    let Some(listener_v3::filter::ConfigType::TypedConfig(any)) = filter.config_type.as_mut()
    else {
        panic!("no connection manager")
    };
    let mut hcm: hcm_v3::HttpConnectionManager = decode(any);
    let lua = hcm
        .http_filters
        .iter_mut()
        .find(|f| f.name == crate::cookie::LUA_FILTER)
        .expect("the lua filter");
    let broken = lua_v3::Lua {
        source_codes: std::collections::HashMap::from([(
            crate::cookie::SCRIPT_NAME.to_string(),
            core_v3::DataSource {
                specifier: Some(core_v3::data_source::Specifier::InlineString(
                    "function envoy_on_response(h) if then end".into(),
                )),
                ..Default::default()
            },
        )]),
        ..Default::default()
    };
    lua.config_type = Some(hcm_v3::http_filter::ConfigType::TypedConfig(
        crate::proto::any(&broken),
    ));
    *any = crate::proto::any(&hcm);
    resources
        .listeners
        .insert("ingress_http".into(), crate::proto::any(&http));
    let Err(refusal) = envoy_verdict(&envoy, dir.path(), &resources) else {
        panic!("envoy accepted a script that does not compile")
    };
    assert!(refusal.contains("script load error"), "{refusal}");
}
