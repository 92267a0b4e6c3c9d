//! `trinvis-stress`: developer checks that put a real `trinvis console`
//! process under load, apart from the product's command line (`./x fuzz`,
//! `./x soak`, `./x bench-live` build and run it). It starts the `trinvis`
//! binary that lies beside it (the same target folder).

mod bench_echo;
mod console_proc;
mod fuzz;
mod soak;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "trinvis-stress", version, about = "Trinvis stress tools for developers")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Mutated frames of every message kind at a console's sockets, beside
    /// honest headsets; fails on a panic or lost data.
    Fuzz(fuzz::Args),
    /// Simulated headsets against a recording console for hours; fails
    /// when its memory, threads or open files grow.
    Soak(soak::Args),
    /// Benchmark floor: a bare WebSocket echo server (`./x bench-live`).
    BenchEcho(bench_echo::Args),
}

/// The `trinvis` binary beside this one, which the checks start as the
/// console and the simulated headsets.
pub(crate) fn trinvis() -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("finding this program")?;
    let trinvis = exe.with_file_name(format!("trinvis{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        trinvis.is_file(),
        "{} is missing: build it first (`cargo build -p trinvis`; ./x does)",
        trinvis.display()
    );
    Ok(trinvis)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match cli.command {
        Cmd::Fuzz(args) => fuzz::run(&args),
        Cmd::Soak(args) => soak::run(&args),
        Cmd::BenchEcho(args) => bench_echo::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
