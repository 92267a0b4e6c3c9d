//! The headset app against a real OpenXR runtime: Monado, built from the
//! snapshot in `../shared/xr/` by `./x test` (which sets
//! `TRINVIS_XR_RUNTIME_JSON` to its manifest and `TRINVIS_REQUIRE_XR=1`),
//! with its null compositor (a display at 20 Hz, no GPU) and its simulated
//! headset and controllers. Run bare without a runtime, the tests that need
//! one say they are skipped; under `TRINVIS_REQUIRE_XR=1` they fail instead.
//!
//! Counting frames in Monado's log (`XRT_COMPOSITOR_LOG=trace`): each
//! `RELEASE_IMAGE` is a frame the app rendered and handed over; each
//! `LAYER_COMMIT` is a frame the runtime's compositor showed, at its own
//! pace, whether or not the app had a new one.
//!
//! The runtime's tests run one at a time: each renders two eyes on the
//! software rasteriser, and two at once would halve both frame rates.

#![cfg(feature = "xr")]
#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use bevy::prelude::*;
use recording::{Channel, Metadata, Writer};
use serde_json::{Value, json};
use support::{Console, applied_level_reaches, command, first_session, root, skipped, subscribe, tail};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The runtime's manifest, when there is one.
fn runtime() -> Option<PathBuf> {
    let manifest = std::env::var_os("TRINVIS_XR_RUNTIME_JSON").map(PathBuf::from).filter(|p| p.exists());
    if manifest.is_none() {
        assert!(
            std::env::var_os("TRINVIS_REQUIRE_XR").is_none(),
            "an OpenXR runtime is required here (TRINVIS_XR_RUNTIME_JSON names none that exists)"
        );
        skipped("no OpenXR runtime (./x test builds Monado from ../shared/xr and sets TRINVIS_XR_RUNTIME_JSON)");
    }
    manifest
}

