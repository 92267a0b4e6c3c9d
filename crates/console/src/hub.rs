//! The console's shared state: sessions, browsers, commands in flight. One
//! mutex guards it; every critical section is short and never awaits.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use protocol::{
    CommandAck, CommandMessage, CommandRequest, CommandResult, ConsoleToBrowser, ConsoleToHeadset, Dropped, ErrorCode,
    LinkState, SessionInfo, SessionList, encode,
};
use recording::Channel;
use tokio::sync::{mpsc, watch};

use crate::queue::Outbox;
use crate::recorder::{Pool, Recorder};
use crate::replay::Replay;
use crate::{Config, unix_us};

/// A session the console knows, connected or not.
#[derive(Debug)]
pub(crate) struct Session {
    pub info: SessionInfo,
    /// The connected headset's outgoing channel (bounded) and connection number.
    pub headset: Option<(u64, mpsc::Sender<ConsoleToHeadset>)>,
    /// Since when no headset is connected; the session leaves the list a
    /// grace period after.
    pub gone_since: Option<Instant>,
    /// The secret a `hello` must carry to resume this session.
    pub resume_token: String,
    pub recorder: Option<Recorder>,
    /// Highest sequence number received (gaps are annotated, not waited for).
    pub received: u64,
    /// `headset clock - console clock`, µs.
    pub offset_us: i64,
    /// Round-trip time behind `offset_us`, and the quickest seen.
    pub offset_rtt_us: Option<u64>,
    pub best_rtt_us: u64,
    /// Recording files of this session so far (a new one after a write failure).
    pub parts: u32,
    /// Headset clock at session time 0, µs.
    pub epoch_us: u64,
    /// Read back from the session table after a restart: the next headset
    /// to resume it says where its unacknowledged messages begin.
    pub restored: bool,
    /// The highest position in the session's log seen.
    pub last_event_seq: Option<u64>,
    /// The step shown in the last sample.
    pub last_step: u16,
    /// The last sample's headset clock and session time, µs: events (which
    /// carry session time only) are placed on the console's clock through
    /// it, so they line up with telemetry even when the headset's session
    /// clock does not run with its monotonic clock (a sped-up simulation).
    pub anchor: Option<(u64, u64)>,
    /// Console time the last mirror frame was recorded, µs.
    pub mirror_recorded_us: Option<u64>,
    /// What pages are shown when they subscribe.
    pub memory: crate::memory::Memory,
    /// The last command passed on (its key: command and basis) and when:
    /// the same again within `duplicate_window` is a duplicate.
    pub last_command: Option<(String, Instant)>,
    /// The target a command just sent will set, before telemetry shows it.
    pub expected_target: Option<(f64, Instant)>,
}

impl Session {
    /// A session read from a recording: no headset, no recorder.
    fn replayed(info: SessionInfo) -> Session {
        Session {
            offset_us: info.offset_us.unwrap_or(0),
            info,
            headset: None,
            gone_since: None,
            resume_token: String::new(),
            recorder: None,
            received: 0,
            offset_rtt_us: None,
            best_rtt_us: u64::MAX,
            parts: 1,
            epoch_us: 0,
            restored: false,
            last_event_seq: None,
            last_step: 0,
            anchor: None,
            mirror_recorded_us: None,
            memory: crate::memory::Memory::new(),
            last_command: None,
            expected_target: None,
        }
    }

    /// A session from the table a previous run of the console saved: no
    /// headset yet, no open file (the next part is opened when it resumes).
    fn restored(saved: crate::table::Saved, recordings: &std::path::Path) -> Session {
        let mut info = saved.info;
        info.link = LinkState::Disconnected;
        info.rtt_us = None;
        let memory = crate::memory::Memory::from_recordings(
            recordings,
            &info.session_id,
            saved.parts,
            info.offset_us.unwrap_or(0),
            saved.epoch_us,
        );
        Session {
            memory,
            last_command: None,
            expected_target: None,
            offset_us: info.offset_us.unwrap_or(0),
            info,
            headset: None,
            gone_since: Some(Instant::now()),
            resume_token: saved.resume_token,
            recorder: None,
            received: 0,
            offset_rtt_us: None,
            best_rtt_us: u64::MAX,
            parts: saved.parts.max(1),
            epoch_us: saved.epoch_us,
            restored: true,
            last_event_seq: saved.last_event_seq,
            last_step: saved.last_step,
            anchor: None,
            mirror_recorded_us: None,
        }
    }

