//! What the loopback tests share: a console in this process, WebSocket
//! clients for browsers and raw headsets, a headset link, messages.

#![allow(dead_code, reason = "each test binary uses its own part of this module")]
#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

#[allow(unused_imports, reason = "each test binary uses its own part")]
pub use testkit::webdriver;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use link::{Clock, Link, LinkConfig};
use protocol::ScenarioRef;
use recording::Recording;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Console {
    pub addr: SocketAddr,
    pub therapist: String,
    pub headset: String,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Console {
    pub async fn start(tune: impl FnOnce(&mut console::Config)) -> Console {
        let dir = std::env::temp_dir().join(format!("trinvis-live-{}-{}", std::process::id(), console::new_token()));
        Console::start_at("127.0.0.1:0", dir, tune).await
    }

    /// A console on `address` recording into `dir`: a restart passes the
    /// address and folder of the console it replaces.
    pub async fn start_at(address: &str, dir: PathBuf, tune: impl FnOnce(&mut console::Config)) -> Console {
        let mut config = console::Config::new(dir.clone());
        config.flush_interval = Duration::from_millis(100);
        // `/report` as `trinvis console` draws it.
        config.report = Some(|data, visits| outputs::report::html(data, visits, None));
        tune(&mut config);
        let listener = TcpListener::bind(address).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let (therapist, headset) = (config.therapist_token.clone(), config.headset_token.clone());
        let done = tokio::spawn(async move {
            console::serve(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Console { addr, therapist, headset, dir, stop: Some(stop), done: Some(done) }
    }

    /// Stops the console (closing every recording) and reads the recordings.
    pub async fn stop(mut self) -> Vec<Recording> {
        let _ = self.stop.take().unwrap().send(());
        self.done.take().unwrap().await.unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mcap"))
            .collect();
        files.sort();
        files.iter().map(|f| Recording::open(f).unwrap()).collect()
    }

    pub fn url(&self, path: &str, token: &str) -> String {
        format!("ws://{}{path}?token={token}", self.addr)
    }

    pub async fn browser(&self) -> Ws {
        connect(&self.url("/ws/browser", &self.therapist), Some(&format!("http://{}", self.addr))).await.unwrap()
    }

    pub async fn raw_headset(&self) -> Ws {
        connect(&self.url("/ws/headset", &self.headset), None).await.unwrap()
    }

    pub fn link(&self, console: &str, patient: &str) -> (Link, Clock) {
        let clock = Clock::new();
        let scenario = ScenarioRef { id: "spiders".into(), version: "1.0.0".into(), sha256: "00".into() };
        let mut config = LinkConfig::new(console, &self.headset, &format!("test-{patient}"), patient, scenario, clock);
        config.reconnect_min = Duration::from_millis(10);
        config.reconnect_max = Duration::from_millis(50);
        (Link::start(config), clock)
    }
}

pub async fn connect(url: &str, origin: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("trinvis.v1"));
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

/// The HTTP status a refused WebSocket handshake got.
pub fn refused_status(result: Result<Ws, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, the socket opened"),
    }
}

/// The next JSON message of `kind`, skipping others, within five seconds.
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    if value["type"] == kind {
                        return value;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended while waiting for {kind}: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} within five seconds"))
}

/// The next message of any of `kinds`, skipping others, within five seconds.
pub async fn next_of_any(ws: &mut Ws, kinds: &[&str]) -> Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if kinds.iter().any(|k| v["type"] == *k) {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the connection ended while waiting for {kinds:?}: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("none of {kinds:?} within five seconds"))
}

/// Reads until a close frame; its code, or what ended the socket instead.
pub async fn close_code(ws: &mut Ws) -> Result<u16, String> {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return Ok(u16::from(frame.code)),
                Some(Ok(_)) => {}
                other => return Err(format!("{other:?}")),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no close within five seconds".into()))
}

/// Raw HTTP/1.1 GET; returns the status code.
pub async fn http_status(addr: SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub async fn send(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

pub fn hello(session_id: Option<&str>) -> Value {
    json!({"type": "hello", "headset_id": "raw", "app": "test", "patient_code": "P-0001",
           "scenario": {"id": "spiders", "version": "1", "sha256": "00"},
           "session_id": session_id, "resume_from": 1, "headset_us": 1_000_000, "session_epoch_us": 1_000_000})
}

#[allow(unused_imports, reason = "each test binary uses its own part")]
pub use testkit::sample;

/// A real JPEG file, `w`x`h` pixels of one grey `shade` with a white
/// square in its middle (so pictures of different shades differ).
pub fn jpeg(w: u16, h: u16, shade: u8) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..h {
        for x in 0..w {
            let middle = (w / 3..2 * w / 3).contains(&x) && (h / 3..2 * h / 3).contains(&y);
            let v = if middle { 255 } else { shade };
            pixels.extend_from_slice(&[v, v, v]);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80).encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// A mirror frame message (docs/protocol.md §10.2) of a `w`x`h` picture.
pub fn mirror_frame(t_us: u64, session_us: u64, number: u32, w: u16, h: u16, shade: u8) -> Vec<u8> {
    let header = protocol::mirror::FrameHeader {
        t_us,
        session_us,
        width: w,
        height: h,
        number,
        stimulus: vec![protocol::mirror::Rect { x0: w / 3, y0: h / 3, x1: 2 * w / 3, y1: 2 * h / 3 }],
        xr: false,
    };
    header.encode(&jpeg(w, h, shade))
}

#[allow(unused_imports, reason = "each test binary uses its own part")]
pub use testkit::skipped;
