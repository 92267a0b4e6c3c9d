//! `trinvis lint [PATH…]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders of them (every *.ron inside).
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, &mut files)?;
    }
    if files.is_empty() {
        anyhow::bail!(
            "no .ron files in {}",
            args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut failed = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        match scenario::parse(&text, &file.display().to_string()) {
            Ok(s) => println!("ok   {} ({}, {} steps)", file.display(), s.id, s.step_count()),
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} scenario files have errors", files.len());
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading folder {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "ron"))
            .collect();
        // Stable order, so the output reads the same on every machine.
        entries.sort();
        files.extend(entries);
    } else if path.exists() {
        files.push(path.to_owned());
    } else {
        anyhow::bail!("{} does not exist", path.display());
    }
    Ok(())
}
