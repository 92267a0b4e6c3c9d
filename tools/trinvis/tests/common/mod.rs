//! Helpers the `trinvis` integration tests share.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `trinvis` binary in the workspace root.
pub fn trinvis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trinvis")).args(args).current_dir(root()).output().expect("trinvis runs")
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
