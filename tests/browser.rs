//! The therapist's page in a real browser: headless Chromium driven through
//! chromedriver (WebDriver), against a real console on loopback with
//! simulated headsets (synthetic patients through the real link, 90 Hz).
//!
//! Checks that the page lists the session; that the dial, the safe-scene
//! button and a marker reach the headset (read back from the recording);
//! that a headset's disconnect shows; that a recording replays with its
//! timeline. Screenshots go to `<target>/browser-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install chromium
//! chromium-driver`, which `./x test` does as root). Run bare without them,
//! these tests say so and pass; with TRINVIS_REQUIRE_BROWSER=1 they fail.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use link::{Bridge, Clock, Link, LinkConfig};
use protocol::{Pose, Sample, ScenarioRef, StepInfo};
use recording::{Channel, Recording};
use serde_json::Value;
use sim::{SimConfig, Simulation};
use support::Console;
use support::webdriver::{Browser, Driver};

/// Where screenshots go: next to the build, so every run keeps its latest.
fn screenshots() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| trinvis_tests::root().join("target"));
    target.join("browser-screenshots")
}

/// A simulated headset on its own thread: a synthetic patient at 90 Hz,
/// steered only from the console. Stopping it drops the link: a disconnect.
struct Headset {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Headset {
    fn start(console: &Console, patient_code: &str, seed: u64) -> Headset {
        let id = format!("browser-{patient_code}");
        Headset::start_at(&format!("ws://{}", console.addr), &console.headset, None, &id, patient_code, seed)
    }

