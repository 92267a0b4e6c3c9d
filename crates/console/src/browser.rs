//! One browser connection: session list, subscriptions, commands.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use protocol::{
    BrowserToConsole, ConsoleToBrowser, ErrorCode, ErrorMessage, RecordingFile, RecordingList, ReplayControl, decode,
};
use tokio::sync::mpsc;

use crate::hub::Hub;
use crate::queue::{Next, Outbox};
use crate::socket::{Incoming, close_frame, drain, receive};

/// Commands a browser may send: a token bucket.
#[derive(Debug)]
struct RateLimit {
    tokens: f64,
    burst: f64,
    per_s: f64,
    at: Instant,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_s).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Removes the browser however its task ends, a panic included.
struct Registered {
    hub: Arc<Hub>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.hub.remove_browser(self.id);
    }
}

/// What one browser connection holds besides its socket.
struct Browser {
    id: u64,
    limit: RateLimit,
    /// A `list_recordings` answer is being prepared: requests meanwhile get that one.
    listing: Arc<AtomicBool>,
}

/// What the reading side asks of the writing side.
#[derive(Debug)]
enum Control {
    /// Send a WebSocket ping frame.
    Ping,
    /// Send this close frame and stop writing.
    Close(u16, String),
}

/// Reading and writing are two tasks: a browser that reads slowly blocks
/// only the writer, while its pongs and messages are still read, so it is
/// never taken for dead. What it misses meanwhile is dropped telemetry,
/// counted in its queue and reported to it with `dropped`.
pub(crate) async fn run(hub: Arc<Hub>, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let outbox = Arc::new(Outbox::new(hub.config.browser_queue, hub.config.browser_queue_bytes));
    let id = hub.add_browser(outbox.clone());
    let registered = Registered { hub: hub.clone(), id };
    let (control, controls) = mpsc::channel(4);
    let mut writer = tokio::spawn(write(sink, outbox.clone(), controls));
    let burst = f64::from(hub.config.command_burst);
    let limit = RateLimit { tokens: burst, burst, per_s: hub.config.commands_per_s, at: Instant::now() };
    let mut browser = Browser { id, limit, listing: Arc::new(AtomicBool::new(false)) };
    let mut ping = tokio::time::interval(hub.config.ping_interval);
    let mut stop = hub.stop.clone();
    let mut last_seen = Instant::now();
    let mut version = hub.version();
    let closing = loop {
        tokio::select! {
            incoming = receive(&mut stream) => match incoming {
                Incoming::Text(text) => {
                    last_seen = Instant::now();
                    handle(&hub, &mut browser, &text);
                }
                Incoming::Binary(_) => break Some((1003, "text messages only".to_owned())),
                Incoming::Alive => last_seen = Instant::now(),
                Incoming::Refused(code, reason) => break Some((code, reason)),
                Incoming::Gone => break None,
            },
            // The writer stops by itself only when the socket failed or the
            // browser fell too far behind (it sent its close frame then).
            _ = &mut writer => {
                drain(&mut stream).await;
                break None;
            }
            () = tokio::time::sleep_until((last_seen + hub.config.peer_timeout).into()) => {
                break Some((1001, "no sign of life".to_owned()));
            }
            _ = ping.tick() => {
                Hub::dropped_report(&outbox);
                hub.expire_commands();
                if hub.version() != version {
                    version = hub.version();
                    hub.to_browser(id, &ConsoleToBrowser::Sessions(hub.session_list()));
                }
                // A writer still busy with an earlier ping needs no second one.
                let _ = control.try_send(Control::Ping);
            }
            _ = stop.changed() => break Some((1001, "the console is shutting down".to_owned())),
        }
    };
    if let Some((code, reason)) = closing {
        // The writer sends the close frame after what it is sending now and
        // stops; then the reader keeps reading until the browser's close, so
        // no reset overtakes the frame.
        let deadline = tokio::time::Instant::now() + crate::socket::CLOSE_DRAIN;
        if tokio::time::timeout_at(deadline, control.send(Control::Close(code, reason))).await.is_ok() {
            let _ = tokio::time::timeout_at(deadline, &mut writer).await;
            drain(&mut stream).await;
        }
    }
    writer.abort();
    drop(registered);
}

/// The writing side: the browser's queue and the reader's requests, in order.
async fn write(mut sink: SplitSink<WebSocket, Message>, outbox: Arc<Outbox>, mut controls: mpsc::Receiver<Control>) {
    loop {
        tokio::select! {
            biased;
            control = controls.recv() => match control {
                Some(Control::Ping) => if sink.send(Message::Ping(Default::default())).await.is_err() { return },
                Some(Control::Close(code, reason)) => {
                    let _ = sink.send(close_frame(code, &reason)).await;
                    return;
                }
                None => return,
            },
            next = outbox.pop() => match next {
                Next::Send(text) => if sink.send(Message::Text(text.into())).await.is_err() { return },
                Next::Frame(frame) => if sink.send(Message::Binary(frame)).await.is_err() { return },
                Next::Closed => return,
                Next::Overflowed => {
                    tracing::warn!("a browser fell too far behind its messages: disconnected");
                    let reason = "too far behind: more unsent messages than the console keeps; reconnect";
                    let _ = sink.send(close_frame(1008, reason)).await;
                    return;
                }
            },
        }
    }
}

