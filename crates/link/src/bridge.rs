//! The per-frame exchange between a session engine and the link: commands
//! in (with their acks), events out, link status in. The headset app and the
//! live simulator call it once per frame.

use std::time::Duration;

use session::{LinkStatus, Session};

use crate::Link;
use crate::convert::{command_from_wire, event_to_wire};

/// Remembers what was already exchanged.
#[derive(Debug, Default)]
pub struct Bridge {
    events_sent: u64,
    connected: Option<bool>,
}

impl Bridge {
    /// A bridge that has exchanged nothing yet.
    pub fn new() -> Bridge {
        Bridge::default()
    }

    /// One frame's exchange at session time `now`.
    pub fn exchange(&mut self, link: &mut Link, session: &mut Session, now: Duration) {
        let connected = link.connected();
        if self.connected != Some(connected) {
            // Before the first connection the session starts as connected;
            // only a real change is news to it.
            if self.connected.is_some() || !connected {
                session.link(now, if connected { LinkStatus::Connected } else { LinkStatus::Lost });
            }
            self.connected = Some(connected);
        }
        while let Some(message) = link.poll_command() {
            let result = session.command(now, command_from_wire(message.command)).map_err(|r| r.to_string());
            link.ack_command(message.id, result);
        }
        let fresh = session.events_since(self.events_sent);
        if !fresh.is_empty() {
            link.push_events(fresh.iter().map(event_to_wire).collect());
            self.events_sent = session.events().len() as u64;
        }
    }
}
