//! `replay` and `replay_status`: the timeline of a console that replays a
//! recording (`trinvis replay FILE`) instead of serving headsets.

use serde::{Deserialize, Serialize};

/// Slowest and fastest replay speeds.
pub const REPLAY_SPEEDS: std::ops::RangeInclusive<f64> = 1.0..=16.0;

/// What the browser asks of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReplayControl {
    /// Run the clock.
    Play,
    /// Stop the clock where it is.
    Pause,
    /// Jump to a position, µs from the start of the recording (clamped to its length).
    Seek {
        /// Where to go.
        position_us: u64,
    },
    /// Set the speed: 1 (real time) to 16.
    Speed {
        /// Multiple of real time.
        speed: f64,
    },
}

/// Where the timeline stands. Sent to every browser on connect, after each
/// change and about four times a second while playing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayStatus {
    /// The replayed session.
    pub session_id: String,
    /// The recording's file name.
    pub file: String,
    /// Position, µs from the start of the recording.
    pub position_us: u64,
    /// Length of the recording, µs.
    pub duration_us: u64,
    /// Whether the clock runs.
    pub playing: bool,
    /// Multiple of real time.
    pub speed: f64,
    /// Grows at every seek: a browser drops what it holds of the session
    /// when it changes, and the console sends the history up to the new
    /// position (telemetry thinned out, every event) after this message.
    pub generation: u64,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::testing::check;
    use crate::{BrowserToConsole, ConsoleToBrowser};

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &BrowserToConsole::Replay(ReplayControl::Seek { position_us: 90_000_000 }),
            expect![[r#"
                {
                  "type": "replay",
                  "action": "seek",
                  "position_us": 90000000
                }"#]],
        );
        check(
            &BrowserToConsole::Replay(ReplayControl::Speed { speed: 4.0 }),
            expect![[r#"
                {
                  "type": "replay",
                  "action": "speed",
                  "speed": 4.0
                }"#]],
        );
        check(
            &BrowserToConsole::Replay(ReplayControl::Play),
            expect![[r#"
                {
                  "type": "replay",
                  "action": "play"
                }"#]],
        );
        check(
            &ConsoleToBrowser::ReplayStatus(ReplayStatus {
                session_id: "20261126T101500Z-5f3a9c01".into(),
                file: "20261126T101500Z-5f3a9c01.mcap".into(),
                position_us: 90_000_000,
                duration_us: 1_800_000_000,
                playing: true,
                speed: 4.0,
                generation: 2,
            }),
            expect![[r#"
                {
                  "type": "replay_status",
                  "session_id": "20261126T101500Z-5f3a9c01",
                  "file": "20261126T101500Z-5f3a9c01.mcap",
                  "position_us": 90000000,
                  "duration_us": 1800000000,
                  "playing": true,
                  "speed": 4.0,
                  "generation": 2
                }"#]],
        );
    }

    #[test]
    fn an_unknown_action_says_what_would_be_accepted() {
        let e = crate::decode::<BrowserToConsole>(r#"{"type":"replay","action":"rewind"}"#).unwrap_err();
        assert!(
            e.message.contains("unknown variant `rewind`, expected one of `play`, `pause`, `seek`, `speed`"),
            "{e}"
        );
    }
}
