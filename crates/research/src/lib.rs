//! Research tools, the light part: a session recording read and joined
//! across its parts, summarised per visit to a step and over the course of
//! the session, and laid out as tidy tables (rows and typed columns). The
//! outputs (CSV, Parquet, the HTML report) are `outputs`'s, so what only
//! reads sessions (the console, the course index) builds without them.
//!
//! ```no_run
//! use std::path::Path;
//! let session = research::load(Path::new("recordings/session.mcap")).unwrap();
//! let visits = research::steps::visits(&session, None);
//! let tables = research::tables(&session, &visits);
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
#[doc(hidden)]
pub mod fixture;
pub mod load;
pub mod steps;
pub mod table;

use std::path::{Path, PathBuf};

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

/// The files of session `session_id` beside `file` (the naming is
/// `recording::parts`'s).
pub use recording::parts::session_files;

/// The recordings grouped by session: the parts a console writes when a
/// session resumes after a restart (`<id>.mcap`, `<id>-part2.mcap`, …) and
/// copies such as `trinvis recover`'s share a session id. Only each file's
/// metadata is read. Groups come in the order their first file was given;
/// within a group, files in the order they began (the first names the
/// session). A file without a session id stands alone.
pub fn group_by_session(paths: &[PathBuf]) -> Result<Vec<Vec<PathBuf>>, ReadError> {
    /// A file as it sorts within its session: start, file name.
    type Part = (u64, String, PathBuf);
    let mut groups: Vec<(String, Vec<Part>)> = Vec::new();
    for path in paths {
        let metadata =
            recording::Recording::read_metadata(path).map_err(|source| ReadError { path: path.clone(), source })?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let part = (metadata.started_unix_us, name, path.clone());
        match groups.iter_mut().find(|(id, _)| !id.is_empty() && *id == metadata.session_id) {
            Some((_, parts)) => parts.push(part),
            None => groups.push((metadata.session_id, vec![part])),
        }
    }
    Ok(groups
        .into_iter()
        .map(|(_, mut parts)| {
            parts.sort();
            parts.into_iter().map(|(_, _, path)| path).collect()
        })
        .collect())
}

/// One session from the files that hold it ([`group_by_session`]), joined
/// by [`SessionData::merge`]: what they hold twice counts once.
pub fn load_session(paths: &[PathBuf]) -> Result<SessionData, ReadError> {
    let parts = paths.iter().map(|p| load(p)).collect::<Result<Vec<_>, _>>()?;
    SessionData::merge(parts).ok_or_else(|| ReadError {
        path: PathBuf::new(),
        source: recording::Error::Io(std::io::Error::other("no recording given")),
    })
}

/// The file name of a recording without its extension: the name of its
/// files in an export.
pub fn stem(data: &SessionData) -> String {
    Path::new(&data.file_name).file_stem().map_or_else(|| data.file_name.clone(), |s| s.to_string_lossy().into_owned())
}
