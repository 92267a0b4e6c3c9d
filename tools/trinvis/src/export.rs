//! `trinvis export FILE… --format csv|parquet --out DIR`

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use research::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recordings to export; several make one dataset, partitioned by session.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// File format of the tables.
    #[arg(long, value_enum, default_value_t = FormatArg::Parquet)]
    format: FormatArg,
    /// The dataset folder: DIR/<table>/session=<id>/<recording>.<csv|parquet>.
    #[arg(long)]
    out: PathBuf,
    /// Scenario files (or folders of them) whose step titles fill the
    /// `step_title` column, matched by scenario id.
    #[arg(long, default_value = "scenarios")]
    scenarios: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FormatArg {
    Csv,
    Parquet,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        FormatArg::Csv => Format::Csv,
        FormatArg::Parquet => Format::Parquet,
    };
    // Every file must exist before anything is written.
    for file in &args.files {
        std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    }
    let scenarios = crate::report::scenarios(&args.scenarios);
    let progress = progress_bar(args.files.len() as u64);
    progress.set_message("reading");
    // Sessions are found from each file's metadata; each is then read,
    // exported and let go before the next, so memory holds one session.
    let sessions = research::group_by_session(&args.files)?;
    check_unique_stems(&sessions)?;
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for paths in &sessions {
        let data = &research::load_session(paths)?;
        let name = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" + ");
        progress.set_message(name.clone());
        if paths.len() > 1 {
            progress.suspend(|| {
                eprintln!(
                    "session {}: {} files read as one session ({name}); what they hold twice counts once",
                    data.metadata.session_id,
                    paths.len()
                )
            });
        }
        if !data.complete {
            progress.suspend(|| {
                eprintln!(
                    "{name}: the recording was cut short ({}); exporting the {} messages it holds",
                    data.cut.as_deref().unwrap_or("no index"),
                    data.samples.len()
                        + data.events.len()
                        + data.commands.len()
                        + data.acks.len()
                        + data.annotations.len()
                )
            });
        }
        if let Some(note) = data.unreadable_note() {
            progress.suspend(|| eprintln!("{name}: {note}"));
        }
        let visits = research::steps::visits(data, scenarios.get(&data.metadata.scenario_id));
        for table in research::tables(data, &visits) {
            research::export::write_table(&args.out, &data.metadata.session_id, &research::stem(data), &table, format)?;
            *rows.entry(table.name).or_default() += table.rows;
        }
        progress.inc(paths.len() as u64);
    }
    progress.finish_and_clear();
    println!("exported {} recording(s), {} session(s), to {}:", args.files.len(), sessions.len(), args.out.display());
    for name in research::TABLES {
        println!("  {:<12} {:>9} rows", name, rows.get(name).copied().unwrap_or(0));
    }
    Ok(ExitCode::SUCCESS)
}

/// Files are named after their session's first recording, so two sessions
/// whose recordings have one name would overwrite each other.
fn check_unique_stems(sessions: &[Vec<PathBuf>]) -> anyhow::Result<()> {
    let mut seen: BTreeMap<String, &PathBuf> = BTreeMap::new();
    for paths in sessions {
        let stem = paths[0].file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(other) = seen.insert(stem, &paths[0]) {
            anyhow::bail!(
                "{} and {} have the same name; export them to different folders",
                other.display(),
                paths[0].display()
            );
        }
    }
    Ok(())
}

/// A bar on stderr when it is a terminal; hidden otherwise (logs, pipes, tests).
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} recordings {elapsed} {wide_msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
