//! The real app in its desktop mode, rendering on Mesa's software Vulkan
//! (lavapipe) under Xvfb: each scene at its first and its hardest step,
//! saved as PNG, checked not blank and different between the two levels.
//! Each is asked for with `--display xr`: with no OpenXR runtime here, the
//! `xr` build must fall back to the desktop window, saying so.
//!
//! Needs `xvfb-run` and lavapipe (`apt-get install xvfb mesa-vulkan-drivers`),
//! which `./x test` installs; run bare without them, it says so and passes,
//! and under `./x test` (TRINVIS_REQUIRE_RENDER=1) it fails instead.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod support;

use std::path::{Path, PathBuf};

use std::process::Command;
use support::skipped;

fn available() -> bool {
    let ok = Command::new("xvfb-run").arg("--help").output().is_ok() && Path::new("/usr/share/vulkan/icd.d").exists();
    if !ok {
        assert!(
            std::env::var_os("TRINVIS_REQUIRE_RENDER").is_none(),
            "xvfb-run and mesa-vulkan-drivers are required here"
        );
        skipped("xvfb-run or lavapipe missing (apt-get install xvfb mesa-vulkan-drivers)");
    }
    ok
}

/// Renders `scenario` at `level` and returns the PNG's RGB pixels and size.
fn render(scenario: &str, level: f64, out: &Path) -> (Vec<u8>, u32, u32) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_trinvis-headset"))
        // Asked for the headset with no OpenXR runtime, it falls back to the window.
        .args(["--display", "xr", "--frames", "40", "--level", &level.to_string(), "--screenshot"])
        .arg(out)
        .arg("--scenario")
        .arg(root.join("scenarios").join(format!("{scenario}.ron")))
        .env("WGPU_BACKEND", "vulkan")
        .env("XR_RUNTIME_JSON", "/nonexistent/openxr-runtime.json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(stderr.contains("falling back to the desktop window"), "{scenario}: no fallback line\n{stderr}");
    assert!(
        status.status.success(),
        "{scenario} at {level}: {}\n{}",
        status.status,
        String::from_utf8_lossy(&status.stderr)
    );
    let png = out.join(format!("{scenario}-level-{level}.png"));
    let image = image::open(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display())).to_rgb8();
    let (w, h) = image.dimensions();
    (image.into_raw(), w, h)
}

fn spread(pixels: &[u8]) -> f64 {
    let n = pixels.len() as f64;
    let mean = pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
    (pixels.iter().map(|&p| (f64::from(p) - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// One software-rendered window at a time: two at once on 2 cores only
/// slow each other down.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn every_scene_renders_and_its_hardest_step_looks_different() {
    if !available() {
        return;
    }
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let out = std::env::temp_dir().join(format!("trinvis-render-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    for (scenario, high) in [
        ("heights", 12.0),
        ("spiders", 10.0),
        ("public-speaking", 10.0),
        ("flying", 10.0),
        ("claustrophobia", 9.0),
        ("safe-place", 3.0),
    ] {
        let (low, w, h) = render(scenario, 1.0, &out);
        let (top, w2, h2) = render(scenario, high, &out);
        assert_eq!((w, h), (w2, h2));
        assert!(
            spread(&low) > 8.0 && spread(&top) > 8.0,
            "{scenario}: a blank frame (spread {} / {})",
            spread(&low),
            spread(&top)
        );
        let differ = low.iter().zip(&top).filter(|(a, b)| a.abs_diff(**b) > 24).count() as f64 / low.len() as f64;
        assert!(
            differ > 0.02,
            "{scenario}: step 1 and step {high} look alike ({:.1} % of values differ)",
            differ * 100.0
        );
    }
    eprintln!("screenshots in {}", out.display());
}

#[test]
fn a_recording_replays_in_the_window() {
    use recording::{Channel, Metadata, Writer};
    if !available() {
        return;
    }
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let out = std::env::temp_dir().join(format!("trinvis-render-replay-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    // Thirty seconds of a spiders session at step 8, the head looking down at the table.
    let file = out.join("spiders.mcap");
    let mut writer = Writer::create(&file, &Metadata::example()).unwrap();
    for i in 0..=300u64 {
        let sample = serde_json::json!({
            "t_us": i * 100_000, "session_us": i * 100_000,
            "head": {"p": [0.0, 1.25, 0.15], "q": [-0.2588, 0.0, 0.0, 0.9659]},
            "gaze": [0.0, -0.5, -0.866], "gaze_on_stimulus": true, "stimulus_angle_deg": 3.0,
            "state": "running", "target_level": 8.0, "applied_level": 8.0, "step": 8,
            "safe_blend": 0.0, "frame_ms": 11.1, "dropped_frames": 0
        });
        writer.write(Channel::Telemetry, 1 + i * 100_000, sample.to_string().as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_trinvis-headset"))
        .arg("--replay")
        .arg(&file)
        .args(["--at", "12", "--frames", "40", "--screenshot"])
        .arg(&out)
        .current_dir(&root)
        .env("WGPU_BACKEND", "vulkan")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{}", run.status, String::from_utf8_lossy(&run.stderr));
    let png = out.join("spiders-replay-12s.png");
    let image = image::open(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display())).to_rgb8();
    assert!(spread(image.as_raw()) > 8.0, "a blank replay frame: {}", png.display());
}
