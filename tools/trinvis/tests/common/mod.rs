//! Helpers the `trinvis` integration tests share.

#![allow(dead_code, reason = "each test binary uses its own part of this module")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// Runs the `trinvis` binary in the workspace root.
pub fn trinvis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trinvis")).args(args).current_dir(root()).output().expect("trinvis runs")
}

#[allow(unused_imports, reason = "each test binary uses its own part")]
pub use testkit::root;

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Starts `command` (a `trinvis console …`), reads the lines it prints
/// before it serves (up to "Press Ctrl-C") and goes on reading the rest,
/// so it never dies writing to a closed pipe. Returns the process and the
/// lines.
pub fn spawn_console(command: &mut Command) -> (Child, Vec<String>) {
    let mut console = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("the console starts");
    let mut lines = BufReader::new(console.stdout.take().expect("piped")).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("the console prints text");
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    assert!(printed.first().is_some_and(|l| l.contains("://")), "the console did not start: {printed:?}");
    (console, printed)
}

/// The address a console printed in its first line, `127.0.0.1:PORT`.
pub fn address(printed: &[String]) -> String {
    printed[0].rsplit("://").next().unwrap_or_default().trim().to_owned()
}
