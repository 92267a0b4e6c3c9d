//! `command`: a therapist's command, forwarded by the console to a headset.

use serde::{Deserialize, Serialize};

/// A command with the console's id for it; the headset answers with a
/// `command_ack` carrying the same id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandMessage {
    /// Unique per console run.
    pub id: u64,
    /// What to do.
    pub command: Command,
}

/// What a therapist can ask of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Leave the waiting state: the patient sees step 1.
    Start,
    /// Move the target level (1.0 = step 1; 3.5 = half-way from step 3 to 4).
    SetLevel {
        /// The new target level.
        level: f64,
    },
    /// Move the target to a step, from 1.
    GoToStep {
        /// Step number.
        step: usize,
    },
    /// Move the target to the next step.
    NextStep,
    /// Move the target to the previous step.
    PreviousStep,
    /// Accept the step the advance rules suggest.
    AcceptSuggestion,
    /// Freeze the scene and the step clocks.
    Pause,
    /// Continue after a pause or leave the safe scene.
    Resume,
    /// Fade to the safe scene.
    SafeScene,
    /// End the session.
    Stop,
    /// Ask the patient for a SUDS rating.
    RequestSuds,
    /// Record a rating the patient said aloud, 0..=100.
    RecordSuds {
        /// The rating.
        value: u8,
    },
    /// A marker on the timeline.
    Marker {
        /// Short label.
        label: String,
    },
    /// A free-text note.
    Note {
        /// The note.
        text: String,
    },
    /// The patient's prediction for the current step.
    Prediction {
        /// In the patient's words.
        text: String,
    },
    /// What happened on the current step.
    Outcome {
        /// In the patient's words.
        text: String,
    },
    /// Switch automatic mode (the advance rules move the patient up by themselves).
    SetAutomatic {
        /// On or off.
        on: bool,
    },
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
            &ConsoleToHeadset::Command(CommandMessage { id: 12, command: Command::SetLevel { level: 3.5 } }),
            expect![[r#"
                {
                  "type": "command",
                  "id": 12,
                  "command": {
                    "type": "set_level",
                    "level": 3.5
                  }
                }"#]],
        );
        check(
            &ConsoleToHeadset::Command(CommandMessage { id: 13, command: Command::SafeScene }),
            expect![[r#"
            {
              "type": "command",
              "id": 13,
              "command": {
                "type": "safe_scene"
              }
            }"#]],
        );
    }
}
