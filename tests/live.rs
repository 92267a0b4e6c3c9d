//! The live loop on real loopback sockets: a console in this process, real
//! WebSocket clients for browsers and raw headsets, the real headset link,
//! real recordings on disk.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use support::{Console, close_code, connect, hello, http_status, next_of, refused_status, sample, send};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use link::{Clock, Link, LinkConfig};
use protocol::{ScenarioRef, SessionState};
use recording::Channel;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[tokio::test]
async fn tokens_origin_and_subprotocol_are_checked() {
    let console = Console::start(|_| {}).await;
    let addr = console.addr;
    assert_eq!(http_status(addr, "/?token=wrong").await, 401);
    assert_eq!(http_status(addr, "/").await, 401);
    assert_eq!(http_status(addr, &format!("/?token={}", console.therapist)).await, 200);
    // The therapist's token does not open the headset door, nor the other way round.
    assert_eq!(refused_status(connect(&console.url("/ws/headset", &console.therapist), None).await), 401);
    assert_eq!(refused_status(connect(&console.url("/ws/browser", &console.headset), None).await), 401);
    assert_eq!(
        refused_status(connect(&console.url("/ws/browser", &console.therapist), Some("http://evil.example")).await),
        403
    );
    let mut request = console.url("/ws/browser", &console.therapist).into_client_request().unwrap();
    request.headers_mut().insert("Origin", HeaderValue::from_str(&format!("http://{addr}")).unwrap());
    assert_eq!(
        refused_status(tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)),
        400,
        "no subprotocol"
    );
    let mut browser = console.browser().await;
    assert_eq!(next_of(&mut browser, "sessions").await["sessions"], json!([]));
    console.stop().await;
}

