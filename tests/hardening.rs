//! The console against hostile and broken peers, through real loopback
//! sockets: numbers at their edges, forged answers, stolen session ids,
//! floods of sessions and requests, connections that never finish their
//! HTTP request. Each test names the problem it keeps fixed.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Console, Ws, close_code, hello, next_of, next_of_any, sample, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Panics raised in the console's or the protocol's code, in any test of
/// this binary (tokio catches a task's panic; the hook still sees it).
static CONSOLE_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_console_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file().to_owned()).unwrap_or_default();
            if file.contains("crates/console/") || file.contains("crates/protocol/") {
                CONSOLE_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// Sends `value` and collects what the console answers to it: everything
/// up to the error that a sentinel message sent right after it draws.
async fn exchange(ws: &mut Ws, text: String) -> Vec<Value> {
    ws.send(Message::text(text)).await.unwrap();
    ws.send(Message::text(r#"{"type":"sentinel"}"#)).await.unwrap();
    let mut replies = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "error" && v["message"].as_str().unwrap_or("").contains("`sentinel`") {
                        return;
                    }
                    if !matches!(v["type"].as_str(), Some("ping" | "ack" | "sessions" | "pages" | "dropped")) {
                        replies.push(v);
                    }
                }
                Some(Ok(Message::Close(frame))) => panic!("the console closed the connection: {frame:?}"),
                Some(Ok(_)) => {}
                other => panic!("the connection ended: {other:?}"),
            }
        }
    })
    .await
    .expect("an answer within five seconds");
    replies
}

/// Sets a field given by a path of keys and indices.
fn set(value: &mut Value, path: &str, to: Value) {
    let mut at = value;
    for part in path.split('.') {
        at = match part.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[part],
        };
    }
    *at = to;
}

const EDGES: [&str; 13] = [
    "0",
    "1",
    "-1",
    "1.5",
    "9007199254740991",
    "9007199254740992",
    "9223372036854775808",
    "18446744073709551614",
    "18446744073709551615",
    "3.4028235e38",
    "1e39",
    "-1e39",
    "1e-45",
];