    /// A headset reaching the console at `url` with `token` (the shared
    /// token or its own credential), pinning `fingerprint` over wss://.
    fn start_at(
        url: &str,
        token: &str,
        fingerprint: Option<&str>,
        headset_id: &str,
        patient_code: &str,
        seed: u64,
    ) -> Headset {
        let file = trinvis_tests::root().join("scenarios/spiders.ron");
        let text = std::fs::read_to_string(&file).unwrap();
        let scenario = scenario::parse(&text, "spiders.ron").unwrap();
        let clock = Clock::new();
        let scenario_ref =
            ScenarioRef { id: scenario.id.clone(), version: scenario.version.clone(), sha256: "00".into() };
        let mut config = LinkConfig::new(url, token, headset_id, patient_code, scenario_ref, clock);
        config.steps = scenario.steps.iter().map(|s| StepInfo { id: s.id.clone(), title: s.title.clone() }).collect();
        config.fingerprint = fingerprint.map(str::to_owned);
        // It sends mirror pictures at the rate the console asks for: a grey
        // that darkens with the step, 480 x 270 like the headset app's.
        config.mirror = true;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut link = Link::start(config);
            let sim_config = SimConfig {
                seed,
                simulated_therapist: false,
                duration: Duration::from_secs(3600),
                ..SimConfig::default()
            };
            let mut sim = Simulation::new(scenario, sim_config);
            let mut bridge = Bridge::new();
            let frame = Duration::from_secs_f64(1.0 / 90.0);
            let epoch_us = clock.now_us();
            let mut next = Instant::now();
            let mut last = Instant::now();
            let (mirror, mut pictures, mut last_picture) = (link.mirror(), 0u32, Instant::now());
            while !stopping.load(Ordering::Relaxed) && !sim.finished() {
                let out = sim.step();
                let now = sim.now();
                let session = sim.session();
                let frame_ms = last.elapsed().as_secs_f32() * 1000.0;
                last = Instant::now();
                link.push_sample(sample_of(&out, session, epoch_us + now.as_micros() as u64, frame_ms));
                let fps = mirror.fps();
                if fps > 0 && last_picture.elapsed().as_secs_f64() >= 1.0 / f64::from(fps) {
                    last_picture = Instant::now();
                    pictures += 1;
                    let shade = 200u8.saturating_sub(15 * session.step() as u8);
                    let t_us = epoch_us + now.as_micros() as u64;
                    mirror.send(support::mirror_frame(t_us, now.as_micros() as u64, pictures, 480, 270, shade));
                }
                bridge.exchange(&mut link, sim.session_mut(), now);
                next += frame;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Headset { stop, thread: Some(thread) }
    }

    /// The headset goes away (its link is dropped with it).
    fn kill(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Headset {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The telemetry sample of a synthetic patient's frame, sent at headset time `t_us`.
fn sample_of(out: &patient::Output, session: &session::Session, t_us: u64, frame_ms: f32) -> Sample {
    let [x, y, z, w] = out.head_rotation.to_array();
    let gaze = [-2.0 * (x * z + w * y), -2.0 * (y * z - w * x), -(1.0 - 2.0 * (x * x + y * y))];
    Sample {
        t_us,
        session_us: session.now().as_micros() as u64,
        head: Pose { p: out.head_position.to_array(), q: [x, y, z, w] },
        left_hand: None,
        right_hand: None,
        gaze,
        gaze_on_stimulus: out.gaze_on_stimulus,
        stimulus_angle_deg: out.angle_to_stimulus_deg as f32,
        stimulus_distance_m: Some(1.5),
        stimulus_p: None,
        state: link::state_to_wire(session.state()),
        target_level: session.target_level() as f32,
        applied_level: session.applied_level() as f32,
        step: session.step() as u16,
        safe_blend: session.safe_blend() as f32,
        frame_ms,
        dropped_frames: 0,
        heart_rate: Some(out.heart_rate as f32),
    }
}

fn wait() -> Duration {
    Duration::from_secs(15)
}

/// The events of a recording's `/events` channel as JSON.
fn events(recording: &Recording) -> Vec<Value> {
    channel(recording, Channel::Events)
}

fn channel(recording: &Recording, channel: Channel) -> Vec<Value> {
    recording
        .messages
        .iter()
        .filter(|m| m.channel == channel)
        .map(|m| serde_json::from_slice(&m.data).unwrap())
        .collect()
}

fn state_text(page: &Driver) -> String {
    page.text("#state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_page_steers_a_simulated_headset_and_replays_its_recording() {
    let Some(browser) = Browser::find() else { return };
    let console = Console::start(|_| {}).await;
    let headset = Headset::start(&console, "SIM-A", 1);
    let page = browser.start(1400, 1250);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));

    // The session is listed, with the scenario's step titles on the dial.
    page.wait_until("the session in the list", wait(), |p| p.text("#sessions").contains("SIM-A"));
    assert!(page.text("#sessions").contains("spiders"), "{}", page.text("#sessions"));
    page.wait_until("a step title", wait(), |p| p.text("#step").contains("1 of 10"));

    // Start, then the dial: a click at 40 % of its width aims for about step 4.6.
    page.click("#start");
    page.wait_until("running", wait(), |p| state_text(p) == "running");
    page.click_at("#dial", 0.4);
    // More than one step at once is asked first, naming the step.
    page.wait_until("the question", wait(), |p| p.script("return document.getElementById('question').open") == true);
    assert!(
        page.text("#question-text").contains("step 4 of 10") || page.text("#question-text").contains("step 5 of 10")
    );
    page.click("#question-yes");
    page.wait_until("the target to rise", wait(), |p| p.text("#target").parse::<f64>().unwrap_or(0.0) > 3.0);

    // A marker, typed and sent.
    page.type_into("#marker-label", "spider moved");
    page.click("#marker");
    page.wait_until("the marker in the event log", wait(), |p| p.text("#log").contains("spider moved"));

    // The safe-scene button.
    page.click("#safe");
    page.wait_until("the safe scene", wait(), |p| state_text(p) == "safe scene");
    std::thread::sleep(Duration::from_millis(1500));
    let shots = screenshots();
    page.screenshot(&shots.join("console-live.png"));

    // Stop asks first: dismissed, nothing happens.
    page.click("#stop");
    page.click("#confirm-no");
    after_a_marker(&page, "stop dismissed");
    assert_eq!(state_text(&page), "safe scene");

    // The headset goes away: the page says so.
    headset.kill();
    page.wait_until("the disconnect", wait(), |p| {
        p.text("#sessions").contains("disconnected") && p.text("#banner").contains("disconnected")
    });
    assert_eq!(state_text(&page), "offline");
    page.screenshot(&shots.join("console-disconnected.png"));

    // Everything reached the headset: it is in the recording.
    let dir = console.dir.clone();
    let recordings = console.stop().await;
    assert_eq!(recordings.len(), 1);
    let recorded = &recordings[0];
    let commands: Vec<String> = channel(recorded, Channel::Commands)
        .iter()
        .map(|c| c["command"]["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(commands, ["start", "set_level", "marker", "safe_scene", "marker"], "no stop: it was dismissed");
    let set_level = &channel(recorded, Channel::Commands)[1]["command"]["level"];
    assert!((4.0..5.2).contains(&set_level.as_f64().unwrap()), "the dial at 40 %: {set_level}");
    let events = events(recorded);
    let has = |kind: &str, check: &dyn Fn(&Value) -> bool| events.iter().any(|e| e["type"] == kind && check(e));
    assert!(has("target_changed", &|e| e["by"] == "therapist" && e["to"].as_f64().unwrap() > 4.0));
    assert!(has("marker", &|e| e["label"] == "spider moved"));
    assert!(has("safe_scene_entered", &|e| e["cause"] == "therapist"));
    assert_eq!(channel(recorded, Channel::Acks).iter().filter(|a| a["ok"] == true).count(), 5);

    // The same recording replayed: the timeline moves, commands are refused.
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let recording = Recording::open(&file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let timeline = console::replay::Timeline::new(&recording, &name);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = console::Config::new(dir.clone());
    let token = config.therapist_token.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(console::serve_replay(listener, config, timeline, async {
        let _ = stopped.await;
    }));
    page.goto(&format!("http://{addr}/?token={token}"));
    page.wait_until("the timeline", wait(), |p| p.text("#position").contains(" / "));
    assert!(page.text("#sessions").contains("SIM-A"));
    page.click("#play");
    page.wait_until("the replay to reach the safe scene", Duration::from_secs(60), |p| state_text(p) == "safe scene");
    page.click("#safe");
    page.wait_until("the replay refusal", wait(), |p| p.text("#toasts").contains("replay"));
    page.screenshot(&shots.join("console-replay.png"));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    println!("screenshots in {}", shots.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_keyboard_shortcuts_steer_the_session() {
    let Some(browser) = Browser::find() else { return };
    let console = Console::start(|_| {}).await;
    let _headset = Headset::start(&console, "SIM-K", 2);
    let page = browser.start(1400, 1000);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));
    page.wait_until("the session in the list", wait(), |p| p.text("#sessions").contains("SIM-K"));
    page.wait_until("a step title", wait(), |p| p.text("#step").contains("1 of 10"));
    let target = |p: &Driver| p.text("#target").parse::<f64>().unwrap_or(0.0);

    page.press(" ");
    page.wait_until("Space to start", wait(), |p| state_text(p) == "running");
    page.press("\u{E013}"); // ArrowUp
    page.wait_until("Up to raise the level by a half", wait(), |p| (target(p) - 1.5).abs() < 0.01);
    page.press("n");
    page.wait_until("N to go to the next step", wait(), |p| target(p) >= 2.0);
    page.press("q");
    // The log names who asked: this page, through the console's notice of its command.
    page.wait_until("Q to ask for a rating", wait(), |p| p.text("#log").contains("Asked for a SUDS rating (by you)"));
    page.press("s");
    page.wait_until("S for the safe scene", wait(), |p| state_text(p) == "safe scene");

    let recordings = console.stop().await;
    let commands: Vec<String> = channel(&recordings[0], Channel::Commands)
        .iter()
        .map(|c| c["command"]["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(commands, ["start", "set_level", "next_step", "request_suds", "safe_scene"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn four_sessions_at_90_hz_with_mirrors_at_5_a_second_frame_times() {
    let Some(browser) = Browser::find() else { return };
    let console = Console::start(|_| {}).await;
    let headsets: Vec<Headset> = (0..4).map(|i| Headset::start(&console, &format!("SIM-{}", i + 1), 10 + i)).collect();
    let page = browser.start(1400, 1250);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));
    page.wait_until("four sessions", wait(), |p| p.text("#sessions").matches("SIM-").count() == 4);
    page.click("#start");
    page.wait_until("running", wait(), |p| state_text(p) == "running");
    std::thread::sleep(Duration::from_secs(2));
    page.script("window.trinvisStats.reset(); return null;");
    std::thread::sleep(Duration::from_secs(10));
    let stats = page.script("return window.trinvisStats.summary();");
    let pictures = page.script("return window.trinvisStats.mirrorFrames;");
    println!(
        "page with 4 sessions at 90 Hz and their mirrors at 5/s, 10 s: {stats}; pictures since the start: {pictures}"
    );
    let out = screenshots();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("frame-times.json"), stats.to_string()).unwrap();
    // Not timings (they depend on the machine): that it drew no more often
    // than frames came, and that about 4 × 90 samples a second arrived.
    let (frames, draws, samples) =
        (stats["frames"].as_u64().unwrap(), stats["draws"].as_u64().unwrap(), stats["samples"].as_u64().unwrap());
    assert!(frames > 0 && draws <= frames, "{stats}");
    assert!(samples > 4 * 90 * 5, "{stats}");
    // Every session's pictures reach the page (the shown one is decoded).
    let per_session: Vec<u64> = pictures.as_object().unwrap().values().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(per_session.len(), 4, "{pictures}");
    assert!(per_session.iter().all(|n| *n >= 5 * 5), "fewer than 5 pictures a second for 5 s: {pictures}");
    assert!(page.script("return window.trinvisStats.mirrorShown;").as_u64().unwrap() > 0);
    drop(headsets);
    drop(page);
    console.stop().await;
}

/// Waits for a positive event instead of "nothing happened" after a fixed
/// sleep: sends a marker labelled `label` and waits until it is in the
/// page's log and a sample from after it has come. The headset carries out
/// commands in order, so whatever was sent before has happened by then (or
/// never will).
fn after_a_marker(page: &Driver, label: &str) {
    page.type_into("#marker-label", &format!("{label}\u{E007}"));
    page.wait_until(&format!("the marker “{label}”"), wait(), |p| p.text("#log").contains(label));
    let newer = format!(
        "const s = state.sessions.get(state.current); const m = s.markers.find((m) => m.label === '{label}'); \
         return !!m && s.last.session_us / 1e6 > m.t;"
    );
    page.wait_until("a sample after the marker", wait(), |p| p.script(&newer) == true);
}

fn disabled(page: &Driver, id: &str) -> bool {
    page.script(&format!("return document.getElementById('{id}').disabled")) == true
}

fn dialog_open(page: &Driver) -> bool {
    page.script("return document.getElementById('question').open") == true
}

/// A console restart: the page says it lost the console, then shows the
/// same session going on (same id, its state, the safe-scene key works).
/// A console that comes back without the session: the page drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_page_follows_a_console_restart_and_drops_sessions_that_are_gone() {
    let Some(browser) = Browser::find() else { return };
    let root = std::env::temp_dir().join(format!("trinvis-page-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (dir, data) = (root.join("recordings"), root.join("data"));
    let kept = data.clone();
    let console = Console::start_at("127.0.0.1:0", dir.clone(), |c| c.data = Some(kept)).await;
    let (address, therapist, headset_token) =
        (console.addr.to_string(), console.therapist.clone(), console.headset.clone());
    let headset = Headset::start(&console, "SIM-R", 3);
    let page = browser.start(1400, 1000);
    page.goto(&format!("http://{address}/?token={therapist}"));
    page.wait_until("the session in the list", wait(), |p| p.text("#sessions").contains("SIM-R"));
    page.click("#start");
    page.wait_until("running", wait(), |p| state_text(p) == "running");
    page.press("n");
    page.wait_until("step 2", wait(), |p| p.text("#step").starts_with("2 of 10"));
    let session = page.script("return state.current");

    console.stop().await;
    page.wait_until("the lost console said", wait(), |p| p.text("#banner").contains("console connection is lost"));
    let same = |c: &mut console::Config| {
        c.data = Some(data.clone());
        c.therapist_token.clone_from(&therapist);
        c.headset_token.clone_from(&headset_token);
    };
    let console = Console::start_at(&address, dir.clone(), same).await;
    page.wait_until("the session going on after the restart", Duration::from_secs(30), |p| {
        p.text("#console-link") == "console connected"
            && p.text("#sessions").contains("connected")
            && !p.text("#sessions").contains("disconnected")
    });
    assert_eq!(page.script("return state.current"), session, "the same session, still selected");
    assert_eq!(page.text("#sessions").matches("SIM-R").count(), 1, "{}", page.text("#sessions"));
    page.press("s");
    page.wait_until("S to reach the headset after the restart", wait(), |p| state_text(p) == "safe scene");
    // The session's second file is told apart from its first in the list.
    page.click("#refresh-recordings");
    page.wait_until("the part in the recordings list", wait(), |p| p.text("#recordings").contains("· part 2"));
    page.wait_until("the safe place in the header", wait(), |p| {
        p.text("#step").starts_with("Safe place — exposure paused at step 2")
    });
    headset.kill();
    console.stop().await;

    // Back without its session table: what the page showed is gone.
    let fresh = root.join("fresh");
    let tokens = |c: &mut console::Config| {
        c.data = Some(fresh);
        c.therapist_token.clone_from(&therapist);
        c.headset_token.clone_from(&headset_token);
    };
    let console = Console::start_at(&address, dir.clone(), tokens).await;
    page.wait_until("the vanished session dropped", Duration::from_secs(30), |p| {
        p.text("#console-link") == "console connected" && p.text("#sessions").contains("No headset connected yet")
    });
    assert!(page.text("#empty").contains("Waiting for a headset"));
    console.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}

/// What the page shows is what is true, and its controls only do what
/// can be done now: buttons by state, the dial's big jumps asked first,
/// automatic mode confirmed and shown, keys that stay with their patient,
/// keys that work after typing, the safe scene described as such, and a
/// normal end that looks like one and still takes notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_page_tells_the_truth_and_guards_its_controls() {
    let Some(browser) = Browser::find() else { return };
    let console = Console::start(|_| {}).await;
    let first = Headset::start(&console, "SIM-T", 4);
    let page = browser.start(1400, 1100);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));
    page.wait_until("a step title", wait(), |p| p.text("#step").contains("1 of 10"));
    assert!(!disabled(&page, "start") && disabled(&page, "pause") && disabled(&page, "resume"), "waiting");

    // Keys stay with their patient when another headset connects.
    let _second = Headset::start(&console, "SIM-U", 5);
    page.wait_until("the second session", wait(), |p| p.text("#sessions").contains("SIM-U"));
    let first_listed = || page.script("return document.querySelector('#sessions li .code').textContent");
    assert_eq!(first_listed(), "SIM-T", "key 1 stays with the first patient");
    page.press("1");

    page.press(" ");
    page.wait_until("running", wait(), |p| state_text(p) == "running");
    page.wait_until("buttons for running", wait(), |p| disabled(p, "start") && !disabled(p, "pause"));

    // The dial near its end: asked first, and Cancel leaves the target.
    page.click_at("#dial", 0.97);
    page.wait_until("the question", wait(), dialog_open);
    assert!(page.text("#question-text").contains("step 10 of 10"), "{}", page.text("#question-text"));
    page.click("#question-no");
    after_a_marker(&page, "jump cancelled");
    assert_eq!(page.text("#target"), "1.00", "Cancel sent nothing");

    // Automatic mode: confirmed, then shown in the header.
    page.click("#automatic");
    page.wait_until("the automatic question", wait(), dialog_open);
    page.click("#question-yes");
    page.wait_until("the automatic indicator", wait(), |p| p.text("#auto-pill").contains("automatic"));

    // After typing a marker and Enter, S is the safe scene again.
    page.type_into("#marker-label", "closer\u{E007}");
    page.wait_until("the marker", wait(), |p| p.text("#log").contains("closer"));
    page.press("s");
    page.wait_until("S for the safe scene", wait(), |p| state_text(p) == "safe scene");
    page.wait_until("the safe place in the header", wait(), |p| {
        p.text("#step").starts_with("Safe place — exposure paused at step 1")
    });
    assert_eq!(page.text("#gaze"), "–", "no gaze figure behind the safe scene");
    assert_eq!(page.script("return document.getElementById('marker-label').value"), "", "no “s” typed");
    let on_step = page.text("#on-step");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(page.text("#on-step"), on_step, "time on step stands still in the safe scene");
    assert!(!disabled(&page, "resume") && disabled(&page, "pause"));
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();
    page.screenshot(&shots.join("console-safe-scene.png"));

    // A normal end: "ended", no disconnect alarm, notes still taken.
    page.click("#stop");
    page.click("#confirm-yes");
    page.wait_until("ended", wait(), |p| state_text(p) == "ended");
    first.kill();
    page.wait_until("the headset gone", wait(), |p| p.text("#sessions").contains("headset left"));
    assert_eq!(state_text(&page), "ended");
    assert!(!page.text("#banner").contains("disconnected"), "{}", page.text("#banner"));
    assert!(page.text("#banner").contains("ended"), "{}", page.text("#banner"));
    page.type_into("#note-text", "calmer at the end");
    page.click("#note-form button");
    page.wait_until("the note after the end", wait(), |p| p.text("#log").contains("calmer at the end"));
    page.type_into("#outcome-text", "less fear than expected");
    page.click("#outcome-form button");
    page.wait_until("the outcome after the end", wait(), |p| p.text("#log").contains("less fear than expected"));
    assert!(!page.text("#toasts").contains("refused"), "{}", page.text("#toasts"));
    assert!(disabled(&page, "safe"), "nothing left to send to the safe scene");
    page.script("window.scrollTo(0, 0); return null;");
    page.screenshot(&shots.join("console-ended.png"));

    let recordings = console.stop().await;
    let ours: Vec<&Recording> = recordings.iter().filter(|r| r.metadata.patient_code == "SIM-T").collect();
    let all: Vec<Value> = ours.iter().flat_map(|r| events(r)).collect();
    let note = all.iter().find(|e| e["type"] == "note").expect("the note is in the session's record");
    assert_eq!(note["text"], "calmer at the end");
    assert_eq!(note["by"], "console");
    let highest = all.iter().filter(|e| e["by"] != "console").map(|e| e["seq"].as_u64().unwrap()).max().unwrap();
    assert!(note["seq"].as_u64().unwrap() > highest, "it goes on from the session's log");
    assert!(all.iter().any(|e| e["type"] == "outcome" && e["text"] == "less fear than expected"));
    let commands: Vec<Value> = ours.iter().flat_map(|r| channel(r, Channel::Commands)).collect();
    assert!(
        !commands.iter().any(|c| c["command"]["type"] == "set_level"),
        "the dismissed jump sent nothing: {commands:?}"
    );
}

/// Alerts that last: an avoidance episode stays on screen until it is
/// acknowledged, is counted, and becomes a marker in the record; a rating
/// asked for shows as awaited until it comes, then with its age; events
/// read as sentences; the link's numbers wait behind "Link details".
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn alerts_last_until_acknowledged_and_events_read_as_words() {
    let Some(browser) = Browser::find() else { return };
    let console = Console::start(|_| {}).await;
    let mut headset = console.raw_headset().await;
    support::send(&mut headset, support::hello(None)).await;
    support::next_of(&mut headset, "welcome").await;
    let page = browser.start(1400, 1000);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));
    page.wait_until("the session", wait(), |p| p.text("#sessions").contains("P-0001"));
    // A second page on the same session: the console detects the episode
    // once, for both.
    let other = browser.start(1400, 1000);
    other.goto(&format!("http://{}/?token={}", console.addr, console.therapist));
    other.wait_until("the session", wait(), |p| p.text("#sessions").contains("P-0001"));

    // 9 s of running at 90 Hz: looking away from 1 s to 7 s, then back.
    let event = |seq: u64, at_us: u64, kind: &str, extra: Value| {
        let mut e = serde_json::json!({"seq": seq, "at_us": at_us, "type": kind});
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        seq
    };
    let batch = serde_json::json!({"type": "events", "seq": next(), "events": [
        event(0, 0, "state_changed", serde_json::json!({"from": "waiting", "to": "running", "by": "therapist"})),
        event(1, 0, "step_entered", serde_json::json!({"step": 1, "id": "bowl"})),
        event(2, 100_000, "suds_requested", serde_json::json!({"by": "therapist"})),
    ]});
    support::send(&mut headset, batch).await;
    let start = Instant::now();
    let mut frame = 0u64;
    while frame < 9 * 90 {
        let mut samples = Vec::new();
        for _ in 0..9 {
            let t = 1_000_000 + frame * 11_111;
            let mut s = support::sample(t, protocol::SessionState::Running, 1.0);
            s.session_us = frame * 11_111;
            s.gaze_on_stimulus = !(90..7 * 90).contains(&frame);
            samples.push(serde_json::to_value(s).unwrap());
            frame += 1;
        }
        support::send(&mut headset, serde_json::json!({"type": "telemetry", "seq": next(), "samples": samples})).await;
        let due = start + Duration::from_micros(frame * 11_111);
        tokio::time::sleep_until(due.into()).await;
        if frame == 3 * 90 {
            assert!(page.text("#suds-age").contains("awaiting answer"), "{}", page.text("#suds-age"));
            // No page sent it (a bare headset did): no page is named.
            assert!(page.text("#log").contains("Asked for a SUDS rating (by the therapist)"), "{}", page.text("#log"));
        }
    }
    page.wait_until("the avoidance alert", wait(), |p| p.text("#alert").contains("episode 1"));
    other.wait_until("the avoidance alert in the other page", wait(), |p| p.text("#alert").contains("episode 1"));
    assert!(page.text("#alert").contains("now back"), "it stays after the patient looks back: {}", page.text("#alert"));
    let batch = serde_json::json!({"type": "events", "seq": next(), "events": [
        event(3, 8_000_000, "suds_recorded", serde_json::json!({"value": 40, "by": "patient"})),
    ]});
    support::send(&mut headset, batch).await;
    page.wait_until("the rating with its age", wait(), |p| {
        p.text("#suds") == "40" && p.text("#suds-age").contains("ago")
    });
    assert!(page.text("#log").contains("SUDS 40 (patient)"), "{}", page.text("#log"));
    assert!(page.text("#log").contains("Session started (by the therapist)"), "{}", page.text("#log"));
    assert_eq!(page.script("return document.getElementById('link-details').open"), false);
    assert!(page.text("#sees").contains("Patient sees step 1"), "{}", page.text("#sees"));
    // Telemetry stops for 10 s and comes back: the chart shows a gap, not a line across it.
    let segments = |p: &Driver| p.script("return state.sessions.get(state.current).chartSegments").as_u64();
    assert_eq!(segments(&page), Some(1), "one line before the gap");
    let samples: Vec<Value> = (0..90u64)
        .map(|i| {
            let mut s = support::sample(20_000_000 + i * 11_111, protocol::SessionState::Running, 1.0);
            s.session_us = 19_000_000 + i * 11_111;
            serde_json::to_value(s).unwrap()
        })
        .collect();
    support::send(&mut headset, serde_json::json!({"type": "telemetry", "seq": next(), "samples": samples})).await;
    page.wait_until("the gap drawn as a gap", wait(), |p| segments(p) == Some(2));
    page.click("#alert-ack");
    page.wait_until("the alert acknowledged", wait(), |p| {
        p.script("return document.getElementById('alert').hidden") == true
    });
    // Acknowledged once, for every page, saying who.
    other.wait_until("the alert acknowledged in the other page", wait(), |p| {
        p.script("return document.getElementById('alert').hidden") == true
            && p.text("#log").contains("Avoidance episode 1 acknowledged by page")
    });
    assert!(page.text("#log").contains("Avoidance episode 1 acknowledged by you"), "{}", page.text("#log"));
    drop(headset);
    let recordings = console.stop().await;
    let markers: Vec<String> = channel(&recordings[0], Channel::Commands)
        .iter()
        .filter(|c| c["command"]["type"] == "marker")
        .map(|c| c["command"]["label"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(markers.len(), 1, "one episode, two pages, one marker: {markers:?}");
    assert!(markers[0].starts_with("avoidance episode 1"), "{markers:?}");
}

/// The clinic's setup, end to end: a console on every interface (so TLS is
/// on), reached only through 127.0.0.1. A simulated headset pairs with a
/// code typed into the real page and runs its session over WSS, pinning
/// the certificate it paired over; revoking the credential on the page
/// disconnects the headset; five wrong codes lock pairing, for the right
/// code too. (Plain WS and a wrong fingerprint: `hardening.rs`, no browser.)
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_console_on_the_network_pairs_a_headset_through_the_page_and_serves_only_tls() {
    let Some(browser) = Browser::find() else { return };
    let dir = std::env::temp_dir().join(format!("trinvis-clinic-{}-{}", std::process::id(), console::new_token()));
    let data = dir.join("console-data");

    let identity = console::tls::load_or_create(&data, &[]).unwrap();
    let fingerprint = identity.fingerprint.clone();
    let (tls, kept) = (identity.clone(), data.clone());
    let console = Console::start_at("0.0.0.0:0", dir.clone(), move |c| {
        c.tls = Some(tls);
        c.data = Some(kept);
    })
    .await;
    assert!(console.addr.ip().is_unspecified());
    let here = format!("127.0.0.1:{}", console.addr.port());

    // The therapist's page over HTTPS (the self-signed certificate accepted,
    // as a therapist does after comparing the fingerprint the console printed).
    let page = browser.start_with(1400, 1250, true);
    page.goto(&format!("https://{here}/?token={}", console.therapist));
    page.wait_until("the page connected", wait(), |p| p.text("#console-link").contains("console connected"));
    page.wait_until("the console's fingerprint", wait(), |p| p.text("#pair-fingerprint").contains(&fingerprint));

    // The headset asks to pair and shows its code (here: hands it over).
    let (codes, code) = std::sync::mpsc::channel();
    let console_url = format!("wss://{here}");
    let pairing = std::thread::spawn(move || {
        link::pair::pair_blocking(&console_url, "clinic-vr-pc", |c| codes.send(c.clone()).unwrap(), || false)
    });
    let shown = code.recv_timeout(wait()).unwrap();
    assert_eq!(shown.code.len(), 6);
    assert_eq!(shown.fingerprint.as_deref(), Some(fingerprint.as_str()), "the headset shows the console's fingerprint");
    page.wait_until("the waiting headset", wait(), |p| p.text("#pair-waiting").contains("clinic-vr-pc"));

    // A mistyped code first: refused, with the tries left.
    let typo = if shown.code == "000000" { "000001" } else { "000000" };
    page.type_into("#pair-code", typo);
    page.click("#pair");
    page.wait_until("the refusal", wait(), |p| p.text("#pair-result").contains("no headset shows this code"));
    page.script("document.getElementById('pair-code').value = ''");
    page.type_into("#pair-code", &shown.code);
    page.screenshot(&screenshots().join("console-pairing.png"));
    page.click("#pair");
    page.wait_until("paired", wait(), |p| p.text("#pair-result").contains("Paired"));
    let credentials = pairing.join().unwrap().unwrap();
    assert_eq!(credentials.fingerprint.as_deref(), Some(fingerprint.as_str()), "trust on first use: pinned");
    page.wait_until("the headset in the list", wait(), |p| p.text("#headsets").contains("clinic-vr-pc"));

    // Its session over WSS, with its own credential and the pinned fingerprint.
    let headset = Headset::start_at(
        &credentials.console,
        &credentials.credential,
        credentials.fingerprint.as_deref(),
        &credentials.headset_id,
        "P-CLINIC",
        3,
    );
    page.wait_until("the session in the list", wait(), |p| p.text("#sessions").contains("P-CLINIC"));
    page.wait_until("a step title", wait(), |p| p.text("#step").contains("1 of 10"));
    page.click("#start");
    page.wait_until("running", wait(), |p| state_text(p) == "running");
    page.screenshot(&screenshots().join("console-paired-session.png"));

    // Revoked on the page (asked first): the headset is cut off at once.
    page.click("#headsets button");
    page.wait_until("the question", wait(), |p| p.script("return document.getElementById('question').open") == true);
    assert!(page.text("#question-text").contains("clinic-vr-pc"));
    page.click("#question-yes");
    page.wait_until("the disconnect", wait(), |p| p.text("#sessions").contains("disconnected"));
    page.wait_until("the list emptied", wait(), |p| p.text("#headsets").contains("none yet"));
    headset.kill();

    // Five wrong codes lock pairing, even for a right one.
    let (codes, code) = std::sync::mpsc::channel();
    let console_url = format!("wss://{here}");
    let stop_pairing = Arc::new(AtomicBool::new(false));
    let cancel = stop_pairing.clone();
    let waiting = std::thread::spawn(move || {
        link::pair::pair_blocking(
            &console_url,
            "second-pc",
            |c| codes.send(c.clone()).unwrap(),
            || cancel.load(Ordering::Relaxed),
        )
    });
    let right = code.recv_timeout(wait()).unwrap().code;
    let typo = if right == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        page.script("document.getElementById('pair-code').value = ''");
        page.type_into("#pair-code", typo);
        page.click("#pair");
        std::thread::sleep(Duration::from_millis(300));
    }
    page.wait_until("the lock", wait(), |p| p.text("#pair-result").contains("locked"));
    page.script("document.getElementById('pair-code').value = ''");
    page.type_into("#pair-code", &right);
    assert_eq!(page.text("#pair-result"), "", "typing clears the last answer");
    page.click("#pair");
    page.wait_until("the right code refused while locked", wait(), |p| p.text("#pair-result").contains("locked"));
    assert!(page.text("#pair-waiting").contains("second-pc"), "the headset was paired while locked");
    stop_pairing.store(true, Ordering::Relaxed);

    // The session went over WSS into a recording: telemetry, the start command.
    let recordings = console.stop().await;
    drop(waiting);
    assert_eq!(recordings.len(), 1);
    let recorded = &recordings[0];
    assert_eq!(recorded.metadata.patient_code, "P-CLINIC");
    assert!(!channel(recorded, Channel::Telemetry).is_empty());
    let commands: Vec<Value> = channel(recorded, Channel::Commands);
    assert_eq!(commands[0]["command"]["type"], "start");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A whole session of a synthetic patient, `speed` times faster than real
/// time, its simulated therapist accepting each suggested step; ends with
/// the session's end (so the console closes and indexes its file).
fn fast_session(url: &str, token: &str, patient_code: &str, seed: u64, minutes: u64, speed: f64) {
    let file = trinvis_tests::root().join("scenarios/spiders.ron");
    let text = std::fs::read_to_string(&file).unwrap();
    let scenario = scenario::parse(&text, "spiders.ron").unwrap();
    let clock = Clock::new();
    let mut config = LinkConfig::new(
        url,
        token,
        &format!("course-{seed}"),
        patient_code,
        link::scenario_ref(&scenario, &text),
        clock,
    );
    config.steps = scenario.steps.iter().map(|s| StepInfo { id: s.id.clone(), title: s.title.clone() }).collect();
    let mut link = Link::start(config);
    let sim_config = SimConfig { seed, duration: Duration::from_secs(minutes * 60), ..SimConfig::default() };
    let mut sim = Simulation::new(scenario, sim_config);
    let mut bridge = Bridge::new();
    let frame = Duration::from_secs_f64(1.0 / 90.0 / speed);
    let started = Instant::now();
    let mut frames = 0u32;
    while !sim.finished() {
        let out = sim.step();
        let now = sim.now();
        let session = sim.session();
        link.push_sample(sample_of(&out, session, clock.now_us(), 11.1));
        bridge.exchange(&mut link, sim.session_mut(), now);
        frames += 1;
        std::thread::sleep((started + frame * frames).saturating_duration_since(Instant::now()));
    }
    sim.finish();
    let now = sim.now();
    bridge.exchange(&mut link, sim.session_mut(), now);
    let deadline = Instant::now() + wait();
    while link.info().unacked > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(link.info().unacked, 0, "the session's end did not reach the console");
}

/// The course across sessions: a patient's first session is indexed as it
/// ends; when their second starts, the page proposes where to start (the
/// last step where SUDS fell by half, worked out here from the first
/// recording on its own), and taking it moves the target there; the
/// Patients view shows both sessions with their reports; deleting the index
/// and indexing the recordings again gives the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_second_session_proposes_where_the_first_left_off_and_the_patients_view_shows_both() {
    let Some(browser) = Browser::find() else { return };
    let dir = std::env::temp_dir().join(format!("trinvis-course-{}-{}", std::process::id(), console::new_token()));
    let data = dir.with_extension("data");
    let kept = data.clone();
    let console = Console::start_at("127.0.0.1:0", dir.clone(), move |c| c.data = Some(kept)).await;
    let url = format!("ws://{}", console.addr);
    let page = browser.start(1400, 1250);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));

