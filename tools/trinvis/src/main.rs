//! `trinvis`: the command line for clinicians, researchers and developers.
//! Glue only: each subcommand parses its flags and calls a library.

mod lint;
mod sim;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "trinvis", version, about = "Trinvis: open VR exposure therapy runtime")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Check scenario files; exit 0 when all are valid, 1 otherwise.
    Lint(lint::Args),
    /// Run a session with a synthetic patient, faster than real time.
    Sim(sim::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Lint(args) => lint::run(&args),
        Cmd::Sim(args) => sim::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