fn handle(hub: &Arc<Hub>, state: &mut Browser, text: &str) {
    let (browser, limit) = (state.id, &mut state.limit);
    let error = |code, message: String| ConsoleToBrowser::Error(ErrorMessage { code, message });
    let message = match decode::<BrowserToConsole>(text) {
        Ok(m) => m,
        Err(e) => return hub.to_browser(browser, &error(ErrorCode::Malformed, e.to_string())),
    };
    match message {
        BrowserToConsole::ListSessions => hub.to_browser(browser, &ConsoleToBrowser::Sessions(hub.session_list())),
        BrowserToConsole::Subscribe(s) => {
            subscribe(hub, browser, &s.session_id, true);
            replay_history(hub, browser, &s.session_id);
        }
        BrowserToConsole::Unsubscribe(s) => subscribe(hub, browser, &s.session_id, false),
        BrowserToConsole::Command(request) => {
            if !limit.allow() {
                let message = format!(
                    "more than {} commands in a burst or {} per second; wait a moment",
                    limit.burst, limit.per_s
                );
                let result = crate::hub::refusal(&request, ErrorCode::RateLimited, &message);
                return hub.to_browser(browser, &ConsoleToBrowser::CommandResult(result));
            }
            if hub.replay.is_some() {
                let message = "this console replays a recording: commands reach no headset";
                let result = crate::hub::refusal(&request, ErrorCode::Replay, message);
                return hub.to_browser(browser, &ConsoleToBrowser::CommandResult(result));
            }
            if let Err(result) = hub.send_command(browser, request) {
                hub.to_browser(browser, &ConsoleToBrowser::CommandResult(result));
            }
        }
        BrowserToConsole::ListRecordings => {
            // One listing at a time per browser: requests while it is being
            // made are answered by it (the answer is a snapshot anyway).
            if state.listing.swap(true, Ordering::AcqRel) {
                return;
            }
            // The folder is read off the network task: it never waits on the disk.
            let (hub, listing) = (hub.clone(), state.listing.clone());
            tokio::spawn(async move {
                let dir = hub.config.recordings.clone();
                let list = tokio::task::spawn_blocking(move || recordings(&dir)).await.unwrap_or_default();
                listing.store(false, Ordering::Release);
                hub.to_browser(browser, &ConsoleToBrowser::Recordings(RecordingList { recordings: list }));
            });
        }
        BrowserToConsole::Replay(control) => timeline(hub, browser, &control),
        BrowserToConsole::Page(page) => hub.page_hello(browser, page),
        BrowserToConsole::Acknowledge(ack) => {
            if let Err((code, message)) = hub.acknowledge(browser, &ack) {
                hub.to_browser(browser, &error(code, message));
            }
        }
        BrowserToConsole::Mirror(rate) => {
            if let Err((code, message)) = hub.set_mirror_rate(browser, &rate.session_id, rate.fps) {
                hub.to_browser(browser, &error(code, message));
            }
        }
    }
}

/// The `.mcap` files in a folder, newest first.
fn recordings(dir: &std::path::Path) -> Vec<RecordingFile> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<(u64, RecordingFile)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let meta = e.metadata().ok()?;
            if !name.ends_with(".mcap") || !meta.is_file() {
                return None;
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0));
            Some((modified, RecordingFile { name, bytes: meta.len(), modified: crate::rfc3339(modified) }))
        })
        .collect();
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    files.into_iter().map(|(_, f)| f).collect()
}

/// A timeline request: applied, then every browser hears where it stands;
/// after a seek, subscribers get the history up to the new position.
fn timeline(hub: &Hub, browser: u64, control: &ReplayControl) {
    let error = |code, message: String| ConsoleToBrowser::Error(ErrorMessage { code, message });
    let Some(replay) = &hub.replay else {
        let message = "this console serves live headsets; `replay` applies only to `trinvis replay FILE`".to_owned();
        return hub.to_browser(browser, &error(ErrorCode::NotReplay, message));
    };
    let now = replay.now();
    let (status, history, session_id) = {
        let mut timeline = replay.lock();
        if let Err(e) = timeline.control(control, now) {
            return hub.to_browser(browser, &error(ErrorCode::Malformed, e.to_string()));
        }
        let history = match control {
            ReplayControl::Seek { .. } => crate::replay::history_messages(&timeline, &mut hub.next_id()),
            _ => Vec::new(),
        };
        (timeline.status(now), history, timeline.info.session_id.clone())
    };
    hub.broadcast(&ConsoleToBrowser::ReplayStatus(status));
    for message in &history {
        hub.fan_out(&session_id, message, false);
    }
}

/// In a replay, a browser that subscribes gets the timeline and what lies before its position.
fn replay_history(hub: &Hub, browser: u64, session_id: &str) {
    let Some(replay) = &hub.replay else { return };
    let (status, history, picture) = {
        let timeline = replay.lock();
        if timeline.info.session_id != session_id {
            return;
        }
        (
            timeline.status(replay.now()),
            crate::replay::history_messages(&timeline, &mut hub.next_id()),
            timeline.picture(),
        )
    };
    hub.to_browser(browser, &ConsoleToBrowser::ReplayStatus(status));
    for message in &history {
        hub.to_browser(browser, message);
    }
    if let Some((_, frame)) = picture {
        hub.frame_to_browser(browser, session_id, frame);
    }
}

fn subscribe(hub: &Hub, browser: u64, session_id: &str, on: bool) {
    if !hub.subscribe(browser, session_id, on) {
        let message = format!("no session {session_id}");
        hub.to_browser(browser, &ConsoleToBrowser::Error(ErrorMessage { code: ErrorCode::NoSuchSession, message }));
    }
}