/// Fixed: `hello.headset_us` near `u64::MAX` and `events.at_us` at the
/// maximum made connection tasks panic; such a connection dropped without a
/// close frame and its session stayed listed as connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_at_their_edges_are_refused_by_name_and_nothing_panics() {
    count_console_panics();
    // Room for a session per hello below, without refusals for being full.
    let console = Console::start(|c| c.max_sessions = 100).await;
    // Every numeric field of hello, each on a connection of its own.
    for field in ["headset_us", "session_epoch_us", "resume_from"] {
        for edge in EDGES {
            let mut message = hello(None);
            set(&mut message, field, serde_json::from_str(edge).unwrap());
            let mut ws = console.raw_headset().await;
            send(&mut ws, message).await;
            let reply = next_of_any(&mut ws, &["welcome", "error"]).await;
            if reply["type"] == "error" {
                let text = reply["message"].as_str().unwrap();
                assert!(text.contains(field) || text.contains("invalid"), "{field}={edge}: {text}");
            }
        }
    }
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    let session_id = next_of(&mut headset, "welcome").await["session_id"].as_str().unwrap().to_owned();
    let good = serde_json::to_value(sample(2_000_000, protocol::SessionState::Running, 1.0)).unwrap();
    let mut with_hands = good.clone();
    with_hands["left_hand"] = json!({"p": [0.1, 1.0, -0.2], "q": [0, 0, 0, 1]});
    with_hands["stimulus_distance_m"] = json!(1.0);
    with_hands["stimulus_p"] = json!([0, 1, -1]);
    with_hands["heart_rate"] = json!(80);
    let mut seq = 0u64;
    let mut next_seq = || {
        seq += 1;
        seq
    };
    let telemetry_fields = [
        "samples.0.t_us",
        "samples.0.session_us",
        "samples.0.head.p.0",
        "samples.0.head.q.3",
        "samples.0.left_hand.p.1",
        "samples.0.gaze.2",
        "samples.0.stimulus_angle_deg",
        "samples.0.stimulus_distance_m",
        "samples.0.stimulus_p.1",
        "samples.0.target_level",
        "samples.0.applied_level",
        "samples.0.step",
        "samples.0.safe_blend",
        "samples.0.frame_ms",
        "samples.0.dropped_frames",
        "samples.0.heart_rate",
    ];
    let mut refused = 0;
    for field in telemetry_fields {
        for edge in EDGES {
            let mut message = json!({"type": "telemetry", "seq": next_seq(), "samples": [with_hands.clone()]});
            set(&mut message, field, serde_json::from_str(edge).unwrap());
            let replies = exchange(&mut headset, message.to_string()).await;
            for r in &replies {
                assert_eq!(r["code"], "malformed", "{field}={edge}: {r}");
                let name = field.trim_start_matches("samples.0.");
                let text = r["message"].as_str().unwrap();
                let named = text.contains(name.split('.').next().unwrap());
                assert!(named || text.contains("invalid"), "{field}={edge}: {text}");
                refused += 1;
            }
        }
    }
    // (Sequence numbers at their edges come last, on a session of their
    // own: an accepted 2^53 − 1 rightly makes every later number a duplicate.)
    let others = [
        (json!({"type": "events", "seq": 1, "events": [{"seq": 0, "at_us": 1, "type": "x"}]}), "events.0.seq"),
        (json!({"type": "events", "seq": 1, "events": [{"seq": 0, "at_us": 1, "type": "x"}]}), "events.0.at_us"),
        (json!({"type": "command_ack", "seq": 1, "id": 1, "ok": true}), "id"),
        (json!({"type": "pong", "id": 1, "console_us": 1, "headset_us": 1}), "id"),
        (json!({"type": "pong", "id": 1, "console_us": 1, "headset_us": 1}), "console_us"),
        (json!({"type": "pong", "id": 1, "console_us": 1, "headset_us": 1}), "headset_us"),
    ];
    for (template, field) in others {
        for edge in EDGES {
            let mut message = template.clone();
            if message.get("seq").is_some() {
                message["seq"] = json!(next_seq());
            }
            set(&mut message, field, serde_json::from_str(edge).unwrap());
            let replies = exchange(&mut headset, message.to_string()).await;
            for r in &replies {
                assert_eq!(r["code"], "malformed", "{field}={edge}: {r}");
            }
            refused += replies.len();
        }
    }
    // The exact refusals the problem was about, word for word.
    let events_max = json!({"type": "events", "seq": next_seq(),
        "events": [{"seq": 0, "at_us": u64::MAX, "type": "marker"}]});
    assert_eq!(
        exchange(&mut headset, events_max.to_string()).await[0]["message"],
        "events[0].at_us: 18446744073709551615 is outside 0 to 9007199254740991"
    );
    let mut huge_frame = json!({"type": "telemetry", "seq": next_seq(), "samples": [good.clone()]});
    huge_frame["samples"][0]["frame_ms"] = json!(1e39);
    assert_eq!(
        exchange(&mut headset, huge_frame.to_string()).await[0]["message"],
        "samples[0].frame_ms: a number beyond 32-bit float range is outside 0 to 60000"
    );
    assert!(refused > 100, "only {refused} refusals");
    // The session goes on: a good batch is stored and acknowledged.
    let last = next_seq();
    send(&mut headset, json!({"type": "telemetry", "seq": last, "samples": [good]})).await;
    loop {
        let reply = next_of_any(&mut headset, &["ack", "error"]).await;
        assert_eq!(reply["type"], "ack", "{reply}");
        if reply["up_to"].as_u64() == Some(last) {
            break;
        }
    }
    for template in [
        json!({"type": "telemetry", "seq": 1, "samples": []}),
        json!({"type": "events", "seq": 1, "events": []}),
        json!({"type": "command_ack", "seq": 1, "id": 1, "ok": true}),
    ] {
        let mut own = console.raw_headset().await;
        send(&mut own, named_hello(&format!("seq-{}", template["type"]), "P-0001")).await;
        next_of(&mut own, "welcome").await;
        for edge in EDGES {
            let mut message = template.clone();
            message["seq"] = serde_json::from_str(edge).unwrap();
            for r in exchange(&mut own, message.to_string()).await {
                assert_eq!(r["code"], "malformed", "seq={edge}: {r}");
            }
        }
    }
    // Browsers' numbers too.
    let mut browser = console.browser().await;
    for (command, field) in [
        (json!({"type": "set_level", "level": 1}), "command.level"),
        (json!({"type": "go_to_step", "step": 1}), "command.step"),
        (json!({"type": "record_suds", "value": 1}), "command.value"),
        (json!({"type": "pause"}), "request_id"),
    ] {
        for edge in EDGES {
            let mut message = json!({"type": "command", "session_id": "none", "request_id": 1, "command": command});
            set(&mut message, field, serde_json::from_str(edge).unwrap());
            for r in exchange(&mut browser, message.to_string()).await {
                assert!(r["type"] == "command_result" || r["code"] == "malformed", "{field}={edge}: {r}");
            }
        }
    }
    // The list tells the truth: the hello connections are gone, the one
    // headset left is connected.
    drop(headset);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&mut browser, json!({"type": "list_sessions"})).await;
    let list = next_of(&mut browser, "sessions").await;
    for s in list["sessions"].as_array().unwrap() {
        assert_eq!(s["link"], "disconnected", "{s}");
    }
    assert!(list["sessions"].as_array().unwrap().iter().any(|s| s["session_id"] == session_id.as_str()));
    assert_eq!(CONSOLE_PANICS.load(Ordering::SeqCst), 0, "the console's code panicked");
    console.stop().await;
}

