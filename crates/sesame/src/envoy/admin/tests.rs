use super::*;

#[test]
fn socket_paths_are_unix() {
    for path in ["/admin/admin.sock", "admin.sock", "./a:1", "/tmp/x:9001"] {
        assert_eq!(
            path.parse::<AdminAddress>(),
            Ok(AdminAddress::Unix(PathBuf::from(path)))
        );
    }
}

#[test]
fn host_and_port_is_tcp() {
    for addr in ["127.0.0.1:9001", "localhost:9001", "[::1]:9001"] {
        assert_eq!(
            addr.parse::<AdminAddress>(),
            Ok(AdminAddress::Tcp(addr.to_string()))
        );
    }
}

#[test]
fn a_missing_or_odd_port_is_a_path() {
    for path in ["localhost:", ":9001", "host:http"] {
        assert_eq!(
            path.parse::<AdminAddress>(),
            Ok(AdminAddress::Unix(PathBuf::from(path)))
        );
    }
}

#[test]
fn empty_is_refused() {
    assert!("".parse::<AdminAddress>().is_err());
}
