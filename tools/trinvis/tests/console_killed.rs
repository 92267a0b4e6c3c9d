//! `trinvis console` killed with SIGKILL in the middle of a session: the
//! recording keeps everything up to its last closed chunk (about a second
//! before the kill), and `trinvis recover` writes a clean copy. Killed and
//! started again with no flags, it takes up where it stopped: the same
//! tokens, each headset resumes its session under the same id, nothing the
//! headset sent is lost, and `trinvis export` counts one session. Stopped
//! with SIGTERM (what systemd and container runtimes send), it closes every
//! recording as Ctrl-C does.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use link::{Clock, Link, LinkConfig};
use protocol::{Sample, ScenarioRef, SessionState};
use recording::{Channel, Recording};

mod common;

/// `trinvis console` on a free loopback port, recording into `dir`; its address.
fn start_console(dir: &std::path::Path) -> (std::process::Child, String) {
    let _ = std::fs::remove_dir_all(dir);
    let data = PathBuf::from(format!("{}-data", dir.display()));
    let _ = std::fs::remove_dir_all(&data);
    let (console, printed) = common::spawn_console(
        Command::new(env!("CARGO_BIN_EXE_trinvis"))
            .args(["console", "--bind", "127.0.0.1:0", "--headset-token", "kill-test-token", "--data"])
            .arg(&data)
            .arg("--recordings")
            .arg(dir),
    );
    (console, common::address(&printed))
}

