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

// ---------------------------------------------------------------------------
// The workspace's shape as rules: which crate may use which, where the heavy
// dependencies may be, where `unsafe` may be. A new edge is a decision: make
// it here, with its reason, or the test fails.

/// Each workspace crate's direct (normal) dependencies on other workspace
/// crates: exactly these.
const INTERNAL_EDGES: &[(&str, &[&str])] = &[
    ("trinvis-scenario", &[]),
    ("trinvis-session", &["trinvis-scenario"]),
    ("trinvis-patient", &[]),
    ("trinvis-sim", &["trinvis-patient", "trinvis-scenario", "trinvis-session"]),
    ("trinvis-protocol", &[]),
    ("trinvis-recording", &[]),
    ("trinvis-research", &["trinvis-recording", "trinvis-scenario"]),
    ("trinvis-outputs", &["trinvis-recording", "trinvis-research", "trinvis-scenario"]),
    ("trinvis-course", &["trinvis-recording", "trinvis-research"]),
    ("trinvis-link", &["trinvis-protocol", "trinvis-scenario", "trinvis-session"]),
    ("trinvis-console", &["trinvis-course", "trinvis-protocol", "trinvis-recording", "trinvis-research"]),
    (
        "trinvis-headset",
        &[
            "trinvis-link",
            "trinvis-patient",
            "trinvis-protocol",
            "trinvis-recording",
            "trinvis-scenario",
            "trinvis-session",
        ],
    ),
    (
        "trinvis",
        &[
            "trinvis-console",
            "trinvis-course",
            "trinvis-link",
            "trinvis-outputs",
            "trinvis-patient",
            "trinvis-protocol",
            "trinvis-recording",
            "trinvis-research",
            "trinvis-scenario",
            "trinvis-session",
            "trinvis-sim",
        ],
    ),
    ("trinvis-stress", &["trinvis-link", "trinvis-patient", "trinvis-protocol", "trinvis-recording"]),
    ("trinvis-tests", &["trinvis-testkit"]),
    ("trinvis-testkit", &["trinvis-protocol"]),
    ("xtask", &[]),
];

/// Direct external dependencies of the small core crates: exactly these.
const CORE_EXTERNAL: &[(&str, &[&str])] = &[
    ("trinvis-patient", &["glam", "serde"]),
    ("trinvis-protocol", &["serde", "serde_json"]),
    ("trinvis-scenario", &["ron", "serde"]),
    ("trinvis-session", &["serde"]),
    ("trinvis-sim", &["glam", "serde"]),
];

/// Heavy dependency families (name prefixes) and the crates whose build may
/// contain them (anywhere in their tree).
const HEAVY: &[(&str, &[&str], &[&str])] = &[
    ("a renderer or window system", &["bevy", "wgpu", "winit", "kira", "openxr"], &["trinvis-headset"]),
    (
        "an async runtime",
        &["tokio", "async-std", "smol"],
        // The link's task runs on tokio; the headset and the tools use the link.
        &["trinvis-console", "trinvis-link", "trinvis-headset", "trinvis", "trinvis-stress"],
    ),
    (
        "the research outputs (Arrow, Parquet, charts)",
        &["arrow", "parquet", "plotters"],
        // Only where the outputs are made and used: the console draws
        // `/report` with a renderer the binary gives it.
        &["trinvis-outputs", "trinvis"],
    ),
    ("SQLite", &["rusqlite", "libsqlite3-sys"], &["trinvis-course", "trinvis-console", "trinvis"]),
    ("an HTTP server", &["axum", "hyper"], &["trinvis-console", "trinvis"]),
    (
        "anyhow (binaries only: libraries return typed errors)",
        &["anyhow"],
        &["trinvis-headset", "trinvis", "trinvis-stress", "xtask"],
    ),
];

/// Every `unsafe` block or function, by file: the loader OpenXR needs, a
/// malloc setting of the console process, and a test's raw socket.
const UNSAFE_SITES: &[(&str, usize)] = // keep sorted by file
    &[("crates/headset/src/xr.rs", 1), ("tools/trinvis/src/console_cmd.rs", 2), ("tests/wire.rs", 1)];

fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(trinvis_tests::root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Direct normal dependencies of each workspace package: (internal, external).
fn direct_dependencies(meta: &serde_json::Value) -> Vec<(String, Vec<String>, Vec<String>)> {
    let packages = meta["packages"].as_array().expect("packages");
    let ours: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut out: Vec<(String, Vec<String>, Vec<String>)> = packages
        .iter()
        .map(|p| {
            let normal = p["dependencies"].as_array().into_iter().flatten().filter(|d| d["kind"].is_null());
            let (mut internal, mut external): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
            for d in normal {
                let name = d["name"].as_str().unwrap_or_default().to_owned();
                if ours.contains(&name.as_str()) { internal.push(name) } else { external.push(name) }
            }
            internal.sort();
            external.sort();
            (p["name"].as_str().unwrap_or_default().to_owned(), internal, external)
        })
        .collect();
    out.sort();
    out
}

/// What breaks the edge rules, in words (empty when none).
fn edge_problems(found: &[(String, Vec<String>, Vec<String>)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, internal, external) in found {
        match INTERNAL_EDGES.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("{name} is not in INTERNAL_EDGES: say which crates it may use")),
            Some((_, allowed)) if internal != allowed => {
                problems.push(format!("{name} uses {internal:?}, the rule allows {allowed:?}"));
            }
            Some(_) => {}
        }
        if let Some((_, allowed)) = CORE_EXTERNAL.iter().find(|(n, _)| n == name)
            && external != allowed
        {
            problems.push(format!("{name} depends on {external:?}, the rule allows {allowed:?}"));
        }
    }
    problems
}

