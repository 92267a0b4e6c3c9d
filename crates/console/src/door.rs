//! The door: accepts TCP connections and serves HTTP/1.1 on them, with the
//! limits a server facing a network needs before anyone has shown a token:
//! a deadline for each request head (slow-header clients and sockets that
//! never speak are closed), a cap on connections per address still in
//! their HTTP phase, and no Nagle delay on small WebSocket messages.
//! After an upgrade, a connection belongs to its socket handler.
//!
//! With TLS (a console off loopback) every connection must open with a TLS
//! handshake within the same deadline; one that speaks plain HTTP instead
//! gets a plain-text 400 that says to use https:// and wss://, and is closed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Config;

/// Connections per address still in their HTTP phase.
#[derive(Debug, Default)]
struct Counts {
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`Counts`], given back when dropped: at the
/// upgrade to a WebSocket, or when the connection closes.
struct Place {
    counts: Arc<Counts>,
    address: IpAddr,
}

impl Counts {
    fn admit(self: &Arc<Self>, address: IpAddr, max: usize) -> Option<Place> {
        let mut map = self.by_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(address).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Place { counts: self.clone(), address })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut map = self.counts.by_address.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.address);
            }
        }
    }
}

/// Which refusals are worth a log line: one per address and minute, so a
/// flood of refused connections does not flood the log too. Forgets every
/// address past 1024 of them.
#[derive(Debug, Default)]
pub(crate) struct RefusalLog {
    last: HashMap<IpAddr, Instant>,
}

impl RefusalLog {
    /// Whether a refusal of `address` now should be logged.
    pub(crate) fn worth_logging(&mut self, address: IpAddr) -> bool {
        if self.last.len() > 1024 {
            self.last.clear();
        }
        let now = Instant::now();
        if self.last.get(&address).is_some_and(|at| now.duration_since(*at) < Duration::from_secs(60)) {
            return false;
        }
        self.last.insert(address, now);
        true
    }
}

/// Serves `app` on `listener` until `stop` turns true; connections still in
/// their HTTP phase then finish their request and close.
pub(crate) async fn serve(listener: TcpListener, app: Router, config: &Config, mut stop: watch::Receiver<bool>) {
    let tls = config.tls.as_ref().map(|identity| tokio_rustls::TlsAcceptor::from(identity.server.clone()));
    let counts = Arc::new(Counts::default());
    let mut refusals = RefusalLog::default();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // accept: wait a moment rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Some(place) = counts.admit(peer.ip(), config.max_http_per_address) else {
            if refusals.worth_logging(peer.ip()) {
                tracing::warn!(
                    address = %peer.ip(),
                    "refused connections: more than {} from this address have not finished their HTTP request",
                    config.max_http_per_address
                );
            }
            drop(stream);
            continue;
        };
        // Commands and pings are small messages that must go at once.
        let _ = stream.set_nodelay(true);
        let (app, header_timeout, stop) = (app.clone(), config.header_timeout, stop.clone());
        match tls.clone() {
            None => {
                tokio::spawn(connection(stream, peer, app, header_timeout, place, stop));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(header_timeout, secure(stream, acceptor)).await;
                    match handshake {
                        Ok(Ok(stream)) => connection(stream, peer, app, header_timeout, place, stop).await,
                        Ok(Err(e)) => tracing::debug!(%peer, "no TLS connection: {e}"),
                        Err(_) => tracing::debug!(%peer, "no TLS handshake in time"),
                    }
                });
            }
        }
    }
}

/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// What a plain-HTTP client of a TLS console reads before the connection closes.
const PLAIN_REFUSAL: &str = "This console is on the network and speaks only HTTPS and WSS: \
open https://, connect headsets with wss://.\n";

/// Completes the TLS handshake; a client that speaks plain HTTP is told to
/// use TLS (in HTTP it understands) and refused.
async fn secure(
    stream: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
) -> std::io::Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    use tokio::io::AsyncWriteExt;
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await?;
    if n == 1 && first[0] != TLS_HANDSHAKE {
        let mut stream = stream;
        let response = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PLAIN_REFUSAL}",
            PLAIN_REFUSAL.len()
        );
        stream.write_all(response.as_bytes()).await?;
        let _ = stream.shutdown().await;
        return Err(std::io::Error::other("plain HTTP to a TLS console: refused"));
    }
    acceptor.accept(stream).await
}

/// Resolves once the console stops (or its stop signal is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    place: Place,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // Handlers may ask who is at the other end (`ConnectInfo`), to log
    // refusals with the address.
    let inner = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        hyper::service::Service::call(&inner, request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service).with_upgrades());
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        }
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
    drop(place);
}