/// A private runtime folder, as Mesa and Monado want one.
fn runtime_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trinvis-xr-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// The headset app against Monado's simulated headset, with no X11 or
/// Wayland (`display` false), or under Xvfb.
fn headset(manifest: &Path, display: bool, args: &[&str]) -> Command {
    let mut command = if display {
        let mut xvfb = Command::new("xvfb-run");
        xvfb.args(["-a", env!("CARGO_BIN_EXE_trinvis-headset")]);
        xvfb
    } else {
        let mut bare = Command::new(env!("CARGO_BIN_EXE_trinvis-headset"));
        bare.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
        bare
    };
    command
        .args(["--display", "xr"])
        .args(args)
        .current_dir(root())
        .env("XR_RUNTIME_JSON", manifest)
        .env("XRT_COMPOSITOR_NULL", "1")
        .env("SIMULATED_ENABLE", "1")
        .env("SIMULATED_LEFT", "simple")
        .env("SIMULATED_RIGHT", "simple")
        .env("XRT_COMPOSITOR_LOG", "trace")
        .env("XDG_RUNTIME_DIR", runtime_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// What a run printed, both streams, and how it ended. A run still going
/// after `limit` is killed and the test fails with the end of its output.
fn finish_within(mut child: std::process::Child, limit: Duration) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let read = |stream: Option<Box<dyn Read + Send>>| {
        let mut stream = stream.unwrap();
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stream.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = read(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let err = read(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = format!("{}{}", out.join().unwrap(), err.join().unwrap());
    let status = status.unwrap_or_else(|| panic!("still running after {limit:?}:\n{}", tail(&text)));
    (status, text)
}

/// `(frames the app rendered, frames the runtime showed)` in Monado's log.
fn frames(log: &str) -> (usize, usize) {
    let count = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    (count("RELEASE_IMAGE"), count("LAYER_COMMIT"))
}

/// The session in the headset, steered from a real console: the headset's
/// hello lists it, a therapist starts it and raises the target, telemetry
/// follows, and the app ends by itself at `--minutes`. The recording holds
/// one sample per frame the app rendered, with the runtime's frame timing,
/// the simulated headset's motion and both controllers.
#[allow(
    clippy::await_holding_lock,
    reason = "the lock keeps whole tests apart, each on its own runtime; no task of this runtime waits for it"
)]
async fn steered_from_a_console(display: bool) {
    let Some(manifest) = runtime() else { return };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let console = Console::start("xr-e2e").await;
    let url = console.url();
    let args = ["--patient", "synthetic", "--patient-code", "P-0400", "--minutes", "0.5", "--scenario"];
    let app = headset(&manifest, display, &args)
        .arg(root().join("scenarios/spiders.ron"))
        .args(["--console", &url, "--token", &console.headset_token])
        .spawn()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || finish_within(app, Duration::from_secs(120)));

    let mut browser = console.therapist().await;
    let session_id = first_session(&mut browser, Duration::from_secs(60)).await;
    subscribe(&mut browser, &session_id).await;
    assert_eq!(command(&mut browser, &session_id, 1, json!({"type": "start"})).await["ok"], true);
    assert_eq!(command(&mut browser, &session_id, 2, json!({"type": "set_level", "level": 2.0})).await["ok"], true);
    let reached = applied_level_reaches(&mut browser, 2.0, Duration::from_secs(25)).await;
    assert_eq!(reached["step"], 2);

    let (status, log) = output.await.unwrap();
    assert!(status.success(), "{status}\n{}", tail(&log));
    assert!(!log.contains("panicked"), "{}", tail(&log));
    assert!(log.contains("showing the scene in the headset"), "it chose the headset:\n{}", tail(&log));
    assert!(log.contains("xr: session state FOCUSED"), "{}", tail(&log));
    let (rendered, shown) = frames(&log);
    assert!(rendered >= 100, "{rendered} frames rendered in 30 s of session ({shown} shown by the runtime)");
    let r = console.stop().await;

    let samples: Vec<Value> = r.channel(Channel::Telemetry).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    assert_eq!(r.metadata.patient_code, "P-0400");
    let events: Vec<Value> = r.channel(Channel::Events).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    assert!(events.iter().any(|e| e["type"] == "target_changed" && e["to"] == 2.0 && e["by"] == "therapist"));
    // The mirror: the left eye's picture reached the console (at 5 a
    // second by default, recorded once a second).
    let pictures: Vec<recording::image::Picture> =
        r.channel(Channel::Mirror).filter_map(|m| recording::image::read(&m.data)).collect();
    assert_eq!(r.metadata.mirror, "jpeg every 1 s on /mirror");
    assert!(pictures.len() >= 10, "{} pictures of the left eye recorded in 30 s", pictures.len());
    // At most 480 wide; the simulated headset's eye is 320 x 240.
    let size = recording::image::jpeg_size(&pictures[0].jpeg);
    assert!(size.is_some_and(|(w, h)| (100..=480).contains(&w) && h >= 100), "a picture of {size:?}");
    let last = &pictures[pictures.len() - 1].jpeg;
    let _ = std::fs::write(std::env::temp_dir().join(format!("trinvis-xr-left-eye-{display}.jpg")), last);
    // One sample per frame the app ran: the rendered ones, and the few
    // before the runtime's first frame.
    assert!(
        (rendered..=rendered + 20).contains(&samples.len()),
        "{} samples for {rendered} frames rendered",
        samples.len()
    );
    // Frame timing is the runtime's: once it runs, every frame lasts whole
    // display periods (50 ms at the null compositor's 20 Hz), and the
    // periods it missed are counted as dropped.
    let period_ms = 50.0;
    let whole = |s: &Value| {
        let ms = s["frame_ms"].as_f64().unwrap();
        let periods = (ms / period_ms).round();
        periods >= 1.0 && (ms - periods * period_ms).abs() < 0.5 && s["dropped_frames"].as_f64() == Some(periods - 1.0)
    };
    let first = samples.iter().position(whole).unwrap_or_else(|| {
        let seen: Vec<String> =
            samples.iter().take(60).map(|s| format!("{}/{}", s["frame_ms"], s["dropped_frames"])).collect();
        panic!("no frame timed by the runtime; frame_ms/dropped of the first samples: {}", seen.join(" "))
    });
    let timed = &samples[first + 1..];
    assert!(first < 40 && timed.len() >= 100, "runtime timing from sample {first} of {}", samples.len());
    let off: Vec<&Value> = timed.iter().filter(|s| !whole(s)).collect();
    assert!(off.is_empty(), "{} samples not timed by the runtime, e.g. {}", off.len(), off[0]);
    // The head is the simulated headset's, not the synthetic patient's: at
    // its standing eye height (about 1.6 m; the patient at the spider table
    // sits at 1.25 m), and it moves.
    let heads: Vec<[f64; 7]> = timed
        .iter()
        .map(|s| {
            let p = &s["head"]["p"];
            let q = &s["head"]["q"];
            std::array::from_fn(|i| if i < 3 { p[i].as_f64().unwrap() } else { q[i - 3].as_f64().unwrap() })
        })
        .collect();
    let moved = (0..7)
        .map(|i| {
            heads.iter().map(|h| h[i]).fold(f64::MIN, f64::max) - heads.iter().map(|h| h[i]).fold(f64::MAX, f64::min)
        })
        .fold(0.0, f64::max);
    assert!(moved > 0.01, "the head did not follow the simulated headset (moved {moved})");
    let low = heads.iter().map(|h| h[1]).fold(f64::MAX, f64::min);
    assert!(low > 1.4, "the head went down to {low} m: not the simulated headset's");
    // Both controllers' poses are in every sample once tracked.
    for hand in ["left_hand", "right_hand"] {
        let with = timed.iter().filter(|s| s[hand]["p"].is_array()).count();
        assert!(with * 10 >= timed.len() * 9, "{hand} in {with} of {} samples", timed.len());
    }
    println!(
        "{} samples, {rendered} frames rendered, {shown} shown by the runtime, head moved {moved:.3}, {} pictures of the left eye ({size:?})",
        samples.len(),
        pictures.len()
    );
}

/// A headset machine with no desktop: no window, no X11, no Wayland.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_display_the_headset_is_steered_from_the_console() {
    steered_from_a_console(false).await;
}

