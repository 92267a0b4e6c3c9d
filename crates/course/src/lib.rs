//! The course across sessions: each patient's sessions of a scenario, in
//! one SQLite file (the bundled SQLite; nothing to install), so the page
//! can say where the patient's ladder stood and propose where to start.
//!
//! The recordings are the source of truth: every row here is derived from
//! them by [`Db::index_session`] (the console calls it as each session's
//! file closes, `trinvis index` for a whole folder), and deleting the file
//! and indexing the folder again gives the same rows ([`Db::dump`]).
//!
//! Patients are known by their pseudonymous code only, as in recordings.
//! A course is one patient with one scenario id and version.
//!
//! Architecture invariant: no async runtime and no network here; callers
//! on a runtime call it from a blocking thread.

use std::path::{Path, PathBuf};

use research::steps::Visit;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// Why the course index could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database.
    #[error("{path}: {source}")]
    Db {
        /// The database file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A recording.
    #[error(transparent)]
    Read(#[from] research::ReadError),
    /// A folder.
    #[error("{path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// One step of one session, as the course keeps it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRow {
    /// Step number, from 1.
    pub step: u32,
    /// The step's id.
    pub step_id: String,
    /// Highest SUDS rating on the step in the session (all its visits).
    pub suds_peak: Option<u8>,
    /// Last SUDS rating on the step in the session.
    pub suds_final: Option<u8>,
    /// Whether, in some visit, SUDS fell to half its peak or lower
    /// (`suds_final <= suds_peak / 2`, peak above 0): the step was mastered.
    pub halved: bool,
    /// Session time the patient last left the step, µs (its order in the session).
    pub left_us: u64,
    /// The latest visit in which SUDS halved: when it ended (µs of session
    /// time), its peak and its last rating.
    pub halved_visit: Option<HalvedVisit>,
}

/// A visit in which SUDS fell to half its peak or lower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HalvedVisit {
    /// Session time the visit ended, µs.
    pub left_us: u64,
    /// Its highest rating.
    pub peak: u8,
    /// Its last rating.
    pub last: u8,
}

/// One session of a course.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRow {
    /// The console's session id.
    pub session_id: String,
    /// Its recording files, in order (a console restart splits a session).
    pub files: Vec<String>,
    /// When it began, RFC 3339 UTC.
    pub started: String,
    /// When it began, µs since the Unix epoch.
    pub started_unix_us: u64,
    /// Console time of the last thing recorded, µs since the Unix epoch:
    /// when it ended (or was cut).
    pub ended_unix_us: u64,
    /// Session time of the last thing recorded, µs.
    pub duration_us: u64,
    /// Whether every file was closed properly.
    pub complete: bool,
    /// Highest step the patient saw.
    pub highest_step: u32,
    /// Steps seen, in step order.
    pub steps: Vec<StepRow>,
    /// Notes the therapist wrote.
    pub notes: u32,
}

/// A patient's course of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CourseRow {
    /// Scenario id.
    pub scenario_id: String,
    /// Scenario version.
    pub scenario_version: String,
    /// Sessions, oldest first.
    pub sessions: Vec<SessionRow>,
}

/// A patient, by pseudonymous code.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatientRow {
    /// The code.
    pub code: String,
    /// Courses, by scenario.
    pub courses: Vec<CourseRow>,
}

/// Where to start the next session, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proposal {
    /// The step, from 1.
    pub step: u32,
    /// Its id.
    pub step_id: String,
    /// In words, for the therapist.
    pub reason: String,
    /// The session it is drawn from.
    pub from_session: String,
}

