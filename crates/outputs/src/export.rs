//! Writes tables as CSV or Parquet into a hive-style dataset:
//! `DIR/<table>/session=<session id>/<recording stem>.<csv|parquet>`, so
//! many recordings make one dataset that DuckDB, arrow and pandas read with
//! a glob (`DIR/steps/*/*.parquet`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use research::table::{Table, Values};

/// The file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header line; an empty field is a missing value.
    Csv,
    /// Parquet, snappy-compressed, one row group per file.
    Parquet,
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The Parquet writer refused.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: parquet::errors::ParquetError,
    },
}

/// The folder of a session's partition: `session=<id>`, with every
/// character other than letters, digits, `-`, `_` and `.` replaced by `_`
/// (an empty id becomes `unknown`).
pub fn partition(session_id: &str) -> String {
    let clean: String = session_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    format!("session={}", if clean.is_empty() { "unknown" } else { &clean })
}

/// Writes one table of one recording into the dataset at `dir`; returns
/// the file written.
pub fn write_table(
    dir: &Path,
    session_id: &str,
    stem: &str,
    table: &Table,
    format: Format,
) -> Result<PathBuf, ExportError> {
    let folder = dir.join(table.name).join(partition(session_id));
    std::fs::create_dir_all(&folder).map_err(|source| ExportError::Io { path: folder.clone(), source })?;
    let path = folder.join(format!("{stem}.{}", format.extension()));
    let file = std::fs::File::create(&path).map_err(|source| ExportError::Io { path: path.clone(), source })?;
    let io = |source| ExportError::Io { path: path.clone(), source };
    match format {
        Format::Csv => {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            write_csv(&mut w, table).map_err(io)?;
            w.flush().map_err(io)?;
        }
        Format::Parquet => {
            write_parquet(file, table).map_err(|source| ExportError::Parquet { path: path.clone(), source })?
        }
    }
    Ok(path)
}

/// Writes a session's mirror pictures as JPEG files,
/// `DIR/mirror/session=<id>/<stem>-<session ms>.jpg`, and their table
/// beside them (`<stem>.csv|parquet`, [`research::table::mirror`]); returns
/// the table. Nothing is written for a session without pictures.
pub fn write_pictures(
    dir: &Path,
    data: &research::SessionData,
    stem: &str,
    format: Format,
) -> Result<Table, ExportError> {
    let session_id = &data.metadata.session_id;
    let relative = Path::new("mirror").join(partition(session_id));
    let folder = dir.join(&relative);
    let mut files = Vec::with_capacity(data.pictures.len());
    if !data.pictures.is_empty() {
        std::fs::create_dir_all(&folder).map_err(|source| ExportError::Io { path: folder.clone(), source })?;
    }
    for (i, picture) in data.pictures.iter().enumerate() {
        // Session time names the file; a picture without it keeps its place.
        let name = match picture.session_us {
            Some(t) => format!("{stem}-{:09}.jpg", t / 1000),
            None => format!("{stem}-n{i:06}.jpg"),
        };
        let path = folder.join(&name);
        std::fs::write(&path, &picture.jpeg).map_err(|source| ExportError::Io { path: path.clone(), source })?;
        files.push(relative.join(&name).to_string_lossy().into_owned());
    }
    let table = research::table::mirror(data, &files);
    if !data.pictures.is_empty() {
        write_table(dir, session_id, stem, &table, format)?;
    }
    Ok(table)
}

/// Writes a table as CSV: a header line, then one line per row.
pub fn write_csv(w: &mut impl Write, table: &Table) -> std::io::Result<()> {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    writeln!(w, "{}", names.join(","))?;
    // Metadata fields are the same on every row: quote them once.
    let repeated: Vec<Option<String>> = table
        .columns
        .iter()
        .map(|c| match &c.values {
            Values::Repeated(s) => Some(quoted(s)),
            _ => None,
        })
        .collect();
    // Rows are formatted in parallel, in parts written in order.
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    if threads < 2 || table.rows < 10_000 {
        w.write_all(&csv_rows(table, &repeated, 0..table.rows))?;
        return Ok(());
    }
    let per_thread = table.rows.div_ceil(threads);
    let ranges: Vec<std::ops::Range<usize>> =
        (0..threads).map(|i| i * per_thread..((i + 1) * per_thread).min(table.rows)).collect();
    std::thread::scope(|scope| {
        let parts: Vec<_> = ranges.into_iter().map(|rows| scope.spawn(|| csv_rows(table, &repeated, rows))).collect();
        for part in parts {
            let bytes = part.join().map_err(|_| std::io::Error::other("a CSV formatting thread panicked"))?;
            w.write_all(&bytes)?;
        }
        Ok(())
    })
}

/// These rows of the table as CSV lines.
fn csv_rows(table: &Table, repeated: &[Option<String>], rows: std::ops::Range<usize>) -> Vec<u8> {
    let mut w = Vec::with_capacity(rows.len() * 64 * table.columns.len().min(64) / 4);
    let mut int = itoa::Buffer::new();
    let mut float = ryu::Buffer::new();
    for row in rows {
        for (i, column) in table.columns.iter().enumerate() {
            if i > 0 {
                w.push(b',');
            }
            match &column.values {
                Values::Int(v) => {
                    if let Some(x) = v[row] {
                        w.extend_from_slice(int.format(x).as_bytes());
                    }
                }
                Values::Float(v) => {
                    let x = v[row];
                    if x.is_finite() {
                        w.extend_from_slice(float.format_finite(x).as_bytes());
                    }
                }
                Values::Bool(v) => {
                    if let Some(x) = v[row] {
                        w.extend_from_slice(if x { b"true" } else { b"false" });
                    }
                }
                Values::Text(v) => {
                    if let Some(x) = &v[row] {
                        w.extend_from_slice(quoted(x).as_bytes());
                    }
                }
                Values::Repeated(_) => w.extend_from_slice(repeated[i].as_deref().unwrap_or("").as_bytes()),
            }
        }
        w.push(b'\n');
    }
    w
}

/// A CSV field: as is, or in double quotes with quotes doubled when it
/// holds a comma, a quote or a line break. An empty text is `""`, so it
/// differs from a missing value.
fn quoted(s: &str) -> String {
    if s.is_empty() {
        "\"\"".to_owned()
    } else if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The table as one Arrow record batch.
pub fn record_batch(table: &Table) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut fields = Vec::with_capacity(table.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let (data_type, nullable, array): (DataType, bool, ArrayRef) = match &column.values {
            Values::Int(v) => (DataType::Int64, true, Arc::new(Int64Array::from(v.clone()))),
            Values::Float(v) => (
                DataType::Float64,
                true,
                Arc::new(v.iter().map(|x| x.is_finite().then_some(*x)).collect::<Float64Array>()),
            ),
            Values::Bool(v) => (DataType::Boolean, true, Arc::new(BooleanArray::from(v.clone()))),
            Values::Text(v) => {
                (DataType::Utf8, true, Arc::new(v.iter().map(Option::as_deref).collect::<StringArray>()))
            }
            Values::Repeated(s) => (
                DataType::Utf8,
                false,
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(s.as_str(), table.rows))),
            ),
        };
        fields.push(Field::new(column.name, data_type, nullable));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}

/// Writes a table as a Parquet file.
pub fn write_parquet(file: std::fs::File, table: &Table) -> Result<(), parquet::errors::ParquetError> {
    let batch = record_batch(table)?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}
