use super::*;
use crate::dag::HeaderValueMatch;

fn key(path: PathMatch, headers: usize) -> RouteKey {
    let headers = (0..headers)
        .map(|i| HeaderMatch {
            name: format!("h{i}"),
            value: HeaderValueMatch::Present,
            invert: false,
            ignore_case: false,
        })
        .collect();
    RouteKey {
        headers,
        ..RouteKey::path(path)
    }
}

#[test]
fn most_specific_first() {
    let mut keys = vec![
        key(PathMatch::Prefix("/".into()), 0),
        key(PathMatch::Prefix("/a".into()), 0),
        key(PathMatch::SegmentPrefix("/a".into()), 0),
        key(PathMatch::SegmentPrefix("/abc".into()), 0),
        key(PathMatch::Regex("/a.*".into()), 0),
        key(PathMatch::Regex("/a.*b".into()), 0),
        key(PathMatch::Exact("/a".into()), 0),
        key(PathMatch::Exact("/abc".into()), 0),
        key(PathMatch::Prefix("/b".into()), 0),
        key(PathMatch::Prefix("/a".into()), 1),
    ];
    keys.sort();
    let got: Vec<(String, usize)> = keys
        .iter()
        .map(|k| (format!("{:?}", k.path), k.headers.len()))
        .collect();
    let want = [
        ("Exact(\"/abc\")", 0),
        ("Exact(\"/a\")", 0),
        ("Regex(\"/a.*b\")", 0),
        ("Regex(\"/a.*\")", 0),
        ("SegmentPrefix(\"/abc\")", 0),
        ("Prefix(\"/a\")", 1),
        ("SegmentPrefix(\"/a\")", 0),
        ("Prefix(\"/a\")", 0),
        ("Prefix(\"/b\")", 0),
        ("Prefix(\"/\")", 0),
    ];
    let want: Vec<(String, usize)> = want.iter().map(|(p, h)| (p.to_string(), *h)).collect();
    assert_eq!(got, want);
}
