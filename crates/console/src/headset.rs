//! One headset connection: hello, then telemetry, events and command acks
//! in; welcome, commands, acks and pings out.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use protocol::{
    Ack, CommandMessage, ConsoleToBrowser, ConsoleToHeadset, ErrorCode, ErrorMessage, HeadsetToConsole, Hello,
    LinkState, Ping, SessionInfo, SessionState, Welcome, decode, encode,
};
use recording::{Channel, Metadata};
use tokio::sync::{mpsc, watch};

use crate::hub::{Hub, Session};
use crate::recorder::Recorder;
use crate::socket::{Incoming, close, receive};
use crate::time::compact;
use crate::{rfc3339, unix_us};

const CONSOLE: &str = concat!("trinvis-console ", env!("CARGO_PKG_VERSION"));

/// Messages waiting for one headset: commands are rate-limited per browser,
/// so a full queue means the headset stopped reading.
const HEADSET_QUEUE: usize = 256;

/// Marks the connection gone however the task ends, a panic included, so
/// the session list never shows a dead connection as connected.
struct Attached {
    hub: Arc<Hub>,
    session_id: String,
    connection: u64,
}

impl Drop for Attached {
    fn drop(&mut self) {
        self.hub.headset_gone(&self.session_id, self.connection);
    }
}

