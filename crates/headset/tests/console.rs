//! The real headless headset against a real console on loopback: the
//! synthetic patient wears it, a therapist's command changes the applied
//! level, and the recording holds the pose stream at the frame rate.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use recording::{Channel, Recording};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_of(ws: &mut Ws, kind: &str, within: Duration) -> Value {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_headset_is_steered_from_the_console_and_recorded_at_frame_rate() {
    let dir = std::env::temp_dir().join(format!("trinvis-headset-e2e-{}", console::new_token()));
    let config = console::Config::new(dir.clone());
    let (therapist, token) = (config.therapist_token.clone(), config.headset_token.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(console::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut headset = std::process::Command::new(env!("CARGO_BIN_EXE_trinvis-headset"))
        .args(["--display", "headless", "--patient-code", "P-0300", "--minutes", "2", "--token", &token])
        .args(["--console", &format!("ws://{addr}")])
        .arg("--scenario")
        .arg(root.join("scenarios/heights.ron"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut request = format!("ws://{addr}/ws/browser?token={therapist}").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("trinvis.v1"));
    let mut browser = tokio_tungstenite::connect_async(request).await.unwrap().0;
    let session_id = loop {
        let list = next_of(&mut browser, "sessions", Duration::from_secs(30)).await;
        if let Some(id) = list["sessions"][0]["session_id"].as_str() {
            break id.to_owned();
        }
    };
    let send = |command: Value, id: u64| {
        json!({"type": "command", "session_id": session_id, "request_id": id, "command": command}).to_string()
    };
    browser.send(Message::text(json!({"type": "subscribe", "session_id": session_id}).to_string())).await.unwrap();
    browser.send(Message::text(send(json!({"type": "start"}), 1))).await.unwrap();
    assert_eq!(next_of(&mut browser, "command_result", Duration::from_secs(10)).await["ok"], true);
    browser.send(Message::text(send(json!({"type": "set_level", "level": 2.0}), 2))).await.unwrap();
    assert_eq!(next_of(&mut browser, "command_result", Duration::from_secs(10)).await["ok"], true);
    // At 0.2 steps a second the applied level reaches 2 in five seconds.
    let reached = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let t = next_of(&mut browser, "telemetry", Duration::from_secs(5)).await;
            let last = t["batch"]["samples"].as_array().unwrap().last().unwrap().clone();
            if last["applied_level"].as_f64().unwrap() >= 2.0 {
                return last;
            }
        }
    })
    .await
    .expect("the applied level followed the command");
    assert_eq!(reached["step"], 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    headset.kill().unwrap();
    let _ = headset.wait();
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let r = Recording::open(&file).unwrap();
    let samples: Vec<Value> = r.channel(Channel::Telemetry).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    let (first, last) =
        (samples[0]["session_us"].as_u64().unwrap(), samples.last().unwrap()["session_us"].as_u64().unwrap());
    let rate = (samples.len() - 1) as f64 / ((last - first) as f64 / 1e6);
    assert!(
        (80.0..=100.0).contains(&rate),
        "{rate:.1} samples per second of session time over {} samples",
        samples.len()
    );
    assert!(samples.iter().any(|s| s["applied_level"].as_f64() == Some(2.0)));
    let events: Vec<Value> = r.channel(Channel::Events).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    assert!(events.iter().any(|e| e["type"] == "target_changed" && e["to"] == 2.0 && e["by"] == "therapist"));
    assert_eq!(r.metadata.patient_code, "P-0300");
    let _ = std::fs::remove_dir_all(&dir);
}
