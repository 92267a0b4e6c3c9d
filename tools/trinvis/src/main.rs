//! `trinvis`: the command line for clinicians and researchers (the
//! developers' stress checks are `tools/stress`).
//! Glue only: each subcommand parses its flags and calls a library.

mod console_cmd;
mod export;
mod index;
mod inspect;
mod lint;
mod record;
mod recover;
mod replay_cmd;
mod report;
mod sim;
mod sim_live;

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
    /// Run a session with a synthetic patient: faster than real time, or in
    /// real time against a console as simulated headsets.
    Sim(sim::Args),
    /// Run the console: the therapist's page, the headset hub, the recorder.
    Console(console_cmd::Args),
    /// Write a clean copy of a recording that was cut short.
    Recover(recover::Args),
    /// Describe recordings: session, completeness, messages per channel, size.
    Inspect(inspect::Args),
    /// Serve a recording on the therapist's page, with a timeline.
    Replay(replay_cmd::Args),
    /// Export recordings as tidy tables (CSV or Parquet), one dataset
    /// partitioned by session, for R, Python and DuckDB.
    Export(export::Args),
    /// Write a session's report: one HTML page with plots and a table per step.
    Report(report::Args),
    /// Build the course index (each patient's sessions, for the console's
    /// Patients view and start proposals) from a recordings folder.
    Index(index::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, `info` by default; RUST_LOG=debug for more.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match cli.command {
        Cmd::Lint(args) => lint::run(&args),
        Cmd::Sim(args) => sim::run(&args),
        Cmd::Console(args) => console_cmd::run(&args),
        Cmd::Recover(args) => recover::run(&args),
        Cmd::Inspect(args) => inspect::run(&args),
        Cmd::Replay(args) => replay_cmd::run(&args),
        Cmd::Export(args) => export::run(&args),
        Cmd::Index(args) => index::run(&args),
        Cmd::Report(args) => report::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
