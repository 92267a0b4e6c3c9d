//! The wire keeps the promises of docs/protocol.md, through real loopback
//! sockets: no Nagle delay on the console's sockets, floats that cannot be
//! stored refused, every close reason delivered, a slow browser kept, null
//! optional fields accepted, forged pongs ignored, a doubled token a 401.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use recording::Channel;
use serde_json::{Value, json};
use support::{Console, close_code, connect, hello, http_status, next_of, refused_status, sample, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Whether the console's end of the TCP connection whose client end is
/// `client` has TCP_NODELAY set. The console runs in this process, so its
/// sockets are among this process's file descriptors.
fn console_side_nodelay(client: SocketAddr) -> Option<bool> {
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let is_socket = std::fs::read_link(entry.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"));
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        if !is_socket {
            continue;
        }
        #[allow(unsafe_code, reason = "borrows a descriptor of this process that the console holds open meanwhile")]
        // SAFETY: the descriptor is open (listed above) and is only read from here.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        if peer == Some(client) {
            return socket.tcp_nodelay().ok();
        }
    }
    None
}

/// Fixed: the console's accepted sockets used Nagle's algorithm, which with
/// delayed ACKs put 6 % of command round trips in a 30–60 ms cluster.
#[tokio::test]
async fn the_consoles_sockets_send_small_messages_at_once() {
    let console = Console::start(|_| {}).await;
    let client = TcpStream::connect(console.addr).await.unwrap();
    let local = client.local_addr().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(console_side_nodelay(local), Some(true), "TCP_NODELAY on the console's end");
    drop(client);
    console.stop().await;
}

/// Fixed: `1e39` (beyond f32) was taken and recorded as `null`.
#[tokio::test]
async fn floats_that_cannot_be_stored_are_refused_and_nothing_becomes_null() {
    let console = Console::start(|_| {}).await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    next_of(&mut headset, "welcome").await;
    let good = serde_json::to_value(sample(2_000_000, protocol::SessionState::Running, 1.0)).unwrap();
    for (i, (field, value)) in
        [("frame_ms", json!(3.4028235e38)), ("frame_ms", json!(1e39)), ("heart_rate", json!(1e39))].iter().enumerate()
    {
        let mut bad = good.clone();
        bad[field] = value.clone();
        send(&mut headset, json!({"type": "telemetry", "seq": i + 1, "samples": [bad]})).await;
        let error = next_of(&mut headset, "error").await;
        assert_eq!(error["code"], "malformed");
        assert!(error["message"].as_str().unwrap().starts_with(&format!("samples[0].{field}: ")), "{error}");
    }
    for (field, index) in [("gaze", 0), ("head", 0)] {
        let mut bad = good.clone();
        if field == "head" {
            bad["head"]["p"][index] = json!(1e39);
        } else {
            bad[field][index] = json!(1e39);
        }
        send(&mut headset, json!({"type": "telemetry", "seq": 9, "samples": [bad]})).await;
        assert!(next_of(&mut headset, "error").await["message"].as_str().unwrap().contains(field));
    }
    send(&mut headset, json!({"type": "telemetry", "seq": 10, "samples": [good]})).await;
    assert_eq!(next_of(&mut headset, "ack").await["up_to"], 10);
    let recordings = console.stop().await;
    let stored: Vec<String> =
        recordings[0].channel(Channel::Telemetry).map(|m| String::from_utf8_lossy(&m.data).into_owned()).collect();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains("null"), "{}", stored[0]);
}

