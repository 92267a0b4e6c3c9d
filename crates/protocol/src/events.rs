//! `events`: entries of the headset's session log, in order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A batch of log entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    /// Sequence number of this message (shared with `telemetry` and `command_ack`).
    pub seq: u64,
    /// Entries, oldest first.
    pub events: Vec<SessionEvent>,
}

/// One entry of the session engine's log. The console stores and forwards
/// entries without interpreting them; `docs/protocol.md` lists the kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// Position in the session's log, from 0, without gaps.
    pub seq: u64,
    /// Session time, microseconds.
    pub at_us: u64,
    /// What happened: `state_changed`, `step_entered`, `suds_recorded`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind's fields.
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;
    use crate::HeadsetToConsole;
    use crate::testing::check;

    #[test]
    fn snapshot_and_round_trip() {
        let fields =
            |pairs: &[(&str, serde_json::Value)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        check(
            &HeadsetToConsole::Events(EventBatch {
                seq: 43,
                events: vec![
                    SessionEvent {
                        seq: 17,
                        at_us: 61_000_000,
                        kind: "step_entered".into(),
                        fields: fields(&[("step", json!(3)), ("id", json!("bowl-moving"))]),
                    },
                    SessionEvent {
                        seq: 18,
                        at_us: 76_000_000,
                        kind: "suds_recorded".into(),
                        fields: fields(&[("value", json!(45)), ("by", json!("patient"))]),
                    },
                ],
            }),
            expect![[r#"
                {
                  "type": "events",
                  "seq": 43,
                  "events": [
                    {
                      "seq": 17,
                      "at_us": 61000000,
                      "type": "step_entered",
                      "id": "bowl-moving",
                      "step": 3
                    },
                    {
                      "seq": 18,
                      "at_us": 76000000,
                      "type": "suds_recorded",
                      "by": "patient",
                      "value": 45
                    }
                  ]
                }"#]],
        );
    }
}
