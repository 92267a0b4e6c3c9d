//! Trinvis scenario format v1: a graded exposure hierarchy written in RON,
//! parsed, then validated into a [`Scenario`] that the session engine and the
//! headset trust without checking again.
//!
//! ```
//! let text = include_str!("../../../scenarios/heights.ron");
//! let scenario = scenario::parse(text, "scenarios/heights.ron").expect("valid");
//! // Level 3.0 is step 3; 3.5 lies half-way to step 4.
//! let params = scenario.params_at(3.5);
//! let (h3, h4) = (scenario.steps[2].params.number("height_m"), scenario.steps[3].params.number("height_m"));
//! assert_eq!(params.number("height_m"), (h3 + h4) / 2.0);
//! ```
//!
//! The format is documented in `docs/scenario-format.md`. This crate does no
//! IO: callers read the file and pass its text and name.

mod model;
mod params;
mod raw;
mod span;
mod validate;

pub use model::{AdvanceRule, Safety, Scenario, Step, SudsHold};
pub use params::{EnvironmentKind, MAX_PARAMS, ParamKind, ParamSpec, ParamValue, Params};
pub use raw::{Condition, Require};
pub use span::Pos;
pub use validate::{Diagnostic, FORMAT_VERSION, ScenarioError, parse};
