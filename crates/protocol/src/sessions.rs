//! `sessions` and `dropped`: what the console tells browsers about sessions.

use serde::{Deserialize, Serialize};

use crate::{ScenarioRef, StepInfo};

/// Every session the console knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionList {
    /// Newest first.
    pub sessions: Vec<SessionInfo>,
}

/// One session at a glance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session.
    pub session_id: String,
    /// The headset running it.
    pub headset_id: String,
    /// Pseudonymous patient code.
    pub patient_code: String,
    /// The scenario.
    pub scenario: ScenarioRef,
    /// Latest state reported by telemetry.
    pub state: SessionState,
    /// Whether the headset is connected now.
    pub link: LinkState,
    /// Console time the session began, RFC 3339 UTC.
    pub started: String,
    /// Latest round-trip time, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
    /// The recording's file name.
    pub recording: String,
    /// Latest clock offset estimate, `headset clock - console clock`, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_us: Option<i64>,
    /// The scenario's steps, from the headset's `hello` (empty when it sent none).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "crate::null_as_default")]
    pub steps: Vec<StepInfo>,
    /// Where the patient's course proposes to start this session, from
    /// their latest earlier session of the scenario; absent without one
    /// (or on a console without a data folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_start: Option<StartProposal>,
    /// The mirror's rate, frames a second (0: off), when the headset can
    /// send mirror frames; absent when it cannot (headless, or older).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_fps: Option<u8>,
}

/// A start step the course proposes, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartProposal {
    /// The step, from 1.
    pub step: u16,
    /// The rule's reason, in words.
    pub reason: String,
    /// The earlier session it is drawn from.
    pub from_session: String,
}

/// The session engine's state, on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Before the start.
    Waiting,
    /// Exposure in progress.
    Running,
    /// Frozen.
    Paused,
    /// The calm scene covers the scenario.
    SafeScene,
    /// Over.
    Ended,
}

/// Whether a session's headset is reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Connected.
    Connected,
    /// Gone; it may come back and resume.
    Disconnected,
}

/// Telemetry left out for one browser because its queue was full. Events,
/// command results and session lists are never left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// The session whose samples were left out.
    pub session_id: String,
    /// Telemetry batches left out since the last `dropped` message.
    pub telemetry_batches: u64,
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
            &ConsoleToBrowser::Sessions(SessionList {
                sessions: vec![SessionInfo {
                    session_id: "20261126T101500Z-5f3a".into(),
                    headset_id: "quest-3-lab-2".into(),
                    patient_code: "P-0042".into(),
                    scenario: ScenarioRef { id: "spiders".into(), version: "1.0.0".into(), sha256: "9f2c".into() },
                    state: SessionState::Running,
                    link: LinkState::Connected,
                    started: "2026-11-26T10:15:00Z".into(),
                    rtt_us: Some(850),
                    recording: "20261126T101500Z-5f3a.mcap".into(),
                    offset_us: Some(-1_795_683_100_000_000),
                    steps: vec![StepInfo { id: "bowl-far".into(), title: "A spider in a bowl, far away".into() }],
                    proposed_start: Some(StartProposal {
                        step: 3,
                        reason: "step 3 was the last where SUDS fell by half".into(),
                        from_session: "20261119T101500Z-1c2d".into(),
                    }),
                    mirror_fps: Some(5),
                }],
            }),
            expect![[r#"
                {
                  "type": "sessions",
                  "sessions": [
                    {
                      "session_id": "20261126T101500Z-5f3a",
                      "headset_id": "quest-3-lab-2",
                      "patient_code": "P-0042",
                      "scenario": {
                        "id": "spiders",
                        "version": "1.0.0",
                        "sha256": "9f2c"
                      },
                      "state": "running",
                      "link": "connected",
                      "started": "2026-11-26T10:15:00Z",
                      "rtt_us": 850,
                      "recording": "20261126T101500Z-5f3a.mcap",
                      "offset_us": -1795683100000000,
                      "steps": [
                        {
                          "id": "bowl-far",
                          "title": "A spider in a bowl, far away"
                        }
                      ],
                      "proposed_start": {
                        "step": 3,
                        "reason": "step 3 was the last where SUDS fell by half",
                        "from_session": "20261119T101500Z-1c2d"
                      },
                      "mirror_fps": 5
                    }
                  ]
                }"#]],
        );
        check(
            &ConsoleToBrowser::Dropped(Dropped { session_id: "s1".into(), telemetry_batches: 12 }),
            expect![[r#"
            {
              "type": "dropped",
              "session_id": "s1",
              "telemetry_batches": 12
            }"#]],
        );
    }
}