#[test]
fn each_crate_uses_only_the_crates_its_rule_allows() {
    let problems = edge_problems(&direct_dependencies(&metadata()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_edge_rule_notices_a_new_edge() {
    let mut found = direct_dependencies(&metadata());
    assert!(edge_problems(&found).is_empty());
    let session = found.iter_mut().find(|(n, ..)| n == "trinvis-session").unwrap();
    session.1.push("trinvis-recording".into());
    assert_eq!(edge_problems(&found).len(), 1);
    let patient = found.iter_mut().find(|(n, ..)| n == "trinvis-patient").unwrap();
    patient.2.push("tokio".into());
    assert_eq!(edge_problems(&found).len(), 2);
}

/// The heavy families in a `cargo tree --prefix none` output.
fn families_in(tree: &str) -> Vec<&'static str> {
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    HEAVY
        .iter()
        .filter(|(_, prefixes, _)| {
            names.iter().any(|n| {
                prefixes.iter().any(|f| *n == *f || n.starts_with(&format!("{f}_")) || n.starts_with(&format!("{f}-")))
            })
        })
        .map(|(family, ..)| *family)
        .collect()
}

#[test]
fn heavy_dependencies_stay_where_they_are_allowed() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut problems = Vec::new();
    for (name, ..) in direct_dependencies(&metadata()) {
        let output = Command::new(&cargo)
            // The host's tree: the families are the same on every platform.
            .args(["tree", "--quiet", "--offline", "--package", &name, "--edges", "normal,build", "--prefix", "none"])
            .current_dir(trinvis_tests::root())
            .output()
            .expect("cargo tree runs");
        assert!(output.status.success(), "cargo tree -p {name}: {}", String::from_utf8_lossy(&output.stderr));
        for family in families_in(&String::from_utf8_lossy(&output.stdout)) {
            let allowed = HEAVY.iter().find(|(f, ..)| *f == family).map_or(&[][..], |(_, _, a)| *a);
            if !allowed.contains(&name.as_str()) {
                problems.push(format!("{name} builds {family}; allowed only in {allowed:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_heavy_rule_notices_a_family() {
    assert_eq!(families_in("x v1\nbevy_ecs v0.19\n"), ["a renderer or window system"]);
    assert_eq!(
        families_in("arrow-array v1\nanyhow v1\n"),
        ["the research outputs (Arrow, Parquet, charts)", "anyhow (binaries only: libraries return typed errors)"]
    );
    assert!(families_in("tokiox v1\nmy-bevy v1\n").is_empty());
}

/// `unsafe` blocks, functions and impls in a Rust source, comments left out.
fn unsafe_sites(source: &str) -> usize {
    source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .map(|l| l.matches("unsafe {").count() + l.matches("unsafe fn ").count() + l.matches("unsafe impl ").count())
        .sum()
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "target" && !n.to_string_lossy().starts_with('.')) {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn unsafe_code_is_only_where_it_is_listed() {
    let root = trinvis_tests::root();
    let mut files = Vec::new();
    for dir in ["crates", "tools", "tests", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut found: Vec<(String, usize)> = files
        .iter()
        // This file names `unsafe` in its own examples.
        .filter(|f| !f.ends_with("tests/layering.rs"))
        .filter_map(|f| {
            let n = unsafe_sites(&std::fs::read_to_string(f).ok()?);
            let name = f.strip_prefix(&root).ok()?.to_string_lossy().replace('\\', "/");
            (n > 0).then_some((name, n))
        })
        .collect();
    found.sort();
    let mut listed: Vec<(String, usize)> = UNSAFE_SITES.iter().map(|(f, n)| ((*f).to_owned(), *n)).collect();
    listed.sort();
    assert_eq!(found, listed, "unsafe code where UNSAFE_SITES does not list it (or listed and gone)");
    assert_eq!(unsafe_sites("let x = unsafe { f() }; // unsafe { no }\nunsafe fn g() {}"), 2);
}

/// ARCHITECTURE.md's test inventory names every test file, so a newcomer
/// finds each from the code map.
#[test]
fn the_code_map_names_every_test_file() {
    let root = trinvis_tests::root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut files = Vec::new();
    for dir in ["crates", "tools", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(&root).ok().map(|p| p.to_string_lossy().replace('\\', "/")))
        // Test files: a `tests/` folder's own files (not helpers in its subfolders, not lib.rs).
        .filter(|p| {
            let parts: Vec<&str> = p.split('/').collect();
            parts.len() >= 2 && parts[parts.len() - 2] == "tests" && !p.ends_with("/lib.rs") && *p != "tests/lib.rs"
        })
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or_default();
            !map.contains(p.as_str()) && !map.contains(&format!("`{name}`"))
        })
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md's tests section does not name: {missing:?}");
}