/// A desktop machine with a headset: the app also has its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_display_the_headset_is_steered_from_the_console() {
    if Command::new("xvfb-run").arg("--help").output().is_err() {
        assert!(std::env::var_os("TRINVIS_REQUIRE_RENDER").is_none(), "xvfb-run is required here");
        skipped("xvfb-run missing (apt-get install xvfb)");
        return;
    }
    steered_from_a_console(true).await;
}

/// Ten seconds at 10 Hz, the level climbing from 1 to 6.
fn recording_file(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = Writer::new(file, &Metadata::example()).unwrap();
    for i in 0..=100u64 {
        let session_us = i * 100_000;
        let level = 1.0 + 5.0 * i as f64 / 100.0;
        let sample = json!({
            "t_us": 5_000_000 + session_us, "session_us": session_us,
            "head": {"p": [0.0, 1.25, 0.15], "q": [0.0, 0.0, 0.0, 1.0]},
            "gaze": [0.0, 0.0, -1.0], "gaze_on_stimulus": true, "stimulus_angle_deg": 3.0,
            "state": "running", "target_level": level, "applied_level": level, "step": level as u16,
            "safe_blend": 0.0, "frame_ms": 11.1, "dropped_frames": 0
        });
        writer.write(Channel::Telemetry, 1_000_000 + session_us, sample.to_string().as_bytes()).unwrap();
    }
    writer.finish().unwrap();
}

/// `--replay FILE --display xr`: the recording plays in the headset, with no
/// display, from start to end, and the app ends with it.
#[test]
fn a_recording_replays_in_the_headset() {
    let Some(manifest) = runtime() else { return };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = std::env::temp_dir().join(format!("trinvis-xr-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("session.mcap");
    recording_file(&file);
    let app =
        headset(&manifest, false, &["--scenario", "scenarios/spiders.ron", "--replay"]).arg(&file).spawn().unwrap();
    let (status, log) = finish_within(app, Duration::from_secs(60));
    assert!(status.success(), "{status}\n{}", tail(&log));
    assert!(log.contains("showing the replay in the headset"), "{}", tail(&log));
    let end = log
        .lines()
        .find(|l| l.contains("replay: the end of the recording"))
        .unwrap_or_else(|| panic!("{}", tail(&log)));
    assert!(end.contains("(0:10)") && end.contains("at level 6.00"), "{end}");
    let (rendered, _) = frames(&log);
    assert!(rendered >= 20, "{rendered} frames rendered in a 10 s replay");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Focus lost and back, fed to the focus handler as the runtime reports it
/// (VISIBLE, FOCUSED, VISIBLE behind the system menu, FOCUSED again), in
/// the real app with a real console: the running session pauses, stays
/// paused when focus comes back, and the console records both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_focus_pauses_the_session_and_the_console_sees_it() {
    use headset::xr::{FocusPlugin, XrSessionStateSeen};
    use openxr::SessionState;
    let console = Console::start("xr-focus").await;
    let text = std::fs::read_to_string(root().join("scenarios/spiders.ron")).unwrap();
    let config = headset::HeadsetConfig {
        console: Some((
            console.url(),
            headset::console::Access::Token { token: console.headset_token.clone(), fingerprint: None },
        )),
        initial_level: Some(1.0),
        ..headset::HeadsetConfig::headless(scenario::parse(&text, "spiders.ron").unwrap(), &text)
    };
    let states = tokio::task::spawn_blocking(move || {
        let mut app = headset::build_app(config);
        app.add_plugins(FocusPlugin);
        let mut seen = Vec::new();
        let run = |app: &mut App, frames: u32| {
            for _ in 0..frames {
                app.update();
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        run(&mut app, 20);
        for (next, frames) in [
            (SessionState::VISIBLE, 5),
            (SessionState::FOCUSED, 5),
            (SessionState::VISIBLE, 5),
            (SessionState::FOCUSED, 5),
        ] {
            app.world_mut().write_message(XrSessionStateSeen(next));
            run(&mut app, frames);
            seen.push(app.world().resource::<headset::engine::Engine>().session.state());
        }
        // Time for the link to hand everything to the console.
        run(&mut app, 200);
        drop(app);
        seen
    })
    .await
    .unwrap();
    use session::State::{Paused, Running};
    assert_eq!(states, [Running, Running, Paused, Paused], "after VISIBLE, FOCUSED, VISIBLE, FOCUSED");
    let r = console.stop().await;
    let events: Vec<Value> = r.channel(Channel::Events).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let lost = kinds.iter().position(|k| *k == "focus_lost").unwrap_or_else(|| panic!("no focus_lost in {kinds:?}"));
    assert!(kinds[lost..].contains(&"focus_restored"), "{kinds:?}");
    assert!(
        events.iter().any(|e| e["type"] == "state_changed" && e["to"] == "paused"),
        "the console saw the pause: {kinds:?}"
    );
}
