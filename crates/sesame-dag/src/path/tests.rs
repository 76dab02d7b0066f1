use super::*;

fn ok(path: &str, ty: Option<&str>) -> PathMatch {
    parse(Some(path), ty).unwrap()
}

#[test]
fn prefix_paths_are_segment_prefixes_without_trailing_slash() {
    assert_eq!(
        ok("/foo", Some("Prefix")),
        PathMatch::SegmentPrefix("/foo".into())
    );
    assert_eq!(
        ok("/foo/", Some("Prefix")),
        PathMatch::SegmentPrefix("/foo".into())
    );
    assert_eq!(ok("/", Some("Prefix")), PathMatch::Prefix("/".into()));
    assert_eq!(ok("", Some("Prefix")), PathMatch::Prefix("/".into()));
    assert_eq!(
        parse(None, Some("Prefix")).unwrap(),
        PathMatch::Prefix("/".into())
    );
    // Regex characters are literal in Prefix paths.
    assert_eq!(
        ok("/a+b", Some("Prefix")),
        PathMatch::SegmentPrefix("/a+b".into())
    );
}

#[test]
fn exact_and_implementation_specific_paths() {
    assert_eq!(ok("/foo/", Some("Exact")), PathMatch::Exact("/foo/".into()));
    assert_eq!(ok("/foo", None), PathMatch::Prefix("/foo".into()));
    assert_eq!(
        ok("/foo", Some("ImplementationSpecific")),
        PathMatch::Prefix("/foo".into())
    );
    assert_eq!(ok("/foo.*", None), PathMatch::Regex("/foo.*".into()));
    assert_eq!(ok("/v[12]?/x", None), PathMatch::Regex("/v[12]?/x".into()));
    assert_eq!(ok("/", None), PathMatch::Prefix("/".into()));
}

#[test]
fn refuses_bad_paths() {
    assert_eq!(
        parse(Some("/x"), Some("Fuzzy")),
        Err(PathError::UnknownType("Fuzzy".into()))
    );
    assert_eq!(
        parse(Some("foo"), None),
        Err(PathError::NotAbsolute("foo".into()))
    );
    for bad in ["/a\r\nb", "/a b", "/a\0", "/a?x", "/a#frag", "/a\t"] {
        assert!(
            matches!(
                parse(Some(bad), Some("Prefix")),
                Err(PathError::BadCharacter(_))
            ),
            "{bad:?}"
        );
    }
    for (bad, seq) in [
        ("/foo/../admin", "/../"),
        ("//x", "//"),
        ("/a%2Fb", "%2F"),
        ("/a%2fb", "%2f"),
        ("/a/.", "/."),
        ("/a/..", "/.."),
        ("/a/./b", "/./"),
    ] {
        assert_eq!(
            parse(Some(bad), Some("Exact")),
            Err(PathError::BadSequence {
                path: bad.into(),
                sequence: seq
            }),
            "{bad:?}"
        );
        assert!(parse(Some(bad), Some("Prefix")).is_err(), "{bad:?}");
    }
    assert!(matches!(
        parse(Some("/[a](a{1000}){1000}"), None),
        Err(PathError::Regex { .. })
    ));
    assert!(matches!(
        parse(Some("/(?=x)*"), None),
        Err(PathError::Regex { .. })
    ));
    // Without a regex character it is a literal prefix, whatever else it holds.
    assert_eq!(
        parse(Some("/(a{1000}){1000}"), None),
        Ok(PathMatch::Prefix("/(a{1000}){1000}".into()))
    );
    let err = parse(Some("/a/../b"), Some("Prefix"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, r#"path "/a/../b" must not contain "/../""#);
}
