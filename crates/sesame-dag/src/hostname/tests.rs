use super::*;

#[test]
fn accepts_exact_and_leading_wildcard_hosts() {
    assert_eq!(parse("foo.com").unwrap(), "foo.com");
    assert_eq!(parse("FOO.Com").unwrap(), "foo.com");
    assert_eq!(parse("*.foo.com").unwrap(), "*.foo.com");
    assert_eq!(parse("a-1.b2.example").unwrap(), "a-1.b2.example");
    assert_eq!(parse("localhost").unwrap(), "localhost");
}

#[test]
fn refuses_hostile_hosts() {
    for bad in [
        "foo.*.com",
        "*foo.com",
        "**.com",
        "*",
        "foo.com.",
        "-a.com",
        "a-.com",
        "a..com",
        "",
        "f_o.com",
        "föö.com",
        "foo.com:80",
        "*.",
        "*.*.com",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be refused");
    }
    let long_label = format!("{}.com", "a".repeat(64));
    assert!(matches!(
        parse(&long_label),
        Err(HostnameError::InvalidLabel(_))
    ));
    let ok_label = format!("{}.com", "a".repeat(63));
    assert!(parse(&ok_label).is_ok());
    let long_host = format!("{}.com", vec!["a".repeat(60); 5].join("."));
    assert_eq!(parse(&long_host), Err(HostnameError::TooLong));
    assert_eq!(parse("foo.com."), Err(HostnameError::TrailingDot));
    assert_eq!(parse("*"), Err(HostnameError::BareWildcard));
    assert_eq!(parse("foo.*.com"), Err(HostnameError::MisplacedWildcard));
}

#[test]
fn authority_regex_matches_exactly_one_label() {
    let re = authority_regex("*.foo.com");
    assert_eq!(
        re,
        r"(?i)^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.foo\.com(:[0-9]+)?$"
    );
    assert!(crate::regex::validate(&re).is_ok());
    let compiled = regex_automata::meta::Regex::new(&re).unwrap();
    assert!(compiled.is_match("a.foo.com"));
    assert!(compiled.is_match("A.FOO.com:8080"));
    assert!(!compiled.is_match("a.b.foo.com"));
    assert!(!compiled.is_match("afoo.com"));
    assert!(!compiled.is_match("a.fooxcom"));
}
