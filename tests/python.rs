//! Recordings and the protocol as other languages see them: Python's `mcap`
//! package reads every channel, and a steering client written from
//! docs/protocol.md alone drives a session.
//!
//! These need `python3` with the `mcap` and `websockets` packages, which
//! `./x test` installs. Run bare (`cargo test`) without them, they say so and
//! pass; under `./x test` (TRINVIS_REQUIRE_PYTHON=1) a missing package fails.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use support::{Console, next_of};

use std::process::Command;
use std::time::Duration;

use futures_util::SinkExt;
use recording::Channel;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn python() -> String {
    std::env::var("TRINVIS_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Whether Python has the packages; fails instead when they are required.
fn have_python(packages: &[&str]) -> bool {
    let script = packages.iter().map(|p| format!("import {p}")).collect::<Vec<_>>().join("; ");
    let ok = Command::new(python()).args(["-c", &script]).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("TRINVIS_REQUIRE_PYTHON").is_none(),
            "python3 with {packages:?} is required here: `python3 -m pip install mcap websockets`"
        );
        support::skipped(&format!("python3 with {packages:?} is not installed (./x test installs it)"));
    }
    ok
}

use testkit::root;

#[tokio::test]
async fn python_mcap_reads_every_channel_of_a_console_recording() {
    if !have_python(&["mcap", "PIL"]) {
        return;
    }
    let console = Console::start(|_| {}).await;
    // A raw headset writing to every channel, and a browser sending a command.
    let mut h = console.raw_headset().await;
    let hello = json!({"type": "hello", "headset_id": "py", "app": "test", "patient_code": "P-0100",
        "scenario": {"id": "spiders", "version": "1", "sha256": "00"}, "resume_from": 1, "headset_us": 1_000_000, "session_epoch_us": 1_000_000,
        "mirror": true});
    h.send(Message::text(hello.to_string())).await.unwrap();
    let id = next_of(&mut h, "welcome").await["session_id"].as_str().unwrap().to_owned();
    let sample = json!({"t_us": 1_000_100, "session_us": 100, "head": {"p": [0, 1.6, 0], "q": [0, 0, 0, 1]}, "gaze": [0, 0, -1],
        "gaze_on_stimulus": true, "stimulus_angle_deg": 1.5, "state": "running", "target_level": 1, "applied_level": 1,
        "step": 1, "safe_blend": 0, "frame_ms": 11.1, "dropped_frames": 0});
    h.send(Message::text(json!({"type": "telemetry", "seq": 1, "samples": [sample.clone(), sample]}).to_string()))
        .await
        .unwrap();
    let event = json!({"seq": 0, "at_us": 50, "type": "marker", "label": "x"});
    h.send(Message::text(json!({"type": "events", "seq": 2, "events": [event]}).to_string())).await.unwrap();
    // Mirror pictures, 0.5 s apart on the headset's clock: recorded once a second.
    for i in 0..5u64 {
        let frame = support::mirror_frame(1_000_200 + i * 500_000, 200 + i * 500_000, i as u32 + 1, 160, 90, 40);
        h.send(Message::binary(frame)).await.unwrap();
    }
    let mut b = console.browser().await;
    let command = json!({"type": "command", "session_id": id, "request_id": 1, "command": {"type": "request_suds"}});
    b.send(Message::text(command.to_string())).await.unwrap();
    let command_id = next_of(&mut h, "command").await["id"].clone();
    h.send(Message::text(json!({"type": "command_ack", "seq": 3, "id": command_id, "ok": true}).to_string()))
        .await
        .unwrap();
    next_of(&mut b, "command_result").await;
    drop((h, b));
    let dir = console.dir.clone();
    let recordings = console.stop().await;
    let ours = &recordings[0];
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let out = Command::new(python()).arg(root().join("tests/python/read_mcap.py")).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs["profile"], "trinvis.v1");
    assert_eq!(theirs["metadata"]["trinvis"]["patient_code"], "P-0100");
    assert_eq!(theirs["metadata"]["trinvis"]["mirror"], "jpeg every 1 s on /mirror");
    for channel in Channel::ALL {
        let seen = &theirs["channels"][channel.topic()];
        assert_eq!(seen["count"].as_u64(), Some(ours.channel(channel).count() as u64), "{}: {theirs}", channel.topic());
        assert!(seen["count"].as_u64().unwrap() > 0, "{} is empty", channel.topic());
        assert_eq!(seen["summary_count"], seen["count"], "the index agrees: {theirs}");
        assert_eq!(seen["schema_json"], true, "{}: the JSON Schema parses", channel.topic());
        if channel == Channel::Mirror {
            assert_eq!(seen["schema"], "foxglove.CompressedImage");
            let images = &seen["images"];
            assert_eq!(images["jpeg"], seen["count"], "every picture is a JPEG file: {seen}");
            assert_eq!(images["stamp_matches_log_time"], true, "{seen}");
            assert_eq!(images["pillow"], "JPEG", "Pillow opens them: {seen}");
            assert_eq!(images["sizes"][0], json!([160, 90]));
            assert_eq!(seen["count"], 3, "frames at 0, 0.5, …, 2 s recorded at 0, 1 and 2 s: {seen}");
        }
        assert_eq!(
            (seen["json"].as_bool(), seen["message_encoding"].as_str(), seen["schema_encoding"].as_str()),
            (Some(true), Some("json"), Some("jsonschema"))
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steering_client_written_from_the_protocol_doc_alone_steers_a_session() {
    if !have_python(&["websockets"]) {
        return;
    }
    let console = Console::start(|_| {}).await;
    let (addr, therapist, headset) = (console.addr, console.therapist.clone(), console.headset.clone());
    // A headset: the real link and session engine over the spiders scenario.
    let scenario = scenario::parse(include_str!("../scenarios/spiders.ron"), "spiders.ron").unwrap();
    let clock = link::Clock::new();
    let reference = protocol::ScenarioRef { id: "spiders".into(), version: "1.0.0".into(), sha256: "00".into() };
    let mut link = link::Link::start(link::LinkConfig::new(
        &format!("ws://{addr}"),
        &headset,
        "steer-test",
        "P-0200",
        reference,
        clock,
    ));
    let mut engine = session::Session::new(scenario, session::Config::default());
    let (done, mut finished) = tokio::sync::oneshot::channel::<()>();
    let frames = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut bridge = link::Bridge::new();
        loop {
            let now = start.elapsed();
            engine.tick(now);
            bridge.exchange(&mut link, &mut engine, now);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(11)) => {}
                _ = &mut finished => break,
            }
        }
        tokio::task::spawn_blocking(move || drop(link)).await.unwrap();
        engine
    });
    let script = "start; level 2; wait 1; marker from python; ask; ?accept; safe; stop";
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(root().join("examples/steer.py"))
            .args(["--console", &format!("http://{addr}"), "--token", &therapist, "--script", script])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "steer.py failed:\n{printed}\n{}", String::from_utf8_lossy(&out.stderr));
    let _ = done.send(());
    let engine = frames.await.unwrap();
    assert_eq!(engine.state(), session::State::Ended, "{printed}");
    let recordings = console.stop().await;
    let r = &recordings[0];
    let commands: Vec<String> = r
        .channel(Channel::Commands)
        .map(|m| serde_json::from_slice::<Value>(&m.data).unwrap()["command"]["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(commands, ["start", "set_level", "marker", "request_suds", "accept_suggestion", "safe_scene", "stop"]);
    assert!(r.channel(Channel::Events).any(|m| String::from_utf8_lossy(&m.data).contains("from python")));
}
