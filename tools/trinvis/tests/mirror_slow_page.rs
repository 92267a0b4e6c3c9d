//! A page that stops reading while a headset streams its mirror (the
//! `trinvis console` process, real sockets): the console's memory stays
//! flat, because each page holds at most the newest picture per session,
//! and another session's telemetry still reaches a page that reads, every
//! batch and without a stall (docs/protocol.md §10.3).

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const HEADSET_TOKEN: &str = "slow-page-test-token";
const THERAPIST_TOKEN: &str = "slow-page-therapist-token";

async fn connect(url: &str, origin: Option<&str>) -> Ws {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("trinvis.v1"));
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn next_text(ws: &mut Ws, kind: &str) -> Value {
    loop {
        if let Some(Ok(Message::Text(t))) = ws.next().await {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

/// A headset: hello (offering pictures or not); its session id.
async fn headset(address: &str, id: &str, mirror: bool) -> (Ws, String) {
    let mut ws = connect(&format!("ws://{address}/ws/headset?token={HEADSET_TOKEN}"), None).await;
    let hello = json!({"type": "hello", "headset_id": id, "app": "test", "patient_code": format!("P-{id}"),
        "scenario": {"id": "spiders", "version": "1", "sha256": "00"}, "resume_from": 1, "headset_us": 1_000_000,
        "session_epoch_us": 1_000_000, "mirror": mirror});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let session = next_text(&mut ws, "welcome").await["session_id"].as_str().unwrap().to_owned();
    (ws, session)
}

fn sample(t_us: u64) -> Value {
    json!({"t_us": t_us, "session_us": t_us - 1_000_000, "head": {"p": [0, 1.6, 0], "q": [0, 0, 0, 1]},
        "gaze": [0, 0, -1], "gaze_on_stimulus": true, "stimulus_angle_deg": 1, "state": "waiting",
        "target_level": 1, "applied_level": 1, "step": 1, "safe_blend": 0, "frame_ms": 11.1, "dropped_frames": 0})
}

/// A 60 kB mirror frame (the console checks the header and the JPEG's markers).
fn frame(number: u32) -> Vec<u8> {
    let mut jpeg = vec![0x33u8; 60_000];
    jpeg[..2].copy_from_slice(&[0xFF, 0xD8]);
    let end = jpeg.len() - 2;
    jpeg[end..].copy_from_slice(&[0xFF, 0xD9]);
    let t_us = 1_000_000 + u64::from(number) * 100_000;
    let header = protocol::mirror::FrameHeader {
        t_us,
        session_us: t_us - 1_000_000,
        width: 480,
        height: 270,
        number,
        stimulus: Vec::new(),
        xr: false,
    };
    header.encode(&jpeg)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_reads_nothing_for_30_s_costs_no_memory_and_delays_no_telemetry() {
    let dir = std::env::temp_dir().join(format!("trinvis-slow-page-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = PathBuf::from(format!("{}-data", dir.display()));
    let _ = std::fs::remove_dir_all(&data);
    let (mut console, printed) = common::spawn_console(
        Command::new(env!("CARGO_BIN_EXE_trinvis"))
            .args(["console", "--bind", "127.0.0.1:0", "--headset-token", HEADSET_TOKEN])
            .args(["--therapist-token", THERAPIST_TOKEN, "--data"])
            .arg(&data)
            .arg("--recordings")
            .arg(&dir),
    );
    let address = common::address(&printed);
    let origin = format!("http://{address}");
    let browser_url = format!("ws://{address}/ws/browser?token={THERAPIST_TOKEN}");

    let (mut pictures, a) = headset(&address, "A", true).await;
    let (mut other, b) = headset(&address, "B", false).await;
    // The slow page watches A's pictures and then reads nothing at all; it
    // asks for the session list every 3 s, so the console knows it is there.
    let mut slow = connect(&browser_url, Some(&origin)).await;
    slow.send(Message::text(json!({"type": "subscribe", "session_id": a}).to_string())).await.unwrap();
    next_text(&mut slow, "sessions").await;
    let (mut slow_out, mut slow_in) = slow.split();
    let alive = tokio::spawn(async move {
        for _ in 0..12 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if slow_out.send(Message::text(r#"{"type":"list_sessions"}"#)).await.is_err() {
                return false;
            }
        }
        true
    });
    // The page that reads watches B's telemetry.
    let mut page = connect(&browser_url, Some(&origin)).await;
    page.send(Message::text(json!({"type": "subscribe", "session_id": b}).to_string())).await.unwrap();
    next_text(&mut page, "sessions").await;

    let (seconds, frames_per_s, batches_per_s) = (30u32, 10u32, 10u32);
    let streaming = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / u64::from(frames_per_s)));
        for n in 1..=seconds * frames_per_s {
            tick.tick().await;
            pictures.send(Message::binary(frame(n))).await.unwrap();
        }
        pictures
    });
    let telemetry = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / u64::from(batches_per_s)));
        for seq in 1..=u64::from(seconds * batches_per_s) {
            tick.tick().await;
            let batch = json!({"type": "telemetry", "seq": seq, "samples": [sample(1_000_000 + seq * 100_000)]});
            other.send(Message::text(batch.to_string())).await.unwrap();
        }
        other
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_kib(console.id());
    // Every batch of B reaches the reading page, none held up long.
    let (mut received, mut worst_gap, mut last) = (0u64, Duration::ZERO, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 5);
    while received < u64::from(seconds * batches_per_s) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), page.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("\"telemetry\"") => {
                received += serde_json::from_str::<Value>(t.as_str()).unwrap()["batch"]["samples"]
                    .as_array()
                    .map_or(0, |s| s.len() as u64);
                worst_gap = worst_gap.max(last.elapsed());
                last = Instant::now();
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("the reading page stopped hearing of B: {other:?}"),
        }
    }
    let after = rss_kib(console.id());
    let (_pictures, _other) = (streaming.await.unwrap(), telemetry.await.unwrap());
    let streamed_kib = u64::from(seconds * frames_per_s) * 60;
    println!(
        "slow page: console memory {before} KiB -> {after} KiB while {streamed_kib} KiB of pictures streamed to a page \
         that read nothing; B's telemetry {received} batches, longest gap between two {worst_gap:?}"
    );
    assert_eq!(received, u64::from(seconds * batches_per_s), "telemetry of B was lost");
    // Not a timing: a stall would hold back batches for seconds, 10 are sent a second.
    assert!(worst_gap < Duration::from_secs(2), "B's telemetry stalled for {worst_gap:?}");
    assert!(
        after.saturating_sub(before) < 6 * 1024,
        "the console grew by {} KiB while {streamed_kib} KiB of pictures went to a page that read nothing",
        after.saturating_sub(before)
    );
    assert!(alive.await.unwrap(), "the slow page was let go");
    // Still connected: what it finally reads is the console's messages, not a close.
    let first = tokio::time::timeout(Duration::from_secs(5), slow_in.next()).await.unwrap();
    assert!(matches!(first, Some(Ok(Message::Text(_) | Message::Binary(_) | Message::Ping(_)))), "{first:?}");
    let _ = Command::new("kill").args(["-TERM", &console.id().to_string()]).status();
    let _ = console.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&data);
}
