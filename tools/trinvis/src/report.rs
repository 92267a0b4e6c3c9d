//! `trinvis report FILE --out DIR`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording.
    file: PathBuf,
    /// Folder for the report (`index.html`, self-contained).
    #[arg(long)]
    out: PathBuf,
    /// Scenario files (or folders of them) for the scenario's title and
    /// step titles, matched by scenario id.
    #[arg(long, default_value = "scenarios")]
    scenarios: Vec<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // A session resumed after a console restart goes on in more files
    // (`<id>-part2.mcap`, …) beside the first: the report covers them all.
    let session_id = recording::Recording::read_metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .session_id;
    let files = research::session_files(&args.file, &session_id);
    if files.len() > 1 {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        eprintln!("session {session_id}: reading its {} files as one: {}", files.len(), names.join(", "));
    }
    let data = research::load_session(&files)?;
    if !data.complete {
        eprintln!(
            "{}: the recording was cut short ({}); the report covers what it holds",
            args.file.display(),
            data.cut.as_deref().unwrap_or("no index")
        );
    }
    let scenarios = scenarios(&args.scenarios);
    let scenario = scenarios.get(&data.metadata.scenario_id);
    let visits = research::steps::visits(&data, scenario);
    let html = outputs::report::html(&data, &visits, scenario);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join("index.html");
    std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The valid scenarios among these files and folders, by id. Files that do
/// not parse are skipped: titles are a nicety, never a reason to fail.
pub fn scenarios(paths: &[PathBuf]) -> BTreeMap<String, scenario::Scenario> {
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "ron"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files.iter().filter_map(|f| parse(f)).map(|s| (s.id.clone(), s)).collect()
}

fn parse(file: &Path) -> Option<scenario::Scenario> {
    let text = std::fs::read_to_string(file).ok()?;
    scenario::parse(&text, &file.display().to_string()).ok()
}
