use super::*;

const ENVOY: &str = r#"# TYPE envoy_http_downstream_cx_active gauge
envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix="admin"} 3
envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix="ingress_http"} 2
envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix="ingress_https"} 5
envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix="stats"} 1
"#;

#[test]
fn sums_ingress_listeners_and_skips_admin_and_stats() {
    assert_eq!(open_connections(ENVOY), 7);
}

#[test]
fn counts_nothing_when_only_excluded_listeners_are_open() {
    let text = "envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"admin\"} 1\n\
                envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"stats\"} 4\n";
    assert_eq!(open_connections(text), 0);
}

#[test]
fn skips_the_read_only_admin_listener() {
    let text = "envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"envoy-admin\"} 4\n\
                envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"ingress_http\"} 1\n";
    assert_eq!(open_connections(text), 1);
}

#[test]
fn empty_output_is_zero() {
    assert_eq!(open_connections(""), 0);
    assert_eq!(open_connections("# HELP nothing\n"), 0);
}

#[test]
fn ignores_other_metrics_with_a_common_prefix() {
    let text = "envoy_http_downstream_cx_active_total{envoy_http_conn_manager_prefix=\"x\"} 9\n\
                envoy_http_downstream_cx_total{envoy_http_conn_manager_prefix=\"x\"} 9\n\
                envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"x\"} 1\n";
    assert_eq!(open_connections(text), 1);
}

#[test]
fn reads_labels_in_any_order_with_spaces_and_escapes() {
    let text = concat!(
        "envoy_http_downstream_cx_active{ other=\"a,b}\" , envoy_http_conn_manager_prefix=\"admin\"} 4\n",
        "envoy_http_downstream_cx_active{other=\"q\\\"uote\",envoy_http_conn_manager_prefix=\"in\"} 2\n",
        "envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"adm\\\\in\",} 1 1712345678\n",
    );
    assert_eq!(open_connections(text), 3);
}

#[test]
fn counts_samples_without_the_label_or_without_labels() {
    let text = "envoy_http_downstream_cx_active{other=\"x\"} 2\n\
                envoy_http_downstream_cx_active 3\n";
    assert_eq!(open_connections(text), 5);
}

#[test]
fn skips_malformed_lines_and_clamps_values() {
    let text = "envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"a\" 2\n\
                envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"b\"} nope\n\
                envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"c\"} -4\n\
                envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix=\"d\"} 2.0\n\
                envoy_http_downstream_cx_active\n";
    assert_eq!(open_connections(text), 2);
}

#[test]
fn custom_exclusions() {
    assert_eq!(
        sum_excluding(
            ENVOY,
            DOWNSTREAM_CX_ACTIVE,
            HCM_PREFIX_LABEL,
            &["ingress_https"]
        ),
        6
    );
}
