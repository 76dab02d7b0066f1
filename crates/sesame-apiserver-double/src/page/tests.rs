use super::*;

#[test]
fn tokens_round_trip() {
    let token = ContinueToken {
        rv: 42,
        namespace: "ns".into(),
        name: "a/b".into(),
    };
    let encoded = token.encode();
    assert!(
        encoded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(ContinueToken::decode(&encoded), Ok(token));
}

#[test]
fn garbage_is_refused() {
    assert!(ContinueToken::decode("!!!").is_err());
    assert!(ContinueToken::decode("aGVsbG8").is_err());
}
