//! The session table on disk (`<data>/sessions.json`): what a console that
//! was restarted, or killed, needs so that each headset can resume its
//! session under the same id. It holds each listed session's details, its
//! resume token and how many recording files (parts) it has; never
//! telemetry. It is rewritten whole (to a temporary file, then renamed) on
//! a background thread whenever a session starts, resumes, changes state,
//! loses its headset or leaves the list, and once more at shutdown.
//!
//! At start-up, [`load`] reads it back and repairs each session's last
//! recording if the console died before closing it (the file is rewritten
//! in place with its index, like `trinvis recover`, so no second copy of it
//! lands among the recordings).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use protocol::SessionInfo;
use serde::{Deserialize, Serialize};

const FILE: &str = "sessions.json";
/// The table's format; a table of another version is set aside, not read.
const VERSION: u32 = 1;

/// One session as saved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub info: SessionInfo,
    pub resume_token: String,
    /// Recording files so far; the current one is `info.recording`.
    pub parts: u32,
    /// Headset clock at session time 0, µs.
    pub epoch_us: u64,
    /// The highest position in the session's log seen (notes written after
    /// the end go on from it).
    #[serde(default)]
    pub last_event_seq: Option<u64>,
    /// The step shown in the last sample.
    #[serde(default)]
    pub last_step: u16,
}

#[derive(Debug, Serialize, Deserialize)]
struct Table {
    version: u32,
    sessions: Vec<Saved>,
}

/// Writes the table in the background; the newest snapshot wins.
#[derive(Debug)]
pub(crate) struct Saver {
    tx: Option<mpsc::Sender<Vec<Saved>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Saver {
    /// A saver for the table in `dir` (created, readable by the user only).
    pub(crate) fn new(dir: &Path) -> std::io::Result<Saver> {
        create_private_dir(dir)?;
        let (tx, rx) = mpsc::channel::<Vec<Saved>>();
        let path = dir.join(FILE);
        let thread = std::thread::Builder::new().name("session-table".into()).spawn(move || {
            while let Ok(mut latest) = rx.recv() {
                // Only the newest snapshot matters.
                while let Ok(newer) = rx.try_recv() {
                    latest = newer;
                }
                if let Err(e) = write(&path, &latest) {
                    tracing::error!("cannot save the session table {}: {e}", path.display());
                }
            }
        })?;
        Ok(Saver { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues a snapshot to be written.
    pub(crate) fn save(&self, sessions: Vec<Saved>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(sessions);
        }
    }

    /// Writes what is queued and ends the thread.
    pub(crate) fn stop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The folder, created if missing, for the user only: it holds resume
/// tokens, and beside it the console keeps its access tokens.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename, readable
/// by the user only: a crash leaves the old file or the new one, never half.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

fn write(path: &Path, sessions: &[Saved]) -> std::io::Result<()> {
    let table = Table { version: VERSION, sessions: sessions.to_vec() };
    let json = serde_json::to_vec_pretty(&table).map_err(std::io::Error::other)?;
    write_private(path, &json)
}

/// Reads the table in `dir`, repairing each session's unfinished last
/// recording in `recordings`. A missing table is an empty one; one that
/// cannot be read is renamed aside (`sessions.json.unreadable`) with an
/// error in the log, and the console starts without it: its recordings are
/// all on disk, only the resuming is lost.
pub(crate) fn load(dir: &Path, recordings: &Path) -> Vec<Saved> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::error!("cannot read the session table {}: {e}; starting without it", path.display());
            return Vec::new();
        }
    };
    let table = match serde_json::from_slice::<Table>(&bytes) {
        Ok(table) if table.version == VERSION => table,
        Ok(table) => return set_aside(&path, &format!("it is of version {}, not {VERSION}", table.version)),
        Err(e) => return set_aside(&path, &e.to_string()),
    };
    let mut sessions = table.sessions;
    for saved in &mut sessions {
        repair(&recordings.join(&saved.info.recording));
    }
    sessions.retain(|s| !s.resume_token.is_empty());
    sessions
}

fn set_aside(path: &Path, why: &str) -> Vec<Saved> {
    let aside = PathBuf::from(format!("{}.unreadable", path.display()));
    let _ = std::fs::rename(path, &aside);
    tracing::error!(
        "the session table {} cannot be read ({why}); it was moved to {} and the console starts without it \
         (headsets of earlier sessions start new ones; every recording is still on disk)",
        path.display(),
        aside.display()
    );
    Vec::new()
}

/// Closes a recording that its console never finished: the file is
/// rewritten with its index in place (through a temporary file and a
/// rename). A complete or missing file is left alone.
pub(crate) fn repair(file: &Path) {
    let Ok(bytes) = std::fs::read(file) else { return };
    let recording = match recording::Recording::read(&bytes) {
        Ok(r) if r.complete => return,
        Ok(r) => r,
        Err(e) => {
            tracing::error!(recording = %file.display(), "cannot repair this unfinished recording: {e}");
            return;
        }
    };
    let tmp = file.with_extension("mcap.repairing");
    let result = (|| -> Result<(), recording::Error> {
        let out = std::fs::File::create(&tmp)?;
        let mut w = recording.write_to(std::io::BufWriter::new(out))?;
        w.flush()?;
        w.get_ref().sync_all()?;
        std::fs::rename(&tmp, file)?;
        Ok(())
    })();
    match result {
        Ok(()) => tracing::info!(
            recording = %file.display(),
            messages = recording.messages.len(),
            "closed a recording the console had left unfinished (it stopped without closing it)"
        ),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::error!(recording = %file.display(), "cannot repair this unfinished recording: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trinvis-table-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_table_that_cannot_be_read_is_set_aside_and_named() {
        let dir = fresh("bad");
        create_private_dir(&dir).unwrap();
        std::fs::write(dir.join(FILE), b"{\"version\": 1, \"sessions\": [").unwrap();
        assert!(load(&dir, &dir).is_empty());
        assert!(!dir.join(FILE).exists());
        assert!(dir.join("sessions.json.unreadable").exists(), "kept for whoever looks into it");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unfinished_recording_is_closed_in_place() {
        let dir = fresh("repair");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.mcap");
        let mut writer = recording::Writer::create(&file, &recording::Metadata::example()).unwrap();
        for i in 0..10u64 {
            writer.write(recording::Channel::Events, 1_000 + i, format!(r#"{{"seq":{i}}}"#).as_bytes()).unwrap();
            writer.flush().unwrap();
        }
        writer.finish().unwrap();
        // Cut short, as a killed console leaves it: no index, no end.
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() * 6 / 10]).unwrap();
        let cut = recording::Recording::open(&file).unwrap();
        assert!(!cut.complete && !cut.messages.is_empty());
        repair(&file);
        let repaired = recording::Recording::open(&file).unwrap();
        assert!(repaired.complete);
        assert_eq!(repaired.messages, cut.messages);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["s.mcap"], "no second copy among the recordings");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn the_table_is_readable_by_its_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = fresh("mode");
        let mut saver = Saver::new(&dir).unwrap();
        saver.save(Vec::new());
        saver.stop();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(FILE)), 0o600);
        assert!(load(&dir, &dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
