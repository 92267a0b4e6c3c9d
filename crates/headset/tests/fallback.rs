//! Without an OpenXR runtime the headset says so in one line and falls back:
//! headless here (no display); the render test checks the desktop window.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn without_a_runtime_xr_falls_back_to_headless_and_audio_to_the_mock_backend() {
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_trinvis-headset"))
        .args(["--display", "xr", "--minutes", "0.02", "--rate", "30", "--scenario"])
        .arg(root.join("scenarios/spiders.ron"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        // No runtime even where one is installed.
        .env("XR_RUNTIME_JSON", "/nonexistent/openxr-runtime.json")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}\n{text}", out.status);
    let fallback: Vec<_> = text.lines().filter(|l| l.contains("falling back")).collect();
    assert_eq!(fallback.len(), 1, "one line about the fallback:\n{text}");
    assert!(fallback[0].contains("headless with the synthetic patient"), "{}", fallback[0]);
    let why = if cfg!(feature = "xr") { "OpenXR" } else { "built without the `xr` feature" };
    assert!(fallback[0].contains(why), "{}", fallback[0]);
    // The loader's own error lines go to the log at debug level, not here.
    assert!(!text.contains("OpenXR-Loader"), "the loader's lines reached the terminal:\n{text}");
    let audio: Vec<_> = text.lines().filter(|l| l.contains("kira's mock backend")).collect();
    assert_eq!(audio.len(), 1, "audio says once that it is silent:\n{text}");
}