    fn saved(&self) -> crate::table::Saved {
        crate::table::Saved {
            info: self.info.clone(),
            resume_token: self.resume_token.clone(),
            parts: self.parts,
            epoch_us: self.epoch_us,
            last_event_seq: self.last_event_seq,
            last_step: self.last_step,
        }
    }

    /// Console time (µs since the epoch) of a headset clock reading.
    pub fn console_time(&self, headset_us: u64) -> u64 {
        let headset_us = i64::try_from(headset_us).unwrap_or(i64::MAX);
        u64::try_from(headset_us.saturating_sub(self.offset_us)).unwrap_or(0)
    }

    /// Hands a message to the recorder; false when the file can no longer be written.
    pub fn record(&self, channel: Channel, log_us: u64, data: Vec<u8>, seq: Option<u64>) -> bool {
        self.recorder.as_ref().is_some_and(|r| r.write(channel, log_us, unix_us(), data, seq))
    }

    /// Console time (µs since the epoch) of a session time.
    pub fn console_time_of_session(&self, session_us: u64) -> u64 {
        let headset_us = match self.anchor {
            Some((t_us, at_session_us)) => {
                let as_i64 = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
                let t = as_i64(t_us).saturating_add(as_i64(session_us).saturating_sub(as_i64(at_session_us)));
                u64::try_from(t).unwrap_or(0)
            }
            None => self.epoch_us.saturating_add(session_us),
        };
        self.console_time(headset_us)
    }

    pub fn annotate(&self, kind: &str, text: &str) {
        let now = unix_us();
        let json = serde_json::json!({ "type": kind, "text": text, "at_us": self.session_now() });
        self.record(Channel::Annotations, now, json.to_string().into_bytes(), None);
    }

    /// The session time now, µs: the newest sample's, moved on by the
    /// console's clock since it was taken.
    pub fn session_now(&self) -> u64 {
        match &self.anchor {
            Some((t_us, session_us)) => {
                let taken = self.console_time(*t_us);
                session_us.saturating_add(unix_us().saturating_sub(taken))
            }
            None => self.memory.now_us().unwrap_or(0),
        }
    }
}

#[derive(Debug)]
struct Browser {
    outbox: Arc<Outbox>,
    subscriptions: BTreeSet<String>,
    /// The therapist's name for the page, or "page N".
    name: String,
    /// The session it shows.
    viewing: Option<String>,
}

#[derive(Debug)]
struct Pending {
    browser: u64,
    request_id: u64,
    session_id: String,
    sent: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub sessions: BTreeMap<String, Session>,
    browsers: HashMap<u64, Browser>,
    pending: HashMap<u64, Pending>,
}

/// Shared by every connection.
#[derive(Debug)]
pub(crate) struct Hub {
    pub config: Config,
    /// Becomes true when the console shuts down.
    pub stop: watch::Receiver<bool>,
    state: Mutex<State>,
    next_id: AtomicU64,
    /// Grows whenever a session's details change without a broadcast
    /// (round-trip times); browsers resend the list when it moved.
    version: AtomicU64,
    /// Set when this console replays a recording instead of serving headsets.
    pub replay: Option<Arc<Replay>>,
    /// The threads that write recordings.
    pub recorders: Pool,
    /// Saves the session table, when the console has a data folder.
    saver: Option<Mutex<crate::table::Saver>>,
    /// Which refused connections were logged lately.
    pub refusals: Mutex<crate::door::RefusalLog>,
    /// Pairing codes and the headsets' credentials.
    pub pairing: crate::pairing::Pairing,
    /// The patients' courses, when the console has a data folder.
    pub course: Option<crate::course::Index>,
    /// Sessions whose start the course was asked about already.
    pub proposals_asked: Mutex<std::collections::HashSet<String>>,
}

