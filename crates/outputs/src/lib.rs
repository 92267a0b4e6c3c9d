//! The research outputs, the heavy part of the research tools: a session's
//! tidy tables ([`research::tables`]) written as CSV or Parquet into a
//! hive-style dataset, and the self-contained HTML session report with SVG
//! charts (plotters). Reading and summarising sessions is `research`'s; the
//! console and the course index use that alone, so they build without
//! Arrow, Parquet or plotters (the `trinvis` binary gives the console its
//! report renderer).
//!
//! ```no_run
//! use std::path::Path;
//! let session = research::load(Path::new("recordings/session.mcap")).unwrap();
//! let visits = research::steps::visits(&session, None);
//! outputs::export(&session, &visits, Path::new("dataset"), outputs::Format::Parquet).unwrap();
//! std::fs::write("report.html", outputs::report::html(&session, &visits, None)).unwrap();
//! ```
//!
//! Architecture invariant: no async runtime, no Bevy, no network; writes
//! only under the folder it is given.

pub mod export;
pub mod report;

use std::path::{Path, PathBuf};

pub use export::{ExportError, Format};
use research::{SessionData, stem, steps, tables};

/// Writes every table of one session into the dataset at `dir`; returns
/// the files written, in [`research::TABLES`] order.
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