/// Fixed: a headset that sent a 70 000-byte message and kept sending never
/// saw the 1009 close frame (the console reset the connection right after
/// writing it); invalid UTF-8 dropped the connection without a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_close_reason_reaches_a_peer_that_keeps_sending() {
    let console = Console::start(|_| {}).await;
    for attempt in 0..5 {
        let ws = console.raw_headset().await;
        let (mut sink, mut stream) = ws.split();
        sink.send(Message::text(hello(None).to_string())).await.unwrap();
        let huge = format!(r#"{{"type":"pong","pad":"{}"}}"#, "x".repeat(70_000));
        let sender = tokio::spawn(async move {
            for _ in 0..40 {
                if sink.send(Message::text(huge.clone())).await.is_err() {
                    break;
                }
            }
            sink
        });
        let code = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.next().await {
                    Some(Ok(Message::Close(Some(frame)))) => return Ok(u16::from(frame.code)),
                    Some(Ok(_)) => {}
                    other => return Err(format!("{other:?}")),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(code, Ok(1009), "attempt {attempt}");
        drop(sender.await);
    }
    // Invalid UTF-8 in a text frame: 1007, with a reason.
    for socket in ["headset", "browser"] {
        let mut ws = if socket == "headset" { console.raw_headset().await } else { console.browser().await };
        let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
        ws.send(Message::Frame(frame)).await.unwrap();
        assert_eq!(close_code(&mut ws).await, Ok(1007), "{socket}");
    }
    // A frame against the WebSocket rules (a client's frame without a
    // mask), written by hand: 1002 with a reason.
    let mut raw = TcpStream::connect(console.addr).await.unwrap();
    let upgrade = format!(
        "GET /ws/headset?token={} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: trinvis.v1\r\n\r\n",
        console.headset, console.addr
    );
    raw.write_all(upgrade.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(raw.read_u8().await.unwrap());
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&response));
    raw.write_all(&[0x81, 0x02, b'{', b'}']).await.unwrap();
    let mut frame = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), raw.read_exact(&mut frame)).await.unwrap().unwrap();
    assert_eq!((frame[0], u16::from_be_bytes([frame[2], frame[3]])), (0x88, 1002), "a close frame with 1002");
    console.stop().await;
}