fn named_hello(headset_id: &str, patient: &str) -> Value {
    let mut h = hello(None);
    h["headset_id"] = json!(headset_id);
    h["patient_code"] = json!(patient);
    h
}

/// Fixed: another connected headset's forged `command_ack`s answered
/// commands sent to an honest headset's session.
#[tokio::test]
async fn a_headset_cannot_answer_another_sessions_commands() {
    let console = Console::start(|_| {}).await;
    let mut honest = console.raw_headset().await;
    send(&mut honest, named_hello("honest", "P-0001")).await;
    let session = next_of(&mut honest, "welcome").await["session_id"].as_str().unwrap().to_owned();
    let mut forger = console.raw_headset().await;
    send(&mut forger, named_hello("forger", "P-0002")).await;
    next_of(&mut forger, "welcome").await;
    let mut browser = console.browser().await;
    let request = json!({"type": "command", "session_id": session, "request_id": 5, "command": {"type": "pause"}});
    send(&mut browser, request).await;
    let id = next_of(&mut honest, "command").await["id"].as_u64().unwrap();
    // The forger answers first, with ids around the live one.
    for (i, guess) in (id.saturating_sub(3)..=id + 3).enumerate() {
        let forged = json!({"type": "command_ack", "seq": i + 1, "id": guess, "ok": false, "error": "forged"});
        send(&mut forger, forged).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut honest, json!({"type": "command_ack", "seq": 1, "id": id, "ok": true})).await;
    let result = next_of(&mut browser, "command_result").await;
    assert_eq!((result["request_id"].as_u64(), result["ok"].as_bool()), (Some(5), Some(true)), "{result}");
    assert!(result.get("error").is_none_or(Value::is_null), "{result}");
    console.stop().await;
}

