//! Trinvis wire protocol v1: the messages between a headset, the console
//! and the therapist's browser, as pure data (serde JSON). No sockets, no
//! runtime: the edges (crates/link, crates/console) move these over
//! WebSockets, and `docs/protocol.md` is the reference for other languages.
//!
//! Every message is a JSON object with a `"type"` field. Each direction has
//! its own envelope enum; one file per message kind holds the payloads.
//!
//! ```
//! use protocol::{HeadsetToConsole, decode};
//! let text = r#"{"type":"command_ack","seq":7,"id":3,"ok":true}"#;
//! let HeadsetToConsole::CommandAck(ack) = decode::<HeadsetToConsole>(text).unwrap() else { panic!() };
//! assert_eq!((ack.seq, ack.id, ack.ok), (7, 3, true));
//! ```

mod ack;
mod browser;
mod command;
mod command_ack;
mod error;
mod events;
mod hello;
pub mod limits;
pub mod mirror;
mod page;
mod pairing;
mod ping;
mod recordings;
pub mod reference;
mod replay;
mod sessions;
mod telemetry;
mod welcome;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use ack::Ack;
pub use browser::{CommandRequest, CommandResult, SessionRef};
pub use command::{Command, CommandMessage};
pub use command_ack::CommandAck;
pub use error::{ErrorCode, ErrorMessage};
pub use events::{EventBatch, SessionEvent};
pub use hello::{Hello, ScenarioRef, StepInfo};
pub use limits::{OutOfRange, Validate};
pub use mirror::MirrorRate;
pub use page::{Acknowledge, History, Notice, NoticeKind, PageHello, PageInfo, Pages};
pub use pairing::{
    CODE_EXPIRED, HeadsetToPairing, PairCode, PairRequest, Paired, PairingToHeadset, fingerprint_text,
    normalise_fingerprint,
};
pub use ping::{Ping, Pong};
pub use recordings::{RecordingFile, RecordingList};
pub use replay::{REPLAY_SPEEDS, ReplayControl, ReplayStatus};
pub use sessions::{Dropped, LinkState, SessionInfo, SessionList, SessionState, StartProposal};
pub use telemetry::{Pose, Sample, TelemetryBatch};
pub use welcome::Welcome;

/// The WebSocket subprotocol every connection must ask for.
pub const SUBPROTOCOL: &str = "trinvis.v1";

/// Largest message a peer may send, in bytes. Larger ones close the
/// connection with code 1009 (message too big).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Headset → console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeadsetToConsole {
    /// First message on every connection.
    Hello(Hello),
    /// Samples, one per frame.
    Telemetry(TelemetryBatch),
    /// Entries of the session engine's log.
    Events(EventBatch),
    /// The result of a command.
    CommandAck(CommandAck),
    /// Answer to a ping.
    Pong(Pong),
}

/// Console → headset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleToHeadset {
    /// Answer to hello: the session this connection belongs to.
    Welcome(Welcome),
    /// A therapist's command.
    Command(CommandMessage),
    /// Everything up to a sequence number is stored; the headset may forget it.
    Ack(Ack),
    /// For the round-trip time and clock offset.
    Ping(Ping),
    /// Something the headset sent was refused.
    Error(ErrorMessage),
    /// Send mirror frames at this rate from now on (only to a headset whose
    /// `hello` said `mirror: true`).
    Mirror(MirrorRate),
}

/// Browser → console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BrowserToConsole {
    /// Ask for the session list again (it is also pushed on every change).
    ListSessions,
    /// Receive a session's telemetry and events.
    Subscribe(SessionRef),
    /// Stop receiving them.
    Unsubscribe(SessionRef),
    /// Send a command to a session's headset.
    Command(CommandRequest),
    /// Ask for the recording files on the console's disk.
    ListRecordings,
    /// Move the timeline of a console that replays a recording.
    Replay(ReplayControl),
    /// The therapist's mirror rate for a session.
    Mirror(MirrorRate),
    /// Who this page is and which session it shows.
    Page(PageHello),
    /// A therapist acknowledges an alert.
    Acknowledge(Acknowledge),
}

/// Console → browser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleToBrowser {
    /// Every session the console knows, connected or not.
    Sessions(SessionList),
    /// Telemetry of a subscribed session.
    Telemetry {
        /// The session.
        session_id: String,
        /// The batch as the headset sent it.
        batch: TelemetryBatch,
    },
    /// Events of a subscribed session.
    Events {
        /// The session.
        session_id: String,
        /// The batch as the headset sent it.
        batch: EventBatch,
    },
    /// What became of a command this browser sent.
    CommandResult(CommandResult),
    /// Telemetry samples left out for this browser because it fell behind.
    Dropped(Dropped),
    /// Something the browser sent was refused.
    Error(ErrorMessage),
    /// The recording files on the console's disk.
    Recordings(RecordingList),
    /// Where a replay's timeline stands.
    ReplayStatus(ReplayStatus),
    /// A session so far, before its live messages (on subscribe).
    History(History),
    /// Something the console saw happen to a subscribed session.
    Notice {
        /// The session.
        session_id: String,
        /// What.
        notice: Notice,
    },
    /// The pages open on this console.
    Pages(Pages),
}

/// Why a text is not a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// What was wrong, from the JSON parser: names the field and column.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Parses one message and checks every number against its range
/// ([`limits`]): a value out of range is an error naming the field.
pub fn decode<T: DeserializeOwned + Validate>(text: &str) -> Result<T, DecodeError> {
    let message: T = serde_json::from_str(text).map_err(|e| DecodeError { message: e.to_string() })?;
    message.validate().map_err(|e| DecodeError { message: e.to_string() })?;
    Ok(message)
}

