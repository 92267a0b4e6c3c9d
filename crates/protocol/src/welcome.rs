//! `welcome`: the console's answer to `hello`.

use serde::{Deserialize, Serialize};

/// The session this connection belongs to, and what the console already has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// New, or the one named in `hello` when the console still knows it.
    pub session_id: String,
    /// Highest sequence number stored; the headset resends everything after
    /// it that it still holds, then carries on. 0 when nothing is stored.
    pub acked: u64,
    /// Name and version of the console.
    pub console: String,
    /// A secret for this headset and session: a `hello` that resumes the
    /// session must carry it. Empty from consoles older than resume tokens.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "crate::null_as_default")]
    pub resume_token: String,
    /// To a headset whose `hello` said `mirror: true`: the rate to send
    /// mirror frames at, frames a second (0: none for now). Absent from
    /// older consoles, which take no frames: the headset sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_fps: Option<u8>,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::ConsoleToHeadset;
    use crate::testing::check;

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &ConsoleToHeadset::Welcome(Welcome {
                session_id: "20261126T101500Z-5f3a".into(),
                acked: 0,
                console: "trinvis-console 0.1.0".into(),
                resume_token: "6b0c3e1f9a2d4c5b8e7f0a1b2c3d4e5f".into(),
                mirror_fps: Some(5),
            }),
            expect![[r#"
                {
                  "type": "welcome",
                  "session_id": "20261126T101500Z-5f3a",
                  "acked": 0,
                  "console": "trinvis-console 0.1.0",
                  "resume_token": "6b0c3e1f9a2d4c5b8e7f0a1b2c3d4e5f",
                  "mirror_fps": 5
                }"#]],
        );
    }
}