/// Fixed: a browser that stopped reading for a while, though it kept
/// talking, was dropped ("no sign of life") when it read again, and was
/// never told what it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_browser_keeps_its_connection_and_hears_what_it_missed() {
    let console = Console::start(|c| {
        c.ping_interval = Duration::from_millis(200);
        c.peer_timeout = Duration::from_millis(1000);
        // Smaller than the 32 MiB default, so 400 batches fill it.
        c.browser_queue_bytes = 8 << 20;
    })
    .await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    let session_id = next_of(&mut headset, "welcome").await["session_id"].as_str().unwrap().to_owned();
    let mut browser = console.browser().await;
    send(&mut browser, json!({"type": "subscribe", "session_id": session_id})).await;
    // A lot of telemetry while the browser does not read: its socket fills.
    let mut batch_sample = serde_json::to_value(sample(2_000_000, protocol::SessionState::Running, 1.0)).unwrap();
    batch_sample["stimulus_p"] = json!([0.5, 1.0, -2.0]);
    let samples: Vec<Value> = (0..150).map(|_| batch_sample.clone()).collect();
    let streamer = tokio::spawn(async move {
        for seq in 1..=400u64 {
            let batch = json!({"type": "telemetry", "seq": seq, "samples": samples});
            if headset.send(Message::text(batch.to_string())).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        headset
    });
    // The browser says something now and then but reads nothing for 3 s,
    // three times the peer timeout.
    for _ in 0..15 {
        browser.send(Message::Pong(Default::default())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let headset = streamer.await.unwrap();
    let mut dropped = 0;
    let mut telemetry = 0;
    let outcome: Result<Result<(), String>, _> = tokio::time::timeout(Duration::from_secs(4), async {
        loop {
            match browser.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    match v["type"].as_str() {
                        Some("telemetry") => telemetry += 1,
                        Some("dropped") => dropped += v["telemetry_batches"].as_u64().unwrap(),
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
                Some(Ok(_)) => {}
                other => return Err(format!("ended: {other:?}")),
            }
        }
    })
    .await;
    assert!(outcome.is_err(), "the browser was dropped: {outcome:?}");
    assert!(telemetry > 0 && dropped > 0, "telemetry {telemetry}, dropped {dropped}");
    drop(headset);
    console.stop().await;
}

/// Fixed: `hello.steps: null` was refused though an optional field may be
/// null; so may every other optional field a headset sends.
#[tokio::test]
async fn null_optional_fields_mean_omitted() {
    let console = Console::start(|_| {}).await;
    let mut headset = console.raw_headset().await;
    let mut h = hello(None);
    h["steps"] = Value::Null;
    h["resume_token"] = Value::Null;
    send(&mut headset, h).await;
    next_of(&mut headset, "welcome").await;
    let mut s = serde_json::to_value(sample(2_000_000, protocol::SessionState::Running, 1.0)).unwrap();
    for field in ["left_hand", "right_hand", "stimulus_distance_m", "stimulus_p", "heart_rate"] {
        s[field] = Value::Null;
    }
    send(&mut headset, json!({"type": "telemetry", "seq": 1, "samples": [s]})).await;
    send(&mut headset, json!({"type": "command_ack", "seq": 2, "id": 1, "ok": true, "error": null})).await;
    loop {
        let reply = support::next_of_any(&mut headset, &["ack", "error"]).await;
        assert_eq!(reply["type"], "ack", "{reply}");
        if reply["up_to"] == 2 {
            break;
        }
    }
    console.stop().await;
}

/// Fixed: a pong with a `console_us` the console never sent made a round
/// trip of 0 that won the clock-offset estimate for good.
#[tokio::test]
async fn a_forged_pong_does_not_move_the_clock() {
    let console = Console::start(|_| {}).await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    let session_id = next_of(&mut headset, "welcome").await["session_id"].as_str().unwrap().to_owned();
    let ping = next_of(&mut headset, "ping").await;
    let future = ping["console_us"].as_u64().unwrap() + 60_000_000;
    send(&mut headset, json!({"type": "pong", "id": ping["id"], "console_us": future, "headset_us": future + 123}))
        .await;
    send(&mut headset, json!({"type": "pong", "id": 99, "console_us": future, "headset_us": future + 123})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut browser = console.browser().await;
    let list = next_of(&mut browser, "sessions").await;
    let info = list["sessions"].as_array().unwrap().iter().find(|s| s["session_id"] == session_id.as_str()).unwrap();
    assert_ne!(info["offset_us"], 123, "{info}");
    assert!(info.get("rtt_us").is_none_or(Value::is_null), "no round trip was measured: {info}");
    // The real answer to the ping still counts.
    let ping = next_of(&mut headset, "ping").await;
    send(&mut headset, json!({"type": "pong", "id": ping["id"], "console_us": ping["console_us"], "headset_us": 5}))
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let list = next_of(&mut console.browser().await, "sessions").await;
    let info = list["sessions"].as_array().unwrap().iter().find(|s| s["session_id"] == session_id.as_str()).unwrap();
    assert!(info["rtt_us"].as_u64().is_some(), "{info}");
    console.stop().await;
}

/// Fixed: `?token=T&token=T` answered 400 instead of the documented 401.
#[tokio::test]
async fn a_token_given_twice_is_a_401() {
    let console = Console::start(|_| {}).await;
    let t = &console.therapist;
    assert_eq!(http_status(console.addr, &format!("/?token={t}")).await, 200);
    assert_eq!(http_status(console.addr, &format!("/?token={t}&token={t}")).await, 401);
    assert_eq!(http_status(console.addr, &format!("/?token={t}&token=x")).await, 401);
    assert_eq!(http_status(console.addr, "/?token").await, 401);
    let url = format!("ws://{}/ws/headset?token={}&token={}", console.addr, console.headset, console.headset);
    assert_eq!(refused_status(connect(&url, None).await), 401);
    console.stop().await;
}
