//! `hello`: the first message a headset sends on every connection.

use serde::{Deserialize, Serialize};

/// Who is connecting, with what, and where to resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Stable id of this headset installation.
    pub headset_id: String,
    /// Name and version of the headset app, e.g. `trinvis-headset 0.1.0`.
    pub app: String,
    /// The scenario being run.
    pub scenario: ScenarioRef,
    /// The pseudonymous patient code; never a name.
    pub patient_code: String,
    /// Set when reconnecting: the session this headset was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Set when reconnecting: the secret the console gave this headset in
    /// `welcome.resume_token`. Without it the console opens a new session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// The oldest sequence number the headset still holds unacknowledged
    /// (the first it would resend); 1 on a new session.
    pub resume_from: u64,
    /// Headset clock when this hello was sent, µs (the clock of `Sample::t_us`):
    /// the console's first estimate of the clock offset.
    pub headset_us: u64,
    /// Headset clock at session time 0, µs: maps events' `at_us` to the headset clock.
    pub session_epoch_us: u64,
    /// The scenario's steps in order (step 1 first), so that a console can
    /// label its intensity dial. Optional: omitted (or null) by older headsets.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "crate::null_as_default")]
    pub steps: Vec<StepInfo>,
    /// This headset can send mirror frames (docs/protocol.md §10): it renders
    /// the scene (not headless). Omitted (false) by older headsets.
    #[serde(default, skip_serializing_if = "std::ops::Not::not", deserialize_with = "crate::null_as_default")]
    pub mirror: bool,
}

/// One step of a scenario's hierarchy, as the therapist sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInfo {
    /// The step's `id` in the scenario file.
    pub id: String,
    /// The step's title, for people.
    pub title: String,
}

/// Identifies a scenario file exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRef {
    /// The scenario's `id`.
    pub id: String,
    /// The scenario's `version`.
    pub version: String,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
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
            &HeadsetToConsole::Hello(Hello {
                headset_id: "quest-3-lab-2".into(),
                app: "trinvis-headset 0.1.0".into(),
                scenario: ScenarioRef { id: "spiders".into(), version: "1.0.0".into(), sha256: "9f2c".into() },
                patient_code: "P-0042".into(),
                session_id: None,
                resume_token: None,
                resume_from: 1,
                headset_us: 5_000_000_000,
                session_epoch_us: 4_939_000_000,
                steps: Vec::new(),
                mirror: true,
            }),
            expect![[r#"
                {
                  "type": "hello",
                  "headset_id": "quest-3-lab-2",
                  "app": "trinvis-headset 0.1.0",
                  "scenario": {
                    "id": "spiders",
                    "version": "1.0.0",
                    "sha256": "9f2c"
                  },
                  "patient_code": "P-0042",
                  "resume_from": 1,
                  "headset_us": 5000000000,
                  "session_epoch_us": 4939000000,
                  "mirror": true
                }"#]],
        );
    }

    #[test]
    fn steps_are_optional_and_listed_in_order() {
        let without = r#"{"type":"hello","headset_id":"h","app":"a","scenario":{"id":"s","version":"1","sha256":"0"},
            "patient_code":"P-1","resume_from":1,"headset_us":1,"session_epoch_us":1}"#;
        let HeadsetToConsole::Hello(hello) = crate::decode::<HeadsetToConsole>(without).unwrap() else { panic!() };
        assert!(hello.steps.is_empty());
        let null = without
            .replace(r#""resume_from":1"#, r#""resume_from":1,"steps":null,"session_id":null,"resume_token":null"#);
        let HeadsetToConsole::Hello(nulls) = crate::decode::<HeadsetToConsole>(&null).unwrap() else { panic!() };
        assert_eq!(nulls, hello, "null is the same as omitted");
        let with = Hello {
            steps: vec![
                StepInfo { id: "bowl-far".into(), title: "A spider in a closed bowl, far away".into() },
                StepInfo { id: "bowl-near".into(), title: "The bowl on the table".into() },
            ],
            ..hello
        };
        check(
            &HeadsetToConsole::Hello(with),
            expect![[r#"
                {
                  "type": "hello",
                  "headset_id": "h",
                  "app": "a",
                  "scenario": {
                    "id": "s",
                    "version": "1",
                    "sha256": "0"
                  },
                  "patient_code": "P-1",
                  "resume_from": 1,
                  "headset_us": 1,
                  "session_epoch_us": 1,
                  "steps": [
                    {
                      "id": "bowl-far",
                      "title": "A spider in a closed bowl, far away"
                    },
                    {
                      "id": "bowl-near",
                      "title": "The bowl on the table"
                    }
                  ]
                }"#]],
        );
    }
}
