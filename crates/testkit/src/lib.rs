//! What the workspace's test trees share (a dev-dependency only): where the
//! repository is, how a test says it is skipped, the browser tests'
//! WebDriver client, and a resting telemetry sample.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::path::PathBuf;

pub mod webdriver;

/// The repository's root: found upwards from the package folder cargo names
/// when it runs the test (not the one the binary was built in: clones share
/// one target directory, and cargo may reuse a test binary another clone
/// built).
pub fn root() -> PathBuf {
    let start =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let mut dir = start.clone();
    loop {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains("[workspace]")) {
            return dir;
        }
        if !dir.pop() {
            return start;
        }
    }
}

/// Says a test is skipped because a tool it needs is missing: on stderr,
/// and in the file `TRINVIS_SKIP_LOG` names (set by `./x test`), so the
/// run counts it as skipped, not passed.
pub fn skipped(reason: &str) {
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

/// A telemetry sample of a patient standing still, looking at the stimulus,
/// at headset time `t_us` (and session time `t_us`), on step 1.
pub fn sample(t_us: u64, state: protocol::SessionState, target: f32) -> protocol::Sample {
    protocol::Sample {
        t_us,
        session_us: t_us,
        head: protocol::Pose { p: [0.0, 1.6, 0.0], q: [0.0, 0.0, 0.0, 1.0] },
        left_hand: None,
        right_hand: None,
        gaze: [0.0, 0.0, -1.0],
        gaze_on_stimulus: true,
        stimulus_angle_deg: 0.0,
        stimulus_distance_m: None,
        stimulus_p: None,
        state,
        target_level: target,
        applied_level: target,
        step: 1,
        safe_blend: 0.0,
        frame_ms: 11.1,
        dropped_frames: 0,
        heart_rate: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_root_holds_the_workspace() {
        assert!(super::root().join("crates/testkit/Cargo.toml").is_file());
    }
}
