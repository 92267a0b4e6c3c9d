//! `trinvis recover FILE [--out FILE]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use recording::{Channel, recover};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A recording cut short (or any recording).
    file: PathBuf,
    /// Where to write the clean copy (default: FILE with `.recovered.mcap`).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let out = args.out.clone().unwrap_or_else(|| args.file.with_extension("recovered.mcap"));
    let recording = recover(&args.file, &out)
        .with_context(|| format!("recovering {} into {}", args.file.display(), out.display()))?;
    if recording.complete {
        println!("{} was complete", args.file.display());
    } else {
        let cut =
            recording.cut.as_ref().map_or(String::new(), |why| format!("; its last record was cut short ({why})"));
        println!("{} was not finished (its console stopped before closing it){cut}", args.file.display());
    }
    let seconds = recording.time_range().map_or(0.0, |(a, b)| (b - a) as f64 / 1e6);
    println!("session {}, {:.1} s of messages:", recording.metadata.session_id, seconds);
    for channel in Channel::ALL {
        println!("  {:<13} {:>8}", channel.topic(), recording.channel(channel).count());
    }
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}
