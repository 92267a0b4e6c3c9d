//! `ping` and `pong`: round-trip time and the headset clock's offset.

use serde::{Deserialize, Serialize};

/// Sent by the console every two seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Echoed in the pong.
    pub id: u64,
    /// Console clock when sent, microseconds.
    pub console_us: u64,
    /// The console's latest estimate of `headset clock - console clock`, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_us: Option<i64>,
    /// The round-trip time behind that estimate, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
}

/// The headset's answer, sent at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The ping's id.
    pub id: u64,
    /// The ping's `console_us`, echoed.
    pub console_us: u64,
    /// Headset clock (the one in `Sample::t_us`) when answering, µs.
    pub headset_us: u64,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::testing::check;
    use crate::{ConsoleToHeadset, HeadsetToConsole};

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &ConsoleToHeadset::Ping(Ping { id: 5, console_us: 10_000_000, offset_us: Some(-1_250), rtt_us: Some(900) }),
            expect![[r#"
                {
                  "type": "ping",
                  "id": 5,
                  "console_us": 10000000,
                  "offset_us": -1250,
                  "rtt_us": 900
                }"#]],
        );
        check(
            &HeadsetToConsole::Pong(Pong { id: 5, console_us: 10_000_000, headset_us: 9_999_200 }),
            expect![[r#"
            {
              "type": "pong",
              "id": 5,
              "console_us": 10000000,
              "headset_us": 9999200
            }"#]],
        );
    }
}
