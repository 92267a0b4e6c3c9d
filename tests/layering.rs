//! The core crates build and test in seconds because they never pull in a
//! renderer, a window system or an async runtime. `cargo tree` proves it.

use std::process::Command;

/// Crates that must stay free of rendering and async IO.
const CORE: &[&str] = &[
    "trinvis-scenario",
    "trinvis-session",
    "trinvis-patient",
    "trinvis-sim",
    "trinvis-protocol",
    "trinvis-recording",
    "trinvis-research",
    "trinvis-course",
];

/// Name prefixes that mean a renderer, windowing or async runtime.
const FORBIDDEN: &[&str] = &["bevy", "wgpu", "winit", "tokio", "async-std", "smol"];

/// The forbidden crates named in `cargo tree --prefix none` output.
fn forbidden_in(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            FORBIDDEN
                .iter()
                .any(|f| *name == *f || name.starts_with(&format!("{f}_")) || name.starts_with(&format!("{f}-")))
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_checker_notices_a_forbidden_crate() {
    let tree = "trinvis-session v0.1.0 (/x)\nserde v1.0.0\ntokio v1.40.0\nbevy_ecs v0.19.0\ntokio-util v0.7.0\nwinit v0.30.0\nbevy v0.19.0\nwgpu-core v25.0.0\n";
    assert_eq!(forbidden_in(tree), ["bevy", "bevy_ecs", "tokio", "tokio-util", "wgpu-core", "winit"]);
    assert!(forbidden_in("tokiox v1\nmybevy v1\n").is_empty());
}

#[test]
fn core_crates_depend_on_no_renderer_window_or_async_runtime() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    for krate in CORE {
        let output = Command::new(&cargo)
            .args([
                "tree",
                "--quiet",
                "--package",
                krate,
                "--edges",
                "normal,build",
                "--prefix",
                "none",
                "--target",
                "all",
            ])
            .current_dir(trinvis_tests::root())
            .output()
            .expect("cargo tree runs");
        assert!(output.status.success(), "cargo tree -p {krate} failed: {}", String::from_utf8_lossy(&output.stderr));
        let tree = String::from_utf8_lossy(&output.stdout);
        assert!(tree.contains(krate), "cargo tree -p {krate} printed no tree:\n{tree}");
        assert_eq!(forbidden_in(&tree), Vec::<String>::new(), "{krate} must not depend on these");
    }
}
