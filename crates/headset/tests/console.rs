//! The real headless headset against a real console on loopback: the
//! synthetic patient wears it, a therapist's command changes the applied
//! level, and the recording holds the pose stream at the frame rate.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::process::Stdio;
use std::time::Duration;

use recording::Channel;
use serde_json::{Value, json};
use support::{Console, applied_level_reaches, command, first_session, next_of, root, subscribe};

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

/// A headset started with only the console's address pairs: its code on
/// stdout (and in its view), typed into the console, and it runs its
/// session with its own credential; started again, it uses the kept
/// credential without a new code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headset_without_credentials_pairs_with_a_code_then_keeps_its_credential() {
    use std::io::BufRead;
    let console = Console::start("headset-pairing").await;
    let credentials = console.dir.with_extension("headset.json");
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trinvis-headset"))
            .args(["--display", "headless", "--patient-code", "P-0310", "--minutes", "2"])
            .args(["--console", &console.url(), "--credentials"])
            .arg(&credentials)
            .arg("--scenario")
            .arg(root().join("scenarios/heights.ron"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Each line the headset prints, as it comes.
    let lines = |child: &mut std::process::Child| {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let mut browser = console.therapist().await;
    let mut headset = start();
    let printed = lines(&mut headset);
    let code = loop {
        let line = printed.recv_timeout(Duration::from_secs(60)).expect("no pairing code on stdout");
        if let Some(rest) = line.strip_prefix("Pairing code: ") {
            break rest[..6].to_owned();
        }
    };
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(console.enter_pairing_code("12345").0, 400, "five digits are refused");
    let (status, body) = console.enter_pairing_code(&code);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("trinvis-headset"), "{body}");
    let first = first_session(&mut browser, Duration::from_secs(30)).await;
    let saved = std::fs::read_to_string(&credentials).unwrap();
    assert!(saved.contains("credential_id") && saved.contains(&console.url()), "{saved}");
    headset.kill().unwrap();
    let _ = headset.wait();

    // Again: no code, straight into a new session.
    let mut again = start();
    let printed = lines(&mut again);
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let list = next_of(&mut browser, "sessions", Duration::from_secs(30)).await;
            let sessions = list["sessions"].as_array().unwrap().clone();
            if sessions.iter().any(|s| s["session_id"] != first.as_str() && s["link"] == "connected") {
                break;
            }
        }
    })
    .await
    .expect("the headset did not come back with its kept credential");
    let said: Vec<String> = printed.try_iter().collect();
    assert!(!said.iter().any(|l| l.contains("Pairing code")), "paired again: {said:?}");

    // Revoked on the console: the headset drops its credential and shows a new code.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&credentials).unwrap()).unwrap();
    let (status, body) = console.revoke(saved["credential_id"].as_str().unwrap());
    assert_eq!(status, 200, "{body}");
    let again_code = loop {
        let line = printed.recv_timeout(Duration::from_secs(30)).expect("no new pairing code after the revocation");
        if let Some(rest) = line.strip_prefix("Pairing code: ") {
            break rest[..6].to_owned();
        }
    };
    assert!(!credentials.exists(), "the revoked credential is still kept");
    assert_eq!(console.enter_pairing_code(&again_code).0, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !credentials.exists() {
        assert!(std::time::Instant::now() < deadline, "the new credential was not kept");
        std::thread::sleep(Duration::from_millis(100));
    }
    again.kill().unwrap();
    let _ = again.wait();
    let _ = std::fs::remove_file(&credentials);
}
