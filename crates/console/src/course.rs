//! The console's course index (`<data>/course.sqlite`): a thread indexes
//! each session when its recording file closes; the hub asks it where a
//! patient's new session should start and what the Patients view shows.
//! SQLite work never runs on a network task: the indexer has its thread,
//! and lookups go through `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The index and its indexer thread.
#[derive(Debug)]
pub(crate) struct Index {
    db: Arc<Mutex<course::Db>>,
    closed: Mutex<Option<std::sync::mpsc::Sender<PathBuf>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Index {
    /// Opens `<data>/course.sqlite` and starts the indexer.
    pub(crate) fn open(data: &Path) -> std::io::Result<Index> {
        crate::table::create_private_dir(data)?;
        let db = course::Db::open(&data.join("course.sqlite")).map_err(std::io::Error::other)?;
        let db = Arc::new(Mutex::new(db));
        let (closed, files) = std::sync::mpsc::channel::<PathBuf>();
        let indexing = db.clone();
        let thread = std::thread::Builder::new().name("course-index".into()).spawn(move || {
            for file in files {
                let parts = recording::parts::all_parts_of(&file);
                if parts.is_empty() {
                    continue;
                }
                // Read without the lock (whole recordings); store with it (milliseconds).
                let stored = course::Read::from_files(&parts).and_then(|read| {
                    indexing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).store(&read)?;
                    Ok(read.row.session_id)
                });
                match stored {
                    Ok(session) => tracing::debug!(%session, "course index: session indexed"),
                    Err(e) => tracing::warn!("course index: {}: {e}", file.display()),
                }
            }
        })?;
        Ok(Index { db, closed: Mutex::new(Some(closed)), thread: Mutex::new(Some(thread)) })
    }

    /// Where the recorder reports each file it closed.
    pub(crate) fn closed_files(&self) -> Option<std::sync::mpsc::Sender<PathBuf>> {
        self.closed.lock().ok().and_then(|c| c.clone())
    }

    /// The database, for lookups (from a blocking thread).
    pub(crate) fn db(&self) -> Arc<Mutex<course::Db>> {
        self.db.clone()
    }

    /// Indexes what is still queued, then stops the thread. Call after the
    /// recorders stopped (every file closed and reported).
    pub(crate) fn finish(&self) {
        drop(self.closed.lock().ok().and_then(|mut c| c.take()));
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

/// Asks the course, once per session, where this session should start,
/// and lists the answer with the session (the page shows it).
pub(crate) fn propose_start(hub: &Arc<crate::hub::Hub>, session_id: &str) {
    let Some(index) = &hub.course else { return };
    if !hub.proposals_asked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(session_id.to_owned()) {
        return;
    }
    let Some(info) = hub.lock().sessions.get(session_id).map(|s| s.info.clone()) else { return };
    let (db, hub, session_id) = (index.db(), hub.clone(), session_id.to_owned());
    tokio::spawn(async move {
        let asked = tokio::task::spawn_blocking(move || {
            let db = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            db.propose(&info.patient_code, &info.scenario.id, &info.scenario.version, &info.session_id)
        })
        .await;
        let proposal = match asked {
            Ok(Ok(Some(p))) => p,
            Ok(Ok(None)) | Err(_) => return,
            Ok(Err(e)) => return tracing::warn!("course index: {e}"),
        };
        let proposal = protocol::StartProposal {
            step: u16::try_from(proposal.step).unwrap_or(u16::MAX),
            reason: proposal.reason,
            from_session: proposal.from_session,
        };
        if let Some(session) = hub.lock().sessions.get_mut(&session_id) {
            session.info.proposed_start = Some(proposal);
        }
        hub.broadcast_sessions();
    });
}
