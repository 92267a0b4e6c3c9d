//! `trinvis export FILE… --format csv|parquet --out DIR [--since DAY]`

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use outputs::Format;

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
    /// Only sessions that started on or after this day (YYYY-MM-DD, UTC):
    /// a clinic's new sessions for a study's dataset.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    since: Option<Day>,
    /// Also write the recorded pictures of the patient's view (the mirror)
    /// as JPEG files, with a `mirror` table of their times:
    /// DIR/mirror/session=<id>/<recording>-<session ms>.jpg.
    #[arg(long)]
    mirror_frames: bool,
}

/// A UTC day, and its start in microseconds since 1970.
#[derive(Clone, Debug)]
pub struct Day {
    text: String,
    start_us: u64,
}

/// `YYYY-MM-DD`, as a day of the proleptic Gregorian calendar from 1970 on.
fn parse_day(text: &str) -> Result<Day, String> {
    let bad = || format!("{text:?} is not a day as YYYY-MM-DD (for example 2026-11-01)");
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts[..] else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, i64, i64) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if y < 1970 || !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return Err(bad());
    }
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(Day { text: text.to_owned(), start_us: days as u64 * 86_400 * 1_000_000 })
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
    let mut sessions = research::group_by_session(&args.files)?;
    if let Some(since) = &args.since {
        // A session counts from its first file's start.
        let before = sessions.len();
        let mut kept = Vec::new();
        for paths in sessions {
            let started = recording::Recording::read_metadata(&paths[0])
                .with_context(|| format!("reading {}", paths[0].display()))?
                .started_unix_us;
            if started >= since.start_us {
                kept.push(paths);
            }
        }
        sessions = kept;
        eprintln!(
            "{} of {before} session(s) started on or after {} (UTC); the others are left out",
            sessions.len(),
            since.text
        );
    }
    let exported_files: usize = sessions.iter().map(Vec::len).sum();
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
            outputs::export::write_table(&args.out, &data.metadata.session_id, &research::stem(data), &table, format)?;
            *rows.entry(table.name).or_default() += table.rows;
        }
        if args.mirror_frames {
            let table = outputs::export::write_pictures(&args.out, data, &research::stem(data), format)?;
            *rows.entry(table.name).or_default() += table.rows;
        }
        progress.inc(paths.len() as u64);
    }
    progress.finish_and_clear();
    println!("exported {exported_files} recording(s), {} session(s), to {}:", sessions.len(), args.out.display());
    for name in research::TABLES {
        println!("  {:<12} {:>9} rows", name, rows.get(name).copied().unwrap_or(0));
    }
    if args.mirror_frames {
        let pictures = rows.get("mirror").copied().unwrap_or(0);
        println!("  {:<12} {:>9} rows (and as many JPEG files)", "mirror", pictures);
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

#[cfg(test)]
mod tests {
    use super::parse_day;

    #[test]
    fn days_are_utc_midnights_and_bad_ones_say_how_to_write_them() {
        assert_eq!(parse_day("1970-01-01").unwrap().start_us, 0);
        assert_eq!(parse_day("2000-03-01").unwrap().start_us, 951_868_800 * 1_000_000);
        assert_eq!(parse_day("2026-12-01").unwrap().start_us, 1_796_083_200 * 1_000_000);
        assert!(parse_day("2024-02-29").is_ok());
        for bad in ["2023-02-29", "2026-13-01", "26-11-01", "2026-1-1", "yesterday", "1969-12-31"] {
            let e = parse_day(bad).unwrap_err();
            assert!(e.contains("YYYY-MM-DD"), "{bad}: {e}");
        }
    }
}
