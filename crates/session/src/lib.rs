//! The Trinvis session engine: one patient's walk up one scenario's ladder,
//! as a pure state machine. Time is passed in; there is no IO, no clock and
//! no thread, so every run is reproducible and every test is exact.
//!
//! ```
//! use std::time::Duration;
//! use session::{Command, Config, Session, State};
//!
//! let scenario = scenario::parse(include_str!("../../../scenarios/spiders.ron"), "spiders.ron").unwrap();
//! let mut session = Session::new(scenario, Config::default());
//! session.command(Duration::ZERO, Command::Start).unwrap();
//! session.command(Duration::from_secs(1), Command::GoToStep { step: 2 }).unwrap();
//! // The level eases at the scenario's rate (0.2 steps per second) ...
//! session.tick(Duration::from_secs(3));
//! assert!((session.applied_level() - 1.4).abs() < 1e-9);
//! // ... and arrives after five seconds.
//! session.tick(Duration::from_secs(6));
//! assert_eq!((session.state(), session.step()), (State::Running, 2));
//! ```
//!
//! Safety invariants, checked by property tests in `tests/invariants.rs`:
//! - the applied level rises only while running, toward a target that a
//!   therapist's command (or explicit automatic mode) set, never faster than
//!   the scenario's `max_level_rate_per_s`;
//! - panic enters the safe scene in the same call, from any state but ended;
//! - a link lost for longer than `link_loss_timeout_s` while running or
//!   paused enters the safe scene on the next call;
//! - the event log is gap-free and in time order.

mod command;
mod engine;
mod event;

pub use command::{Command, LinkStatus, MAX_LABEL_CHARS, MAX_TEXT_CHARS, PatientInput, Rejection};
pub use engine::{Config, PANIC_FADE_S, RETURN_FADE_S, Session, State, Suggestion, THERAPIST_FADE_S};
pub use event::{Actor, Event, EventKind, PromptSource, SafeCause, StepStats};
