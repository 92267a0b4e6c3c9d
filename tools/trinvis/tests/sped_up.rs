//! A simulated headset run faster than real time (`trinvis sim --console
//! --speed 4`) against a real console: the page's frame rate reads as the
//! simulated headset's (90 Hz, not 360), and everything in the recording
//! is on one clock, so commands and notes (console time) join telemetry
//! and events.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use std::path::PathBuf;
use std::process::Command;

use recording::{Channel, Recording};
use serde_json::Value;

mod common;

#[test]
fn a_sped_up_headset_records_on_the_console_clock_with_its_own_frame_times() {
    let root = std::env::temp_dir().join(format!("trinvis-sped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (mut console, printed) = common::spawn_console(
        Command::new(env!("CARGO_BIN_EXE_trinvis"))
            .args(["console", "--bind", "127.0.0.1:0", "--headset-token", "sped-up-token", "--data"])
            .arg(root.join("data"))
            .arg("--recordings")
            .arg(root.join("recordings")),
    );
    let address = common::address(&printed);

    let sim = Command::new(env!("CARGO_BIN_EXE_trinvis"))
        .current_dir(common::root())
        .args(["sim", "--scenario", "scenarios/heights.ron", "--auto", "--minutes", "1", "--speed", "4"])
        .args(["--console", &format!("ws://{address}"), "--token", "sped-up-token"])
        .output()
        .unwrap();
    assert!(sim.status.success(), "{}", String::from_utf8_lossy(&sim.stderr));
    let finished_us = console::unix_us();
    let status = Command::new("kill").args(["-TERM", &console.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(console.wait().unwrap().success());

    let files: Vec<PathBuf> = std::fs::read_dir(root.join("recordings")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let r = Recording::open(&files[0]).unwrap();
    let telemetry: Vec<(u64, Value)> =
        r.channel(Channel::Telemetry).map(|m| (m.log_time_us, serde_json::from_slice(&m.data).unwrap())).collect();
    let (first_us, last_us) = (telemetry[0].0, telemetry.last().unwrap().0);
    // A minute simulated in 15 s: the console's clock spans the 15 s.
    let spanned_s = (last_us - first_us) as f64 / 1e6;
    assert!(spanned_s < 30.0, "telemetry spans {spanned_s:.1} s of console time for 15 s of real time");
    assert!(last_us <= finished_us, "no telemetry is recorded in the console's future");
    let session_s = telemetry.last().unwrap().1["session_us"].as_u64().unwrap() as f64 / 1e6;
    assert!(session_s > 55.0, "session time is the simulated one: {session_s:.1} s");
    // Events sit among the telemetry on the console's clock.
    for m in r.channel(Channel::Events) {
        assert!(
            m.log_time_us + 1_000_000 >= first_us && m.log_time_us <= last_us + 1_000_000,
            "an event at {} outside the telemetry's {first_us}..{last_us}",
            m.log_time_us
        );
    }
    // The connect annotation (console time) is where telemetry begins.
    let connected = r
        .channel(Channel::Annotations)
        .find(|m| serde_json::from_slice::<Value>(&m.data).unwrap()["type"] == "headset_connected")
        .unwrap();
    assert!(first_us.abs_diff(connected.log_time_us) < 2_000_000);
    // Frame times are the simulated headset's: about 11 ms, not 2.8.
    let mut frame_ms: Vec<f64> = telemetry.iter().filter_map(|(_, s)| s["frame_ms"].as_f64()).collect();
    frame_ms.sort_by(f64::total_cmp);
    let median = frame_ms[frame_ms.len() / 2];
    assert!((8.0..16.0).contains(&median), "median frame time {median:.2} ms");
    let _ = std::fs::remove_dir_all(&root);
}
