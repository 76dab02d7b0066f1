//! A TCP relay in front of the API-server double that can be made to hang: connections stay
//! open but nothing more is forwarded, as with a wedged API server or a black-holed network.

use std::future::pending;
use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// A running relay; dropping it closes every connection.
pub(super) struct Proxy {
    addr: SocketAddr,
    hung: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Proxy {
    /// A relay on a free local port to `upstream` (`http://127.0.0.1:PORT`).
    pub(super) async fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (hung, watch_hung) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, upstream, watch_hung));
        Proxy { addr, hung, accept }
    }

    /// The relay's base URL.
    pub(super) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// While `hung`, open and new connections forward nothing and never close.
    pub(super) fn set_hung(&self, hung: bool) {
        self.hung.send_replace(hung);
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, hung: watch::Receiver<bool>) {
    // Owned here so that aborting this task aborts every relay.
    let mut relays = JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        while relays.try_join_next().is_some() {}
        relays.spawn(relay(client, upstream, hung.clone()));
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, mut hung: watch::Receiver<bool>) {
    let hung_now = *hung.borrow_and_update();
    if !hung_now {
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        tokio::select! {
            _ = copy_bidirectional(&mut client, &mut server) => return,
            _ = hung.wait_for(|hung| *hung) => {}
        }
    }
    // Hold the client's connection open, answering nothing.
    let _client = client;
    pending::<()>().await;
}