impl Hub {
    pub(crate) fn new(
        config: Config,
        stop: watch::Receiver<bool>,
        replay: Option<Arc<Replay>>,
    ) -> std::io::Result<Hub> {
        let mut state = State::default();
        let mut saver = None;
        if let Some(replay) = &replay {
            let info = replay.lock().info.clone();
            state.sessions.insert(info.session_id.clone(), Session::replayed(info));
        } else if let Some(data) = &config.data {
            // Each session's memory is read back from its parts, all at once
            // (a long session's recording takes a moment to read).
            let restored: Vec<Session> = std::thread::scope(|scope| {
                let reading: Vec<_> = crate::table::load(data, &config.recordings)
                    .into_iter()
                    .map(|saved| scope.spawn(|| Session::restored(saved, &config.recordings)))
                    .collect();
                reading.into_iter().filter_map(|r| r.join().ok()).collect()
            });
            for session in restored {
                tracing::info!(session = %session.info.session_id, patient = %session.info.patient_code,
                    "session from before the restart: waiting for its headset to resume it");
                state.sessions.insert(session.info.session_id.clone(), session);
            }
            saver = Some(Mutex::new(crate::table::Saver::new(data)?));
        }
        let course = match (&replay, &config.data) {
            (None, Some(data)) => Some(crate::course::Index::open(data)?),
            _ => None,
        };
        let recorders =
            Pool::new(config.recorder_threads, course.as_ref().and_then(crate::course::Index::closed_files))?;
        let pairing = crate::pairing::Pairing::new(config.data.as_deref())?;
        Ok(Hub {
            pairing,
            course,
            proposals_asked: Mutex::default(),
            saver,
            refusals: Mutex::default(),
            config,
            stop,
            state: Mutex::new(state),
            next_id: AtomicU64::new(1),
            version: AtomicU64::new(0),
            replay,
            recorders,
        })
    }

    /// Sends a message to every browser.
    pub(crate) fn broadcast(&self, message: &ConsoleToBrowser) {
        let state = self.lock();
        let text = encode(message);
        for b in state.browsers.values() {
            queue(&b.outbox, message, text.clone());
        }
    }

