//! One browser connection: session list, subscriptions, commands.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use protocol::{
    BrowserToConsole, ConsoleToBrowser, ErrorCode, ErrorMessage, RecordingFile, RecordingList, ReplayControl, decode,
};

use crate::hub::Hub;
use crate::queue::{Next, Outbox};
use crate::socket::{Incoming, close, receive};

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

pub(crate) async fn run(hub: Arc<Hub>, mut socket: WebSocket) {
    let outbox = Arc::new(Outbox::new(hub.config.browser_queue, hub.config.browser_queue_bytes));
    let id = hub.add_browser(outbox.clone());
    let registered = Registered { hub: hub.clone(), id };
    let burst = f64::from(hub.config.command_burst);
    let limit = RateLimit { tokens: burst, burst, per_s: hub.config.commands_per_s, at: Instant::now() };
    let mut browser = Browser { id, limit, listing: Arc::new(AtomicBool::new(false)) };
    let mut ping = tokio::time::interval(hub.config.ping_interval);
    let mut stop = hub.stop.clone();
    let mut last_seen = Instant::now();
    let mut version = hub.version();
    loop {
        tokio::select! {
            incoming = receive(&mut socket) => match incoming {
                Incoming::Text(text) => {
                    last_seen = Instant::now();
                    handle(&hub, &mut browser, &text);
                }
                Incoming::Alive => last_seen = Instant::now(),
                Incoming::Gone => break,
            },
            next = outbox.pop() => match next {
                Next::Send(text) => if socket.send(Message::Text(text.into())).await.is_err() { break },
                Next::Closed => break,
                Next::Overflowed => {
                    tracing::warn!("a browser fell too far behind its messages: disconnected");
                    close(&mut socket, 1008, "too far behind: more unsent messages than the console keeps; reconnect").await;
                    break;
                }
            },
            () = tokio::time::sleep_until((last_seen + hub.config.peer_timeout).into()) => {
                close(&mut socket, 1001, "no sign of life").await;
                break;
            }
            _ = ping.tick() => {
                Hub::dropped_report(&outbox);
                hub.expire_commands();
                if hub.version() != version {
                    version = hub.version();
                    hub.to_browser(id, &ConsoleToBrowser::Sessions(hub.session_list()));
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() { break }
            }
            _ = stop.changed() => { close(&mut socket, 1001, "the console is shutting down").await; break }
        }
    }
    drop(registered);
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
    let (status, history) = {
        let timeline = replay.lock();
        if timeline.info.session_id != session_id {
            return;
        }
        (timeline.status(replay.now()), crate::replay::history_messages(&timeline, &mut hub.next_id()))
    };
    hub.to_browser(browser, &ConsoleToBrowser::ReplayStatus(status));
    for message in &history {
        hub.to_browser(browser, message);
    }
}

fn subscribe(hub: &Hub, browser: u64, session_id: &str, on: bool) {
    if !hub.subscribe(browser, session_id, on) {
        let message = format!("no session {session_id}");
        hub.to_browser(browser, &ConsoleToBrowser::Error(ErrorMessage { code: ErrorCode::NoSuchSession, message }));
    }
}
