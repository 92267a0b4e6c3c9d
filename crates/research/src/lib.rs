//! Research tools: a session recording as tidy tables (CSV or Parquet, one
//! hive-style dataset for many recordings), a per-step summary, and a
//! self-contained HTML report with SVG plots.
//!
//! ```no_run
//! use std::path::Path;
//! let session = research::load(Path::new("recordings/session.mcap")).unwrap();
//! let visits = research::steps::visits(&session, None);
//! research::export(&session, &visits, Path::new("dataset"), research::Format::Parquet).unwrap();
//! std::fs::write("report.html", research::report::html(&session, &visits, None)).unwrap();
//! ```
//!
//! Times: every table has the console time (`log_time_us`, µs since the
//! Unix epoch) and the session time (`session_us`, the engine's clock, µs
//! since the session began; docs/protocol.md §9.1), the clock a replay
//! shows. Columns and their units are listed in docs/research.md.
//!
//! Architecture invariant: no async runtime, no Bevy, no network; reads
//! recordings through the `recording` crate only, and writes only under the
//! folder it is given.

pub mod course;
pub mod export;
pub mod load;
pub mod report;
pub mod steps;
pub mod table;

#[cfg(test)]
mod fixture;

use std::path::{Path, PathBuf};

pub use export::{ExportError, Format};
pub use load::SessionData;
pub use table::{TABLES, Table, tables};

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub source: recording::Error,
}

/// Reads and parses a recording. A recording cut short yields what it
/// holds up to its last complete chunk, with `complete == false`.
pub fn load(path: &Path) -> Result<SessionData, ReadError> {
    let recording = recording::Recording::open(path).map_err(|source| ReadError { path: path.to_owned(), source })?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(SessionData::from_recording(&recording, &name))
}

/// Reads recordings and joins the files of each session into one
/// ([`SessionData::merge`]): parts written across a console restart, and
/// copies made by `trinvis recover`. Sessions come in the order their
/// first file was given; each with the paths it was read from.
pub fn load_sessions(paths: &[PathBuf]) -> Result<Vec<(SessionData, Vec<PathBuf>)>, ReadError> {
    let mut order: Vec<String> = Vec::new();
    let mut by_session: std::collections::HashMap<String, (Vec<SessionData>, Vec<PathBuf>)> =
        std::collections::HashMap::new();
    for path in paths {
        let data = load(path)?;
        // A file cut before its metadata has no session id: it stands alone.
        let key = if data.metadata.session_id.is_empty() {
            format!("\u{0}{}", path.display())
        } else {
            data.metadata.session_id.clone()
        };
        let entry = by_session.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (Vec::new(), Vec::new())
        });
        entry.0.push(data);
        entry.1.push(path.clone());
    }
    Ok(order
        .into_iter()
        .filter_map(|key| by_session.remove(&key))
        .filter_map(|(parts, paths)| SessionData::merge(parts).map(|whole| (whole, paths)))
        .collect())
}

/// The file name of a recording without its extension: the name of its
/// files in an export.
pub fn stem(data: &SessionData) -> String {
    Path::new(&data.file_name).file_stem().map_or_else(|| data.file_name.clone(), |s| s.to_string_lossy().into_owned())
}

/// Writes every table of one session into the dataset at `dir`; returns
/// the files written, in [`TABLES`] order.
pub fn export(
    data: &SessionData,
    visits: &[steps::Visit],
    dir: &Path,
    format: Format,
) -> Result<Vec<PathBuf>, ExportError> {
    let stem = stem(data);
    tables(data, visits)
        .iter()
        .map(|table| export::write_table(dir, &data.metadata.session_id, &stem, table, format))
        .collect()
}