/// Fixed: a client that knew a session's id, headset id and patient code
/// could resume it, closing the honest headset and poisoning its sequence
/// numbers.
#[tokio::test]
async fn resuming_a_session_needs_the_token_its_welcome_gave() {
    let console = Console::start(|_| {}).await;
    let mut honest = console.raw_headset().await;
    send(&mut honest, hello(None)).await;
    let welcome = next_of(&mut honest, "welcome").await;
    let session = welcome["session_id"].as_str().unwrap().to_owned();
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32, "{welcome}");
    // Everything but the token: a session of its own, the honest one untouched.
    let mut intruder = console.raw_headset().await;
    let mut claim = hello(Some(&session));
    claim["resume_from"] = json!(100_071);
    send(&mut intruder, claim.clone()).await;
    assert_ne!(next_of(&mut intruder, "welcome").await["session_id"], session.as_str());
    claim["resume_token"] = json!("0".repeat(32));
    let mut guesser = console.raw_headset().await;
    send(&mut guesser, claim).await;
    assert_ne!(next_of(&mut guesser, "welcome").await["session_id"], session.as_str());
    let batch = json!({"type": "telemetry", "seq": 1, "samples": [serde_json::to_value(sample(2_000_000, protocol::SessionState::Waiting, 1.0)).unwrap()]});
    send(&mut honest, batch).await;
    assert_eq!(next_of(&mut honest, "ack").await["up_to"], 1, "the honest headset's samples are still stored");
    // With the token, the honest headset resumes after a reconnect.
    drop(honest);
    let mut again = console.raw_headset().await;
    let mut resume = hello(Some(&session));
    resume["resume_token"] = json!(token);
    resume["resume_from"] = json!(2);
    send(&mut again, resume).await;
    let back = next_of(&mut again, "welcome").await;
    assert_eq!((back["session_id"].as_str(), back["acked"].as_u64()), (Some(session.as_str()), Some(1)));
    console.stop().await;
}

/// Threads of this process named like the console's recorder threads.
fn recorder_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("recorder"))
        .count()
}

/// Threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Fixed: 300 `hello`s opened 300 sessions, each with a file and a
/// recorder thread (and two zstd compression threads), that nothing ever
/// removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_bounded_and_share_a_few_recorder_threads() {
    let console = Console::start(|_| {}).await;
    let threads_before = threads();
    let mut open = Vec::new();
    let mut refused = 0;
    for i in 0..40 {
        let mut ws = console.raw_headset().await;
        send(&mut ws, named_hello(&format!("flood-{i}"), "P-0001")).await;
        let reply = next_of_any(&mut ws, &["welcome", "error"]).await;
        if reply["type"] == "error" {
            assert_eq!(reply["code"], "too_many_sessions", "{reply}");
            assert_eq!(close_code(&mut ws).await, Ok(1013));
            refused += 1;
        } else {
            open.push(ws);
        }
    }
    assert_eq!((open.len(), refused), (32, 8));
    // Other tests of this binary run consoles of their own meanwhile, so
    // the bounds leave room for them; a thread per session would pass both.
    assert!(recorder_threads() <= 8, "{} recorder threads for 32 sessions", recorder_threads());
    let grown = threads().saturating_sub(threads_before);
    assert!(grown <= 20, "32 sessions added {grown} threads");
    // A headset that leaves makes room: the newcomer takes its place.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut newcomer = console.raw_headset().await;
    send(&mut newcomer, named_hello("newcomer", "P-0003")).await;
    next_of(&mut newcomer, "welcome").await;
    let mut browser = console.browser().await;
    let list = next_of(&mut browser, "sessions").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 32);
    drop(open);
    drop(newcomer);
    let recordings = console.stop().await;
    assert_eq!(recordings.len(), 33, "every session that was opened kept its file");
    assert!(recordings.iter().all(|r| r.complete), "every file closed cleanly");
}