/// What indexing a folder did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Indexed {
    /// Sessions written.
    pub sessions: usize,
    /// Files that could not be read, with why; the others are indexed.
    pub skipped: Vec<String>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS patients (
    code TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS courses (
    id INTEGER PRIMARY KEY,
    patient TEXT NOT NULL REFERENCES patients(code),
    scenario_id TEXT NOT NULL,
    scenario_version TEXT NOT NULL,
    UNIQUE (patient, scenario_id, scenario_version)
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    course INTEGER NOT NULL REFERENCES courses(id),
    files TEXT NOT NULL,
    started TEXT NOT NULL,
    started_unix_us INTEGER NOT NULL,
    ended_unix_us INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    highest_step INTEGER NOT NULL,
    notes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS session_steps (
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    suds_peak INTEGER,
    suds_final INTEGER,
    halved INTEGER NOT NULL,
    left_us INTEGER NOT NULL,
    halved_left_us INTEGER,
    halved_peak INTEGER,
    halved_last INTEGER,
    PRIMARY KEY (session_id, step)
);
";

/// The course index.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    path: String,
}

/// The steps a session's visits add up to, in step order.
pub fn steps_of(visits: &[Visit]) -> Vec<StepRow> {
    let mut rows: Vec<StepRow> = Vec::new();
    // Passes behind the safe scene were not seen.
    for visit in visits.iter().filter(|v| !v.during_safe_scene) {
        let halved = match (visit.suds_peak, visit.suds_final) {
            (Some(peak), Some(last)) if peak > 0 && u16::from(last) * 2 <= u16::from(peak) => {
                Some(HalvedVisit { left_us: visit.left_us, peak, last })
            }
            _ => None,
        };
        match rows.iter_mut().find(|r| r.step == visit.step) {
            Some(row) => {
                row.suds_peak = row.suds_peak.max(visit.suds_peak);
                row.suds_final = visit.suds_final.or(row.suds_final);
                row.halved |= halved.is_some();
                row.left_us = row.left_us.max(visit.left_us);
                if halved.is_some_and(|h| row.halved_visit.is_none_or(|old| h.left_us >= old.left_us)) {
                    row.halved_visit = halved;
                }
            }
            None => rows.push(StepRow {
                step: visit.step,
                step_id: visit.step_id.clone(),
                suds_peak: visit.suds_peak,
                suds_final: visit.suds_final,
                halved: halved.is_some(),
                left_us: visit.left_us,
                halved_visit: halved,
            }),
        }
    }
    rows.sort_by_key(|r| r.step);
    rows
}

/// The start the rule proposes after `last` (the course's latest session):
/// the last step where SUDS fell by half, or else the one before the last
/// step visited.
pub fn propose(last: &SessionRow) -> Option<Proposal> {
    let day = last.started.get(..10).unwrap_or(&last.started);
    // The step of the latest visit in which SUDS halved, quoting that visit.
    let mastered = last.steps.iter().filter_map(|s| s.halved_visit.map(|h| (s, h))).max_by_key(|(_, h)| h.left_us);
    if let Some((step, visit)) = mastered {
        let (peak, fin) = (visit.peak, visit.last);
        return Some(Proposal {
            step: step.step,
            step_id: step.step_id.clone(),
            reason: format!(
                "step {} was the last where SUDS fell by half in the session of {day} (peak {peak}, last {fin})",
                step.step
            ),
            from_session: last.session_id.clone(),
        });
    }
    let visited = last.steps.iter().max_by_key(|s| s.left_us)?;
    let step = visited.step.saturating_sub(1).max(1);
    let step_id = last.steps.iter().find(|s| s.step == step).map_or_else(String::new, |s| s.step_id.clone());
    let reason = if step == visited.step {
        format!("no step's SUDS fell by half in the session of {day}; it ended on step {step}, the first")
    } else {
        format!(
            "no step's SUDS fell by half in the session of {day}; the last step visited was {}, so one below it",
            visited.step
        )
    };
    Some(Proposal { step, step_id, reason, from_session: last.session_id.clone() })
}

/// A session read from its recording files, ready to store.
#[derive(Clone, Debug)]
pub struct Read {
    /// The patient's code.
    pub patient: String,
    /// Scenario id.
    pub scenario_id: String,
    /// Scenario version.
    pub scenario_version: String,
    /// The session.
    pub row: SessionRow,
}

impl Read {
    /// Reads a session's files (one or more parts).
    pub fn from_files(files: &[PathBuf]) -> Result<Read, Error> {
        let data = research::load_session(files)?;
        let visits = research::steps::visits(&data, None);
        let meta = &data.metadata;
        let names = files
            .iter()
            .map(|f| f.file_name().map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into_owned()))
            .collect::<Vec<_>>();
        let steps = steps_of(&visits);
        let row = SessionRow {
            session_id: if meta.session_id.is_empty() { research::stem(&data) } else { meta.session_id.clone() },
            files: names,
            started: meta.started.clone(),
            started_unix_us: meta.started_unix_us,
            ended_unix_us: data
                .samples
                .iter()
                .map(|s| s.log_time_us)
                .chain(data.events.iter().map(|e| e.log_time_us))
                .max()
                .unwrap_or(meta.started_unix_us),
            duration_us: data.end_us(),
            complete: data.complete,
            highest_step: steps.iter().map(|s| s.step).max().unwrap_or(0),
            notes: data.events.iter().filter(|e| e.kind == "note").count() as u32,
            steps,
        };
        Ok(Read {
            patient: meta.patient_code.clone(),
            scenario_id: meta.scenario_id.clone(),
            scenario_version: meta.scenario_version.clone(),
            row,
        })
    }
}