    // The first session, 12 simulated minutes in 24 s.
    let (u, t) = (url.clone(), console.headset.clone());
    tokio::task::spawn_blocking(move || fast_session(&u, &t, "P-COURSE", 7, 12, 30.0)).await.unwrap();
    page.click("#patients-button");
    page.wait_until("the first session indexed", wait(), |p| {
        p.click("#patients-refresh");
        p.text("#patients").contains("P-COURSE") && p.text("#patients").contains("1 session")
    });

    // What the rule says, from the first recording alone.
    let first_file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .unwrap();
    let first = research::load(&first_file).unwrap();
    let visits: Vec<_> = research::steps::visits(&first, None).into_iter().filter(|v| !v.during_safe_scene).collect();
    let halved = visits
        .iter()
        .filter(
            |v| matches!((v.suds_peak, v.suds_final), (Some(p), Some(f)) if p > 0 && 2 * u32::from(f) <= u32::from(p)),
        )
        .max_by_key(|v| v.left_us);
    let expected = match halved {
        Some(v) => v.step,
        None => visits.iter().max_by_key(|v| v.left_us).unwrap().step.saturating_sub(1).max(1),
    };
    assert!(visits.len() >= 2, "the first session should climb a few steps: {visits:?}");

    // The second session: the page proposes that step, with the reason.
    page.click("#patients-button");
    let headset = Headset::start(&console, "P-COURSE", 8);
    page.wait_until("the second session listed", wait(), |p| {
        p.script("return document.querySelectorAll('#sessions li').length") == 2
    });
    page.press("2");
    page.wait_until("the proposal", wait(), |p| !p.text("#proposal-text").is_empty());
    let said = page.text("#proposal-text");
    assert!(said.contains(&format!("start from step {expected} ")), "expected step {expected}: {said}");
    assert_eq!(page.text("#proposal-accept"), format!("Start from step {expected}"));
    assert!(said.contains(if halved.is_some() { "fell by half" } else { "one below" }), "{said}");
    page.screenshot(&screenshots().join("console-proposal.png"));
    page.click("#proposal-accept");
    page.wait_until("the target at the proposed step", wait(), |p| {
        p.text("#target").parse::<f64>().is_ok_and(|t| (t - f64::from(expected)).abs() < 1e-6)
    });
    assert!(page.find("#proposal:not([hidden])").is_none(), "the proposal stays after it was taken");
    page.click("#start");
    page.wait_until("running", wait(), |p| state_text(p) == "running");
    page.click("#stop");
    page.click("#confirm-yes");
    page.wait_until("ended", wait(), |p| state_text(p).contains("ended"));
    headset.kill();