/// An optional field may be omitted or `null` (docs/protocol.md §1.1): for
/// optional fields that are not an `Option` (a list, a string), `null`
/// means the same as omitted.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Serialises one message.
pub fn encode<T: Serialize>(message: &T) -> String {
    // Our message types contain only strings, numbers, bools, maps with
    // string keys and sequences: serialising them cannot fail.
    serde_json::to_string(message)
        .unwrap_or_else(|e| format!(r#"{{"type":"error","code":"internal","message":"{e}"}}"#))
}

#[cfg(test)]
pub(crate) mod testing {
    use expect_test::Expect;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    /// The JSON snapshot of `message`, and a round trip back to it.
    pub fn check<T: Serialize + DeserializeOwned + super::Validate + PartialEq + std::fmt::Debug>(
        message: &T,
        expect: Expect,
    ) {
        let json = serde_json::to_string_pretty(message).expect("serialises");
        expect.assert_eq(&json);
        let back: T = serde_json::from_str(&json).expect("parses back");
        assert_eq!(&back, message);
        // The compact form parses too, as it is what goes on the wire.
        let back: T = super::decode(&super::encode(message)).expect("compact parses back");
        assert_eq!(&back, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every optional field of every message kind, given as `null`, means
    /// the same as when it is left out.
    #[test]
    fn every_optional_field_may_be_null() {
        fn same<T: DeserializeOwned + Validate + PartialEq + fmt::Debug>(with_nulls: &str, without: &str) {
            let a: T = decode(with_nulls).unwrap_or_else(|e| panic!("{with_nulls}: {e}"));
            let b: T = decode(without).unwrap_or_else(|e| panic!("{without}: {e}"));
            assert_eq!(a, b, "{with_nulls}");
        }
        let hello = r#""type":"hello","headset_id":"h","app":"a","scenario":{"id":"s","version":"1","sha256":"0"},"patient_code":"P-1","resume_from":1,"headset_us":1,"session_epoch_us":1"#;
        same::<HeadsetToConsole>(
            &format!(r#"{{{hello},"session_id":null,"resume_token":null,"steps":null}}"#),
            &format!("{{{hello}}}"),
        );
        let sample = r#""t_us":1,"session_us":1,"head":{"p":[0,0,0],"q":[0,0,0,1]},"gaze":[0,0,-1],"gaze_on_stimulus":false,"stimulus_angle_deg":0,"state":"waiting","target_level":1,"applied_level":1,"step":1,"safe_blend":0,"frame_ms":11,"dropped_frames":0"#;
        same::<HeadsetToConsole>(
            &format!(
                r#"{{"type":"telemetry","seq":1,"samples":[{{{sample},"left_hand":null,"right_hand":null,"stimulus_distance_m":null,"stimulus_p":null,"heart_rate":null}}]}}"#
            ),
            &format!(r#"{{"type":"telemetry","seq":1,"samples":[{{{sample}}}]}}"#),
        );
        same::<HeadsetToConsole>(
            r#"{"type":"command_ack","seq":1,"id":1,"ok":true,"error":null}"#,
            r#"{"type":"command_ack","seq":1,"id":1,"ok":true}"#,
        );
        same::<ConsoleToHeadset>(
            r#"{"type":"welcome","session_id":"s","acked":0,"console":"c","resume_token":null}"#,
            r#"{"type":"welcome","session_id":"s","acked":0,"console":"c"}"#,
        );
        same::<ConsoleToHeadset>(
            r#"{"type":"ping","id":1,"console_us":1,"offset_us":null,"rtt_us":null}"#,
            r#"{"type":"ping","id":1,"console_us":1}"#,
        );
        same::<ConsoleToBrowser>(
            r#"{"type":"command_result","session_id":"s","request_id":1,"command_id":0,"ok":true,"error":null,"code":null}"#,
            r#"{"type":"command_result","session_id":"s","request_id":1,"command_id":0,"ok":true}"#,
        );
        let info = r#""session_id":"s","headset_id":"h","patient_code":"P-1","scenario":{"id":"s","version":"1","sha256":"0"},"state":"waiting","link":"connected","started":"t","recording":"r""#;
        same::<ConsoleToBrowser>(
            &format!(r#"{{"type":"sessions","sessions":[{{{info},"rtt_us":null,"offset_us":null,"steps":null}}]}}"#),
            &format!(r#"{{"type":"sessions","sessions":[{{{info}}}]}}"#),
        );
    }

    #[test]
    fn unknown_and_malformed_messages_are_errors_that_say_why() {
        let e = decode::<HeadsetToConsole>(r#"{"type":"hallo"}"#).unwrap_err();
        assert!(e.message.starts_with("unknown variant `hallo`, expected one of `hello`"), "{e}");
        let e = decode::<HeadsetToConsole>(r#"{"type":"command_ack","seq":"x"}"#).unwrap_err();
        assert!(e.message.contains("invalid type: string \"x\", expected u64"), "{e}");
        let e = decode::<BrowserToConsole>("{not json").unwrap_err();
        assert!(e.message.contains("line 1 column 2"), "{e}");
        let e = decode::<BrowserToConsole>(r#"{"session_id":"s"}"#).unwrap_err();
        assert!(e.message.contains("missing field `type`"), "{e}");
    }
}
