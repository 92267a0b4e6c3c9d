//! One browser connection: session list, subscriptions, commands.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use protocol::{BrowserToConsole, ConsoleToBrowser, ErrorCode, ErrorMessage, decode};

use crate::hub::Hub;
use crate::queue::Outbox;
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

pub(crate) async fn run(hub: Arc<Hub>, mut socket: WebSocket) {
    let outbox = Arc::new(Outbox::new(hub.config.browser_queue));
    let id = hub.add_browser(outbox.clone());
    let burst = f64::from(hub.config.command_burst);
    let mut limit = RateLimit { tokens: burst, burst, per_s: hub.config.commands_per_s, at: Instant::now() };
    let mut ping = tokio::time::interval(hub.config.ping_interval);
    let mut stop = hub.stop.clone();
    let mut last_seen = Instant::now();
    let mut version = hub.version();
    loop {
        tokio::select! {
            incoming = receive(&mut socket) => match incoming {
                Incoming::Text(text) => {
                    last_seen = Instant::now();
                    handle(&hub, id, &text, &mut limit);
                }
                Incoming::Alive => last_seen = Instant::now(),
                Incoming::Gone => break,
            },
            text = outbox.pop() => match text {
                Some(text) => if socket.send(Message::Text(text.into())).await.is_err() { break },
                None => break,
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
    hub.remove_browser(id);
}

fn handle(hub: &Hub, browser: u64, text: &str, limit: &mut RateLimit) {
    let error = |code, message: String| ConsoleToBrowser::Error(ErrorMessage { code, message });
    let message = match decode::<BrowserToConsole>(text) {
        Ok(m) => m,
        Err(e) => return hub.to_browser(browser, &error(ErrorCode::Malformed, e.to_string())),
    };
    match message {
        BrowserToConsole::ListSessions => hub.to_browser(browser, &ConsoleToBrowser::Sessions(hub.session_list())),
        BrowserToConsole::Subscribe(s) => subscribe(hub, browser, &s.session_id, true),
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
            if let Err(result) = hub.send_command(browser, request) {
                hub.to_browser(browser, &ConsoleToBrowser::CommandResult(result));
            }
        }
    }
}

fn subscribe(hub: &Hub, browser: u64, session_id: &str, on: bool) {
    if !hub.subscribe(browser, session_id, on) {
        let message = format!("no session {session_id}");
        hub.to_browser(browser, &ConsoleToBrowser::Error(ErrorMessage { code: ErrorCode::NoSuchSession, message }));
    }
}
