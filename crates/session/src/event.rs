//! The session's ordered log. Every change is one [`Event`]; the recording,
//! the console view and the simulator's table are all written from it.

use serde::Serialize;

use crate::State;

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Position in the log, from 0, without gaps.
    pub seq: u64,
    /// Session time in microseconds.
    pub at_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Who moved something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A therapist's command.
    Therapist,
    /// The advance rules, in automatic mode.
    Automatic,
    /// The safety rules (panic, link loss, safe scene): only ever lower.
    Safety,
    /// The patient (panic button).
    Patient,
}

/// Why the safe scene was entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SafeCause {
    /// The therapist sent the patient there.
    Therapist,
    /// The patient pressed panic.
    Panic,
    /// The console was out of reach longer than the scenario allows.
    LinkLoss,
}

/// Who asked for a SUDS rating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptSource {
    /// The therapist.
    Therapist,
    /// The scenario's interval timer.
    Interval,
    /// The scenario's prompt after arriving on a step.
    StepArrival,
}

/// Per-visit numbers of one step, reported when the patient leaves it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepStats {
    /// Step number, from 1.
    pub step: usize,
    /// The step's id.
    pub id: String,
    /// Session time of arrival, µs.
    pub entered_at_us: u64,
    /// Time spent on the step while running (pauses and safe scene excluded), µs.
    pub time_on_step_us: u64,
    /// First SUDS rating on the step.
    pub suds_first: Option<u8>,
    /// Highest SUDS rating on the step.
    pub suds_peak: Option<u8>,
    /// Latest SUDS rating on the step.
    pub suds_last: Option<u8>,
    /// Number of ratings.
    pub ratings: u32,
    /// Mean heart rate while running on the step.
    pub heart_rate_mean: Option<f64>,
}

impl StepStats {
    /// The fall from the peak to the latest rating, as a fraction of the peak.
    pub fn drop_from_peak(&self) -> Option<f64> {
        let (peak, last) = (self.suds_peak?, self.suds_last?);
        (peak > 0).then(|| f64::from(peak - last.min(peak)) / f64::from(peak))
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The state machine moved.
    StateChanged {
        /// Before.
        from: State,
        /// After.
        to: State,
        /// Who or what moved it.
        by: Actor,
    },
    /// The safe scene was entered; the fade takes `fade_s`.
    SafeSceneEntered {
        /// Why.
        cause: SafeCause,
        /// Seconds of the fade.
        fade_s: f64,
    },
    /// The level the session eases toward changed.
    TargetChanged {
        /// Before.
        from: f64,
        /// After.
        to: f64,
        /// Who moved it.
        by: Actor,
    },
    /// The applied level reached the target.
    LevelSettled {
        /// The level.
        level: f64,
    },
    /// The applied level crossed into a step's range.
    StepEntered {
        /// Step number, from 1.
        step: usize,
        /// The step's id.
        id: String,
    },
    /// The patient left a step (or the session ended on it).
    StepLeft {
        /// The visit's numbers.
        stats: StepStats,
    },
    /// The advance rules suggest moving to `step`.
    SuggestionRaised {
        /// Step number, from 1.
        step: usize,
        /// Which criteria hold, in words for the therapist.
        reason: String,
    },
    /// The criteria no longer hold.
    SuggestionWithdrawn {
        /// The step that was suggested.
        step: usize,
    },
    /// A SUDS rating is asked for.
    SudsRequested {
        /// Who asked.
        by: PromptSource,
    },
    /// A SUDS rating was given.
    SudsRecorded {
        /// 0..=100.
        value: u8,
        /// The patient in the headset, or the therapist entering what was said.
        by: Actor,
    },
    /// The patient pressed panic.
    Panic,
    /// The heart-rate baseline the rules compare against.
    HeartRateBaseline {
        /// Beats per minute.
        bpm: f64,
    },
    /// The headset lost input focus (system menu, headset taken off).
    FocusLost,
    /// The headset has focus again.
    FocusRestored,
    /// The console became unreachable.
    LinkLost,
    /// The console is reachable again.
    LinkRestored,
    /// Automatic mode switched.
    AutomaticMode {
        /// On or off.
        on: bool,
    },
    /// A marker.
    Marker {
        /// Label.
        label: String,
    },
    /// A note.
    Note {
        /// Text.
        text: String,
    },
    /// A prediction for a step.
    Prediction {
        /// Step number, from 1.
        step: usize,
        /// Text.
        text: String,
    },
    /// An outcome for a step.
    Outcome {
        /// Step number, from 1.
        step: usize,
        /// Text.
        text: String,
    },
}
