//! The browser's requests: `subscribe`, `unsubscribe`, `command`; and the
//! console's `command_result`.

use serde::{Deserialize, Serialize};

use crate::{Command, ErrorCode};

/// Names a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRef {
    /// The session.
    pub session_id: String,
}

/// A command for a session's headset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    /// The session.
    pub session_id: String,
    /// The browser's own id, echoed in the result.
    pub request_id: u64,
    /// What to do.
    pub command: Command,
    /// The target level the sender saw when it decided (a page sends it
    /// with every command): with the command it is the intent the console
    /// makes idempotent, and the level a raise is measured from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<f64>,
    /// The sender asked the therapist and they said yes: needed for a raise
    /// of more than one step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmed: bool,
}

/// What became of a command request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The session.
    pub session_id: String,
    /// The browser's id for the request.
    pub request_id: u64,
    /// The console's id for the command, as recorded; 0 when it never reached the headset.
    pub command_id: u64,
    /// Whether the headset carried it out.
    pub ok: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Kind of failure, when the console itself refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
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
            &BrowserToConsole::Subscribe(SessionRef { session_id: "s1".into() }),
            expect![[r#"
            {
              "type": "subscribe",
              "session_id": "s1"
            }"#]],
        );
        check(
            &BrowserToConsole::ListSessions,
            expect![[r#"
            {
              "type": "list_sessions"
            }"#]],
        );
        check(
            &BrowserToConsole::Command(CommandRequest {
                session_id: "s1".into(),
                request_id: 1,
                command: Command::NextStep,
                basis: Some(4.0),
                confirmed: false,
            }),
            expect![[r#"
                {
                  "type": "command",
                  "session_id": "s1",
                  "request_id": 1,
                  "command": {
                    "type": "next_step"
                  },
                  "basis": 4.0
                }"#]],
        );
        check(
            &ConsoleToBrowser::CommandResult(CommandResult {
                session_id: "s1".into(),
                request_id: 1,
                command_id: 12,
                ok: true,
                error: None,
                code: None,
            }),
            expect![[r#"
                {
                  "type": "command_result",
                  "session_id": "s1",
                  "request_id": 1,
                  "command_id": 12,
                  "ok": true
                }"#]],
        );
    }
}
