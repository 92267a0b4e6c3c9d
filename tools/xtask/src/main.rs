//! Project automation, run as `cargo xtask <task>`:
//!
//! - `test`: everything CI runs: formatting, clippy, every test (unit,
//!   integration, doc, property, end to end, benchmarks compiled and run
//!   once), and `trinvis lint` over `scenarios/`.
//! - `demo`: a demo session. Until the console and the headset app exist, a
//!   headless simulated session over the heights scenario.
//! - `bench`: the criterion benchmarks.
//! - `build-times`: cold and warm build times of the workspace's tests, in a
//!   fresh target directory.
//!
//! Plain `std::process::Command`s: no dependencies, so `cargo xtask` builds
//! in seconds on a fresh clone.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "test" => test(),
        "demo" => demo(&args[1..]),
        "bench" => bench(&args[1..]),
        "build-times" => build_times(),
        _ => {
            eprintln!("usage: cargo xtask <test | demo | bench [FILTER] | build-times>");
            return ExitCode::from(if task == "help" || task == "--help" { 0 } else { 2 });
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask {task}: {message}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root());
    command
}

/// Runs `command`, echoing it, and fails with `what` when it fails.
fn run(what: &str, command: &mut Command) -> Result {
    println!("\n==> {what}\n    {}", show(command));
    let status = command.status().map_err(|e| format!("{what}: could not start {}: {e}", show(command)))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

fn show(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a cargo subcommand (a rustup component) is installed.
fn has_cargo_tool(tool: &str) -> bool {
    cargo().args([tool, "--version"]).output().is_ok_and(|o| o.status.success())
}

fn test() -> Result {
    for (tool, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        if !has_cargo_tool(tool) {
            return Err(format!("`cargo {tool}` is missing; install it with `rustup component add {component}`"));
        }
    }
    run("formatting", cargo().args(["fmt", "--all", "--", "--check"]))?;
    run("clippy", cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    run(
        "scenario lint",
        cargo().args(["run", "--quiet", "--locked", "--package", "trinvis", "--", "lint", "scenarios"]),
    )?;
    let mut counts = [0u64; 3];
    run_tests("doc tests", cargo().args(["test", "--workspace", "--locked", "--doc"]), &mut counts)?;
    run_tests(
        "tests (unit, integration, property, end to end; benchmarks run once)",
        cargo().args(["test", "--workspace", "--all-targets", "--locked"]),
        &mut counts,
    )?;
    let [passed, failed, ignored] = counts;
    println!("\nxtask test: formatting, clippy and scenario lint clean; every test binary passed");
    // The last line sums every `test result:` line above, for people and CI.
    println!("tests: {passed} passed, {failed} failed, {ignored} skipped");
    Ok(())
}

/// Runs a `cargo test` command, passing its output through and adding up its
/// `test result:` lines into `counts` (passed, failed, ignored).
fn run_tests(what: &str, command: &mut Command, counts: &mut [u64; 3]) -> Result {
    use std::io::{BufRead, BufReader};
    println!("\n==> {what}\n    {}", show(command));
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: could not start {}: {e}", show(command)))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            for (i, word) in ["passed", "failed", "ignored"].iter().enumerate() {
                counts[i] += count_before(rest, word);
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

/// In `ok. 5 passed; 0 failed; …`, the number before `word`.
fn count_before(summary: &str, word: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(word))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn demo(args: &[String]) -> Result {
    let scenario = args.first().map_or("scenarios/heights.ron", String::as_str);
    println!("Trinvis demo: a 30-minute session over {scenario}, simulated headless with a synthetic patient.");
    println!("(The console and the headset app join this demo as they land; see README.md.)");
    run(
        "simulated session",
        cargo().args([
            "run",
            "--quiet",
            "--locked",
            "--package",
            "trinvis",
            "--",
            "sim",
            "--scenario",
            scenario,
            "--minutes",
            "30",
            "--auto",
            "--events",
        ]),
    )
}

fn bench(args: &[String]) -> Result {
    let mut command = cargo();
    command.args([
        "bench",
        "--locked",
        "--package",
        "trinvis-scenario",
        "--package",
        "trinvis-session",
        "--package",
        "trinvis-sim",
    ]);
    if !args.is_empty() {
        command.arg("--").args(args);
    }
    run("benchmarks", &mut command)
}

fn build_times() -> Result {
    let target = std::env::temp_dir().join(format!("trinvis-build-times-{}", std::process::id()));
    let timed = |what: &str| -> Result<f64> {
        let started = Instant::now();
        run(
            what,
            cargo().env("CARGO_TARGET_DIR", &target).args([
                "test",
                "--workspace",
                "--all-targets",
                "--locked",
                "--no-run",
            ]),
        )?;
        Ok(started.elapsed().as_secs_f64())
    };
    let cold = timed("cold build of all test targets")?;
    let touched = root().join("crates/session/src/lib.rs");
    let text = std::fs::read(&touched).map_err(|e| e.to_string())?;
    std::fs::write(&touched, &text).map_err(|e| e.to_string())?;
    let warm = timed("warm rebuild after touching crates/session/src/lib.rs")?;
    let started = Instant::now();
    run(
        "test run",
        cargo().env("CARGO_TARGET_DIR", &target).args(["test", "--workspace", "--all-targets", "--locked"]),
    )?;
    let test_run = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&target);
    println!(
        "\nbuild times on {} cores: cold {cold:.0} s, warm {warm:.1} s, test run {test_run:.1} s",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::count_before;

    #[test]
    fn reads_cargo_test_summaries() {
        let line = "ok. 12 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.35s";
        assert_eq!(
            [count_before(line, "passed"), count_before(line, "failed"), count_before(line, "ignored")],
            [12, 3, 1]
        );
        assert_eq!(count_before("FAILED. 6 passed; 2 failed; 0 ignored", "failed"), 2);
    }
}