    // Both sessions in the Patients view, each with its report.
    page.click("#patients-button");
    page.wait_until("both sessions indexed", wait(), |p| {
        p.click("#patients-refresh");
        p.text("#patients").contains("2 sessions")
    });
    assert_eq!(page.script("return document.querySelectorAll('#patients a[href*=\"/report\"]').length"), 2);
    assert_eq!(page.script("return document.querySelectorAll('#patients svg circle').length > 0"), true);
    page.screenshot(&screenshots().join("console-patients.png"));
    let report = page
        .script("return document.querySelector('#patients a[href*=\"/report\"]').href")
        .as_str()
        .unwrap()
        .to_owned();
    page.goto(&report);
    page.wait_until("the report", wait(), |p| p.text("body").contains("P-COURSE"));

    // Each session replays from the Patients view, in the page.
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));
    page.click("#patients-button");
    page.wait_until("a replay link per session", wait(), |p| {
        p.click("#patients-refresh");
        p.script("return document.querySelectorAll('#patients a.replay-link').length") == 2
    });
    let replay = page.script("return document.querySelector('#patients a.replay-link').href");
    page.goto(replay.as_str().unwrap());
    page.wait_until("the replay in the page", wait(), |p| {
        p.text("#mode").contains("replay of") && p.text("#patient").contains("P-COURSE")
    });

    // The index again from the recordings alone: the same rows.
    let _ = console.stop().await;
    let index = data.join("course.sqlite");
    let before = course::Db::open(&index).unwrap().dump().unwrap();
    assert!(before.contains("P-COURSE"));
    for f in ["course.sqlite", "course.sqlite-wal", "course.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let mut rebuilt = course::Db::open(&index).unwrap();
    let indexed = rebuilt.index_dir(&dir).unwrap();
    assert_eq!((indexed.sessions, indexed.skipped.len()), (2, 0));
    assert_eq!(rebuilt.dump().unwrap(), before);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&data);
}