#[tokio::test]
async fn an_oversize_message_closes_with_1009() {
    let console = Console::start(|_| {}).await;
    let mut browser = console.browser().await;
    let huge = format!(r#"{{"type":"list_sessions","pad":"{}"}}"#, "x".repeat(70 * 1024));
    browser.send(Message::text(huge)).await.unwrap();
    assert_eq!(close_code(&mut browser).await, Ok(1009));
    console.stop().await;
}

#[tokio::test]
async fn malformed_messages_get_an_error_and_the_session_goes_on() {
    let console = Console::start(|_| {}).await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    let welcome = next_of(&mut headset, "welcome").await;
    assert_eq!(welcome["acked"], 0);
    headset.send(Message::text("{not json")).await.unwrap();
    let error = next_of(&mut headset, "error").await;
    assert_eq!(error["code"], "malformed");
    assert!(error["message"].as_str().unwrap().contains("line 1 column 2"), "{error}");
    send(&mut headset, json!({"type": "telemetry", "seq": "one", "samples": []})).await;
    assert!(next_of(&mut headset, "error").await["message"].as_str().unwrap().contains("invalid type"));
    let batch = json!({"type": "telemetry", "seq": 1, "samples": [serde_json::to_value(sample(2_000_000, SessionState::Waiting, 1.0)).unwrap()]});
    send(&mut headset, batch).await;
    // Stored and acknowledged: the session went on.
    assert_eq!(next_of(&mut headset, "ack").await["up_to"], 1);
    // A browser's nonsense gets an error too, and the browser stays connected.
    let mut browser = console.browser().await;
    send(&mut browser, json!({"type": "subscribe"})).await;
    assert_eq!(next_of(&mut browser, "error").await["code"], "malformed");
    send(&mut browser, json!({"type": "subscribe", "session_id": "nope"})).await;
    assert_eq!(next_of(&mut browser, "error").await["code"], "no_such_session");
    send(&mut browser, json!({"type": "list_sessions"})).await;
    assert_eq!(next_of(&mut browser, "sessions").await["sessions"].as_array().unwrap().len(), 1);
    // A timeline control on a live console is refused, and says why.
    send(&mut browser, json!({"type": "replay", "action": "play"})).await;
    let refusal = next_of(&mut browser, "error").await;
    assert_eq!(refusal["code"], "not_replay", "{refusal}");
    // The recordings on disk: the open session's file is listed.
    send(&mut browser, json!({"type": "list_recordings"})).await;
    let listed = next_of(&mut browser, "recordings").await;
    let files = listed["recordings"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{listed}");
    assert!(files[0]["name"].as_str().unwrap().ends_with(".mcap") && files[0]["bytes"].as_u64().unwrap() > 0);
    let patient_name = json!({"type": "hello", "headset_id": "raw", "app": "test", "patient_code": "Jane Doe",
        "scenario": {"id": "spiders", "version": "1", "sha256": "00"}, "resume_from": 1, "headset_us": 1, "session_epoch_us": 1});
    let mut other = console.raw_headset().await;
    send(&mut other, patient_name).await;
    assert!(next_of(&mut other, "error").await["message"].as_str().unwrap().contains("pseudonymous"));
    let recordings = console.stop().await;
    assert_eq!(recordings.len(), 1, "the refused hello opened no session");
    assert_eq!(recordings[0].channel(Channel::Telemetry).count(), 1);
}

#[tokio::test]
async fn a_command_goes_console_to_headset_and_its_ack_comes_back_and_is_recorded() {
    let console = Console::start(|_| {}).await;
    let text = include_str!("../scenarios/spiders.ron");
    let scenario = scenario::parse(text, "spiders.ron").unwrap();
    let (mut link, clock) = console.link(&format!("ws://{}", console.addr), "P-0002");
    let mut engine = session::Session::new(scenario, session::Config::default());
    let mut bridge = link::Bridge::new();
    let mut browser = console.browser().await;
    let session_id = loop {
        let list = next_of(&mut browser, "sessions").await;
        if let Some(id) = list["sessions"][0]["session_id"].as_str() {
            break id.to_owned();
        }
    };
    send(&mut browser, json!({"type": "subscribe", "session_id": session_id})).await;
    // The headset runs frames in a task; the test plays the therapist.
    let (stop, mut stopped) = oneshot::channel::<()>();
    let frames = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        loop {
            let now = start.elapsed();
            engine.tick(now);
            bridge.exchange(&mut link, &mut engine, now);
            let state = link::state_to_wire(engine.state());
            let mut s = sample(clock.now_us(), state, engine.target_level() as f32);
            s.applied_level = engine.applied_level() as f32;
            link.push_sample(s);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(11)) => {}
                _ = &mut stopped => break,
            }
        }
        bridge.exchange(&mut link, &mut engine, tokio::time::Instant::now() - start);
        tokio::task::spawn_blocking(move || drop(link)).await.unwrap();
        engine
    });
    let command = |request_id: u64, command: Value| json!({"type": "command", "session_id": session_id, "request_id": request_id, "command": command});
    send(&mut browser, command(1, json!({"type": "start"}))).await;
    let result = next_of(&mut browser, "command_result").await;
    assert_eq!((result["request_id"].as_u64(), result["ok"].as_bool()), (Some(1), Some(true)), "{result}");
    // Two steps at once: a client says the therapist confirmed it.
    let mut raise = command(2, json!({"type": "set_level", "level": 3.0}));
    raise["confirmed"] = json!(true);
    send(&mut browser, raise).await;
    let result = next_of(&mut browser, "command_result").await;
    let command_id = result["command_id"].as_u64().unwrap();
    assert_eq!(result["ok"], true);
    send(&mut browser, command(3, json!({"type": "resume"}))).await;
    let refused = next_of(&mut browser, "command_result").await;
    assert_eq!(
        (refused["ok"].as_bool(), refused["error"].as_str()),
        (Some(false), Some("resume does not apply while running"))
    );
    // The target shows in telemetry, and the headset eases toward it.
    loop {
        let t = next_of(&mut browser, "telemetry").await;
        if t["batch"]["samples"][0]["target_level"] == 3.0 {
            break;
        }
    }
    send(&mut browser, command(4, json!({"type": "safe_scene"}))).await;
    assert_eq!(next_of(&mut browser, "command_result").await["ok"], true);
    let _ = stop.send(());
    let engine = frames.await.unwrap();
    assert_eq!(engine.state(), session::State::SafeScene);
    let recordings = console.stop().await;
    let r = &recordings[0];
    let commands: Vec<Value> = r.channel(Channel::Commands).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    let acks: Vec<Value> = r.channel(Channel::Acks).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    assert_eq!(commands.len(), 4);
    assert!(commands.iter().any(|c| c["id"] == command_id && c["command"]["type"] == "set_level"));
    assert!(acks.iter().any(|a| a["id"] == command_id && a["ok"] == true));
    assert_eq!(acks.len(), 4);
    let events: Vec<Value> = r.channel(Channel::Events).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    assert!(events.iter().any(|e| e["type"] == "target_changed" && e["to"] == 3.0 && e["by"] == "therapist"));
    assert!(events.iter().any(|e| e["type"] == "safe_scene_entered" && e["cause"] == "therapist"));
}