#[test]
fn sigterm_closes_every_recording_cleanly() {
    let dir = std::env::temp_dir().join(format!("trinvis-term-{}", std::process::id()));
    let (mut console, address) = start_console(&dir);
    let clock = Clock::new();
    let scenario = ScenarioRef { id: "heights".into(), version: "1".into(), sha256: "00".into() };
    let config = LinkConfig::new(&format!("ws://{address}"), "kill-test-token", "term-test", "P-0010", scenario, clock);
    let link = Link::start(config);
    let started = Instant::now();
    while !link.connected() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(link.connected(), "{:?}", link.info());
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill").args(["-TERM", &console.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(console.wait().unwrap().success(), "the console exits 0 on SIGTERM");
    drop(link);
    let files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let recording = Recording::open(&files[0]).unwrap();
    assert!(recording.complete, "SIGTERM leaves the file finished, as Ctrl-C does");
    assert_eq!(recording.metadata.patient_code, "P-0010");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_console_loses_at_most_about_a_second_and_the_file_is_recovered() {
    let dir = std::env::temp_dir().join(format!("trinvis-kill-{}", std::process::id()));
    let (mut console, address) = start_console(&dir);

    let clock = Clock::new();
    let scenario = ScenarioRef { id: "heights".into(), version: "1".into(), sha256: "00".into() };
    let link = Link::start(LinkConfig::new(
        &format!("ws://{address}"),
        "kill-test-token",
        "kill-test",
        "P-0009",
        scenario,
        clock,
    ));
    let started = Instant::now();
    let mut sent = Vec::new();
    while started.elapsed() < Duration::from_secs(4) {
        let t_us = clock.now_us();
        link.push_sample(sample(t_us, 1));
        sent.push(t_us);
        std::thread::sleep(Duration::from_micros(11_111));
    }
    assert!(link.connected(), "the link was up: {:?}", link.info());
    console.kill().unwrap(); // SIGKILL: no chance to close anything
    let killed_at = clock.now_us();
    console.wait().unwrap();
    drop(link);

    let files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let cut = Recording::open(&files[0]).unwrap();
    assert!(!cut.complete, "a killed console leaves the file unfinished");
    assert_eq!(cut.metadata.patient_code, "P-0009");
    let kept: Vec<u64> = cut
        .channel(Channel::Telemetry)
        .map(|m| serde_json::from_slice::<serde_json::Value>(&m.data).unwrap()["t_us"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, sent[..kept.len()], "what was kept is the samples sent, in order, from the first");
    let last_kept = *kept.last().unwrap();
    let lost_s = (killed_at - last_kept) as f64 / 1e6;
    assert!(lost_s <= 1.5, "lost {lost_s:.2} s before the kill; chunks close every second");

    let fixed = dir.join("fixed.mcap");
    let out = Command::new(env!("CARGO_BIN_EXE_trinvis"))
        .args(["recover", files[0].to_str().unwrap(), "--out", fixed.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("was not finished"));
    let recovered = Recording::open(&fixed).unwrap();
    assert!(recovered.complete);
    assert_eq!(recovered.messages, cut.messages);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sample as a running headset at `step` sends it.
fn sample(t_us: u64, step: u16) -> Sample {
    // The resting sample, on `step`, with a heart rate.
    let mut s = testkit::sample(t_us, SessionState::Running, f32::from(step));
    s.step = step;
    s.heart_rate = Some(80.0);
    s
}

/// `trinvis console` with nothing but its folders, as a clinic restarts it;
/// returns the process, its address and the tokens it printed.
fn start_plain(root: &std::path::Path, bind: &str) -> (std::process::Child, String, String, String) {
    let (console, printed) = common::spawn_console(
        Command::new(env!("CARGO_BIN_EXE_trinvis"))
            .current_dir(root)
            .args(["console", "--bind", bind])
            .env_remove("TRINVIS_THERAPIST_TOKEN")
            .env_remove("TRINVIS_HEADSET_TOKEN"),
    );
    let therapist = printed[1].rsplit("token=").next().unwrap().trim().to_owned();
    let headset = printed[2].rsplit(' ').next().unwrap().trim().to_owned();
    (console, common::address(&printed), therapist, headset)
}

#[test]
fn a_killed_console_restarted_with_no_flags_resumes_the_session_and_loses_nothing() {
    let root = std::env::temp_dir().join(format!("trinvis-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let (mut console, address, therapist, headset) = start_plain(&root, "127.0.0.1:0");

    let clock = Clock::new();
    let scenario = ScenarioRef { id: "heights".into(), version: "1".into(), sha256: "00".into() };
    let mut config = LinkConfig::new(&format!("ws://{address}"), &headset, "restart-test", "P-0011", scenario, clock);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    let link = Link::start(config);
    let mut sent = Vec::new();
    let stream = |link: &Link, seconds: f64, sent: &mut Vec<u64>| {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs_f64(seconds) {
            let t_us = clock.now_us();
            link.push_sample(sample(t_us, 3));
            sent.push(t_us);
            std::thread::sleep(Duration::from_micros(11_111));
        }
    };
    stream(&link, 2.5, &mut sent);
    assert!(link.connected(), "{:?}", link.info());
    let first_id = link.info().session_id.clone().expect("a session id from the welcome");
    console.kill().unwrap(); // SIGKILL: nothing is closed
    console.wait().unwrap();
    // The headset goes on while its console is away: it keeps what it sends.
    stream(&link, 1.0, &mut sent);

    let (mut console, again, therapist_again, headset_again) = start_plain(&root, &address);
    assert_eq!(again, address);
    assert_eq!((therapist_again, headset_again), (therapist, headset), "a restart keeps the tokens");
    stream(&link, 2.0, &mut sent);
    let deadline = Instant::now() + Duration::from_secs(15);
    while (!link.connected() || link.info().unacked > 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let info = link.info();
    assert!(info.connected && info.unacked == 0, "the headset reconnected and got everything acknowledged: {info:?}");
    assert_eq!(info.session_id.as_deref(), Some(first_id.as_str()), "the same session goes on");
    let status = Command::new("kill").args(["-TERM", &console.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(console.wait().unwrap().success());
    drop(link);

    let recordings = root.join("recordings");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&recordings).unwrap().map(|e| e.unwrap().path()).collect();
    // The first part first.
    files.sort_by_key(|f| f.to_string_lossy().len());
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, [format!("{first_id}.mcap"), format!("{first_id}-part2.mcap")], "one session, two parts");
    let mut kept = Vec::new();
    for file in &files {
        let part = Recording::open(file).unwrap();
        assert!(part.complete, "{} is closed (the first repaired at start-up)", file.display());
        assert_eq!(part.metadata.session_id, first_id);
        kept.extend(
            part.channel(Channel::Telemetry)
                .map(|m| serde_json::from_slice::<serde_json::Value>(&m.data).unwrap()["t_us"].as_u64().unwrap()),
        );
    }
    kept.sort_unstable();
    kept.dedup();
    assert_eq!(kept, sent, "every sample the headset sent is in the session's files, across the restart");

    let dataset = root.join("dataset");
    let out = Command::new(env!("CARGO_BIN_EXE_trinvis"))
        .arg("export")
        .args(&files)
        .args(["--format", "csv", "--out"])
        .arg(&dataset)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sessions_dir = dataset.join("sessions");
    let rows: usize = walk(&sessions_dir).iter().map(|f| std::fs::read_to_string(f).unwrap().lines().count() - 1).sum();
    assert_eq!(rows, 1, "export counts one session: {}", String::from_utf8_lossy(&out.stdout));
    let telemetry_rows: usize =
        walk(&dataset.join("telemetry")).iter().map(|f| std::fs::read_to_string(f).unwrap().lines().count() - 1).sum();
    assert_eq!(telemetry_rows, sent.len(), "each sample once in the export");
    let _ = std::fs::remove_dir_all(&root);
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}
