//! The page never forgets (the console is its memory): real `trinvis
//! console` and `trinvis sim --console` processes, real Chromium.
//!
//! A page opened in the middle of a session (what a reload is) shows what a
//! page open since the start shows: the header, time on step (±2 s), SUDS,
//! the event log and the chart from the session's first second. Two pages
//! on one session say so. Then the console is killed with SIGKILL for
//! longer than the link-loss timeout and started again: the page shows the
//! step the recording holds, the move to the safe place that happened while
//! the console was down, and a page opened after the restart shows the same.
//!
//! Needs `chromium` and `chromedriver`; without them the test says so and
//! is counted as skipped (with TRINVIS_REQUIRE_BROWSER=1 it fails).

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use recording::{Channel, Recording};
use serde_json::Value;
use testkit::webdriver::{Browser, Driver};

const HEADSET_TOKEN: &str = "page-truth-token";

fn console(bind: &str, root: &std::path::Path) -> (Child, Vec<String>) {
    common::spawn_console(
        Command::new(env!("CARGO_BIN_EXE_trinvis"))
            .args(["console", "--bind", bind, "--headset-token", HEADSET_TOKEN, "--data"])
            .arg(root.join("data"))
            .arg("--recordings")
            .arg(root.join("recordings")),
    )
}

fn wait() -> Duration {
    Duration::from_secs(20)
}

/// What the page shows of the selected session, to compare two pages.
#[derive(Debug)]
struct Shown {
    step: String,
    on_step_s: f64,
    suds: String,
    log_lines: u64,
    chart_from_s: f64,
}

fn shown(page: &Driver) -> Shown {
    let on_step = page.text("#on-step");
    let on_step_s = on_step.split(':').fold(0.0, |acc, part| acc * 60.0 + part.parse::<f64>().unwrap_or(f64::NAN));
    let log_lines = page.script("return document.querySelectorAll('#log > div').length").as_u64().unwrap();
    let chart_from_s = page
        .script("const s = state.sessions.get(state.current); return s.ring.length ? s.ring.at('t', 0) : -1")
        .as_f64()
        .unwrap();
    Shown { step: page.text("#step"), on_step_s, suds: page.text("#suds"), log_lines, chart_from_s }
}

