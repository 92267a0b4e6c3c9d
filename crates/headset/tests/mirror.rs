//! The mirror end to end: the real headset app rendering in a window under
//! Xvfb (software tier, lavapipe), a real console, and the therapist's page
//! in headless Chromium. The page must show the patient's view at the rate
//! asked for, and the picture must change with the step.
//!
//! Needs `xvfb-run`, lavapipe, `chromium` and `chromedriver` (`./x test`
//! installs them as root); without them the test says so and is counted as
//! skipped, and with TRINVIS_REQUIRE_RENDER / TRINVIS_REQUIRE_BROWSER set it fails.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::webdriver::Browser;
use support::{Console, can_render, root};

/// The page's picture of the patient's view as numbers: its mean
/// brightness and a coarse 8x8 grid of brightness, read from a canvas.
const PICTURE_STATS: &str = r##"
    const img = document.getElementById("mirror-img");
    if (img.hidden || !img.complete || !img.naturalWidth) return null;
    const c = document.createElement("canvas"); c.width = 8; c.height = 8;
    const g = c.getContext("2d"); g.drawImage(img, 0, 0, 8, 8);
    const d = g.getImageData(0, 0, 8, 8).data, cells = [];
    for (let i = 0; i < 64; i++) cells.push((d[4 * i] + d[4 * i + 1] + d[4 * i + 2]) / 3);
    return { width: img.naturalWidth, height: img.naturalHeight, cells,
             live: document.getElementById("mirror-age").textContent,
             outlined: getComputedStyle(document.getElementById("mirror-outline")).display !== "none",
             boxes: [...document.querySelectorAll("#mirror-outline rect")].map((r) =>
               ["x", "y", "width", "height"].map((k) => Number(r.getAttribute(k)))) };
"##;

fn frames_of(page: &support::webdriver::Driver) -> u64 {
    page.script("const f = window.trinvisStats.mirrorFrames; return Object.values(f).reduce((a, b) => a + b, 0);")
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_patients_view_live_and_it_follows_the_step() {
    if !can_render() {
        return;
    }
    let Some(browser) = Browser::find() else { return };
    let console = Console::start("mirror-e2e").await;
    // Its own process group, so that the headset under xvfb-run ends with it.
    let headset = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_trinvis-headset"))
        .args(["--display", "desktop", "--patient-code", "P-0400", "--minutes", "5"])
        .args(["--token", &console.headset_token, "--console", &console.url()])
        .arg("--scenario")
        .arg(root().join("scenarios/public-speaking.ron"))
        .env("WGPU_BACKEND", "vulkan")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let page = browser.start(1400, 900);
    page.goto(&format!("http://{}/?token={}", console.addr, console.therapist_token));
    page.wait_until("the headset's session", Duration::from_secs(60), |p| p.text("#sessions").contains("P-0400"));
    // Shaders compile on the CPU first: the first pictures take a while.
    page.wait_until("a first picture", Duration::from_secs(120), |p| frames_of(p) > 0);
    assert_eq!(page.script("return document.getElementById('mirror-rate').value;"), "5", "the default rate");
    // At 5 a second, over 6 s of a running session.
    page.click("#start");
    std::thread::sleep(Duration::from_secs(2));
    let (before, at) = (frames_of(&page), Instant::now());
    std::thread::sleep(Duration::from_secs(6));
    let rate = (frames_of(&page) - before) as f64 / at.elapsed().as_secs_f64();
    println!("mirror: {rate:.1} pictures a second reached the page at the 5/s setting");
    assert!(rate >= 4.0, "{rate:.1} pictures a second at the 5/s setting");
    let first = page.script(PICTURE_STATS);
    assert!(first.is_object(), "the page shows no picture");
    assert_eq!((first["width"].as_u64(), first["height"].as_u64()), (Some(480), Some(270)), "{first}");
    assert_eq!(first["live"], "live", "{first}");
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    page.screenshot(&shots.join("console-mirror-step-1.png"));
    // Step 6 (eight listeners, bored and frowning, where step 1 is an
    // empty room): the next-step button goes a step at a time; the level
    // eases there in a few seconds.
    for _ in 0..5 {
        page.click("#next");
        std::thread::sleep(Duration::from_millis(400));
    }
    page.wait_until("step 6 shown", Duration::from_secs(60), |p| p.text("#step").starts_with("6 of"));
    std::thread::sleep(Duration::from_secs(2));
    let later = page.script(PICTURE_STATS);
    page.screenshot(&shots.join("console-mirror-step-6.png"));
    let cells = |v: &serde_json::Value| -> Vec<f64> {
        v["cells"].as_array().unwrap().iter().map(|c| c.as_f64().unwrap()).collect()
    };
    let change: f64 = cells(&first).iter().zip(cells(&later)).map(|(a, b)| (a - b).abs()).sum::<f64>() / 64.0;
    println!(
        "mirror: mean change of an 8x8 brightness grid from step 1 to step 6: {change:.1} of 255; outlines {} then {}",
        first["boxes"], later["boxes"]
    );
    assert!(change > 3.0, "the picture hardly changed from step 1 to step 6 ({change:.1}): {first} {later}");
    assert_eq!(later["outlined"], true, "the outline is not shown: {later}");
    let boxes = later["boxes"].as_array().unwrap();
    assert!(boxes.len() >= 4, "eight listeners in view, {} outlined: {later}", boxes.len());
    assert!(boxes.iter().all(|b| b[2].as_f64() > Some(2.0) && b[3].as_f64() > Some(2.0)), "{later}");
    // Off: the picture goes stale and says so.
    page.script("const s = document.getElementById('mirror-rate'); s.value = '0'; s.onchange(); return null;");
    page.wait_until("the mirror off", Duration::from_secs(10), |p| p.text("#mirror-none").starts_with("Mirror off"));
    drop(page);
    let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", headset.id())]).status();
    let output = headset.wait_with_output().unwrap();
    let recording = console.stop().await;
    let pictures = recording.channel(recording::Channel::Mirror).count();
    assert!(
        pictures >= 8,
        "{pictures} pictures recorded; stderr: {}",
        support::tail(&String::from_utf8_lossy(&output.stderr))
    );
}
