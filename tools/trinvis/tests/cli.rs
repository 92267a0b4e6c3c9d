//! The `trinvis` binary as a user runs it: real files, exit codes, output.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod common;

use std::path::{Path, PathBuf};

use common::{root, text, trinvis};

/// A copy of heights.ron with one edit, in a fresh temporary folder.
fn edited_copy(name: &str, from: &str, to: &str) -> PathBuf {
    let original = std::fs::read_to_string(root().join("scenarios/heights.ron")).expect("heights.ron");
    assert!(original.contains(from));
    let dir = std::env::temp_dir().join(format!("trinvis-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("heights.ron");
    std::fs::write(&path, original.replacen(from, to, 1)).expect("write copy");
    path
}

#[test]
fn lint_passes_on_the_shipped_scenarios() {
    let out = trinvis(&["lint"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().filter(|l| l.starts_with("ok ")).count(),
        std::fs::read_dir(root().join("scenarios")).unwrap().count()
    );
}

#[test]
fn lint_fails_with_a_located_error_on_a_misspelt_field() {
    let path = edited_copy("misspelt", "min_time_s: 120.0,", "min_tme_s: 120.0,");
    let out = trinvis(&["lint", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let expected = format!("{}:32:13: step \"floor-1\": unknown field `min_tme_s`", path.display());
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn lint_fails_with_a_located_error_on_a_negative_height() {
    let path = edited_copy("negative", "\"height_m\": 9.0", "\"height_m\": -2");
    let out = trinvis(&["lint", Path::new(&path).to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let expected = format!("{}:51:35: step \"floor-3\": height_m: must be > 0, got -2", path.display());
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn lint_says_when_a_path_does_not_exist() {
    let out = trinvis(&["lint", "no/such/file.ron"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no/such/file.ron does not exist"));
}

#[test]
fn sim_climbs_the_heights_ladder_and_prints_the_table() {
    let out = trinvis(&["sim", "--scenario", "scenarios/heights.ron", "--minutes", "30", "--auto"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("step  id"), "{table}");
    let rows: Vec<&str> =
        table.lines().filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())).collect();
    assert!(rows.len() >= 5, "climbed at least five steps:\n{table}");
    assert!(rows[0].contains("floor-1"), "{table}");
}

#[test]
fn sim_json_is_deterministic_for_a_seed() {
    let run = || trinvis(&["sim", "--scenario", "scenarios/spiders.ron", "--minutes", "12", "--seed", "7", "--json"]);
    let (a, b) = (run(), run());
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let json = text(&a.stdout);
    assert!(json.contains("\"scenario\": \"spiders\"") && json.contains("\"seed\": 7"), "{json}");
}

/// A clinic's own certificate (`--cert`, `--key`): the console serves TLS
/// with it, on loopback too, and prints its fingerprint; a key that does
/// not go with the certificate stops it with a message naming the file.
#[test]
fn the_console_serves_a_clinics_own_certificate_and_refuses_a_key_of_another() {
    let dir = std::env::temp_dir().join(format!("trinvis-cli-{}-cert", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let ours = console::tls::load_or_create(&dir.join("ours"), &["clinic.example".into()]).unwrap();
    console::tls::load_or_create(&dir.join("other"), &[]).unwrap();
    let (cert, key) = (dir.join("ours/tls/console.crt"), dir.join("ours/tls/console.key"));
    let (mut running, printed) = common::spawn_console(
        std::process::Command::new(env!("CARGO_BIN_EXE_trinvis"))
            .args(["console", "--bind", "127.0.0.1:0", "--recordings"])
            .arg(dir.join("recordings"))
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key),
    );
    running.kill().unwrap();
    let _ = running.wait();
    assert!(printed[0].contains("https://127.0.0.1:"), "{printed:?}");
    assert!(printed.iter().any(|l| l.contains(&format!("SHA-256 {}", ours.fingerprint))), "{printed:?}");
    assert!(printed.iter().any(|l| l.contains("wss://127.0.0.1:")), "{printed:?}");

    let other_key = dir.join("other/tls/console.key");
    let out = trinvis(&[
        "console",
        "--bind",
        "127.0.0.1:0",
        "--recordings",
        dir.join("recordings").to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        other_key.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("other/tls/console.key") && said.contains("does not go with the certificate"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