/// What the proxy does to the connections open at the time.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Close them (both ends see the connection go).
    Cut,
    /// Keep them open but pass nothing: a dead Wi-Fi, as TCP sees it.
    Freeze,
}

/// A TCP proxy whose open connections can be cut or frozen at once.
async fn proxy(upstream: SocketAddr) -> (SocketAddr, broadcast::Sender<Fault>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut, _) = broadcast::channel(16);
    let cut_tx = cut.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut cut = cut_tx.subscribe();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(upstream).await else { return };
                let fault = tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                    fault = cut.recv() => fault,
                };
                if let Ok(Fault::Freeze) = fault {
                    // Hold both sockets open, silent, until the test ends.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop((inbound, outbound));
                }
            });
        }
    });
    (addr, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_link_cuts_lose_no_telemetry() {
    let console = Console::start(|_| {}).await;
    let (via, cut) = proxy(console.addr).await;
    let (link, _) = console.link(&format!("ws://{via}"), "P-0003");
    let link = Arc::new(std::sync::Mutex::new(link));
    let pusher = {
        let link = link.clone();
        tokio::spawn(async move {
            let mut sent = 0u64;
            let mut events = 0u64;
            let mut ticks = tokio::time::interval(Duration::from_millis(2));
            loop {
                ticks.tick().await;
                for _ in 0..2 {
                    sent += 1;
                    assert!(link.lock().unwrap().push_sample(sample(1_000_000 + sent, SessionState::Running, 1.0)));
                }
                // Events now and then, between samples: they must not hold any back.
                if sent.is_multiple_of(50) {
                    let event = protocol::SessionEvent {
                        seq: events,
                        at_us: sent,
                        kind: "marker".into(),
                        fields: Default::default(),
                    };
                    events += 1;
                    link.lock().unwrap().push_events(vec![event]);
                }
                if sent >= 8_000 {
                    return sent;
                }
            }
        })
    };
    // 200 cuts at pseudo-random intervals of 10 to 50 ms.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        tokio::time::sleep(Duration::from_millis(10 + x % 40)).await;
        let _ = cut.send(Fault::Cut);
    }
    let sent = pusher.await.unwrap();
    // Everything acknowledged, then the link goes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let info = link.lock().unwrap().info();
        if info.connected && info.unacked == 0 && info.sent_seq > 0 && info.acked == info.sent_seq {
            assert!(info.reconnects >= 100, "the cuts reached the link: {info:?}");
            assert_eq!((info.dropped_samples, info.lost_messages), (0, 0));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not everything acknowledged: {info:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = Arc::try_unwrap(link).unwrap().into_inner().unwrap();
    tokio::task::spawn_blocking(move || drop(link)).await.unwrap();
    let recordings = console.stop().await;
    assert_eq!(recordings.len(), 1, "every reconnect resumed the same session");
    let mut seen: Vec<u64> = recordings[0]
        .channel(Channel::Telemetry)
        .map(|m| serde_json::from_slice::<Value>(&m.data).unwrap()["t_us"].as_u64().unwrap())
        .collect();
    let recorded = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), recorded, "no sample recorded twice");
    assert_eq!(seen, (1_000_001..=1_000_000 + sent).collect::<Vec<_>>(), "every sample recorded");
    let gaps = recordings[0]
        .channel(Channel::Annotations)
        .filter(|m| String::from_utf8_lossy(&m.data).contains("\"gap\""))
        .count();
    assert_eq!(gaps, 0);
    let mut markers: Vec<u64> = recordings[0]
        .channel(Channel::Events)
        .map(|m| serde_json::from_slice::<Value>(&m.data).unwrap()["seq"].as_u64().unwrap())
        .collect();
    markers.sort_unstable();
    assert_eq!(markers, (0..sent / 50).collect::<Vec<_>>(), "every event recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_gone_silent_is_taken_as_a_lost_link_and_the_link_comes_back() {
    let console = Console::start(|_| {}).await;
    let (via, fault) = proxy(console.addr).await;
    let clock = Clock::new();
    let scenario = ScenarioRef { id: "spiders".into(), version: "1".into(), sha256: "00".into() };
    let mut config =
        LinkConfig::new(&format!("ws://{via}"), &console.headset, "silent-test", "P-0004", scenario, clock);
    config.silence_timeout = Duration::from_millis(800);
    config.reconnect_min = Duration::from_millis(10);
    let link = Link::start(config);
    async fn wait_for(link: &Link, want: bool, within: Duration) -> tokio::time::Instant {
        let deadline = tokio::time::Instant::now() + within;
        while link.connected() != want {
            assert!(tokio::time::Instant::now() < deadline, "link not {want} within {within:?}: {:?}", link.info());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::Instant::now()
    }
    wait_for(&link, true, Duration::from_secs(5)).await;
    let frozen_at = tokio::time::Instant::now();
    let _ = fault.send(Fault::Freeze);
    let noticed = wait_for(&link, false, Duration::from_secs(5)).await;
    // Silence is noticed after the timeout (0.8 s) counted from the last message heard.
    assert!(noticed - frozen_at < Duration::from_secs(3), "noticed after {:?}", noticed - frozen_at);
    wait_for(&link, true, Duration::from_secs(5)).await;
    assert!(link.info().reconnects >= 1);
    tokio::task::spawn_blocking(move || drop(link)).await.unwrap();
    console.stop().await;
}

#[tokio::test]
async fn a_frozen_headset_is_dropped_and_the_page_hears_of_it() {
    let console = Console::start(|c| {
        c.ping_interval = Duration::from_millis(100);
        c.peer_timeout = Duration::from_millis(600);
    })
    .await;
    let mut browser = console.browser().await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    next_of(&mut headset, "welcome").await;
    // From here the headset reads nothing and answers no ping: frozen.
    let dropped = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let list = next_of(&mut browser, "sessions").await;
            if list["sessions"][0]["link"] == "disconnected" {
                return list;
            }
        }
    })
    .await
    .expect("the frozen headset was dropped within five seconds");
    assert_eq!(dropped["sessions"][0]["patient_code"], "P-0001");
    drop(headset);
    let recordings = console.stop().await;
    let notes: Vec<String> =
        recordings[0].channel(Channel::Annotations).map(|m| String::from_utf8_lossy(&m.data).into_owned()).collect();
    assert!(notes.iter().any(|n| n.contains("headset_disconnected")), "{notes:?}");
}