/// Ended sessions, and sessions whose headset never came back, leave the
/// list after their grace period; their recordings stay listed.
#[tokio::test]
async fn sessions_leave_the_list_after_their_grace_period() {
    let console = Console::start(|c| {
        c.ended_grace = Duration::from_millis(300);
        c.disconnected_grace = Duration::from_millis(1500);
    })
    .await;
    let mut ended = console.raw_headset().await;
    send(&mut ended, named_hello("ends", "P-0001")).await;
    let ended_id = next_of(&mut ended, "welcome").await["session_id"].as_str().unwrap().to_owned();
    let event = json!({"type": "events", "seq": 1, "events": [{"seq": 0, "at_us": 1, "type": "state_changed", "from": "running", "to": "ended"}]});
    send(&mut ended, event).await;
    let mut lost = console.raw_headset().await;
    send(&mut lost, named_hello("lost", "P-0002")).await;
    let lost_id = next_of(&mut lost, "welcome").await["session_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop((ended, lost));
    let ids = |list: &Value| -> Vec<String> {
        list["sessions"].as_array().unwrap().iter().map(|s| s["session_id"].as_str().unwrap().to_owned()).collect()
    };
    // A browser that connects gets the list as it is now.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let listed = ids(&next_of(&mut console.browser().await, "sessions").await);
    assert_eq!(listed, std::slice::from_ref(&lost_id), "the ended session left, the lost one still waits");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut browser = console.browser().await;
    assert!(ids(&next_of(&mut browser, "sessions").await).is_empty());
    send(&mut browser, json!({"type": "list_recordings"})).await;
    assert_eq!(next_of(&mut browser, "recordings").await["recordings"].as_array().unwrap().len(), 2);
    let recordings = console.stop().await;
    assert!(recordings.iter().all(|r| r.complete));
    assert!(ended_id != lost_id);
}

/// Fixed: 4 000 `list_sessions` requests queued 4 000 answers in the
/// console's memory.
#[tokio::test]
async fn repeated_list_requests_are_answered_once_while_an_answer_waits() {
    let console = Console::start(|_| {}).await;
    for i in 0..20 {
        let mut ws = console.raw_headset().await;
        send(&mut ws, named_hello(&format!("h{i}"), "P-0001")).await;
        next_of(&mut ws, "welcome").await;
        std::mem::forget(ws);
    }
    let mut browser = console.browser().await;
    let request = json!({"type": "list_sessions"}).to_string();
    let recordings = json!({"type": "list_recordings"}).to_string();
    const REQUESTS: usize = 8000;
    for _ in 0..REQUESTS {
        browser.feed(Message::text(request.clone())).await.unwrap();
        browser.feed(Message::text(recordings.clone())).await.unwrap();
    }
    browser.flush().await.unwrap();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(message)) = browser.next().await {
            if let Message::Text(t) = message {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                *counts.entry(v["type"].as_str().unwrap().to_owned()).or_default() += 1;
            }
        }
    })
    .await;
    let sessions = counts.get("sessions").copied().unwrap_or(0);
    let listed = counts.get("recordings").copied().unwrap_or(0);
    // What still arrives is what the sockets' buffers held while the
    // browser did not read (a few MB); the console's own queue held one list.
    assert!((1..REQUESTS / 2).contains(&sessions), "{counts:?}");
    assert!((1..=50).contains(&listed), "{counts:?}");
    console.stop().await;
}

