//! The checked scenario: every value in range, every name known.

use serde::Serialize;

use crate::params::{EnvironmentKind, Params};
use crate::raw::{Condition, Require};

/// A validated scenario. Only [`crate::parse`] makes one, so holding a
/// `Scenario` means every rule in `docs/scenario-format.md` held.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Scenario {
    /// Stable identifier, lower-case words joined by `-`.
    pub id: String,
    /// The author's version of this scenario.
    pub version: String,
    /// Title shown to the therapist.
    pub title: String,
    /// What the scenario treats.
    pub condition: Condition,
    /// Free text for the therapist.
    pub description: String,
    /// Which scene renders it.
    pub environment: EnvironmentKind,
    /// The hierarchy, mildest first. Never empty.
    pub steps: Vec<Step>,
    /// Safety settings.
    pub safety: Safety,
}

/// One rung of the ladder.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Step {
    /// Unique within the scenario.
    pub id: String,
    /// Short title for the therapist's dial.
    pub title: String,
    /// What the therapist should know or say at this step.
    pub therapist: String,
    /// What the patient is told or asked to do.
    pub patient: String,
    /// The full stimulus: environment defaults, then the step's own values.
    pub params: Params,
    /// Seconds the patient stays on this step before the next is suggested.
    pub min_time_s: f64,
    /// When to suggest moving on; `None` leaves it to the therapist alone.
    pub advance: Option<AdvanceRule>,
    /// Question to ask before the step (inhibitory learning): what do you expect?
    pub prediction: Option<String>,
}

/// Criteria that suggest the next step. Each `Some` is one criterion;
/// [`Require`] says whether all or any must hold. The step's minimum time
/// always applies as well.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AdvanceRule {
    /// How the criteria combine.
    pub require: Require,
    /// SUDS fell by at least this fraction (0..1] from its peak on the step.
    pub suds_drop_from_peak: Option<f64>,
    /// SUDS stayed at or below a value for a time.
    pub suds_at_or_below: Option<SudsHold>,
    /// At least this many seconds on the step.
    pub time_on_step_s: Option<f64>,
    /// Heart rate within this fraction above the patient's baseline.
    pub heart_rate_within: Option<f64>,
}

/// SUDS at or below `suds` for `for_s` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SudsHold {
    /// Highest rating that counts, 0..=100.
    pub suds: f64,
    /// How long every rating must stay at or below it, in seconds.
    pub for_s: f64,
}

/// What keeps the patient safe and comfortable.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Safety {
    /// The calm place shown on panic, link loss or the therapist's request
    /// (a `setting` of the `Safe` environment).
    pub safe_scene: &'static str,
    /// Seconds without the console before the patient is eased to the safe scene.
    pub link_loss_timeout_s: f64,
    /// Seconds the fade to the safe scene takes after link loss.
    pub link_loss_fade_s: f64,
    /// Fastest change of the applied level, in steps per second.
    pub max_level_rate_per_s: f64,
    /// Seconds between automatic SUDS prompts; `None` = only on request.
    pub suds_prompt_interval_s: Option<f64>,
    /// Seconds after arriving on a new step to ask for SUDS; `None` = don't.
    pub suds_prompt_after_step_s: Option<f64>,
}

impl Scenario {
    /// The number of steps.
    pub fn step_count(&self) -> usize {
        self.steps.len()
    }

    /// Lowest level, the first step: always 1.0.
    pub fn min_level(&self) -> f64 {
        1.0
    }

    /// Highest level, the last step.
    pub fn max_level(&self) -> f64 {
        self.steps.len() as f64
    }

    /// `level` limited to the hierarchy; NaN becomes the first step.
    pub fn clamp_level(&self, level: f64) -> f64 {
        if level.is_nan() { self.min_level() } else { level.clamp(self.min_level(), self.max_level()) }
    }

    /// Index (0-based) of the step a level shows: the nearest one, half-way
    /// rounding up, as discrete parameters switch at the midpoint.
    pub fn step_index_at(&self, level: f64) -> usize {
        let level = self.clamp_level(level);
        // In 1..=len after the clamp, so the cast is exact.
        ((level + 0.5).floor() as usize).clamp(1, self.steps.len()) - 1
    }

    /// The level of the step at `index` (0-based).
    pub fn level_of_step(&self, index: usize) -> f64 {
        (index.min(self.steps.len() - 1) + 1) as f64
    }

    /// The stimulus at `level`: 3.0 is step 3 exactly, 3.5 half-way to
    /// step 4. Numbers interpolate; flags and choices switch at the midpoint.
    ///
    /// ```
    /// # let text = include_str!("../../../scenarios/spiders.ron");
    /// let scenario = scenario::parse(text, "spiders.ron").unwrap();
    /// let params = scenario.params_at(1.5);
    /// assert!(params.number("distance_m") <= scenario.steps[0].params.number("distance_m"));
    /// ```
    pub fn params_at(&self, level: f64) -> Params {
        let level = self.clamp_level(level);
        let lower = (level.floor() as usize).clamp(1, self.steps.len());
        let t = level - lower as f64;
        let a = &self.steps[lower - 1].params;
        match self.steps.get(lower) {
            Some(b) if t > 0.0 => a.lerp(&b.params, t),
            _ => *a,
        }
    }
}