/// Serves one headset connection; `credential` is the paired credential it
/// came with, as (id, the headset it was issued to) (`None`: the shared
/// headset token): its hello must name that headset, and its revocation
/// closes the connection.
pub(crate) async fn run(hub: Arc<Hub>, mut socket: WebSocket, credential: Option<(String, String)>) {
    // Listening before anything else: a revocation from now on is seen.
    let mut revoked = hub.pairing.revoked.subscribe();
    let hello = match tokio::time::timeout(hub.config.hello_timeout, first_hello(&mut socket)).await {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(_) => {
            close(&mut socket, 1008, "no hello in time").await;
            return;
        }
    };
    if let Some((id, issued_to)) = &credential {
        if !hub.pairing.valid(id) {
            close(&mut socket, 1008, "this headset's credential was revoked: pair it again").await;
            return;
        }
        if *issued_to != hello.headset_id {
            tracing::warn!(credential = %id, claimed = %hello.headset_id, "a credential used by another headset: refused");
            close(&mut socket, 1008, "this credential was issued to another headset").await;
            return;
        }
    }
    let credential = credential.map(|(id, _)| id);
    if !is_pseudonym(&hello.patient_code) {
        let message =
            "patient_code must be a pseudonymous code (letters, digits, '-' or '_'; 2 to 32 characters), never a name";
        send(
            &mut socket,
            &ConsoleToHeadset::Error(ErrorMessage { code: ErrorCode::Malformed, message: message.into() }),
        )
        .await;
        close(&mut socket, 1008, "patient_code is not a pseudonymous code").await;
        return;
    }
    let connection = hub.next_id();
    let (tx, mut outgoing) = mpsc::channel(HEADSET_QUEUE);
    let (session_id, resume_token, mut flushed, mirror_fps) = match attach(&hub, &hello, connection, tx) {
        Ok(attached) => attached,
        Err(AttachError::Recording(e)) => {
            tracing::error!("cannot record a new session: {e}");
            close(&mut socket, 1011, "the console cannot write its recording").await;
            return;
        }
        Err(AttachError::Full) => {
            let max = hub.config.max_sessions;
            tracing::warn!(headset = %hello.headset_id, "refused a new session: {max} sessions are connected");
            let message = format!(
                "the console already has {max} sessions with a connected headset; try again when one has ended"
            );
            let error = ErrorMessage { code: ErrorCode::TooManySessions, message };
            send(&mut socket, &ConsoleToHeadset::Error(error)).await;
            close(&mut socket, 1013, "too many sessions").await;
            return;
        }
    };
    let attached = Attached { hub: hub.clone(), session_id: session_id.clone(), connection };
    let acked = *flushed.borrow_and_update();
    tracing::info!(session = %session_id, headset = %hello.headset_id, "headset connected");
    let welcome = Welcome { session_id: session_id.clone(), acked, console: CONSOLE.into(), resume_token, mirror_fps };
    if !send(&mut socket, &ConsoleToHeadset::Welcome(welcome)).await {
        return;
    }
    hub.broadcast_sessions();
    crate::course::propose_start(&hub, &session_id);

    let mut ping = tokio::time::interval(hub.config.ping_interval);
    let mut stop = hub.stop.clone();
    let mut last_seen = Instant::now();
    let mut ping_id = 0u64;
    let mut pings = SentPings::default();
    loop {
        tokio::select! {
            _ = revoked.changed(), if credential.is_some() => {
                if credential.as_deref().is_some_and(|id| !hub.pairing.valid(id)) {
                    tracing::warn!(session = %session_id, "headset's credential revoked: disconnected");
                    close(&mut socket, 1008, "this headset's credential was revoked: pair it again").await;
                    break;
                }
            }
            incoming = receive(&mut socket) => match incoming {
                Incoming::Text(text) => {
                    last_seen = Instant::now();
                    match handle(&hub, &session_id, &text, &mut pings) {
                        Ok(()) => {}
                        Err(Refusal::Message(code, message)) => {
                            let error = ConsoleToHeadset::Error(ErrorMessage { code, message });
                            if !send(&mut socket, &error).await { break; }
                        }
                        Err(Refusal::RecordingFailed) => {
                            // Without its recording the session must not go on
                            // unrecorded; the headset keeps its data and comes
                            // back to a fresh file.
                            close(&mut socket, 1011, "the console cannot write this session's recording").await;
                            break;
                        }
                    }
                }
                Incoming::Binary(bytes) => {
                    last_seen = Instant::now();
                    match mirror_frame(&hub, &session_id, &bytes) {
                        Ok(()) => {}
                        Err(message) => {
                            let error = ConsoleToHeadset::Error(ErrorMessage { code: ErrorCode::Malformed, message });
                            if !send(&mut socket, &error).await { break; }
                        }
                    }
                }
                Incoming::Alive => last_seen = Instant::now(),
                Incoming::Refused(code, reason) => { close(&mut socket, code, &reason).await; break }
                Incoming::Gone => break,
            },
            out = outgoing.recv() => match out {
                Some(message) => if !send(&mut socket, &message).await { break },
                // A newer connection for this session took over.
                None => { close(&mut socket, 1000, "replaced by a newer connection").await; break }
            },
            changed = flushed.changed() => {
                if changed.is_err() { break; }
                let up_to = *flushed.borrow_and_update();
                if !send(&mut socket, &ConsoleToHeadset::Ack(Ack { up_to })).await { break; }
            }
            () = tokio::time::sleep_until((last_seen + hub.config.peer_timeout).into()) => {
                tracing::warn!(session = %session_id, "headset silent for {:?}: dropped", hub.config.peer_timeout);
                close(&mut socket, 1001, "no sign of life").await;
                break;
            }
            _ = ping.tick() => {
                ping_id += 1;
                let (offset_us, rtt_us) = {
                    let state = hub.lock();
                    state.sessions.get(&session_id).map_or((None, None), |s| (Some(s.offset_us), s.offset_rtt_us))
                };
                let console_us = unix_us();
                pings.sent(ping_id, console_us);
                let message = ConsoleToHeadset::Ping(Ping { id: ping_id, console_us, offset_us, rtt_us });
                if socket.send(Message::Ping(Default::default())).await.is_err() || !send(&mut socket, &message).await { break; }
            }
            _ = stop.changed() => { close(&mut socket, 1001, "the console is shutting down").await; break }
        }
    }
    tracing::info!(session = %session_id, "headset disconnected");
    drop(attached);
}

async fn send(socket: &mut WebSocket, message: &ConsoleToHeadset) -> bool {
    socket.send(Message::Text(encode(message).into())).await.is_ok()
}

