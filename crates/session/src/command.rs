//! What can happen to a session from outside: therapist commands, patient
//! inputs, link status.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::State;

/// A therapist's command (from the console, or keys in the headset window).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Leave the waiting room: the patient sees step 1 and the clock runs.
    Start,
    /// Move the target level (1.0 = first step); clamped to the hierarchy.
    SetLevel {
        /// The new target level.
        level: f64,
    },
    /// Move the target to a step, numbered from 1.
    GoToStep {
        /// Step number, 1 = mildest.
        step: usize,
    },
    /// Move the target to the next step.
    NextStep,
    /// Move the target to the previous step.
    PreviousStep,
    /// Move to the step the advance rules suggest.
    AcceptSuggestion,
    /// Freeze the scene and the clocks of the step.
    Pause,
    /// Continue after a pause, or come back from the safe scene.
    Resume,
    /// Fade to the safe scene.
    SafeScene,
    /// End the session.
    Stop,
    /// Ask the patient for a SUDS rating now.
    RequestSuds,
    /// Record a rating the patient said aloud.
    RecordSuds {
        /// 0 = calm, 100 = worst imaginable.
        value: u8,
    },
    /// A point in time worth finding again.
    Marker {
        /// Short label.
        label: String,
    },
    /// A free-text note.
    Note {
        /// The note.
        text: String,
    },
    /// What the patient predicts will happen on the current step.
    Prediction {
        /// In the patient's words.
        text: String,
    },
    /// What did happen on the current step.
    Outcome {
        /// In the patient's words.
        text: String,
    },
    /// Let the advance rules move the patient up without a therapist's
    /// confirmation (research protocols), or stop doing so.
    SetAutomatic {
        /// On or off.
        on: bool,
    },
}

impl Command {
    /// A short name for logs and rejections.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::SetLevel { .. } => "set_level",
            Command::GoToStep { .. } => "go_to_step",
            Command::NextStep => "next_step",
            Command::PreviousStep => "previous_step",
            Command::AcceptSuggestion => "accept_suggestion",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::SafeScene => "safe_scene",
            Command::Stop => "stop",
            Command::RequestSuds => "request_suds",
            Command::RecordSuds { .. } => "record_suds",
            Command::Marker { .. } => "marker",
            Command::Note { .. } => "note",
            Command::Prediction { .. } => "prediction",
            Command::Outcome { .. } => "outcome",
            Command::SetAutomatic { .. } => "set_automatic",
        }
    }
}

/// Something the patient does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PatientInput {
    /// A SUDS rating given in the headset, 0..=100.
    Suds {
        /// The rating.
        value: u8,
    },
    /// The panic button.
    Panic,
    /// A heart-rate sample in beats per minute.
    HeartRate {
        /// Beats per minute.
        bpm: f64,
    },
    /// The headset gained or lost input focus (OpenXR: the system menu is
    /// open, or the headset was taken off). Losing it pauses a running
    /// session; getting it back leaves the session paused for the therapist.
    Focus {
        /// Whether the scene has the patient's attention again.
        focused: bool,
    },
}

/// Whether the headset can reach the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Connected and acknowledged.
    Connected,
    /// No contact with the console.
    Lost,
}

/// Why a command was not carried out. Nothing changed in the session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Rejection {
    /// The session has ended; it takes no more commands.
    Ended,
    /// The command does not apply in this state.
    WrongState {
        /// The command's name.
        command: String,
        /// The state the session is in.
        state: State,
    },
    /// There is no suggested step to accept.
    NoSuggestion,
    /// The level is not a number.
    InvalidLevel,
    /// The step number is outside the hierarchy.
    NoSuchStep {
        /// The step asked for.
        step: usize,
        /// How many steps there are.
        steps: usize,
    },
    /// SUDS ratings run from 0 to 100.
    InvalidSuds {
        /// The value given.
        value: u8,
    },
    /// A text longer than the log takes.
    TooLong {
        /// Which text.
        field: String,
        /// Most characters accepted.
        max: usize,
        /// Characters given.
        len: usize,
    },
}

/// Most characters in a marker label.
pub const MAX_LABEL_CHARS: usize = 200;
/// Most characters in a note, prediction or outcome.
pub const MAX_TEXT_CHARS: usize = 4000;

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Ended => f.write_str("the session has ended"),
            Rejection::WrongState { command, state } => {
                write!(f, "{command} does not apply while {state}")
            }
            Rejection::NoSuggestion => f.write_str("no step is suggested"),
            Rejection::InvalidLevel => f.write_str("the level is not a number"),
            Rejection::NoSuchStep { step, steps } => {
                write!(f, "there is no step {step}; steps run from 1 to {steps}")
            }
            Rejection::InvalidSuds { value } => write!(f, "SUDS runs from 0 to 100, got {value}"),
            Rejection::TooLong { field, max, len } => write!(f, "{field} has {len} characters; at most {max} are kept"),
        }
    }
}

impl std::error::Error for Rejection {}
