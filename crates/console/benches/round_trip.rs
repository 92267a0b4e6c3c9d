//! Command round trip through the console, against a bare WebSocket echo on
//! the same machine, side by side in one run.
//!
//! - baseline: a tokio-tungstenite client sends a text message to a bare
//!   tokio-tungstenite echo server and waits for it back (one hop).
//! - console: a browser client sends a `command`; the console records it and
//!   forwards it to a headset client, which answers at once with a
//!   `command_ack`; the console records that and sends the browser its
//!   `command_result` (two hops, two recordings).
//!
//! `cargo bench -p trinvis-console --bench round_trip` (or `./x bench`)
//! prints p50 and p99 of each and their ratio. Without `--bench` (as in
//! `cargo test --all-targets`) it runs a few hundred round trips only.

#![allow(clippy::unwrap_used, reason = "a benchmark: a panic is the failure report")]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(url: &str, origin: Option<String>, subprotocol: bool) -> Ws {
    let mut request = url.into_client_request().unwrap();
    if subprotocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("trinvis.v1"));
    }
    if let Some(o) = origin {
        request.headers_mut().insert("Origin", HeaderValue::from_str(&o).unwrap());
    }
    tokio_tungstenite::connect_async_with_config(request, None, true).await.unwrap().0
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        if let Some(Ok(Message::Text(t))) = ws.next().await {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

async fn baseline(n: usize) -> Vec<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_text() {
                ws.send(m).await.unwrap();
            }
        }
    });
    let mut ws = connect(&format!("ws://{addr}"), None, false).await;
    let message =
        json!({"type": "command", "session_id": "s", "request_id": 1, "command": {"type": "next_step"}}).to_string();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        ws.send(Message::text(message.clone())).await.unwrap();
        next_json(&mut ws).await;
        times.push(start.elapsed());
    }
    times
}

async fn through_console(n: usize) -> Vec<Duration> {
    let dir = std::env::temp_dir().join(format!("trinvis-bench-{}", std::process::id()));
    let mut config = console::Config::new(dir.clone());
    // The rate limit is a policy, not part of the path measured: lift it so
    // that both paths run back to back without pauses.
    config.command_burst = 1_000_000;
    config.commands_per_s = 1e9;
    let (therapist, headset_token) = (config.therapist_token.clone(), config.headset_token.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(console::serve(listener, config, async {
        let _ = stopped.await;
    }));

    // A headset that answers every command at once.
    let mut headset = connect(&format!("ws://{addr}/ws/headset?token={headset_token}"), None, true).await;
    let hello = json!({"type": "hello", "headset_id": "bench", "app": "bench", "patient_code": "P-BENCH",
        "scenario": {"id": "spiders", "version": "1", "sha256": "00"}, "resume_from": 1, "headset_us": 1, "session_epoch_us": 1});
    headset.send(Message::text(hello.to_string())).await.unwrap();
    let session_id = next_json(&mut headset).await["session_id"].as_str().unwrap().to_owned();
    tokio::spawn(async move {
        let mut seq = 0u64;
        while let Some(Ok(Message::Text(t))) = headset.next().await {
            let m: Value = serde_json::from_str(t.as_str()).unwrap();
            if m["type"] == "command" {
                seq += 1;
                let ack = json!({"type": "command_ack", "seq": seq, "id": m["id"], "ok": true});
                headset.send(Message::text(ack.to_string())).await.unwrap();
            }
        }
    });

    let mut browser =
        connect(&format!("ws://{addr}/ws/browser?token={therapist}"), Some(format!("http://{addr}")), true).await;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let request =
            json!({"type": "command", "session_id": session_id, "request_id": i, "command": {"type": "next_step"}});
        let start = Instant::now();
        browser.send(Message::text(request.to_string())).await.unwrap();
        loop {
            if next_json(&mut browser).await["type"] == "command_result" {
                break;
            }
        }
        times.push(start.elapsed());
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    times
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 2_000 } else { 200 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (base, console) = runtime.block_on(async {
        // Warm up both paths, then measure them interleaved in batches so that
        // machine noise falls on both alike.
        let _ = baseline(50).await;
        let mut base = Vec::new();
        let mut cons = Vec::new();
        for _ in 0..4 {
            base.extend(baseline(n / 4).await);
            cons.extend(through_console(n / 4).await);
        }
        (base, cons)
    });
    let (b50, b99) = percentiles(base);
    let (c50, c99) = percentiles(console);
    println!("round trip over loopback, {n} each:");
    println!("  bare tokio-tungstenite echo (1 hop):        p50 {:>7.1} µs   p99 {:>7.1} µs", micros(b50), micros(b99));
    println!(
        "  console -> headset -> ack (2 hops, recorded): p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(c50),
        micros(c99)
    );
    println!(
        "  ratio console / echo:                       p50 {:>7.2}x     p99 {:>7.2}x   (goal: p99 <= 3x)",
        ratio(c50, b50),
        ratio(c99, b99)
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
