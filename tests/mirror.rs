//! The mirror over real sockets: a headset's frames reach the pages that
//! watch its session, newest only, and the recording once a second; the
//! therapist's rate reaches the headset; bad frames are named; an older
//! console or headset is never sent what it cannot take (docs/protocol.md §10).

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use recording::Channel;
use serde_json::{Value, json};
use support::{Console, Ws, close_code, hello, mirror_frame, next_of, send};
use tokio_tungstenite::tungstenite::Message;

/// A raw headset that says it can send pictures; its session id and its welcome.
async fn mirror_headset(console: &Console) -> (Ws, String, Value) {
    let mut h = console.raw_headset().await;
    let mut hi = hello(None);
    hi["mirror"] = json!(true);
    send(&mut h, hi).await;
    let welcome = next_of(&mut h, "welcome").await;
    (h, welcome["session_id"].as_str().unwrap().to_owned(), welcome)
}

/// The next binary message, within five seconds.
async fn next_frame(ws: &mut Ws) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(bytes))) => return bytes.to_vec(),
                Some(Ok(_)) => {}
                other => panic!("socket ended while waiting for a frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a frame within five seconds")
}

async fn session_info(b: &mut Ws, id: &str) -> Value {
    send(b, json!({"type": "list_sessions"})).await;
    let list = next_of(b, "sessions").await;
    list["sessions"].as_array().unwrap().iter().find(|s| s["session_id"] == id).unwrap().clone()
}

#[tokio::test]
async fn frames_reach_the_page_and_once_a_second_the_recording() {
    let console = Console::start(|_| {}).await;
    let (mut h, id, welcome) = mirror_headset(&console).await;
    assert_eq!(welcome["mirror_fps"], 5, "a new session starts at 5 frames a second");
    let mut b = console.browser().await;
    assert_eq!(session_info(&mut b, &id).await["mirror_fps"], 5);
    send(&mut b, json!({"type": "subscribe", "session_id": id})).await;
    next_of(&mut b, "sessions").await;
    let frame = mirror_frame(1_000_000, 0, 1, 160, 90, 60);
    h.send(Message::binary(frame.clone())).await.unwrap();
    let got = next_frame(&mut b).await;
    assert_eq!(protocol::mirror::from_browser(&got), Some((id.as_str(), &frame[..])), "the frame as sent, named");
    // Ten frames over 2.25 s of the headset's clock: three are recorded.
    for i in 1..10u64 {
        h.send(Message::binary(mirror_frame(1_000_000 + i * 250_000, i * 250_000, i as u32 + 1, 160, 90, 60)))
            .await
            .unwrap();
    }
    send(&mut h, json!({"type": "ping_me"})).await; // any text after them: the console took the frames by then
    next_of(&mut h, "error").await;
    drop((h, b));
    let recordings = console.stop().await;
    let pictures: Vec<recording::image::Picture> =
        recordings[0].channel(Channel::Mirror).map(|m| recording::image::read(&m.data).unwrap()).collect();
    let times: Vec<Option<u64>> = pictures.iter().map(|p| p.session_us).collect();
    assert_eq!(times, [Some(0), Some(1_000_000), Some(2_000_000)]);
    assert!(pictures.iter().all(|p| p.format == "jpeg" && p.jpeg.starts_with(&[0xFF, 0xD8])));
    assert_eq!(recordings[0].metadata.mirror, "jpeg every 1 s on /mirror");
    assert_eq!(pictures[0].stimulus, [[53, 30, 106, 60]], "the stimulus box is kept with the picture");

    // The replay shows the recorded picture at the playhead.
    let timeline = console::replay::Timeline::new(&recordings[0], "mirror.mcap");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = console::Config::new(std::env::temp_dir().join("trinvis-mirror-replay-unused"));
    let therapist = config.therapist_token.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(console::serve_replay(listener, config, timeline, async {
        let _ = stopped.await;
    }));
    let mut page =
        support::connect(&format!("ws://{addr}/ws/browser?token={therapist}"), Some(&format!("http://{addr}")))
            .await
            .unwrap();
    send(&mut page, json!({"type": "subscribe", "session_id": id})).await;
    let at_start = next_frame(&mut page).await;
    let (_, frame) = protocol::mirror::from_browser(&at_start).unwrap();
    assert_eq!(protocol::mirror::Frame::parse(frame).unwrap().header.session_us, 0);
    send(&mut page, json!({"type": "replay", "action": "seek", "position_us": 2_100_000})).await;
    // (The picture at the start may come once more before the seek's.)
    let header = loop {
        let later = next_frame(&mut page).await;
        let header = protocol::mirror::Frame::parse(protocol::mirror::from_browser(&later).unwrap().1).unwrap().header;
        if header.session_us != 0 {
            break header;
        }
    };
    assert_eq!((header.session_us, header.width, header.height), (2_000_000, 160, 90), "the picture at the playhead");
    assert_eq!(header.stimulus.len(), 1);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_slow_page_gets_only_the_newest_frame_and_telemetry_first() {
    let console = Console::start(|_| {}).await;
    let (mut h, id, _) = mirror_headset(&console).await;
    let mut b = console.browser().await;
    send(&mut b, json!({"type": "subscribe", "session_id": id})).await;
    next_of(&mut b, "sessions").await;
    // The page reads nothing while 50 frames and a telemetry batch arrive.
    for i in 0..50u64 {
        h.send(Message::binary(mirror_frame(1_000_000 + i * 100_000, i * 100_000, i as u32 + 1, 64, 36, 100)))
            .await
            .unwrap();
    }
    let samples = vec![support::sample(6_000_000, protocol::SessionState::Waiting, 1.0)];
    send(&mut h, json!({"type": "telemetry", "seq": 1, "samples": samples})).await;
    // Once the telemetry is through, at most the frame already on its way
    // and the newest one wait for the page.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut frames = Vec::new();
    let mut telemetry_before_last_frame = false;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_millis(500), b.next()).await {
        match message {
            Message::Binary(bytes) => frames.push(bytes.to_vec()),
            Message::Text(t) if t.contains("\"telemetry\"") => telemetry_before_last_frame = true,
            _ => {}
        }
    }
    assert!(telemetry_before_last_frame);
    assert!(frames.len() <= 3, "{} frames reached a page that read nothing: not the newest only", frames.len());
    let last = protocol::mirror::from_browser(frames.last().unwrap()).unwrap().1;
    assert_eq!(protocol::mirror::Frame::parse(last).unwrap().header.number, 50, "the newest frame is the one kept");
    drop(h);
    console.stop().await;
}

