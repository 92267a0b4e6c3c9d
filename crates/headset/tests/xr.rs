//! The headset app against a real OpenXR runtime: Monado, built from the
//! snapshot in `../shared/xr/` by `./x test` (which sets
//! `TRINVIS_XR_RUNTIME_JSON` to its manifest and `TRINVIS_REQUIRE_XR=1`),
//! with its null compositor (20 frames a second, no GPU) and its simulated
//! headset and controllers. Run bare without a runtime, these tests say
//! they are skipped; under `TRINVIS_REQUIRE_XR=1` they fail instead.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::path::PathBuf;
use std::process::Command;

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

/// With no X11 or Wayland at all (a headset machine without a desktop),
/// `--display xr` runs the session in the headset with no window: it
/// reaches the runtime, commits frames at the runtime's pace and exits 0
/// at `--minutes`, never a panic.
#[test]
fn without_a_display_the_session_runs_in_the_headset() {
    let Some(manifest) = runtime() else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_trinvis-headset"))
        .args(["--display", "xr", "--patient", "synthetic", "--auto", "--minutes", "0.5", "--scenario"])
        .arg(root.join("scenarios/spiders.ron"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XR_RUNTIME_JSON", &manifest)
        .env("XRT_COMPOSITOR_NULL", "1")
        .env("SIMULATED_ENABLE", "1")
        .env("SIMULATED_LEFT", "simple")
        .env("SIMULATED_RIGHT", "simple")
        .env("XRT_COMPOSITOR_LOG", "trace")
        .env("XDG_RUNTIME_DIR", runtime_dir())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}\n{}", out.status, tail(&text));
    assert!(!text.contains("panicked"), "{}", tail(&text));
    assert!(text.contains("showing the scene in the headset"), "it chose the headset:\n{}", tail(&text));
    assert!(!text.contains("falling back"), "{}", tail(&text));
    // One LAYER_COMMIT line per frame the app submitted; the null
    // compositor paces at 20 Hz, so 30 s give about 600.
    let frames = text.lines().filter(|l| l.contains("LAYER_COMMIT")).count();
    assert!(frames >= 100, "{frames} frames committed in 30 s of session");
    println!("{frames} frames committed in 30 s of session with no display");
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Says a test is skipped because a tool it needs is missing: on stderr,
/// and in the file `TRINVIS_SKIP_LOG` names (set by `./x test`), so the
/// run counts it as skipped, not passed.
fn skipped(reason: &str) {
    use std::io::Write;
    eprintln!("skipped: {reason}");
    if let Some(log) = std::env::var_os("TRINVIS_SKIP_LOG") {
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log);
        // One write per line: with O_APPEND, tests in parallel never interleave.
        if let Ok(mut file) = file {
            let _ = file.write_all(format!("{test}: {reason}\n").as_bytes());
        }
    }
}