/// Whether the console closed `stream` (read returns end of file or an error).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Fixed: connections that sent an HTTP upgrade one byte a second, or
/// never spoke, were never closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_connections_are_closed_at_the_door() {
    let console = Console::start(|c| c.header_timeout = Duration::from_millis(800)).await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(TcpStream::connect(console.addr).await.unwrap());
    }
    let mut slow = TcpStream::connect(console.addr).await.unwrap();
    let request = format!("GET /ws/headset?token={} HTTP/1.1\r\nHost: x\r\n", console.headset);
    let dribble = tokio::spawn(async move {
        for byte in request.bytes() {
            if slow.write_all(&[byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed_within(&mut slow, Duration::from_secs(1)).await
    });
    for s in &mut silent {
        assert!(closed_within(s, Duration::from_secs(3)).await, "a silent connection stayed open");
    }
    assert!(dribble.await.unwrap(), "a slow request head stayed open");
    // More connections from one address than may wait at once: the rest are
    // closed at once, and honest clients get in again when the wave is gone.
    let mut waiting = Vec::new();
    for _ in 0..40 {
        waiting.push(TcpStream::connect(console.addr).await.unwrap());
    }
    let mut closed_at_once = 0;
    for s in &mut waiting[32..] {
        if closed_within(s, Duration::from_millis(300)).await {
            closed_at_once += 1;
        }
    }
    assert_eq!(closed_at_once, 8);
    drop(waiting);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    next_of(&mut headset, "welcome").await;
    console.stop().await;
}

/// A session that ended a moment before the console stops still has its
/// file finished: the recorder threads close every file before `serve`
/// returns, also those whose sessions had just let them go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_closing_at_the_stop_is_finished() {
    let console = Console::start(|_| {}).await;
    let mut headset = console.raw_headset().await;
    send(&mut headset, hello(None)).await;
    next_of(&mut headset, "welcome").await;
    let one = serde_json::to_value(sample(2_000_000, protocol::SessionState::Running, 1.0)).unwrap();
    let samples: Vec<Value> = (0..150).map(|_| one.clone()).collect();
    for seq in 1..=60u64 {
        send(&mut headset, json!({"type": "telemetry", "seq": seq, "samples": samples})).await;
    }
    let ended = json!({"type": "events", "seq": 61, "events": [{"seq": 0, "at_us": 1, "type": "state_changed", "from": "running", "to": "ended"}]});
    send(&mut headset, ended).await;
    headset.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let recordings = console.stop().await;
    assert_eq!(recordings.len(), 1);
    assert!(recordings[0].complete, "the file was not finished");
    assert_eq!(recordings[0].channel(recording::Channel::Telemetry).count(), 60 * 150);
}

/// A console on the network speaks only TLS: it does not start off loopback
/// without it; plain WS and plain HTTP get a 400 that says to use TLS; a
/// headset pinning another certificate's fingerprint refuses the console
/// for good and says why, while one pinning the right one runs its session
/// over WSS. Only 127.0.0.1 is ever connected to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_on_the_network_speaks_only_tls_and_headsets_pin_its_certificate() {
    let dir = std::env::temp_dir().join(format!("trinvis-tls-{}-{}", std::process::id(), console::new_token()));
    let bare = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = console::serve(bare, console::Config::new(dir.clone()), async {}).await.unwrap_err();
    assert!(refused.to_string().contains("only with TLS"), "{refused}");

    let identity = console::tls::load_or_create(&dir.join("data"), &[]).unwrap();
    let fingerprint = identity.fingerprint.clone();
    let console = Console::start_at("0.0.0.0:0", dir.clone(), move |c| c.tls = Some(identity)).await;
    let here = format!("127.0.0.1:{}", console.addr.port());

    let plain = support::connect(&format!("ws://{here}/ws/headset?token={}", console.headset), None).await;
    match plain {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("HTTPS and WSS"), "{body}");
        }
        other => panic!("plain WS to a TLS console: expected a 400, got {:?}", other.map(|_| ())),
    }
    let mut http = TcpStream::connect(&here).await.unwrap();
    http.write_all(format!("GET /health HTTP/1.1\r\nHost: {here}\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), http.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("https://"), "{answer}");

    let pinned = |pin: &str| {
        let scenario = protocol::ScenarioRef { id: "spiders".into(), version: "1".into(), sha256: "00".into() };
        let clock = link::Clock::new();
        let mut config =
            link::LinkConfig::new(&format!("wss://{here}"), &console.headset, "pin-test", "P-PIN", scenario, clock);
        config.fingerprint = Some(pin.to_owned());
        config.reconnect_min = Duration::from_millis(20);
        link::Link::start(config)
    };
    let last = if fingerprint.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &fingerprint[..fingerprint.len() - 1]);
    let impostor = pinned(&wrong);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while impostor.info().refused.is_none() {
        assert!(std::time::Instant::now() < deadline, "the wrong fingerprint was not refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let why = impostor.info().refused.unwrap();
    assert!(why.contains(&fingerprint) && why.contains(&wrong) && why.contains("pair"), "{why}");
    assert!(!impostor.connected());

    let honest = pinned(&fingerprint);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !honest.connected() {
        assert!(std::time::Instant::now() < deadline, "the right fingerprint did not connect: {:?}", honest.info());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(honest.info().session_id.is_some());
    drop((impostor, honest));
    let recordings = console.stop().await;
    assert_eq!(recordings.len(), 1, "only the honest headset has a session");
    let _ = std::fs::remove_dir_all(&dir);
}
