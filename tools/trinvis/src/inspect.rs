//! `trinvis inspect FILE…`: what a recording holds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use recording::{Channel, Recording};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recordings to describe.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    for file in &args.files {
        let bytes = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
        let r = Recording::open(file).with_context(|| format!("reading {}", file.display()))?;
        let m = &r.metadata;
        println!("{}", file.display());
        println!(
            "  session {} · patient {} · scenario {} {} · headset {}",
            m.session_id, m.patient_code, m.scenario_id, m.scenario_version, m.headset_id
        );
        println!(
            "  started {} · {}",
            m.started,
            if r.complete {
                "complete".to_owned()
            } else {
                format!("NOT FINISHED ({}): run `trinvis recover`", r.cut.as_deref().unwrap_or("no index"))
            }
        );
        let span = r.time_range().map_or(0.0, |(a, b)| (b - a) as f64 / 1e6);
        let per_hour = if span > 0.0 { bytes as f64 / span * 3600.0 / 1e6 } else { 0.0 };
        println!("  {:.1} s of messages · {:.2} MB · {per_hour:.1} MB per session-hour", span, bytes as f64 / 1e6);
        for channel in Channel::ALL {
            println!("  {:<13} {:>9}", channel.topic(), r.channel(channel).count());
        }
    }
    Ok(ExitCode::SUCCESS)
}
