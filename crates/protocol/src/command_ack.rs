//! `command_ack`: what the headset did with a command.

use serde::{Deserialize, Serialize};

/// The result of command `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandAck {
    /// Sequence number of this message (shared with `telemetry` and `events`).
    pub seq: u64,
    /// The command's id.
    pub id: u64,
    /// Whether the session carried it out.
    pub ok: bool,
    /// Why not, in words for the therapist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::HeadsetToConsole;
    use crate::testing::check;

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &HeadsetToConsole::CommandAck(CommandAck {
                seq: 44,
                id: 12,
                ok: false,
                error: Some("no step is suggested".into()),
            }),
            expect![[r#"
                {
                  "type": "command_ack",
                  "seq": 44,
                  "id": 12,
                  "ok": false,
                  "error": "no step is suggested"
                }"#]],
        );
    }
}
