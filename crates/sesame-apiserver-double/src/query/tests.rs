use std::time::Duration;

use super::*;

#[test]
fn decodes_escapes() {
    assert_eq!(
        percent_decode("type%21%3Dhelm.sh%2Frelease.v1"),
        "type!=helm.sh/release.v1"
    );
    assert_eq!(percent_decode("a+b%2"), "a b%2");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}

#[test]
fn parses_kube_watch_queries() {
    let query = Query::parse(
        "&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&fieldSelector=metadata.name%3Da&labelSelector=app%3Dweb&resourceVersion=12",
    );
    let expected = Query {
        watch: true,
        resource_version: "12".into(),
        label_selector: "app=web".into(),
        field_selector: "metadata.name=a".into(),
        bookmarks: true,
        timeout: Some(Duration::from_secs(290)),
        ..Query::default()
    };
    assert_eq!(query, Ok(expected));
    assert_eq!(
        Query::parse("watch=1&resourceVersion=0").map(|q| (q.watch, q.watch_from())),
        Ok((true, Ok(None)))
    );
}

#[test]
fn parses_pagination() {
    let query = Query::parse("limit=2&continue=abc").unwrap_or_default();
    assert_eq!(
        (query.limit, query.continue_token.as_deref()),
        (Some(2), Some("abc"))
    );
    assert_eq!(Query::parse("limit=0").map(|q| q.limit), Ok(None));
    assert!(Query::parse("limit=x").is_err());
    assert!(
        Query {
            resource_version: "x".into(),
            ..Query::default()
        }
        .watch_from()
        .is_err()
    );
}