impl Db {
    /// Opens (creating if need be) the index at `path`. A new file is
    /// readable by the user only (SQLite gives its journal files the same
    /// mode): it holds patients' codes and ratings.
    pub fn open(path: &Path) -> Result<Db, Error> {
        let name = path.display().to_string();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        let conn = Connection::open(path).map_err(|source| Error::Db { path: name.clone(), source })?;
        Db::with(conn, name)
    }

    /// An index in memory (tests, `trinvis index --dry-run`).
    pub fn in_memory() -> Result<Db, Error> {
        let conn = Connection::open_in_memory().map_err(|source| Error::Db { path: ":memory:".into(), source })?;
        Db::with(conn, ":memory:".into())
    }

    fn with(conn: Connection, path: String) -> Result<Db, Error> {
        let db = Db { conn, path };
        db.conn
            .execute_batch(&format!("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; {SCHEMA}"))
            .map_err(|e| db.err(e))?;
        Ok(db)
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Db { path: self.path.clone(), source }
    }

    /// Indexes one session from its recording files (one or more parts),
    /// replacing what the index held for it.
    pub fn index_session(&mut self, files: &[PathBuf]) -> Result<SessionRow, Error> {
        let read = Read::from_files(files)?;
        self.store(&read)?;
        Ok(read.row)
    }

    /// Writes a session read with [`Read::from_files`] (which takes the
    /// time; this takes milliseconds), replacing what the index held for it.
    pub fn store(&mut self, read: &Read) -> Result<(), Error> {
        self.write(&read.patient, &read.scenario_id, &read.scenario_version, &read.row)
    }

