//! `error`: a message was refused. The connection stays open.

use serde::{Deserialize, Serialize};

/// What was refused and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// Machine-readable kind.
    pub code: ErrorCode,
    /// For people: what was wrong and what would be accepted.
    pub message: String,
}

/// Kinds of refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a message this peer may send.
    Malformed,
    /// A message that does not fit the connection's state (e.g. no hello yet).
    OutOfOrder,
    /// Too many commands in a short time.
    RateLimited,
    /// No session with that id.
    NoSuchSession,
    /// The session's headset is not connected; the command was not sent.
    HeadsetOffline,
    /// The headset rejected the command or did not answer.
    CommandFailed,
    /// The console replays a recording: nothing reaches a headset.
    Replay,
    /// A timeline message (`replay`) sent to a console that is not replaying.
    NotReplay,
    /// The console is at its session limit and every session's headset is
    /// connected; the `hello` opened nothing (the socket closes with 1013).
    TooManySessions,
    /// `mirror` for a session whose headset sends no pictures (headless,
    /// or an app from before the mirror).
    NoMirror,
    /// The same command for the same session arrived again within the
    /// console's window (a double-click, a repeated key, a second page):
    /// the first was sent, this one was not.
    Duplicate,
    /// A raise of more than one step that was not confirmed (`confirmed`
    /// in the request): nothing was sent.
    NeedsConfirmation,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::ConsoleToBrowser;
    use crate::testing::check;

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &ConsoleToBrowser::Error(ErrorMessage {
                code: ErrorCode::Malformed,
                message: "unknown variant `hallo`, expected one of `list_sessions`, `subscribe`, `unsubscribe`, `command` at line 1 column 16".into(),
            }),
            expect![[r#"
                {
                  "type": "error",
                  "code": "malformed",
                  "message": "unknown variant `hallo`, expected one of `list_sessions`, `subscribe`, `unsubscribe`, `command` at line 1 column 16"
                }"#]],
        );
    }
}
