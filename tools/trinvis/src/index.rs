//! `trinvis index RECORDINGS [--data DIR]`: (re)builds the course index
//! that the console keeps in its data folder from the recordings, e.g.
//! for recordings made before, or after deleting the index.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recordings folder.
    recordings: PathBuf,
    /// The console's data folder, where `course.sqlite` is (default:
    /// `console-data` beside the recordings folder, as the console's).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let data = args.data.clone().unwrap_or_else(|| {
        args.recordings.parent().map_or_else(|| PathBuf::from("console-data"), |p| p.join("console-data"))
    });
    console::table::create_private_dir(&data).with_context(|| format!("creating {}", data.display()))?;
    let path = data.join("course.sqlite");
    let mut db = course::Db::open(&path)?;
    let indexed = db.index_dir(&args.recordings)?;
    for skipped in &indexed.skipped {
        eprintln!("skipped {skipped}");
    }
    let patients = db.patients()?;
    println!(
        "indexed {} session(s) of {} patient(s) from {} into {}",
        indexed.sessions,
        patients.len(),
        args.recordings.display(),
        path.display()
    );
    Ok(if indexed.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
