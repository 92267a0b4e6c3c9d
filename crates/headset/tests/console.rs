//! The real headless headset against a real console on loopback: the
//! synthetic patient wears it, a therapist's command changes the applied
//! level, and the recording holds the pose stream at the frame rate.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::process::Stdio;
use std::time::Duration;

use recording::Channel;
use serde_json::{Value, json};
use support::{Console, applied_level_reaches, command, first_session, root, subscribe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_headset_is_steered_from_the_console_and_recorded_at_frame_rate() {
    let console = Console::start("headset-e2e").await;
    let mut headset = std::process::Command::new(env!("CARGO_BIN_EXE_trinvis-headset"))
        .args(["--display", "headless", "--patient-code", "P-0300", "--minutes", "2"])
        .args(["--token", &console.headset_token, "--console", &console.url()])
        .arg("--scenario")
        .arg(root().join("scenarios/heights.ron"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut browser = console.therapist().await;
    let session_id = first_session(&mut browser, Duration::from_secs(30)).await;
    subscribe(&mut browser, &session_id).await;
    assert_eq!(command(&mut browser, &session_id, 1, json!({"type": "start"})).await["ok"], true);
    assert_eq!(command(&mut browser, &session_id, 2, json!({"type": "set_level", "level": 2.0})).await["ok"], true);
    // At 0.2 steps a second the applied level reaches 2 in five seconds.
    let reached = applied_level_reaches(&mut browser, 2.0, Duration::from_secs(20)).await;
    assert_eq!(reached["step"], 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    headset.kill().unwrap();
    let _ = headset.wait();
    let r = console.stop().await;

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
}