    fn write(&mut self, patient: &str, scenario_id: &str, version: &str, row: &SessionRow) -> Result<(), Error> {
        let path = self.path.clone();
        let err = |source| Error::Db { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute("INSERT OR IGNORE INTO patients (code) VALUES (?1)", params![patient]).map_err(err)?;
        tx.execute(
            "INSERT OR IGNORE INTO courses (patient, scenario_id, scenario_version) VALUES (?1, ?2, ?3)",
            params![patient, scenario_id, version],
        )
        .map_err(err)?;
        let course: i64 = tx
            .query_row(
                "SELECT id FROM courses WHERE patient = ?1 AND scenario_id = ?2 AND scenario_version = ?3",
                params![patient, scenario_id, version],
                |r| r.get(0),
            )
            .map_err(err)?;
        tx.execute("DELETE FROM session_steps WHERE session_id = ?1", params![row.session_id]).map_err(err)?;
        tx.execute("DELETE FROM sessions WHERE session_id = ?1", params![row.session_id]).map_err(err)?;
        let files = serde_json::to_string(&row.files).unwrap_or_default();
        tx.execute(
            "INSERT INTO sessions (session_id, course, files, started, started_unix_us, ended_unix_us, duration_us,
                                   complete, highest_step, notes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                row.session_id,
                course,
                files,
                row.started,
                row.started_unix_us as i64,
                row.ended_unix_us as i64,
                row.duration_us as i64,
                row.complete,
                row.highest_step,
                row.notes
            ],
        )
        .map_err(err)?;
        for s in &row.steps {
            let h = s.halved_visit;
            tx.execute(
                "INSERT INTO session_steps (session_id, step, step_id, suds_peak, suds_final, halved, left_us,
                                            halved_left_us, halved_peak, halved_last)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    row.session_id,
                    s.step,
                    s.step_id,
                    s.suds_peak,
                    s.suds_final,
                    s.halved,
                    s.left_us as i64,
                    h.map(|h| h.left_us as i64),
                    h.map(|h| h.peak),
                    h.map(|h| h.last)
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Indexes every recording (`*.mcap`) in `dir`, session by session. A
    /// file that cannot be read is skipped and named; the others are indexed.
    pub fn index_dir(&mut self, dir: &Path) -> Result<Indexed, Error> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| Error::Io { path: dir.to_owned(), source })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "mcap"))
            .collect();
        files.sort();
        let mut readable = Vec::new();
        let mut indexed = Indexed::default();
        for file in files {
            match recording::Recording::read_metadata(&file) {
                Ok(_) => readable.push(file),
                Err(e) => indexed.skipped.push(format!("{}: {e}", file.display())),
            }
        }
        for group in research::group_by_session(&readable)? {
            match self.index_session(&group) {
                Ok(_) => indexed.sessions += 1,
                Err(Error::Read(e)) => indexed.skipped.push(e.to_string()),
                Err(e) => return Err(e),
            }
        }
        Ok(indexed)
    }

    /// The sessions of one course, oldest first.
    fn sessions_of(&self, course: i64) -> Result<Vec<SessionRow>, Error> {
        let mut query = self
            .conn
            .prepare(
                "SELECT session_id, files, started, started_unix_us, ended_unix_us, duration_us, complete, highest_step, notes
                 FROM sessions WHERE course = ?1 ORDER BY started_unix_us, session_id",
            )
            .map_err(|e| self.err(e))?;
        let mut sessions = query
            .query_map(params![course], |r| {
                let files: String = r.get(1)?;
                Ok(SessionRow {
                    session_id: r.get(0)?,
                    files: serde_json::from_str(&files).unwrap_or_default(),
                    started: r.get(2)?,
                    started_unix_us: r.get::<_, i64>(3)? as u64,
                    ended_unix_us: r.get::<_, i64>(4)? as u64,
                    duration_us: r.get::<_, i64>(5)? as u64,
                    complete: r.get(6)?,
                    highest_step: r.get(7)?,
                    notes: r.get(8)?,
                    steps: Vec::new(),
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let mut steps = self
            .conn
            .prepare(
                "SELECT step, step_id, suds_peak, suds_final, halved, left_us, halved_left_us, halved_peak, halved_last
                 FROM session_steps WHERE session_id = ?1 ORDER BY step",
            )
            .map_err(|e| self.err(e))?;
        for session in &mut sessions {
            session.steps = steps
                .query_map(params![session.session_id], |r| {
                    Ok(StepRow {
                        step: r.get(0)?,
                        step_id: r.get(1)?,
                        suds_peak: r.get(2)?,
                        suds_final: r.get(3)?,
                        halved: r.get(4)?,
                        left_us: r.get::<_, i64>(5)? as u64,
                        halved_visit: match (r.get::<_, Option<i64>>(6)?, r.get(7)?, r.get(8)?) {
                            (Some(left_us), Some(peak), Some(last)) => {
                                Some(HalvedVisit { left_us: left_us as u64, peak, last })
                            }
                            _ => None,
                        },
                    })
                })
                .map_err(|e| self.err(e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?;
        }
        Ok(sessions)
    }

    /// Every patient with their courses and sessions, by code.
    pub fn patients(&self) -> Result<Vec<PatientRow>, Error> {
        let mut query = self
            .conn
            .prepare(
                "SELECT patients.code, courses.id, courses.scenario_id, courses.scenario_version
                 FROM patients JOIN courses ON courses.patient = patients.code
                 ORDER BY patients.code, courses.scenario_id, courses.scenario_version",
            )
            .map_err(|e| self.err(e))?;
        let rows = query
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<(String, i64, String, String)>, _>>()
            .map_err(|e| self.err(e))?;
        let mut patients: Vec<PatientRow> = Vec::new();
        for (code, course, scenario_id, scenario_version) in rows {
            let course = CourseRow { scenario_id, scenario_version, sessions: self.sessions_of(course)? };
            match patients.last_mut() {
                Some(p) if p.code == code => p.courses.push(course),
                _ => patients.push(PatientRow { code, courses: vec![course] }),
            }
        }
        Ok(patients)
    }

    /// Where the patient's next session of this scenario should start,
    /// from their latest session of it (excluding `except`, the session
    /// that asks); `None` without one.
    pub fn propose(
        &self,
        patient: &str,
        scenario_id: &str,
        version: &str,
        except: &str,
    ) -> Result<Option<Proposal>, Error> {
        let course: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM courses WHERE patient = ?1 AND scenario_id = ?2 AND scenario_version = ?3",
                params![patient, scenario_id, version],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(course) = course else { return Ok(None) };
        let sessions = self.sessions_of(course)?;
        // Sessions with no step seen (a headset that never started) say nothing.
        let last = sessions.iter().rev().find(|s| s.session_id != except && !s.steps.is_empty());
        Ok(last.and_then(propose))
    }

    /// The recording files of a session, as indexed; `None` for an unknown session.
    pub fn files_of(&self, session_id: &str) -> Result<Option<Vec<String>>, Error> {
        let files: Option<String> = self
            .conn
            .query_row("SELECT files FROM sessions WHERE session_id = ?1", params![session_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(files.map(|f| serde_json::from_str(&f).unwrap_or_default()))
    }

    /// Every row, as text in a fixed order: equal dumps, equal indexes.
    pub fn dump(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(&self.patients()?)
            .map_err(|e| Error::Io { path: self.path.clone().into(), source: e.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u32, peak: Option<u8>, fin: Option<u8>, halved: bool, left_us: u64) -> StepRow {
        let halved_visit = match (halved, peak, fin) {
            (true, Some(peak), Some(last)) => Some(HalvedVisit { left_us, peak, last }),
            _ => None,
        };
        StepRow { step, step_id: format!("s{step}"), suds_peak: peak, suds_final: fin, halved, left_us, halved_visit }
    }

    fn session(steps: Vec<StepRow>) -> SessionRow {
        SessionRow {
            session_id: "a".into(),
            files: vec![],
            started: "2026-11-30T10:00:00Z".into(),
            started_unix_us: 1,
            ended_unix_us: 2,
            duration_us: 1,
            complete: true,
            highest_step: steps.iter().map(|s| s.step).max().unwrap_or(0),
            steps,
            notes: 0,
        }
    }

    #[test]
    fn the_last_mastered_step_is_proposed_else_one_below_the_last_visited() {
        let mastered = session(vec![
            step(1, Some(30), Some(10), true, 10),
            step(2, Some(50), Some(20), true, 20),
            step(3, Some(70), Some(60), false, 30),
        ]);
        let p = propose(&mastered).unwrap();
        assert_eq!((p.step, p.step_id.as_str()), (2, "s2"));
        assert!(p.reason.contains("fell by half") && p.reason.contains("peak 50, last 20"), "{}", p.reason);
        let none = session(vec![step(1, Some(40), Some(30), false, 10), step(2, Some(70), Some(60), false, 20)]);
        let p = propose(&none).unwrap();
        assert_eq!(p.step, 1);
        assert!(p.reason.contains("last step visited was 2"), "{}", p.reason);
        let first = session(vec![step(1, Some(40), Some(30), false, 10)]);
        assert_eq!(propose(&first).unwrap().step, 1);
        assert_eq!(propose(&session(vec![])), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_index_is_readable_by_the_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("trinvis-course-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("course.sqlite");
        let _ = std::fs::remove_file(&path);
        let db = Db::open(&path).unwrap();
        assert!(db.patients().unwrap().is_empty());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_fall_to_exactly_half_counts_and_safe_scene_passes_do_not() {
        let visit = |step: u32, peak: u8, fin: u8, safe: bool| Visit {
            step,
            step_id: format!("s{step}"),
            suds_peak: Some(peak),
            suds_final: Some(fin),
            during_safe_scene: safe,
            left_us: u64::from(step),
            ..Visit::default()
        };
        let rows = steps_of(&[visit(1, 60, 30, false), visit(2, 61, 31, false), visit(3, 80, 10, true)]);
        assert_eq!(rows.iter().map(|r| (r.step, r.halved)).collect::<Vec<_>>(), [(1, true), (2, false)]);
    }

    #[test]
    fn a_step_revisited_later_does_not_take_the_place_of_the_last_step_that_halved() {
        // Step 2 halves (left at 10), step 3 halves (left at 30), then the
        // patient goes back to step 2 (left at 40) without halving: step 3
        // is the last step where SUDS fell by half, quoted from its visit.
        let visit = |step: u32, peak: u8, last: u8, left_us: u64| Visit {
            step,
            step_id: format!("s{step}"),
            suds_peak: Some(peak),
            suds_final: Some(last),
            left_us,
            ..Visit::default()
        };
        let steps = steps_of(&[visit(2, 60, 20, 10), visit(3, 70, 30, 30), visit(2, 70, 60, 40)]);
        let p = propose(&session(steps)).unwrap();
        assert_eq!(p.step, 3, "{}", p.reason);
        assert!(p.reason.contains("peak 70, last 30"), "{}", p.reason);
    }
}
