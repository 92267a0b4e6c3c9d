//! What the headset's integration tests share: a real console on loopback,
//! a therapist's WebSocket, and the skip log.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::path::PathBuf;
use std::time::Duration;

/// The browser tests' WebDriver client, shared with the workspace's tests.
#[allow(unused_imports, reason = "each test binary uses its own part")]
pub use testkit::webdriver;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A therapist's WebSocket.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[allow(unused_imports, reason = "each test binary uses its own part")]
pub use testkit::root;

/// A console serving on loopback, recording into its own temp folder.
pub struct Console {
    /// `127.0.0.1:port`.
    pub addr: std::net::SocketAddr,
    /// The recordings folder.
    pub dir: PathBuf,
    /// The headset token.
    pub headset_token: String,
    /// The therapist token (the page's URL).
    pub therapist_token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Console {
    /// Starts one; `name` names its folder.
    pub async fn start(name: &str) -> Console {
        let dir = std::env::temp_dir().join(format!("trinvis-{name}-{}", console::new_token()));
        let config = console::Config::new(dir.clone());
        let (therapist_token, headset_token) = (config.therapist_token.clone(), config.headset_token.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(console::serve(listener, config, async {
            let _ = stopped.await;
        }));
        Console { addr, dir, headset_token, therapist_token, stop: Some(stop), server: Some(server) }
    }

    /// `ws://127.0.0.1:port`, for the headset's `--console`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Types a pairing code into the console as the page's "Pair a headset"
    /// box does (`POST /api/pair`); the HTTP status and body.
    pub fn enter_pairing_code(&self, code: &str) -> (u16, String) {
        self.post("/api/pair", &json!({ "code": code }))
    }

    /// Revokes a credential as the page's Revoke button does.
    pub fn revoke(&self, credential_id: &str) -> (u16, String) {
        self.post("/api/headsets/revoke", &json!({ "id": credential_id }))
    }

    /// POSTs `body` to `path` with the therapist's token; status and body.
    fn post(&self, path: &str, body: &Value) -> (u16, String) {
        use std::io::{Read, Write};
        let body = body.to_string();
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        write!(
            stream,
            "POST {path}?token={} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.therapist_token,
            self.addr,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }

    /// A therapist's page, connected.
    pub async fn therapist(&self) -> Ws {
        let mut request =
            format!("ws://{}/ws/browser?token={}", self.addr, self.therapist_token).into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("trinvis.v1"));
        tokio_tungstenite::connect_async(request).await.unwrap().0
    }

    /// Stops it (its recordings finished) and returns the one recording.
    pub async fn stop(mut self) -> recording::Recording {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap();
        let file = std::fs::read_dir(&self.dir).unwrap().next().unwrap().unwrap().path();
        recording::Recording::open(&file).unwrap()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The next message of type `kind` on `ws`.
pub async fn next_of(ws: &mut Ws, kind: &str, within: Duration) -> Value {
    tokio::time::timeout(within, async {
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == kind {
                    return v;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} in {within:?}"))
}

/// The id of the first session the console lists, once it lists one.
pub async fn first_session(ws: &mut Ws, within: Duration) -> String {
    tokio::time::timeout(within, async {
        loop {
            let list = next_of(ws, "sessions", within).await;
            if let Some(id) = list["sessions"][0]["session_id"].as_str() {
                return id.to_owned();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no session listed in {within:?}"))
}

/// Subscribes to `session_id`.
pub async fn subscribe(ws: &mut Ws, session_id: &str) {
    ws.send(Message::text(json!({"type": "subscribe", "session_id": session_id}).to_string())).await.unwrap();
}

/// Sends `command` to `session_id` and returns the console's answer.
pub async fn command(ws: &mut Ws, session_id: &str, request_id: u64, command: Value) -> Value {
    let text = json!({"type": "command", "session_id": session_id, "request_id": request_id, "command": command});
    ws.send(Message::text(text.to_string())).await.unwrap();
    next_of(ws, "command_result", Duration::from_secs(10)).await
}

/// Waits until a telemetry sample shows the applied level at `level` or
/// above, and returns that sample.
pub async fn applied_level_reaches(ws: &mut Ws, level: f64, within: Duration) -> Value {
    tokio::time::timeout(within, async {
        loop {
            let t = next_of(ws, "telemetry", Duration::from_secs(10)).await;
            let last = t["batch"]["samples"].as_array().unwrap().last().unwrap().clone();
            if last["applied_level"].as_f64().unwrap() >= level {
                return last;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the applied level did not reach {level} in {within:?}"))
}

/// The last 40 lines of `text`.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Whether `xvfb-run` and lavapipe are here to render in a window; when
/// not, the test is counted as skipped (or fails under TRINVIS_REQUIRE_RENDER).
pub fn can_render() -> bool {
    let ok = std::process::Command::new("xvfb-run").arg("--help").output().is_ok()
        && std::path::Path::new("/usr/share/vulkan/icd.d").exists();
    if !ok {
        assert!(
            std::env::var_os("TRINVIS_REQUIRE_RENDER").is_none(),
            "xvfb-run and mesa-vulkan-drivers are required here"
        );
        skipped("xvfb-run or lavapipe missing (apt-get install xvfb mesa-vulkan-drivers)");
    }
    ok
}

#[allow(unused_imports, reason = "each test binary uses its own part")]
pub use testkit::skipped;