#[tokio::test]
async fn only_the_same_headset_and_patient_may_resume_a_session() {
    let console = Console::start(|_| {}).await;
    let mut first = console.raw_headset().await;
    send(&mut first, hello(None)).await;
    let welcome = next_of(&mut first, "welcome").await;
    let id = welcome["session_id"].as_str().unwrap().to_owned();
    // Another device with the token names that session: it gets its own.
    let mut intruder = console.raw_headset().await;
    let mut claim = hello(Some(&id));
    claim["headset_id"] = json!("other-device");
    claim["resume_token"] = welcome["resume_token"].clone();
    send(&mut intruder, claim).await;
    let theirs = next_of(&mut intruder, "welcome").await["session_id"].as_str().unwrap().to_owned();
    assert_ne!(theirs, id);
    // The same headset, reconnecting, gets its session back.
    drop(first);
    let mut again = console.raw_headset().await;
    let mut resume = hello(Some(&id));
    resume["resume_token"] = welcome["resume_token"].clone();
    send(&mut again, resume).await;
    assert_eq!(next_of(&mut again, "welcome").await["session_id"], id.as_str());
    let recordings = console.stop().await;
    assert_eq!(recordings.len(), 2);
}

#[tokio::test]
async fn a_command_the_headset_never_answers_fails_for_its_sender() {
    let console = Console::start(|c| {
        c.ping_interval = Duration::from_millis(100);
        c.command_timeout = Duration::from_millis(300);
    })
    .await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    let id = next_of(&mut headset, "welcome").await["session_id"].as_str().unwrap().to_owned();
    let mut browser = console.browser().await;
    let request = json!({"type": "command", "session_id": id, "request_id": 7, "command": {"type": "pause"}});
    send(&mut browser, request).await;
    // The headset receives it, and says nothing.
    assert_eq!(next_of(&mut headset, "command").await["command"]["type"], "pause");
    let result = next_of(&mut browser, "command_result").await;
    assert_eq!(
        (result["request_id"].as_u64(), result["ok"].as_bool(), result["code"].as_str()),
        (Some(7), Some(false), Some("command_failed"))
    );
    assert!(result["error"].as_str().unwrap().contains("did not answer"));
    // More commands than the rate allows: refused with the request's id.
    for i in 0..25 {
        send(
            &mut browser,
            json!({"type": "command", "session_id": id, "request_id": 100 + i, "command": {"type": "request_suds"}}),
        )
        .await;
    }
    let limited = loop {
        let r = next_of(&mut browser, "command_result").await;
        if r["code"] == "rate_limited" {
            break r;
        }
    };
    assert!(limited["request_id"].as_u64().unwrap() >= 120, "{limited}");
    drop(headset);
    console.stop().await;
}