#[tokio::test]
async fn the_therapists_rate_reaches_the_headset_and_every_page() {
    let console = Console::start(|_| {}).await;
    let (mut h, id, welcome) = mirror_headset(&console).await;
    let mut b = console.browser().await;
    let mut other = console.browser().await;
    next_of(&mut other, "sessions").await;
    send(&mut b, json!({"type": "mirror", "session_id": id, "fps": 2})).await;
    assert_eq!(next_of(&mut h, "mirror").await, json!({"type": "mirror", "fps": 2}));
    let list = next_of(&mut other, "sessions").await;
    assert_eq!(list["sessions"][0]["mirror_fps"], 2, "another page sees the new rate");
    // Off: the console takes no frames from then on.
    send(&mut b, json!({"type": "mirror", "session_id": id, "fps": 0})).await;
    assert_eq!(next_of(&mut h, "mirror").await["fps"], 0);
    // A rate not on offer is refused, naming the field.
    send(&mut b, json!({"type": "mirror", "session_id": id, "fps": 7})).await;
    let e = next_of(&mut b, "error").await;
    assert_eq!(
        (e["code"].as_str(), e["message"].as_str()),
        (Some("malformed"), Some("fps: 7 is not one of [0, 2, 5, 10] frames a second"))
    );
    // A headset without pictures (headless, or older) has no mirror to set.
    let mut plain = console.raw_headset().await;
    let mut hi = hello(None);
    hi["headset_id"] = json!("plain");
    send(&mut plain, hi).await;
    let plain_welcome = next_of(&mut plain, "welcome").await;
    assert!(
        plain_welcome.get("mirror_fps").is_none(),
        "no rate for a headset that offered no pictures: {plain_welcome}"
    );
    let plain_id = plain_welcome["session_id"].as_str().unwrap().to_owned();
    assert!(session_info(&mut b, &plain_id).await.get("mirror_fps").is_none());
    send(&mut b, json!({"type": "mirror", "session_id": plain_id, "fps": 5})).await;
    assert_eq!(next_of(&mut b, "error").await["code"], "no_mirror");
    // A reconnecting headset gets the therapist's rate again, and it is in the record.
    drop(h);
    let mut again = console.raw_headset().await;
    let mut hi = hello(Some(&id));
    hi["mirror"] = json!(true);
    hi["resume_token"] = welcome["resume_token"].clone();
    send(&mut again, hi).await;
    let welcome = next_of(&mut again, "welcome").await;
    assert_eq!((welcome["session_id"].as_str(), welcome["mirror_fps"].as_u64()), (Some(id.as_str()), Some(0)));
    drop((plain, other, again, b));
    let recordings = console.stop().await;
    let ours = recordings.iter().find(|r| r.metadata.session_id == id).unwrap();
    let rates: Vec<Value> = ours
        .channel(Channel::Annotations)
        .map(|m| serde_json::from_slice::<Value>(&m.data).unwrap())
        .filter(|a| a["type"] == "mirror_rate")
        .map(|a| a["fps"].clone())
        .collect();
    assert_eq!(rates, [json!(2), json!(0)]);
}

