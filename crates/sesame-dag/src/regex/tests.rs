use super::*;

#[test]
fn accepts_re2_expressions() {
    for ok in [
        "/foo.*",
        "/api/(v1|v2)/.+",
        "^/[a-z]+/[0-9]{1,4}$",
        "/(?P<id>[0-9]+)",
        "(?i)/Foo",
        r"/\d+\w*\s?",
        r"/\pL+",
        r"/\p{Greek}",
        "[[:alpha:]]+",
        "(a{10}){100}",
        r"/x\x{41}",
    ] {
        assert_eq!(validate(ok), Ok(()), "{ok:?} should be accepted");
    }
}

#[test]
fn refuses_what_re2_refuses() {
    assert!(matches!(validate("(?=x)"), Err(RegexError::Syntax(_))));
    assert!(matches!(validate("(a)\\1"), Err(RegexError::Syntax(_))));
    assert!(matches!(validate("/foo("), Err(RegexError::Syntax(_))));
    assert!(matches!(validate("[a&&b]"), Err(RegexError::NotRe2(_))));
    assert!(matches!(validate("[a--b]"), Err(RegexError::NotRe2(_))));
    assert!(matches!(validate("[a[bc]]"), Err(RegexError::NotRe2(_))));
    assert!(matches!(validate("(?<n>a)"), Err(RegexError::NotRe2(_))));
    assert!(matches!(validate("(?x)a b"), Err(RegexError::NotRe2(_))));
    assert!(matches!(validate(r"\u0041"), Err(RegexError::NotRe2(_))));
    assert!(matches!(
        validate(r"\b{start}a"),
        Err(RegexError::NotRe2(_))
    ));
    assert!(matches!(
        validate(r"\p{sc=Greek}"),
        Err(RegexError::NotRe2(_))
    ));
}

#[test]
fn refuses_huge_expressions() {
    assert_eq!(validate("(a{1000}){1000}"), Err(RegexError::RepeatTooLarge));
    assert_eq!(validate("a{1001}"), Err(RegexError::RepeatTooLarge));
    assert_eq!(
        validate("((a{10}){10}){11}"),
        Err(RegexError::RepeatTooLarge)
    );
    let long = "a".repeat(MAX_PATTERN_LEN + 1);
    assert_eq!(
        validate(&long),
        Err(RegexError::TooLong(MAX_PATTERN_LEN + 1))
    );
    // Each repetition is within RE2's limits, but the program is not.
    let big = "[a-z]{1000}".repeat(120);
    assert_eq!(validate(&big), Err(RegexError::TooLarge));
}

#[test]
fn messages_tell_the_user_what_to_do() {
    let err = validate("(?<n>a)").unwrap_err().to_string();
    assert!(err.contains("(?P<name>"), "{err}");
    let err = validate("(a{1000}){1000}").unwrap_err().to_string();
    assert!(err.contains("1000"), "{err}");
}