    /// A replayed session's state moved with the timeline.
    pub(crate) fn set_replay_state(&self, session_id: &str, to: protocol::SessionState) {
        let changed = {
            let mut state = self.lock();
            match state.sessions.get_mut(session_id) {
                Some(s) if s.info.state != to => {
                    s.info.state = to;
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.broadcast_sessions();
        }
    }

    /// Saves the session table (in the background), when there is one.
    pub(crate) fn save_table(&self, state: &State) {
        if let Some(saver) = &self.saver {
            let sessions = state.sessions.values().map(Session::saved).collect();
            saver.lock().unwrap_or_else(std::sync::PoisonError::into_inner).save(sessions);
        }
    }

    /// Saves the table one last time and waits until it is on disk.
    pub(crate) fn stop_saving(&self) {
        if let Some(saver) = &self.saver {
            self.save_table(&self.lock());
            saver.lock().unwrap_or_else(std::sync::PoisonError::into_inner).stop();
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A number unique in this console run (connections, browsers, commands).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn add_browser(&self, outbox: Arc<Outbox>) -> u64 {
        let id = self.next_id();
        let mut state = self.lock();
        let browser = Browser {
            outbox: outbox.clone(),
            subscriptions: BTreeSet::new(),
            name: format!("page {id}"),
            viewing: None,
        };
        state.browsers.insert(id, browser);
        outbox.push_latest(SESSIONS, encode(&ConsoleToBrowser::Sessions(list(&state))));
        pages_to_all(&state);
        id
    }

    pub(crate) fn remove_browser(&self, id: u64) {
        let mut state = self.lock();
        if let Some(b) = state.browsers.remove(&id) {
            b.outbox.close();
        }
        state.pending.retain(|_, p| p.browser != id);
        pages_to_all(&state);
    }

    /// A page says who it is and what it shows: every page hears of it.
    pub(crate) fn page_hello(&self, browser: u64, hello: protocol::PageHello) {
        let mut state = self.lock();
        let Some(b) = state.browsers.get_mut(&browser) else { return };
        let name = hello.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        b.name = name.unwrap_or_else(|| format!("page {browser}"));
        b.viewing = hello.viewing;
        pages_to_all(&state);
    }

    /// Subscribes a browser; false when the session does not exist. A
    /// subscribing page first gets the session's history, in the same
    /// critical section that makes it a subscriber: live messages follow
    /// it, none missing and none twice.
    pub(crate) fn subscribe(&self, browser: u64, session_id: &str, on: bool) -> bool {
        let mut state = self.lock();
        let State { sessions, browsers, .. } = &mut *state;
        let Some(session) = sessions.get(session_id) else { return false };
        if let Some(b) = browsers.get_mut(&browser) {
            if on {
                if self.replay.is_none() {
                    b.outbox.push(encode(&ConsoleToBrowser::History(session.memory.history(session_id))));
                }
                b.subscriptions.insert(session_id.to_owned());
            } else {
                b.subscriptions.remove(session_id);
            }
        }
        true
    }

    /// A therapist acknowledges an avoidance episode: recorded, and every
    /// page hears who did.
    pub(crate) fn acknowledge(&self, browser: u64, ack: &protocol::Acknowledge) -> Result<(), (ErrorCode, String)> {
        let mut state = self.lock();
        let by = state.browsers.get(&browser).map_or_else(|| format!("page {browser}"), |b| b.name.clone());
        let Some(session) = state.sessions.get_mut(&ack.session_id) else {
            return Err((ErrorCode::NoSuchSession, format!("no session {}", ack.session_id)));
        };
        if ack.episode == 0 || ack.episode > session.memory.episodes() {
            return Err((ErrorCode::Malformed, format!("no avoidance episode {} in this session", ack.episode)));
        }
        if session.memory.acknowledged(ack.episode) {
            return Ok(());
        }
        let notice = protocol::Notice {
            at_us: session.session_now(),
            what: protocol::NoticeKind::Acknowledged { episode: ack.episode, page: browser, by },
        };
        self.notice_in(&mut state, &ack.session_id, notice);
        Ok(())
    }

    /// Keeps, records (when it is an alert) and fans out a notice, with the
    /// state locked.
    pub(crate) fn notice_in(&self, state: &mut State, session_id: &str, notice: protocol::Notice) {
        let Some(session) = state.sessions.get_mut(session_id) else { return };
        if let Some(json) = crate::memory::annotation_of(&notice) {
            session.record(Channel::Annotations, unix_us(), json.to_string().into_bytes(), None);
        }
        session.memory.notice(notice.clone());
        let message = ConsoleToBrowser::Notice { session_id: session_id.to_owned(), notice };
        fan_out_in(state, session_id, &encode(&message), false);
    }

    pub(crate) fn session_list(&self) -> SessionList {
        list(&self.lock())
    }

    /// Notes a change of session details that is not worth a broadcast of its own.
    pub(crate) fn touch(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Sends the session list to every browser.
    pub(crate) fn broadcast_sessions(&self) {
        let state = self.lock();
        let text = encode(&ConsoleToBrowser::Sessions(list(&state)));
        for b in state.browsers.values() {
            b.outbox.push_latest(SESSIONS, text.clone());
        }
    }

    /// Sends a message about `session_id` to its subscribers.
    pub(crate) fn fan_out(&self, session_id: &str, message: &ConsoleToBrowser, droppable: bool) {
        let state = self.lock();
        if state.browsers.values().any(|b| b.subscriptions.contains(session_id)) {
            fan_out_in(&state, session_id, &encode(message), droppable);
        }
    }

    /// Offers a mirror frame (as browsers take it) to the session's
    /// subscribers: each keeps only the newest.
    pub(crate) fn fan_out_frame(&self, session_id: &str, frame: &axum::body::Bytes) {
        let state = self.lock();
        for b in state.browsers.values().filter(|b| b.subscriptions.contains(session_id)) {
            b.outbox.push_frame(session_id, frame.clone());
        }
    }

    /// Offers one browser a mirror frame of `session_id`.
    pub(crate) fn frame_to_browser(&self, browser: u64, session_id: &str, frame: axum::body::Bytes) {
        if let Some(b) = self.lock().browsers.get(&browser) {
            b.outbox.push_frame(session_id, frame);
        }
    }

    /// The therapist's mirror rate for a session: kept (the session table
    /// too), recorded, passed to its headset, shown in every page.
    pub(crate) fn set_mirror_rate(&self, browser: u64, session_id: &str, fps: u8) -> Result<(), (ErrorCode, String)> {
        {
            let mut state = self.lock();
            let Some(session) = state.sessions.get_mut(session_id) else {
                return Err((ErrorCode::NoSuchSession, format!("no session {session_id}")));
            };
            if session.info.mirror_fps.is_none() {
                let message = format!(
                    "the headset of session {session_id} sends no pictures (it runs headless, or is older than the mirror)"
                );
                return Err((ErrorCode::NoMirror, message));
            }
            if session.info.mirror_fps == Some(fps) {
                return Ok(());
            }
            session.info.mirror_fps = Some(fps);
            let json = serde_json::json!({ "type": "mirror_rate", "text": format!("mirror at {fps} frames a second"),
                "fps": fps, "by": format!("browser {browser}") });
            session.record(Channel::Annotations, unix_us(), json.to_string().into_bytes(), None);
            if let Some((_, tx)) = &session.headset {
                // A full queue means a headset that stopped reading: it gets
                // the rate in its next welcome.
                let _ = tx.try_send(ConsoleToHeadset::Mirror(protocol::MirrorRate { session_id: String::new(), fps }));
            }
            self.save_table(&state);
        }
        self.broadcast_sessions();
        Ok(())
    }

    /// Reports dropped telemetry to a browser, if any.
    pub(crate) fn dropped_report(outbox: &Outbox) {
        for (session_id, telemetry_batches) in outbox.take_dropped() {
            outbox.push(encode(&ConsoleToBrowser::Dropped(Dropped { session_id, telemetry_batches })));
        }
    }

    /// Forwards a browser's command to its session's headset and records it.
    /// The result comes back through [`Hub::command_acked`], or
    /// [`Hub::expire_commands`] when the headset does not answer.
    pub(crate) fn send_command(&self, browser: u64, request: CommandRequest) -> Result<(), CommandResult> {
        let refuse = |code: ErrorCode, error: &str| refusal(&request, code, error);
        let mut state = self.lock();
        let Some(session) = state.sessions.get(&request.session_id) else {
            return Err(refuse(ErrorCode::NoSuchSession, "no session with this id"));
        };
        if session.info.state == protocol::SessionState::Ended
            && let Some((kind, fields)) = after_end(&request.command, session.last_step)
        {
            let session_id = request.session_id.clone();
            let event = self.write_after_end(&mut state, &session_id, kind, fields).map_err(|e| {
                refuse(ErrorCode::CommandFailed, &format!("the console could not write it to the recording: {e}"))
            })?;
            drop(state);
            let result = CommandResult {
                session_id: session_id.clone(),
                request_id: request.request_id,
                command_id: 0,
                ok: true,
                error: None,
                code: None,
            };
            self.to_browser(browser, &ConsoleToBrowser::CommandResult(result));
            let batch = protocol::EventBatch { seq: 0, events: vec![event] };
            self.fan_out(&session_id, &ConsoleToBrowser::Events { session_id: session_id.clone(), batch }, false);
            return Ok(());
        }
        let Some((_, tx)) = &session.headset else {
            return Err(refuse(ErrorCode::HeadsetOffline, "the headset is not connected; nothing was sent"));
        };
        // The intent: the command and the level its sender saw. The same
        // again soon after is a double-click, a repeated key or a second
        // page, not a second wish.
        // The safe scene is never held back: a second one costs nothing.
        let key = format!("{}@{:?}", encode(&request.command), request.basis.map(|b| (b * 100.0).round()));
        if !matches!(request.command, protocol::Command::SafeScene)
            && let Some((last, at)) = &session.last_command
            && *last == key
            && at.elapsed() < self.config.duplicate_window
        {
            let error = format!(
                "the same command came again within {:.1} s (a double-click, a repeated key or another page): it was sent once",
                self.config.duplicate_window.as_secs_f64()
            );
            return Err(refuse(ErrorCode::Duplicate, &error));
        }
        let target = current_target(session);
        if let Some(to) = raised_to(&request.command)
            && let Some(from) = target
            && to - from > 1.0 + 1e-6
            && !request.confirmed
        {
            let error = format!(
                "raising the target from {from:.1} to {to:.1} is more than one step: ask the therapist and send it confirmed"
            );
            return Err(refuse(ErrorCode::NeedsConfirmation, &error));
        }
        let id = self.next_id();
        let message = CommandMessage { id, command: request.command.clone() };
        match tx.try_send(ConsoleToHeadset::Command(message)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let error = "the headset is not taking its messages (its queue is full); nothing was sent";
                return Err(refuse(ErrorCode::HeadsetOffline, error));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(refuse(ErrorCode::HeadsetOffline, "the headset went away; nothing was sent"));
            }
        }
        let by = state.browsers.get(&browser).map_or_else(|| format!("page {browser}"), |b| b.name.clone());
        let Some(session) = state.sessions.get_mut(&request.session_id) else {
            return Err(refuse(ErrorCode::NoSuchSession, "no session with this id"));
        };
        let at_us = session.session_now();
        let json =
            serde_json::json!({ "id": id, "command": &request.command, "page": browser, "by": &by, "at_us": at_us });
        session.record(Channel::Commands, unix_us(), json.to_string().into_bytes(), None);
        session.last_command = Some((key, Instant::now()));
        if let Some(to) = target_after(&request.command, target) {
            session.expected_target = Some((to, Instant::now()));
        }
        let notice = protocol::Notice {
            at_us,
            what: protocol::NoticeKind::Command { page: browser, by, command: request.command.clone() },
        };
        let session_id = request.session_id.clone();
        self.notice_in(&mut state, &session_id, notice);
        let pending =
            Pending { browser, request_id: request.request_id, session_id: request.session_id, sent: Instant::now() };
        state.pending.insert(id, pending);
        Ok(())
    }

    /// Writes a note, marker, prediction or outcome given after the session
    /// ended (its headset has left) into the session's record, as the
    /// headset would have: an event that goes on from the session's log,
    /// at the session time of now, with `by: "console"`. Its file was closed
    /// at the end, so it goes into a new part, closed again at once.
    fn write_after_end(
        &self,
        state: &mut State,
        session_id: &str,
        kind: &str,
        mut fields: BTreeMap<String, serde_json::Value>,
    ) -> Result<protocol::SessionEvent, recording::Error> {
        let Some(session) = state.sessions.get_mut(session_id) else {
            return Err(recording::Error::Io(std::io::Error::other("the session is gone")));
        };
        let now = unix_us();
        let headset_now = i64::try_from(now).unwrap_or(i64::MAX).saturating_add(session.offset_us);
        let at_us = u64::try_from(headset_now).unwrap_or(0).saturating_sub(session.epoch_us);
        let seq = session.last_event_seq.map_or(0, |s| s.saturating_add(1));
        fields.insert("by".into(), "console".into());
        let event = protocol::SessionEvent { seq, at_us, kind: kind.to_owned(), fields };
        let json = serde_json::to_vec(&event).unwrap_or_default();
        if !session.recorder.as_ref().is_some_and(Recorder::alive) {
            session.parts += 1;
            let file = recording::parts::file_name(session_id, session.parts);
            let metadata =
                crate::headset::metadata_of(&session.info, now, session.offset_us, self.config.mirror_record_every);
            let recorder =
                self.recorders.start(&self.config.recordings.join(&file), &metadata, self.config.flush_interval)?;
            session.info.recording = file;
            // Dropped below: the part is closed as soon as this is in it.
            session.recorder = Some(recorder);
        }
        let log_us = session.console_time_of_session(at_us);
        let written = session.record(Channel::Events, log_us, json, None);
        if session.info.link != LinkState::Connected {
            drop(session.recorder.take());
        }
        if !written {
            return Err(recording::Error::Io(std::io::Error::other("the file can no longer be written")));
        }
        session.last_event_seq = Some(seq);
        self.save_table(state);
        Ok(event)
    }

    /// A command the console sent on its own (no page waits for its answer).
    pub(crate) fn console_command(&self, state: &mut State, id: u64, session_id: &str) {
        let pending = Pending { browser: 0, request_id: 0, session_id: session_id.to_owned(), sent: Instant::now() };
        state.pending.insert(id, pending);
    }

    /// Commands without an answer for longer than the configured time fail
    /// for their sender. A late answer is still recorded.
    pub(crate) fn expire_commands(&self) {
        let timeout = self.config.command_timeout;
        let mut state = self.lock();
        let expired: Vec<u64> =
            state.pending.iter().filter(|(_, p)| p.sent.elapsed() > timeout).map(|(id, _)| *id).collect();
        for id in expired {
            let Some(p) = state.pending.remove(&id) else { continue };
            if let Some(b) = state.browsers.get(&p.browser) {
                let error = format!(
                    "the headset did not answer within {:.1} s; it may still carry the command out when it reconnects",
                    timeout.as_secs_f64()
                );
                b.outbox.push(encode(&ConsoleToBrowser::CommandResult(CommandResult {
                    session_id: p.session_id,
                    request_id: p.request_id,
                    command_id: id,
                    ok: false,
                    error: Some(error),
                    code: Some(ErrorCode::CommandFailed),
                })));
            }
        }
    }

    /// The headset of `session_id` answered a command: the sender hears of
    /// it. False when no command with that id is waiting for this session's
    /// answer: a headset can answer only what was sent to its own session.
    pub(crate) fn command_acked(&self, session_id: &str, ack: &CommandAck) -> bool {
        let mut state = self.lock();
        if state.pending.get(&ack.id).is_none_or(|p| p.session_id != session_id) {
            return false;
        }
        let Some(pending) = state.pending.remove(&ack.id) else { return false };
        if let Some(b) = state.browsers.get(&pending.browser) {
            b.outbox.push(encode(&ConsoleToBrowser::CommandResult(CommandResult {
                session_id: pending.session_id,
                request_id: pending.request_id,
                command_id: ack.id,
                ok: ack.ok,
                error: ack.error.clone(),
                code: (!ack.ok).then_some(ErrorCode::CommandFailed),
            })));
        }
        true
    }

    /// Sends a message that must arrive to one browser.
    pub(crate) fn to_browser(&self, browser: u64, message: &ConsoleToBrowser) {
        if let Some(b) = self.lock().browsers.get(&browser) {
            queue(&b.outbox, message, encode(message));
        }
    }

    /// Marks a headset connection gone, unless a newer one took its place.
    pub(crate) fn headset_gone(&self, session_id: &str, connection: u64) {
        {
            let mut state = self.lock();
            let Some(session) = state.sessions.get_mut(session_id) else { return };
            if session.headset.as_ref().is_none_or(|(c, _)| *c != connection) {
                return;
            }
            session.headset = None;
            session.gone_since = Some(Instant::now());
            session.info.link = LinkState::Disconnected;
            session.annotate("headset_disconnected", "the headset connection closed");
            let notice = protocol::Notice { at_us: session.session_now(), what: protocol::NoticeKind::HeadsetLeft };
            session.memory.notice(notice.clone());
            let message = ConsoleToBrowser::Notice { session_id: session_id.to_owned(), notice };
            fan_out_in(&state, session_id, &encode(&message), false);
            let Some(session) = state.sessions.get_mut(session_id) else { return };
            // A session that ended has nothing more to come: close its file.
            if session.info.state == protocol::SessionState::Ended {
                // Dropping the handle closes the file on its recorder thread.
                drop(session.recorder.take());
            }
            self.save_table(&state);
        }
        self.broadcast_sessions();
    }

    /// Sessions whose headset has been gone longer than their grace period
    /// leave the list, and their files are closed. Their recordings stay
    /// on disk and in the recordings list.
    pub(crate) fn sweep(&self) {
        let removed = {
            let mut state = self.lock();
            let config = &self.config;
            let expired: Vec<String> = state
                .sessions
                .iter()
                .filter(|(_, s)| {
                    let grace = if s.info.state == protocol::SessionState::Ended {
                        config.ended_grace
                    } else {
                        config.disconnected_grace
                    };
                    s.gone_since.is_some_and(|since| since.elapsed() >= grace)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in &expired {
                remove_session(&mut state, id);
            }
            if !expired.is_empty() {
                self.save_table(&state);
            }
            !expired.is_empty()
        };
        if removed {
            self.broadcast_sessions();
        }
    }

    /// Makes room for one more session when the console is at its limit, by
    /// letting go of the session whose headset left longest ago. False when
    /// every session has its headset connected: the newcomer is refused.
    pub(crate) fn make_room(&self, state: &mut State) -> bool {
        if state.sessions.len() < self.config.max_sessions {
            return true;
        }
        let oldest = state
            .sessions
            .iter()
            .filter_map(|(id, s)| s.gone_since.map(|since| (since, id.clone())))
            .min()
            .map(|(_, id)| id);
        match oldest {
            Some(id) => {
                tracing::info!(session = %id, "session left the list to make room for a new one");
                remove_session(state, &id);
                true
            }
            None => false,
        }
    }

    /// Closes every recording (at shutdown).
    pub(crate) fn finish_all(&self) -> Vec<Recorder> {
        self.lock().sessions.values_mut().filter_map(|s| s.recorder.take()).collect()
    }
}

/// The target the console last knew for a session: the one a command just
/// sent will set, until telemetry has had time to show it.
fn current_target(session: &Session) -> Option<f64> {
    let seen = session.memory.target();
    match session.expected_target {
        Some((to, at)) if at.elapsed() < std::time::Duration::from_secs(2) => Some(to),
        _ => seen,
    }
}

/// The level a command raises the target to, for those that name one.
fn raised_to(command: &protocol::Command) -> Option<f64> {
    match command {
        protocol::Command::SetLevel { level } => Some(*level),
        protocol::Command::GoToStep { step } => Some(*step as f64),
        _ => None,
    }
}

/// The target after a command, as far as the console can tell.
fn target_after(command: &protocol::Command, target: Option<f64>) -> Option<f64> {
    use protocol::Command;
    match command {
        Command::SetLevel { .. } | Command::GoToStep { .. } => raised_to(command),
        Command::NextStep => target.map(|t| t.floor() + 1.0),
        Command::PreviousStep => target.map(|t| (t.ceil() - 1.0).max(1.0)),
        _ => None,
    }
}

/// The event a command becomes when the console writes it itself after the
/// session's end; `None` for commands only a running session can take.
fn after_end(command: &protocol::Command, step: u16) -> Option<(&'static str, BTreeMap<String, serde_json::Value>)> {
    use protocol::Command;
    let (kind, key, text) = match command {
        Command::Note { text } => ("note", "text", text),
        Command::Marker { label } => ("marker", "label", label),
        Command::Prediction { text } => ("prediction", "text", text),
        Command::Outcome { text } => ("outcome", "text", text),
        _ => return None,
    };
    let mut fields = BTreeMap::new();
    fields.insert(key.to_owned(), serde_json::Value::from(text.as_str()));
    if matches!(kind, "prediction" | "outcome") && step > 0 {
        fields.insert("step".to_owned(), serde_json::Value::from(step));
    }
    Some((kind, fields))
}

/// Session lists are snapshots: a newer one replaces one still queued.
const SESSIONS: &str = "sessions";

/// Queues a message for one browser: snapshots coalesce, the rest must arrive.
fn queue(outbox: &Outbox, message: &ConsoleToBrowser, text: String) {
    match message {
        ConsoleToBrowser::Sessions(_) => outbox.push_latest(SESSIONS, text),
        ConsoleToBrowser::Recordings(_) => outbox.push_latest("recordings", text),
        ConsoleToBrowser::ReplayStatus(_) => outbox.push_latest("replay_status", text),
        _ => outbox.push(text),
    }
}

/// Forgets a session: its file is closed in the background. Commands still
/// waiting for its answer fail for their senders at their timeout.
fn remove_session(state: &mut State, id: &str) {
    if let Some(session) = state.sessions.remove(id) {
        session.annotate("session_closed", "the session left the console's list; this file ends here");
    }
}

/// A command the console refused before it reached a headset.
pub(crate) fn refusal(request: &CommandRequest, code: ErrorCode, error: &str) -> CommandResult {
    CommandResult {
        session_id: request.session_id.clone(),
        request_id: request.request_id,
        command_id: 0,
        ok: false,
        error: Some(error.to_owned()),
        code: Some(code),
    }
}

/// Sends an encoded message about `session_id` to its subscribers, with
/// the state locked (so it is ordered with every history sent).
pub(crate) fn fan_out_in(state: &State, session_id: &str, text: &str, droppable: bool) {
    for b in state.browsers.values().filter(|b| b.subscriptions.contains(session_id)) {
        if droppable { b.outbox.push_telemetry(session_id, text.to_owned()) } else { b.outbox.push(text.to_owned()) }
    }
}

/// Tells every page which pages are open (each with its own `you`).
fn pages_to_all(state: &State) {
    let mut pages: Vec<protocol::PageInfo> = state
        .browsers
        .iter()
        .map(|(id, b)| protocol::PageInfo { id: *id, name: b.name.clone(), viewing: b.viewing.clone() })
        .collect();
    pages.sort_by_key(|p| p.id);
    for (id, b) in &state.browsers {
        let message = ConsoleToBrowser::Pages(protocol::Pages { you: *id, pages: pages.clone() });
        b.outbox.push_latest("pages", encode(&message));
    }
}

fn list(state: &State) -> SessionList {
    let mut sessions: Vec<SessionInfo> = state.sessions.values().map(|s| s.info.clone()).collect();
    sessions.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.session_id.cmp(&b.session_id)));
    SessionList { sessions }
}
