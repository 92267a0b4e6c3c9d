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
//! - console with the mirror: the same while the headset streams mirror
//!   frames of 30 kB at 10 a second (the highest rate) and the browser is
//!   subscribed to them (docs/protocol.md §10): pictures must not delay
//!   commands (goal: p50 and p99 within 1.5x of the console without them).
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

/// The wait before each round trip: commands paced as a busy page might
/// send them, so that (with the mirror) they meet the pictures in every
/// phase of their 100 ms period rather than all between two of them.
const PACE: Duration = Duration::from_micros(1_700);

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
        // Paced as the console's path is (see below), so both meet a machine
        // that has been idle the same time.
        tokio::time::sleep(PACE).await;
        let start = Instant::now();
        ws.send(Message::text(message.clone())).await.unwrap();
        next_json(&mut ws).await;
        times.push(start.elapsed());
    }
    times
}

/// A mirror frame of about 30 kB (the console checks its header and the
/// JPEG's first and last markers, not the picture).
fn mirror_frame(number: u32) -> Vec<u8> {
    let mut jpeg = vec![0x5Au8; 30_000];
    jpeg[..2].copy_from_slice(&[0xFF, 0xD8]);
    let end = jpeg.len() - 2;
    jpeg[end..].copy_from_slice(&[0xFF, 0xD9]);
    let header = protocol::mirror::FrameHeader {
        t_us: 1 + u64::from(number) * 100_000,
        session_us: u64::from(number) * 100_000,
        width: 480,
        height: 270,
        number,
        stimulus: Vec::new(),
        xr: false,
    };
    header.encode(&jpeg)
}

async fn through_console(n: usize, mirror: bool) -> Vec<Duration> {
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
        "scenario": {"id": "spiders", "version": "1", "sha256": "00"}, "resume_from": 1, "headset_us": 1, "session_epoch_us": 1,
        "mirror": mirror});
    headset.send(Message::text(hello.to_string())).await.unwrap();
    let session_id = next_json(&mut headset).await["session_id"].as_str().unwrap().to_owned();
    let (mut sink, mut stream) = headset.split();
    let (acks, mut to_send) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut seq = 0u64;
        while let Some(Ok(Message::Text(t))) = stream.next().await {
            let m: Value = serde_json::from_str(t.as_str()).unwrap();
            if m["type"] == "command" {
                seq += 1;
                let ack = json!({"type": "command_ack", "seq": seq, "id": m["id"], "ok": true});
                let _ = acks.send(ack.to_string());
            }
        }
    });
    // One writer: acks at once, and with the mirror a frame every 100 ms.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut number = 0;
        loop {
            tokio::select! {
                ack = to_send.recv() => match ack {
                    Some(ack) => if sink.send(Message::text(ack)).await.is_err() { return },
                    None => return,
                },
                _ = tick.tick(), if mirror => {
                    number += 1;
                    if sink.send(Message::binary(mirror_frame(number))).await.is_err() { return }
                }
            }
        }
    });

    let mut browser =
        connect(&format!("ws://{addr}/ws/browser?token={therapist}"), Some(format!("http://{addr}")), true).await;
    // Subscribed, as a therapist's page is: with the mirror, it gets the pictures.
    browser.send(Message::text(json!({"type": "subscribe", "session_id": session_id}).to_string())).await.unwrap();
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep(PACE).await;
        // Each with its own basis: the console passes the same intent on only once a window.
        let request = json!({"type": "command", "session_id": session_id, "request_id": i,
            "command": {"type": "next_step"}, "basis": (i % 1000) as f64});
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
    let (base, console, mirrored) = runtime.block_on(async {
        // Warm up both paths, then measure them interleaved in batches so that
        // machine noise falls on both alike.
        let _ = baseline(50).await;
        let mut base = Vec::new();
        let mut cons = Vec::new();
        let mut mirrored = Vec::new();
        for _ in 0..4 {
            base.extend(baseline(n / 4).await);
            cons.extend(through_console(n / 4, false).await);
            mirrored.extend(through_console(n / 4, true).await);
        }
        (base, cons, mirrored)
    });
    let (b50, b99) = percentiles(base);
    let (c50, c99) = percentiles(console);
    let (m50, m99) = percentiles(mirrored);
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
    println!(
        "  console, mirror at 10/s of 30 kB to the page:   p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(m50),
        micros(m99)
    );
    println!(
        "  ratio mirror on / off:                      p50 {:>7.2}x     p99 {:>7.2}x   (goal: <= 1.5x)",
        ratio(m50, c50),
        ratio(m99, c99)
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