/// Waits for the hello; anything else first is refused.
async fn first_hello(socket: &mut WebSocket) -> Option<Hello> {
    loop {
        match receive(socket).await {
            Incoming::Text(text) => match decode::<HeadsetToConsole>(&text) {
                Ok(HeadsetToConsole::Hello(hello)) => return Some(hello),
                Ok(_) => {
                    let message = "the first message must be hello".to_owned();
                    send(socket, &ConsoleToHeadset::Error(ErrorMessage { code: ErrorCode::OutOfOrder, message })).await;
                }
                Err(e) => {
                    let message = e.to_string();
                    send(socket, &ConsoleToHeadset::Error(ErrorMessage { code: ErrorCode::Malformed, message })).await;
                }
            },
            Incoming::Alive => {}
            Incoming::Binary(_) => {
                let message = "the first message must be hello".to_owned();
                send(socket, &ConsoleToHeadset::Error(ErrorMessage { code: ErrorCode::OutOfOrder, message })).await;
            }
            Incoming::Refused(code, reason) => {
                close(socket, code, &reason).await;
                return None;
            }
            Incoming::Gone => return None,
        }
    }
}

/// Pseudonymous codes only: a name with a space or a dot never passes.
fn is_pseudonym(code: &str) -> bool {
    (2..=32).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && code.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// Why a headset could not join a session.
enum AttachError {
    /// The new session's file cannot be created.
    Recording(recording::Error),
    /// At the session limit, with every session's headset connected.
    Full,
}

/// `headset clock - console clock`, µs. Both are within `limits::TIME_US`
/// (checked at decode), so the difference fits; saturating all the same.
fn clock_offset(headset_us: u64, console_us: u64) -> i64 {
    let as_i64 = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    as_i64(headset_us).saturating_sub(as_i64(console_us))
}

/// Joins the session the hello names, or opens a new one with its
/// recording. Returns the session id, its resume token and the flushed
/// sequence number's watch.
fn attach(
    hub: &Hub,
    hello: &Hello,
    connection: u64,
    tx: mpsc::Sender<ConsoleToHeadset>,
) -> Result<(String, String, watch::Receiver<u64>, Option<u8>), AttachError> {
    let now = unix_us();
    let offset_us = clock_offset(hello.headset_us, now);
    let mut state = hub.lock();
    let mut refused_resume = None;
    if let Some(id) = &hello.session_id
        && let Some(session) = state.sessions.get_mut(id)
    {
        // Only the headset that ran the session, holding the secret it was
        // given, for the same patient, may take it up again: anything else
        // starts a session of its own. Ids are not secrets; the token is.
        let token_ok = hello.resume_token.as_deref().is_some_and(|t| crate::token_matches(t, &session.resume_token));
        let same = session.info.headset_id == hello.headset_id && session.info.patient_code == hello.patient_code;
        if token_ok && same {
            if !session.recorder.as_ref().is_some_and(Recorder::alive) {
                // The file was closed (session ended) or failed: go on in a
                // new part. What the old file did not flush is taken again
                // when the headset resends it.
                if let Some(old) = &session.recorder {
                    session.received = session.received.min(*old.flushed().borrow());
                }
                if session.restored {
                    // The console restarted: the headset resends everything
                    // it has no acknowledgement for, from `resume_from`.
                    session.received = hello.resume_from.saturating_sub(1);
                    session.restored = false;
                }
                session.parts += 1;
                let file = recording::parts::file_name(id, session.parts);
                let metadata = metadata(hello, id, now, offset_us, hub.config.mirror_record_every);
                let recorder = hub
                    .recorders
                    .start(&hub.config.recordings.join(&file), &metadata, hub.config.flush_interval)
                    .map_err(AttachError::Recording)?;
                session.recorder = Some(recorder);
                session.info.recording = file;
            }
            let flushed = session.recorder.as_ref().map(Recorder::flushed).unwrap_or_else(|| watch::channel(0).1);
            session.headset = Some((connection, tx));
            session.gone_since = None;
            session.info.link = LinkState::Connected;
            // A new connection may take another network path: measure afresh.
            session.best_rtt_us = u64::MAX;
            session.annotate("headset_reconnected", &format!("resuming from seq {}", hello.resume_from));
            // The therapist's rate survives reconnects and restarts; a
            // headset that can no longer send pictures shows none.
            session.info.mirror_fps =
                hello.mirror.then(|| session.info.mirror_fps.unwrap_or(protocol::mirror::DEFAULT_RATE));
            let attached = (id.clone(), session.resume_token.clone(), flushed, session.info.mirror_fps);
            let notice = protocol::Notice { at_us: session.session_now(), what: protocol::NoticeKind::HeadsetBack };
            session.memory.notice(notice.clone());
            let message = ConsoleToBrowser::Notice { session_id: id.clone(), notice };
            crate::hub::fan_out_in(&state, id, &encode(&message), false);
            hub.save_table(&state);
            return Ok(attached);
        }
        let why = match (same, hello.resume_token.is_some()) {
            (false, _) => "belongs to another headset or patient",
            (true, false) => "was named without its resume token (an older headset?)",
            (true, true) => "was named with a wrong resume token",
        };
        refused_resume = Some((id.clone(), why));
    }
    if !hub.make_room(&mut state) {
        return Err(AttachError::Full);
    }
    let id = format!("{}-{}", compact(now), crate::auth::short_id());
    let file = recording::parts::file_name(&id, 1);
    let metadata = metadata(hello, &id, now, offset_us, hub.config.mirror_record_every);
    let recorder = hub
        .recorders
        .start(&hub.config.recordings.join(&file), &metadata, hub.config.flush_interval)
        .map_err(AttachError::Recording)?;
    let flushed = recorder.flushed();
    let resume_token = crate::new_token();
    let session = Session {
        info: SessionInfo {
            session_id: id.clone(),
            headset_id: hello.headset_id.clone(),
            patient_code: hello.patient_code.clone(),
            scenario: hello.scenario.clone(),
            state: SessionState::Waiting,
            link: LinkState::Connected,
            started: rfc3339(now),
            rtt_us: None,
            recording: file,
            offset_us: Some(offset_us),
            steps: hello.steps.clone(),
            proposed_start: None,
            mirror_fps: hello.mirror.then_some(protocol::mirror::DEFAULT_RATE),
        },
        headset: Some((connection, tx)),
        gone_since: None,
        resume_token: resume_token.clone(),
        recorder: Some(recorder),
        // A headset resuming a session this console does not know (it was
        // restarted) continues its numbering; what came before is elsewhere.
        received: hello.resume_from.saturating_sub(1),
        offset_us,
        offset_rtt_us: None,
        best_rtt_us: u64::MAX,
        parts: 1,
        epoch_us: hello.session_epoch_us,
        restored: false,
        last_event_seq: None,
        last_step: 0,
        anchor: None,
        mirror_recorded_us: None,
        memory: crate::memory::Memory::new(),
        last_command: None,
        expected_target: None,
    };
    match (&hello.session_id, refused_resume) {
        (_, Some((old, why))) => {
            session.annotate("resume_refused", &format!("session {old} {why}; this is a new session"));
        }
        (Some(old), None) => session.annotate(
            "resumed_unknown_session",
            &format!("the headset resumes session {old}, which this console does not know"),
        ),
        (None, None) => {}
    }
    session.annotate("headset_connected", &format!("{} ({})", hello.headset_id, hello.app));
    state.sessions.insert(id.clone(), session);
    hub.save_table(&state);
    Ok((id, resume_token, flushed, hello.mirror.then_some(protocol::mirror::DEFAULT_RATE)))
}

/// What a recording's metadata says of its mirror pictures.
pub(crate) fn mirror_note(every: Option<std::time::Duration>, headset_sends: bool) -> String {
    match every {
        Some(every) if headset_sends => format!("jpeg every {} s on /mirror", every.as_secs_f64()),
        Some(_) => "off: the headset sends no pictures".into(),
        None => "off: the console records none".into(),
    }
}

/// A new part's metadata, from what the console knows of the session.
pub(crate) fn metadata_of(
    info: &SessionInfo,
    now: u64,
    offset_us: i64,
    mirror_every: Option<std::time::Duration>,
) -> Metadata {
    Metadata {
        session_id: info.session_id.clone(),
        patient_code: info.patient_code.clone(),
        headset_id: info.headset_id.clone(),
        headset_app: String::new(),
        console_app: CONSOLE.into(),
        scenario_id: info.scenario.id.clone(),
        scenario_version: info.scenario.version.clone(),
        scenario_sha256: info.scenario.sha256.clone(),
        started: rfc3339(now),
        started_unix_us: now,
        clock_offset_us: offset_us,
        scenario_steps: if info.steps.is_empty() { String::new() } else { encode(&info.steps) },
        mirror: mirror_note(mirror_every, info.mirror_fps.is_some()),
    }
}

fn metadata(
    hello: &Hello,
    session_id: &str,
    now: u64,
    offset_us: i64,
    mirror_every: Option<std::time::Duration>,
) -> Metadata {
    Metadata {
        session_id: session_id.to_owned(),
        patient_code: hello.patient_code.clone(),
        headset_id: hello.headset_id.clone(),
        headset_app: hello.app.clone(),
        console_app: CONSOLE.into(),
        scenario_id: hello.scenario.id.clone(),
        scenario_version: hello.scenario.version.clone(),
        scenario_sha256: hello.scenario.sha256.clone(),
        started: rfc3339(now),
        started_unix_us: now,
        clock_offset_us: offset_us,
        scenario_steps: if hello.steps.is_empty() { String::new() } else { encode(&hello.steps) },
        mirror: mirror_note(mirror_every, hello.mirror),
    }
}

/// The last pings sent on a connection, to match their pongs.
#[derive(Debug, Default)]
struct SentPings {
    recent: std::collections::VecDeque<(u64, u64)>,
}

impl SentPings {
    /// Pongs may come late; older pings than these are not waited for.
    const KEPT: usize = 8;

    fn sent(&mut self, id: u64, console_us: u64) {
        if self.recent.len() == Self::KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back((id, console_us));
    }

    /// Whether this pong answers a ping sent here; each ping counts once.
    fn answered(&mut self, id: u64, console_us: u64) -> bool {
        let found = self.recent.iter().position(|sent| *sent == (id, console_us));
        found.is_some_and(|i| self.recent.remove(i).is_some())
    }
}

/// Why a headset's message was not taken.
enum Refusal {
    /// Sent back as an `error`; the connection stays open.
    Message(ErrorCode, String),
    /// The recording cannot be written: the connection closes.
    RecordingFailed,
}

/// Whether `seq` is new for the session; notes gaps. Duplicates (resent
/// after a reconnect, already stored) are skipped.
fn accept_seq(session: &mut Session, seq: u64) -> bool {
    if seq <= session.received {
        return false;
    }
    if seq > session.received.saturating_add(1) {
        let first = session.received.saturating_add(1);
        session.annotate("gap", &format!("sequence numbers {first} to {} never arrived", seq - 1));
    }
    session.received = seq;
    true
}

/// A mirror frame from the headset: checked, offered to the session's
/// subscribers (latest wins), and recorded at most every
/// `mirror_record_every`. Frames are not numbered: none is acknowledged or
/// resent. `Err` names what was wrong with it; the connection stays open.
fn mirror_frame(hub: &Hub, session_id: &str, bytes: &axum::body::Bytes) -> Result<(), String> {
    let frame = protocol::mirror::Frame::parse(bytes).map_err(|e| e.to_string())?;
    let header = frame.header;
    let record = {
        let mut state = hub.lock();
        let Some(session) = state.sessions.get_mut(session_id) else { return Ok(()) };
        if session.info.mirror_fps.is_none_or(|fps| fps == 0) {
            // Asked for none (a frame already on its way when the rate changed).
            return Ok(());
        }
        let at_us = session.console_time(header.t_us);
        let due = hub.config.mirror_record_every.is_some_and(|every| {
            session.mirror_recorded_us.is_none_or(|last| {
                at_us.saturating_sub(last)
                    >= u64::try_from(every.as_micros()).unwrap_or(u64::MAX).saturating_sub(50_000)
            })
        });
        if due {
            session.mirror_recorded_us = Some(at_us);
        }
        due.then_some(at_us)
    };
    hub.fan_out_frame(session_id, &axum::body::Bytes::from(protocol::mirror::for_browser(session_id, bytes)));
    if let Some(at_us) = record {
        // Encoded outside the lock; a frame recorded a moment late is still in order on its channel.
        let boxes: Vec<[u16; 4]> = header.stimulus.iter().map(|r| [r.x0, r.y0, r.x1, r.y1]).collect();
        let json = recording::image::compressed_image(at_us, header.session_us, frame.jpeg, &boxes);
        let state = hub.lock();
        if let Some(session) = state.sessions.get(session_id) {
            session.record(Channel::Mirror, at_us, json, None);
        }
    }
    Ok(())
}

/// An avoidance episode the console saw in the telemetry: every page shows
/// it, the recording holds it as an annotation, and the session's own log
/// as a marker (sent to the headset as a command of the console's).
fn avoidance(hub: &Hub, state: &mut crate::hub::State, session_id: &str, alert: protocol::Notice) {
    let protocol::NoticeKind::Avoidance { episode, .. } = alert.what else { return };
    hub.notice_in(state, session_id, alert);
    let id = hub.next_id();
    let command = protocol::Command::Marker { label: crate::memory::avoidance_marker(episode) };
    let Some(session) = state.sessions.get_mut(session_id) else { return };
    let Some((_, tx)) = &session.headset else { return };
    if tx.try_send(ConsoleToHeadset::Command(CommandMessage { id, command: command.clone() })).is_ok() {
        let json = serde_json::json!({ "id": id, "command": command, "by": "console", "at_us": session.session_now() });
        session.record(Channel::Commands, unix_us(), json.to_string().into_bytes(), None);
        hub.console_command(state, id, session_id);
    }
}

/// Handles one message from the headset; an error is sent back, and the
/// connection stays open.
fn handle(hub: &Hub, session_id: &str, text: &str, pings: &mut SentPings) -> Result<(), Refusal> {
    let message =
        decode::<HeadsetToConsole>(text).map_err(|e| Refusal::Message(ErrorCode::Malformed, e.to_string()))?;
    match message {
        HeadsetToConsole::Hello(_) => {
            return Err(Refusal::Message(
                ErrorCode::OutOfOrder,
                "hello was already received on this connection".into(),
            ));
        }
        HeadsetToConsole::Telemetry(batch) => {
            // Serialise outside the lock: the lock only orders and hands over.
            let samples: Vec<(u64, Vec<u8>)> =
                batch.samples.iter().map(|s| (s.t_us, serde_json::to_vec(s).unwrap_or_default())).collect();
            let text = encode(&ConsoleToBrowser::Telemetry { session_id: session_id.to_owned(), batch: batch.clone() });
            let changed_state = {
                let mut state = hub.lock();
                let Some(session) = state.sessions.get_mut(session_id) else { return Ok(()) };
                if !accept_seq(session, batch.seq) {
                    return Ok(());
                }
                for (t_us, json) in samples {
                    if !session.record(Channel::Telemetry, session.console_time(t_us), json, Some(batch.seq)) {
                        return Err(Refusal::RecordingFailed);
                    }
                }
                let alerts: Vec<protocol::Notice> =
                    batch.samples.iter().filter_map(|s| session.memory.sample(s)).collect();
                if let Some(last) = batch.samples.last() {
                    session.last_step = last.step;
                    session.anchor = Some((last.t_us, last.session_us));
                }
                let new_state = batch.samples.last().map(|s| s.state);
                let changed = new_state.is_some_and(|s| s != session.info.state);
                if let Some(s) = new_state {
                    session.info.state = s;
                }
                crate::hub::fan_out_in(&state, session_id, &text, true);
                for alert in alerts {
                    avoidance(hub, &mut state, session_id, alert);
                }
                if changed {
                    hub.save_table(&state);
                }
                changed
            };
            if changed_state {
                hub.broadcast_sessions();
            }
        }
        HeadsetToConsole::Events(batch) => {
            // The one event the console reads: the session's end, which a
            // headset may not follow with telemetry before it leaves.
            let ended = batch
                .events
                .iter()
                .any(|e| e.kind == "state_changed" && e.fields.get("to").and_then(|v| v.as_str()) == Some("ended"));
            let events: Vec<(u64, Vec<u8>)> =
                batch.events.iter().map(|e| (e.at_us, serde_json::to_vec(e).unwrap_or_default())).collect();
            {
                let mut state = hub.lock();
                let Some(session) = state.sessions.get_mut(session_id) else { return Ok(()) };
                if !accept_seq(session, batch.seq) {
                    return Ok(());
                }
                for (at_us, json) in events {
                    let log_us = session.console_time_of_session(at_us);
                    if !session.record(Channel::Events, log_us, json, Some(batch.seq)) {
                        return Err(Refusal::RecordingFailed);
                    }
                }
                if let Some(highest) = batch.events.iter().map(|e| e.seq).max() {
                    session.last_event_seq = Some(session.last_event_seq.map_or(highest, |s| s.max(highest)));
                }
                if ended {
                    session.info.state = SessionState::Ended;
                    hub.save_table(&state);
                }
                // Pages get each event once: one a restarted console read
                // back from the recording is not passed on again.
                let Some(session) = state.sessions.get_mut(session_id) else { return Ok(()) };
                let fresh: Vec<protocol::SessionEvent> =
                    batch.events.into_iter().filter(|e| session.memory.event(e)).collect();
                if !fresh.is_empty() {
                    let batch = protocol::EventBatch { seq: batch.seq, events: fresh };
                    let text = encode(&ConsoleToBrowser::Events { session_id: session_id.to_owned(), batch });
                    crate::hub::fan_out_in(&state, session_id, &text, false);
                }
            }
            if ended {
                hub.broadcast_sessions();
            }
        }
        HeadsetToConsole::CommandAck(ack) => {
            {
                let mut state = hub.lock();
                let Some(session) = state.sessions.get_mut(session_id) else { return Ok(()) };
                if !accept_seq(session, ack.seq) {
                    return Ok(());
                }
                if !session.record(Channel::Acks, unix_us(), encode(&ack).into_bytes(), Some(ack.seq)) {
                    return Err(Refusal::RecordingFailed);
                }
            }
            if !hub.command_acked(session_id, &ack) {
                // Recorded all the same: it is what this headset said.
                let state = hub.lock();
                if let Some(session) = state.sessions.get(session_id) {
                    let text = format!("command_ack for command {}, which is not waiting for this session", ack.id);
                    session.annotate("stray_command_ack", &text);
                }
            }
        }
        HeadsetToConsole::Pong(pong) => {
            // Only an answer to a ping of this connection measures anything:
            // a pong with a made-up `console_us` would give a round trip of
            // 0 µs that wins the offset estimate for good.
            if !pings.answered(pong.id, pong.console_us) {
                tracing::debug!(session = %session_id, "a pong for a ping this connection never sent: ignored");
                return Ok(());
            }
            let now = unix_us();
            let rtt_us = now.saturating_sub(pong.console_us);
            let offset_us = clock_offset(pong.headset_us, pong.console_us.saturating_add(rtt_us / 2));
            let mut state = hub.lock();
            let Some(session) = state.sessions.get_mut(session_id) else { return Ok(()) };
            // Keep the estimate from quick round trips: the shorter the trip,
            // the less its asymmetry can skew the offset.
            session.best_rtt_us = session.best_rtt_us.min(rtt_us);
            if rtt_us <= session.best_rtt_us.saturating_mul(2) {
                session.offset_us = offset_us;
                session.offset_rtt_us = Some(rtt_us);
                session.info.offset_us = Some(offset_us);
            }
            session.info.rtt_us = Some(rtt_us);
            hub.touch();
            let json = serde_json::json!({"type": "clock", "text": "clock offset estimate", "offset_us": offset_us, "rtt_us": rtt_us});
            session.record(Channel::Annotations, now, json.to_string().into_bytes(), None);
        }
    }
    Ok(())
}