/// Two pages show the same session alike (read a few times: they draw on
/// their own frames).
fn same(a: &Driver, b: &Driver, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (x, y) = (shown(a), shown(b));
        let alike = x.step == y.step
            && (x.on_step_s - y.on_step_s).abs() <= 2.0
            && x.suds == y.suds
            && x.log_lines == y.log_lines
            && (x.chart_from_s - y.chart_from_s).abs() < 0.5;
        if alike {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the pages differ:\n{x:?}\n{y:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn screenshots() -> std::path::PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| common::root().join("target"), std::path::PathBuf::from);
    target.join("browser-screenshots")
}

#[test]
fn a_reloaded_page_and_a_restarted_console_show_what_a_page_open_since_the_start_shows() {
    let Some(browser) = Browser::find() else { return };
    let root = std::env::temp_dir().join(format!("trinvis-page-truth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (mut console_process, printed) = console("127.0.0.1:0", &root);
    let address = common::address(&printed);
    let url = printed[1].split_whitespace().last().unwrap().to_owned();
    assert!(url.contains("token="), "{printed:?}");
    let scenario = common::root().join("scenarios/spiders.ron");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_trinvis"))
        .args(["sim", "--patients", "2", "--seed", "11", "--minutes", "30", "--token", HEADSET_TOKEN, "--console"])
        .arg(format!("ws://{address}"))
        .arg("--scenario")
        .arg(&scenario)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // Page A is open from the start; the first patient goes to step 2.
    let a = browser.start(1400, 900);
    a.goto(&url);
    a.wait_until("two sessions", wait(), |p| p.text("#sessions").matches("SIM-").count() == 2);
    a.press("2");
    a.press(" ");
    a.wait_until("the second running", wait(), |p| p.text("#state") == "running");
    a.press("1");
    a.press(" ");
    a.wait_until("the first running", wait(), |p| p.text("#state") == "running");
    a.press("n");
    a.wait_until("step 2", wait(), |p| p.text("#step").starts_with("2 of 10"));
    // The arrival prompt comes after 5 s; the patient answers a few seconds later.
    a.wait_until("a rating on step 2", Duration::from_secs(30), |p| p.text("#suds") != "–");
    let session = a.script("return state.current");

    // Page B opens now, in the middle: what a reload gives.
    let b = browser.start(1400, 900);
    b.goto(&url);
    b.wait_until("the session", wait(), |p| p.text("#step").starts_with("2 of 10"));
    assert_eq!(b.script("return state.current"), session, "key 1 is the same patient in every page");
    same(&a, &b, "a page opened mid-session");
    assert!(shown(&b).on_step_s >= 5.0, "time on step goes on from before the page opened: {:?}", shown(&b));
    // Two pages on one session see each other.
    for page in [&a, &b] {
        page.wait_until("the other page", wait(), |p| p.text("#others").contains("also open in another window"));
    }
    let shots = screenshots();
    b.screenshot(&shots.join("console-after-reload.png"));
    drop(b);

    // The console dies (SIGKILL) for longer than the link-loss timeout (10 s).
    let status = Command::new("kill").args(["-KILL", &console_process.id().to_string()]).status().unwrap();
    assert!(status.success());
    let _ = console_process.wait();
    a.wait_until("the lost console said", wait(), |p| p.text("#banner").contains("console connection is lost"));
    std::thread::sleep(Duration::from_secs(13));
    let (mut console_process, _) = console(&address, &root);
    a.wait_until("the session back after the restart", Duration::from_secs(30), |p| {
        p.text("#console-link") == "console connected" && p.text("#sessions").matches("connected").count() >= 2
    });
    // What happened while the console was down reaches the page: the
    // headset went to the safe place by itself, from step 2.
    a.wait_until("the safe place from the outage", wait(), |p| {
        p.text("#step").starts_with("Safe place — exposure paused at step 2")
            && p.text("#log").contains("the console link was lost")
    });
    a.screenshot(&shots.join("console-after-restart.png"));
    // A page opened after the restart shows the same.
    let c = browser.start(1400, 900);
    c.goto(&url);
    c.wait_until("the session", wait(), |p| p.text("#step").starts_with("Safe place"));
    same(&a, &c, "a page opened after the restart");
    drop(c);

    // The end: a summary, with the report one click away.
    a.click("#stop");
    a.click("#confirm-yes");
    a.wait_until("the summary", wait(), |p| {
        p.script("return document.getElementById('summary').hidden") == false
            && p.text("#summary-line").contains("reached step 2 of 10")
    });
    assert!(a.text("#summary-line").contains("1 safe scene"), "{}", a.text("#summary-line"));
    assert!(a.text("#summary-steps").contains("step 2"), "{}", a.text("#summary-steps"));
    let report = a.script("return document.getElementById('summary-report').href").as_str().unwrap().to_owned();
    assert!(report.contains("/report?") && report.contains(session.as_str().unwrap()), "{report}");
    a.script("window.scrollTo(0, 0); return null;");
    a.screenshot(&shots.join("console-summary.png"));

    // Replay from the recordings list: both parts, as one session.
    a.click("#refresh-recordings");
    let link = format!("#recordings a.replay-link[href*='{}']", session.as_str().unwrap());
    a.wait_until("a replay link", wait(), |p| p.find(&link).is_some());
    let href = a.script(&format!("return document.querySelector(\"{link}\").href"));
    let d = browser.start(1400, 900);
    d.goto(href.as_str().unwrap());
    d.wait_until("the replay of both parts", wait(), |p| p.text("#mode").contains("(2 parts)"));
    d.script("replay({ action: 'seek', position_us: state.replay.duration_us }); return null;");
    d.wait_until("what the second part holds", wait(), |p| p.text("#log").contains("the console link was lost"));
    // It runs to the session's end (in the second part), from its start (in the first).
    let ended_us = a.script("return state.sessions.get(state.current).last.session_us").as_f64().unwrap();
    let (from_us, duration_us) = (
        d.script("const s = state.sessions.get(state.current); return s.ring.length ? s.ring.at('t', 0) * 1e6 : -1")
            .as_f64()
            .unwrap(),
        d.script("return state.replay.duration_us").as_f64().unwrap(),
    );
    assert!(
        duration_us >= ended_us - 2e6 && from_us < 5e6,
        "{} from {from_us} µs, ended at {ended_us}",
        d.text("#position")
    );
    d.screenshot(&shots.join("console-replay-joined.png"));

    let _ = sim.kill();
    let _ = sim.wait();
    let status = Command::new("kill").args(["-TERM", &console_process.id().to_string()]).status().unwrap();
    assert!(status.success());
    let _ = console_process.wait();

    // The header's step is the recording's: the last step shown before the safe scene.
    let session = session.as_str().unwrap().to_owned();
    let mut files: Vec<_> = std::fs::read_dir(root.join("recordings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&session))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "a second part after the restart: {files:?}");
    let samples: Vec<Value> = files
        .iter()
        .flat_map(|f| Recording::open(f).unwrap().messages)
        .filter(|m| m.channel == Channel::Telemetry)
        .map(|m| serde_json::from_slice(&m.data).unwrap())
        .collect();
    let last_running = samples.iter().rev().find(|s| s["state"] == "running").unwrap();
    assert_eq!(last_running["step"], 2, "the recording's step before the safe scene");
    let events: Vec<Value> = files
        .iter()
        .flat_map(|f| Recording::open(f).unwrap().messages)
        .filter(|m| m.channel == Channel::Events)
        .map(|m| serde_json::from_slice(&m.data).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["type"] == "safe_scene_entered" && e["cause"] == "link_loss"), "{events:?}");
    let _ = std::fs::remove_dir_all(&root);
}