/// Whether the element's box lies inside the window's top part, leaving
/// `room` pixels at the bottom (a real browser's bars and the task bar).
fn above_the_fold(page: &Driver, css: &str, room: u32) -> bool {
    page.script(&format!(
        "const r = document.querySelector('{css}').getBoundingClientRect(); \
         return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight - {room};"
    )) == true
}

/// Safety first: the safe scene (S and the button) works from every state
/// of the page: with a question open (the dial's big jump, Stop…), with the
/// focus on the rating box, the dial, a list or a checkbox, and after Esc or
/// Enter leave a box for words. Guards that hold: a double-click on ▶ raises
/// one step; holding N down is one press. The controls of exposure fit a
/// laptop's window (1366 x 768, 1400 x 900) without scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_safe_scene_is_never_blocked_and_a_double_click_is_one_step() {
    let Some(browser) = Browser::find() else { return };
    let console = Console::start(|_| {}).await;
    let _headset = Headset::start(&console, "SIM-G", 6);
    let page = browser.start(1366, 768);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist));
    page.wait_until("a step title", wait(), |p| p.text("#step").contains("1 of 10"));
    page.press(" ");
    page.wait_until("running", wait(), |p| state_text(p) == "running");
    for (width, height) in [(1366, 768), (1400, 900)] {
        page.resize(width, height);
        std::thread::sleep(Duration::from_millis(300));
        for css in ["#safe", "#dial", "#pause", "#ask", "#next", "#suds-value"] {
            assert!(above_the_fold(&page, css, 100), "{css} is below the fold at {width} x {height}");
        }
    }
    let shots = screenshots();
    page.screenshot(&shots.join("console-1400x900.png"));
    page.resize(1366, 768);
    page.screenshot(&shots.join("console-1366x768.png"));
    let target = |p: &Driver| p.text("#target").parse::<f64>().unwrap_or(0.0);
    // Nothing moves when a status appears: "awaiting answer" under SUDS.
    let dial_top = || page.script("return document.getElementById('dial').getBoundingClientRect().top");
    let before = dial_top();
    page.press("q");
    page.wait_until("awaiting answer", wait(), |p| p.text("#suds-age").contains("awaiting answer"));
    assert_eq!(dial_top(), before, "the dial moved when the status appeared");

    // A double-click on ▶ is one step: the console passes the same intent on once.
    page.double_click("#next");
    page.wait_until("the target one step up", wait(), |p| (target(p) - 2.0).abs() < 0.01);
    after_a_marker(&page, "after the double-click");
    assert!((target(&page) - 2.0).abs() < 0.01, "a double-click raised {} steps", target(&page) - 1.0);
    // A double-click on Ask SUDS asks once (counted in the recording below).
    page.double_click("#ask");

    let safe_then_resume = |how: &str| {
        page.wait_until(&format!("the safe scene from {how}"), wait(), |p| state_text(p) == "safe scene");
        // Back up to the controls (the notes box is further down the page).
        page.script("window.scrollTo(0, 0); return null;");
        page.click("#resume");
        page.wait_until(&format!("running again after {how}"), wait(), |p| state_text(p) == "running");
    };
    // The dial's question open: S closes it unanswered and sends the safe scene.
    page.click_at("#dial", 0.97);
    page.wait_until("the question", wait(), dialog_open);
    page.press("s");
    safe_then_resume("S with the question open");
    assert!(!dialog_open(&page), "the question was closed unanswered");
    // Stop's question open: the Safe scene button can still be clicked.
    page.click("#stop");
    page.wait_until("Stop's question", wait(), |p| p.script("return document.getElementById('confirm').open") == true);
    page.click("#safe");
    safe_then_resume("the button with Stop's question open");
    assert_eq!(page.script("return document.getElementById('confirm').open"), false);
    // Focus on the rating box, the dial, the mirror's rate list, the automatic checkbox.
    for css in ["#suds-value", "#dial", "#mirror-rate", "#automatic"] {
        page.focus(css);
        page.press("s");
        safe_then_resume(&format!("S with the focus on {css}"));
    }
    // A box for words: S types there; Enter saves the note and leaves the box, then S works.
    page.click("#note-text");
    page.type_into("#note-text", "spiders");
    page.press("\u{E007}"); // Enter
    page.wait_until("the note saved", wait(), |p| p.text("#log").contains("Note: spiders"));
    assert_eq!(page.script("return document.activeElement.id"), "", "Enter left the notes box");
    page.press("s");
    safe_then_resume("S after Enter in the notes box");
    // Esc leaves the marker box, then S works.
    page.click("#marker-label");
    page.type_into("#marker-label", "so close");
    page.press("\u{E00C}"); // Escape
    page.press("s");
    safe_then_resume("S after Esc in the marker box");
    assert_eq!(page.script("return document.getElementById('marker-label').value"), "so close", "no s typed");

    let recordings = console.stop().await;
    let commands: Vec<String> = channel(&recordings[0], Channel::Commands)
        .iter()
        .map(|c| c["command"]["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(commands.iter().filter(|c| *c == "next_step").count(), 1, "{commands:?}");
    assert_eq!(commands.iter().filter(|c| *c == "safe_scene").count(), 8, "{commands:?}");
    assert!(!commands.iter().any(|c| c == "set_level" || c == "stop"), "the questions sent nothing: {commands:?}");
    assert_eq!(
        commands.iter().filter(|c| *c == "request_suds").count(),
        2,
        "Q once, the double-click once: {commands:?}"
    );
}