#[tokio::test]
async fn bad_frames_are_named_and_an_oversize_one_closes_with_1009() {
    let console = Console::start(|_| {}).await;
    let (mut h, _, _) = mirror_headset(&console).await;
    h.send(Message::binary(b"GIF89a not a frame at all, longer than a header".to_vec())).await.unwrap();
    let e = next_of(&mut h, "error").await;
    assert_eq!(e["code"], "malformed");
    assert!(e["message"].as_str().unwrap().starts_with("not a mirror frame: bytes 0-3 are"), "{e}");
    let mut frame = mirror_frame(1_000_000, 0, 1, 64, 36, 10);
    frame[24..26].copy_from_slice(&2000u16.to_le_bytes());
    h.send(Message::binary(frame)).await.unwrap();
    assert_eq!(
        next_of(&mut h, "error").await["message"],
        "not a mirror frame: 2000x36 pixels: each side must be 1 to 1024"
    );
    // The session goes on: a good frame after them is taken (no error back).
    h.send(Message::binary(mirror_frame(1_100_000, 100_000, 2, 64, 36, 10))).await.unwrap();
    let mut big = mirror_frame(1_200_000, 200_000, 3, 64, 36, 10);
    big.resize(protocol::mirror::MAX_FRAME_BYTES + 1, 0);
    h.send(Message::binary(big)).await.unwrap();
    assert_eq!(close_code(&mut h).await, Ok(1009));
    console.stop().await;
}

#[tokio::test]
async fn a_browser_that_sends_binary_is_closed_with_1003() {
    let console = Console::start(|_| {}).await;
    let mut b = console.browser().await;
    b.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_code(&mut b).await, Ok(1003));
    console.stop().await;
}

/// A console from before the mirror: it welcomes without a rate and closes
/// a connection that sends binary. The link never sends it a frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_sends_no_frames_to_an_older_console_and_frames_only_at_a_rate() {
    use tokio::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (binary_tx, mut binary_rx) = tokio::sync::mpsc::unbounded_channel::<Option<u8>>();
    let server = tokio::spawn(async move {
        for rate in [None, Some(2u8)] {
            let (tcp, _) = listener.accept().await.unwrap();
            #[allow(clippy::result_large_err, reason = "tungstenite's callback type; never an error here")]
            let callback =
                |_: &tokio_tungstenite::tungstenite::handshake::server::Request,
                 mut response: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    response.headers_mut().insert("Sec-WebSocket-Protocol", "trinvis.v1".parse().unwrap());
                    Ok(response)
                };
            let mut ws = tokio_tungstenite::accept_hdr_async(tcp, callback).await.unwrap();
            let hello: Value = loop {
                if let Some(Ok(Message::Text(t))) = ws.next().await {
                    break serde_json::from_str(t.as_str()).unwrap();
                }
            };
            assert_eq!(hello["mirror"], true);
            let mut welcome = json!({"type": "welcome", "session_id": "s1", "acked": 0, "console": "old"});
            if let Some(fps) = rate {
                welcome["mirror_fps"] = json!(fps);
            }
            ws.send(Message::text(welcome.to_string())).await.unwrap();
            // Listen a while: report whether a frame came.
            let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
            let mut got = false;
            while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, ws.next()).await {
                got |= matches!(message, Message::Binary(_));
            }
            binary_tx.send(got.then_some(rate.unwrap_or(0))).unwrap();
            let _ = ws.close(None).await;
        }
    });
    let clock = link::Clock::new();
    let scenario = protocol::ScenarioRef { id: "spiders".into(), version: "1".into(), sha256: "00".into() };
    let mut config = link::LinkConfig::new(&format!("ws://{addr}"), "t", "h", "P-0001", scenario, clock);
    config.mirror = true;
    config.reconnect_min = Duration::from_millis(10);
    let link = tokio::task::spawn_blocking(move || link::Link::start(config)).await.unwrap();
    let sender = link.mirror();
    let frames = tokio::spawn(async move {
        for i in 0..40u32 {
            sender.send(mirror_frame(1_000_000, 0, i + 1, 32, 18, 0));
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    });
    assert_eq!(binary_rx.recv().await.unwrap(), None, "an older console got a frame");
    assert_eq!(binary_rx.recv().await.unwrap(), Some(2), "a console asking for 2 a second got none");
    frames.await.unwrap();
    server.await.unwrap();
    tokio::task::spawn_blocking(move || drop(link)).await.unwrap();
}
