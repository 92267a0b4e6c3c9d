//! The state machine.

use std::fmt;
use std::time::Duration;

use scenario::{AdvanceRule, Require, Scenario};
use serde::{Deserialize, Serialize};

use crate::command::{Command, LinkStatus, MAX_LABEL_CHARS, MAX_TEXT_CHARS, PatientInput, Rejection};
use crate::event::{Actor, Event, EventKind, PromptSource, SafeCause, StepStats};

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Before the therapist starts: the patient settles in, heart-rate baseline.
    Waiting,
    /// Exposure in progress.
    Running,
    /// Scene and step clocks frozen.
    Paused,
    /// The calm scene covers the scenario.
    SafeScene,
    /// Over; no more commands.
    Ended,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Waiting => "waiting",
            State::Running => "running",
            State::Paused => "paused",
            State::SafeScene => "in the safe scene",
            State::Ended => "ended",
        })
    }
}

/// How a session is run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Follow the advance rules without the therapist's confirmation
    /// (research protocols). Off unless asked for.
    pub automatic: bool,
}

/// A step the advance rules suggest, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Suggestion {
    /// Step number, from 1.
    pub step: usize,
    /// Which criteria hold, for the therapist.
    pub reason: String,
}

/// Seconds of the fade to the safe scene on panic: it must complete within a second.
pub const PANIC_FADE_S: f64 = 0.5;
/// Seconds of the fade when the therapist sends the patient to the safe scene.
pub const THERAPIST_FADE_S: f64 = 1.0;
/// Seconds of the fade back from the safe scene, and to it when the session ends.
pub const RETURN_FADE_S: f64 = 2.0;
/// Time constant of the heart-rate smoothing the rules read, seconds.
const HEART_RATE_SMOOTHING_S: f64 = 10.0;

/// One patient's session over one scenario. Pure: time is passed in with
/// every call, and the session never reads a clock or does IO.
///
/// Every call first brings the session up to `now` (easing, timers, rules),
/// then applies its input. Times earlier than the last one seen are taken as
/// the last one seen.
#[derive(Debug)]
pub struct Session {
    scenario: Scenario,
    state: State,
    now_us: u64,
    target: f64,
    applied: f64,
    automatic: bool,
    safe_blend: f64,
    safe_fade_s: f64,
    safe_cause: Option<SafeCause>,
    step: usize,
    visit: Visit,
    suggestion: Option<Suggestion>,
    link_lost_since: Option<u64>,
    focus_lost: bool,
    heart_rate: Option<f64>,
    heart_rate_at_us: u64,
    baseline: Baseline,
    /// Time spent running, µs: the clock of prompts and SUDS holds, so that
    /// pauses and the safe scene do not count toward them.
    running_us: u64,
    last_prompt_us: u64,
    arrival_prompt_at: Option<u64>,
    events: Vec<Event>,
}

/// The current visit to a step: its numbers and what the rules need.
#[derive(Debug, Default)]
struct Visit {
    stats: StepStats,
    heart_rate_sum: f64,
    heart_rate_count: u32,
    below_since_us: Option<u64>,
}

#[derive(Debug, Default)]
struct Baseline {
    sum: f64,
    count: u32,
    bpm: Option<f64>,
}

impl Session {
    /// A new session, waiting, at the first step.
    pub fn new(scenario: Scenario, config: Config) -> Session {
        let mut session = Session {
            state: State::Waiting,
            now_us: 0,
            target: scenario.min_level(),
            applied: scenario.min_level(),
            automatic: false,
            safe_blend: 0.0,
            safe_fade_s: THERAPIST_FADE_S,
            safe_cause: None,
            step: 0,
            visit: Visit::default(),
            suggestion: None,
            link_lost_since: None,
            focus_lost: false,
            heart_rate: None,
            heart_rate_at_us: 0,
            baseline: Baseline::default(),
            running_us: 0,
            last_prompt_us: 0,
            arrival_prompt_at: None,
            events: Vec::new(),
            scenario,
        };
        if config.automatic {
            session.automatic = true;
            session.emit(EventKind::AutomaticMode { on: true });
        }
        session
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// Session time of the latest call.
    pub fn now(&self) -> Duration {
        Duration::from_micros(self.now_us)
    }

    /// The level the session eases toward.
    pub fn target_level(&self) -> f64 {
        self.target
    }

    /// The level the patient sees now.
    pub fn applied_level(&self) -> f64 {
        self.applied
    }

    /// The step shown now, numbered from 1.
    pub fn step(&self) -> usize {
        self.step + 1
    }

    /// The step a prediction belongs to: the step shown, or, while the
    /// target stands above it (the scene is still easing up), the step the
    /// target is in: the one being approached. Lowering never moves it.
    pub fn approached_step(&self) -> usize {
        let aimed = (self.target.floor().max(1.0) as usize).min(self.scenario.steps.len());
        aimed.max(self.step())
    }

    /// Numbers of the current visit to the current step.
    pub fn step_stats(&self) -> &StepStats {
        &self.visit.stats
    }

    /// The suggested next step, if the advance rules hold.
    pub fn suggestion(&self) -> Option<&Suggestion> {
        self.suggestion.as_ref()
    }

    /// How much the safe scene covers the scenario: 0 = not at all, 1 = fully.
    pub fn safe_blend(&self) -> f64 {
        self.safe_blend
    }

    /// Why the safe scene is shown, while it is.
    pub fn safe_cause(&self) -> Option<SafeCause> {
        self.safe_cause
    }

    /// Whether the advance rules move the patient up without confirmation.
    pub fn automatic(&self) -> bool {
        self.automatic
    }

    /// Whether the console is out of reach.
    pub fn link_lost(&self) -> bool {
        self.link_lost_since.is_some()
    }

    /// Whether the headset has lost input focus (and not got it back).
    pub fn focus_lost(&self) -> bool {
        self.focus_lost
    }

    /// Resting heart rate measured before the start.
    pub fn heart_rate_baseline(&self) -> Option<f64> {
        self.baseline.bpm
    }

    /// The whole log so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The log from sequence number `seq` on.
    pub fn events_since(&self, seq: u64) -> &[Event] {
        let start = usize::try_from(seq).unwrap_or(usize::MAX).min(self.events.len());
        &self.events[start..]
    }

    /// Stimulus parameters at the applied level.
    pub fn params(&self) -> scenario::Params {
        self.scenario.params_at(self.applied)
    }

    /// Brings the session up to `now`: easing, step changes, safety watchdog,
    /// SUDS prompts and advance rules.
    pub fn tick(&mut self, now: Duration) {
        let now_us = u64::try_from(now.as_micros()).unwrap_or(u64::MAX).max(self.now_us);
        let dt_us = now_us - self.now_us;
        self.now_us = now_us;
        if self.state == State::Ended {
            self.fade(dt_us);
            return;
        }
        let dt_s = dt_us as f64 / 1e6;

        if self.state == State::Running {
            self.visit.stats.time_on_step_us += dt_us;
            self.running_us += dt_us;
        }
        self.ease(dt_s);
        self.fade(dt_us);
        self.watch_link();
        if self.state == State::Running {
            self.prompt();
            self.rules();
        }
    }

    /// A therapist's command.
    pub fn command(&mut self, now: Duration, command: Command) -> Result<(), Rejection> {
        self.tick(now);
        let state = self.state;
        if state == State::Ended {
            return Err(Rejection::Ended);
        }
        let wrong_state = || Err(Rejection::WrongState { command: command.name().to_owned(), state });
        let too_long = |field: &str, text: &str, max: usize| {
            let len = text.chars().count();
            if len > max { Err(Rejection::TooLong { field: field.to_owned(), max, len }) } else { Ok(()) }
        };
        match &command {
            Command::Marker { label } => too_long("label", label, MAX_LABEL_CHARS)?,
            Command::Note { text } | Command::Prediction { text } | Command::Outcome { text } => {
                too_long("text", text, MAX_TEXT_CHARS)?;
            }
            _ => {}
        }
        match &command {
            Command::Start => {
                if state != State::Waiting {
                    return wrong_state();
                }
                if self.baseline.count > 0 {
                    let bpm = self.baseline.sum / f64::from(self.baseline.count);
                    self.baseline.bpm = Some(bpm);
                    self.emit(EventKind::HeartRateBaseline { bpm });
                }
                self.set_state(State::Running, Actor::Therapist);
                self.enter_step(self.scenario.step_index_at(self.applied));
                self.last_prompt_us = self.running_us;
            }
            Command::SetLevel { level } => {
                if level.is_nan() {
                    return Err(Rejection::InvalidLevel);
                }
                self.set_target(*level, Actor::Therapist);
            }
            Command::GoToStep { step } => {
                let steps = self.scenario.step_count();
                if *step == 0 || *step > steps {
                    return Err(Rejection::NoSuchStep { step: *step, steps });
                }
                self.set_target(self.scenario.level_of_step(step - 1), Actor::Therapist);
            }
            Command::NextStep => {
                let next = self.target.floor() + 1.0;
                self.set_target(next, Actor::Therapist);
            }
            Command::PreviousStep => {
                let previous = self.target.ceil() - 1.0;
                self.set_target(previous, Actor::Therapist);
            }
            Command::AcceptSuggestion => {
                let Some(suggestion) = &self.suggestion else {
                    return Err(Rejection::NoSuggestion);
                };
                let level = self.scenario.level_of_step(suggestion.step - 1);
                self.set_target(level, Actor::Therapist);
            }
            Command::Pause => {
                if state != State::Running {
                    return wrong_state();
                }
                self.set_state(State::Paused, Actor::Therapist);
            }
            Command::Resume => {
                if !matches!(state, State::Paused | State::SafeScene) {
                    return wrong_state();
                }
                self.safe_cause = None;
                self.safe_fade_s = RETURN_FADE_S;
                self.set_state(State::Running, Actor::Therapist);
            }
            Command::SafeScene => self.enter_safe_scene(SafeCause::Therapist),
            Command::Stop => {
                self.leave_step();
                self.safe_fade_s = RETURN_FADE_S;
                self.set_state(State::Ended, Actor::Therapist);
            }
            Command::RequestSuds => {
                self.last_prompt_us = self.running_us;
                self.emit(EventKind::SudsRequested { by: PromptSource::Therapist });
            }
            Command::RecordSuds { value } => self.record_suds(*value, Actor::Therapist)?,
            Command::Marker { label } => self.emit(EventKind::Marker { label: label.clone() }),
            Command::Note { text } => self.emit(EventKind::Note { text: text.clone() }),
            Command::Prediction { text } => {
                self.emit(EventKind::Prediction { step: self.approached_step(), text: text.clone() });
            }
            Command::Outcome { text } => self.emit(EventKind::Outcome { step: self.step(), text: text.clone() }),
            Command::SetAutomatic { on } => {
                if self.automatic != *on {
                    self.automatic = *on;
                    self.emit(EventKind::AutomaticMode { on: *on });
                }
            }
        }
        Ok(())
    }

    /// Something the patient did.
    pub fn patient(&mut self, now: Duration, input: PatientInput) -> Result<(), Rejection> {
        self.tick(now);
        match input {
            // Panic always succeeds: there is nothing a patient could do wrong by pressing it.
            PatientInput::Panic => {
                if self.state != State::Ended {
                    self.emit(EventKind::Panic);
                    self.enter_safe_scene(SafeCause::Panic);
                }
                Ok(())
            }
            PatientInput::Suds { value } => {
                if self.state == State::Ended {
                    return Err(Rejection::Ended);
                }
                self.record_suds(value, Actor::Patient)
            }
            PatientInput::HeartRate { bpm } => {
                if bpm.is_finite() && bpm > 0.0 {
                    self.heart_rate_sample(bpm);
                }
                Ok(())
            }
            PatientInput::Focus { focused } => {
                let lost = !focused;
                if self.focus_lost == lost || self.state == State::Ended {
                    return Ok(());
                }
                self.focus_lost = lost;
                if focused {
                    self.emit(EventKind::FocusRestored);
                } else {
                    self.emit(EventKind::FocusLost);
                    if self.state == State::Running {
                        self.set_state(State::Paused, Actor::Safety);
                    }
                }
                Ok(())
            }
        }
    }

    /// The link to the console came or went.
    pub fn link(&mut self, now: Duration, status: LinkStatus) {
        self.tick(now);
        match (status, self.link_lost_since) {
            (LinkStatus::Lost, None) => {
                self.link_lost_since = Some(self.now_us);
                self.emit(EventKind::LinkLost);
            }
            (LinkStatus::Connected, Some(_)) => {
                self.link_lost_since = None;
                self.emit(EventKind::LinkRestored);
            }
            _ => {}
        }
    }

    fn emit(&mut self, kind: EventKind) {
        let seq = self.events.len() as u64;
        self.events.push(Event { seq, at_us: self.now_us, kind });
    }

    fn set_state(&mut self, to: State, by: Actor) {
        let from = self.state;
        if from != to {
            self.state = to;
            self.emit(EventKind::StateChanged { from, to, by });
        }
    }

    fn set_target(&mut self, level: f64, by: Actor) {
        let to = self.scenario.clamp_level(level);
        let from = self.target;
        if to == from {
            return;
        }
        self.target = to;
        self.emit(EventKind::TargetChanged { from, to, by });
        if let Some(suggestion) = self.suggestion.take()
            && self.scenario.step_index_at(to) + 1 != suggestion.step
        {
            self.emit(EventKind::SuggestionWithdrawn { step: suggestion.step });
        }
    }

    /// Moves the applied level toward the target at the scenario's rate.
    /// Up only while running: never behind a pause or the safe scene, so the
    /// patient never comes back to a level they did not see being reached.
    fn ease(&mut self, dt_s: f64) {
        let may_rise = self.state == State::Running;
        let may_fall = matches!(self.state, State::Running | State::SafeScene);
        let before = self.applied;
        let max_step = self.scenario.safety.max_level_rate_per_s * dt_s;
        let delta = (self.target - self.applied).clamp(-max_step, max_step);
        if (delta > 0.0 && may_rise) || (delta < 0.0 && may_fall) {
            self.applied =
                if delta.abs() >= (self.target - self.applied).abs() { self.target } else { self.applied + delta };
        }
        if self.applied != before {
            if self.applied == self.target {
                self.emit(EventKind::LevelSettled { level: self.applied });
            }
            let step = self.scenario.step_index_at(self.applied);
            if step != self.step && matches!(self.state, State::Running | State::SafeScene | State::Paused) {
                self.leave_step();
                self.enter_step(step);
            }
        }
    }

    fn fade(&mut self, dt_us: u64) {
        let goal = if matches!(self.state, State::SafeScene | State::Ended) { 1.0 } else { 0.0 };
        let max_step = dt_us as f64 / 1e6 / self.safe_fade_s;
        self.safe_blend += (goal - self.safe_blend).clamp(-max_step, max_step);
    }

    fn enter_safe_scene(&mut self, cause: SafeCause) {
        if self.state == State::SafeScene {
            // Panic during a slower fade speeds it up.
            if cause == SafeCause::Panic {
                self.safe_fade_s = self.safe_fade_s.min(PANIC_FADE_S);
            }
            return;
        }
        let (by, fade_s) = match cause {
            SafeCause::Therapist => (Actor::Therapist, THERAPIST_FADE_S),
            SafeCause::Panic => (Actor::Patient, PANIC_FADE_S),
            SafeCause::LinkLoss => (Actor::Safety, self.scenario.safety.link_loss_fade_s),
        };
        self.safe_fade_s = fade_s;
        self.safe_cause = Some(cause);
        self.set_state(State::SafeScene, by);
        self.emit(EventKind::SafeSceneEntered { cause, fade_s });
        // Behind the safe scene the level eases down to the first step: the
        // patient comes back low, and the therapist raises it again.
        self.set_target(self.scenario.min_level(), Actor::Safety);
    }

    fn watch_link(&mut self) {
        let Some(since) = self.link_lost_since else {
            return;
        };
        let timeout_us = (self.scenario.safety.link_loss_timeout_s * 1e6) as u64;
        if matches!(self.state, State::Running | State::Paused) && self.now_us - since >= timeout_us {
            self.enter_safe_scene(SafeCause::LinkLoss);
        }
    }

    fn enter_step(&mut self, step: usize) {
        self.step = step;
        let id = self.scenario.steps[step].id.clone();
        self.visit = Visit {
            stats: StepStats { step: step + 1, id: id.clone(), entered_at_us: self.now_us, ..StepStats::default() },
            ..Visit::default()
        };
        self.emit(EventKind::StepEntered { step: step + 1, id });
        self.arrival_prompt_at =
            self.scenario.safety.suds_prompt_after_step_s.map(|s| self.running_us + (s * 1e6) as u64);
        // The interval counts from the arrival, so the two prompts do not crowd each other.
        self.last_prompt_us = self.running_us;
        if let Some(suggestion) = self.suggestion.take()
            && suggestion.step != step + 1
        {
            self.emit(EventKind::SuggestionWithdrawn { step: suggestion.step });
        }
    }

    fn leave_step(&mut self) {
        if self.visit.stats.id.is_empty() {
            return;
        }
        let mut stats = std::mem::take(&mut self.visit.stats);
        if self.visit.heart_rate_count > 0 {
            stats.heart_rate_mean = Some(self.visit.heart_rate_sum / f64::from(self.visit.heart_rate_count));
        }
        self.emit(EventKind::StepLeft { stats });
    }

    fn record_suds(&mut self, value: u8, by: Actor) -> Result<(), Rejection> {
        if value > 100 {
            return Err(Rejection::InvalidSuds { value });
        }
        self.emit(EventKind::SudsRecorded { value, by });
        self.last_prompt_us = self.running_us;
        self.arrival_prompt_at = None;
        if self.state == State::Waiting {
            return Ok(());
        }
        let stats = &mut self.visit.stats;
        stats.suds_first.get_or_insert(value);
        stats.suds_peak = Some(stats.suds_peak.map_or(value, |p| p.max(value)));
        stats.suds_last = Some(value);
        stats.ratings += 1;
        let hold = self.scenario.steps[self.step].advance.as_ref().and_then(|a| a.suds_at_or_below);
        match hold {
            Some(hold) if f64::from(value) <= hold.suds => {
                self.visit.below_since_us.get_or_insert(self.running_us);
            }
            _ => self.visit.below_since_us = None,
        }
        Ok(())
    }

    fn heart_rate_sample(&mut self, bpm: f64) {
        match self.state {
            State::Waiting => {
                self.baseline.sum += bpm;
                self.baseline.count += 1;
            }
            State::Running => {
                self.visit.heart_rate_sum += bpm;
                self.visit.heart_rate_count += 1;
            }
            _ => {}
        }
        // Exponential smoothing in session time, so the result does not
        // depend on the sensor's sample rate.
        let dt_s = (self.now_us - self.heart_rate_at_us) as f64 / 1e6;
        let alpha = 1.0 - (-dt_s / HEART_RATE_SMOOTHING_S).exp();
        self.heart_rate = Some(self.heart_rate.map_or(bpm, |hr| hr + (bpm - hr) * alpha));
        self.heart_rate_at_us = self.now_us;
    }

    fn prompt(&mut self) {
        if let Some(at) = self.arrival_prompt_at
            && self.running_us >= at
        {
            self.arrival_prompt_at = None;
            self.last_prompt_us = self.running_us;
            self.emit(EventKind::SudsRequested { by: PromptSource::StepArrival });
            return;
        }
        if let Some(interval) = self.scenario.safety.suds_prompt_interval_s
            && self.running_us - self.last_prompt_us >= (interval * 1e6) as u64
        {
            self.last_prompt_us = self.running_us;
            self.emit(EventKind::SudsRequested { by: PromptSource::Interval });
        }
    }

    /// Evaluates the advance rules of the current step while the level rests on it.
    fn rules(&mut self) {
        let settled = self.applied == self.target;
        let last = self.step + 1 >= self.scenario.step_count();
        let rule = self.scenario.steps[self.step].advance.as_ref();
        let holds = settled && !last && rule.is_some_and(|rule| self.rule_holds(rule));
        match (&self.suggestion, holds) {
            (None, true) => {
                let reason = rule.map(|rule| self.reason(rule)).unwrap_or_default();
                let step = self.step + 2;
                self.suggestion = Some(Suggestion { step, reason: reason.clone() });
                self.emit(EventKind::SuggestionRaised { step, reason });
            }
            (Some(suggestion), false) => {
                let step = suggestion.step;
                self.suggestion = None;
                self.emit(EventKind::SuggestionWithdrawn { step });
            }
            _ => {}
        }
        // Automatic mode follows a suggestion only while the console can see
        // it: with the link lost the headset never raises on its own.
        if self.automatic
            && self.link_lost_since.is_none()
            && let Some(step) = self.suggestion.as_ref().map(|s| s.step)
        {
            self.set_target(self.scenario.level_of_step(step - 1), Actor::Automatic);
        }
    }

    fn criteria(&self, rule: &AdvanceRule) -> [Option<bool>; 4] {
        let stats = &self.visit.stats;
        let time_on_step_s = stats.time_on_step_us as f64 / 1e6;
        [
            rule.suds_drop_from_peak.map(|fraction| stats.drop_from_peak().is_some_and(|d| d >= fraction)),
            rule.suds_at_or_below.map(|hold| {
                self.visit.below_since_us.is_some_and(|since| (self.running_us - since) as f64 / 1e6 >= hold.for_s)
            }),
            rule.time_on_step_s.map(|t| time_on_step_s >= t),
            rule.heart_rate_within.map(|fraction| match (self.heart_rate, self.baseline.bpm) {
                (Some(hr), Some(base)) => hr <= base * (1.0 + fraction),
                _ => false,
            }),
        ]
    }

    fn rule_holds(&self, rule: &AdvanceRule) -> bool {
        let min_time_met = self.visit.stats.time_on_step_us as f64 / 1e6 >= self.scenario.steps[self.step].min_time_s;
        let mut given = self.criteria(rule).into_iter().flatten();
        min_time_met
            && match rule.require {
                Require::All => given.all(|held| held),
                Require::Any => given.any(|held| held),
            }
    }

    fn reason(&self, rule: &AdvanceRule) -> String {
        let stats = &self.visit.stats;
        let held = self.criteria(rule);
        let mut parts = Vec::new();
        if held[0] == Some(true)
            && let (Some(peak), Some(last), Some(drop)) = (stats.suds_peak, stats.suds_last, stats.drop_from_peak())
        {
            parts.push(format!("SUDS fell {:.0} % from its peak of {peak} (now {last})", drop * 100.0));
        }
        if let (Some(true), Some(hold)) = (held[1], rule.suds_at_or_below) {
            parts.push(format!("SUDS at or below {} for {}", hold.suds, minutes(hold.for_s)));
        }
        if let (Some(true), Some(hr), Some(base)) = (held[3], self.heart_rate, self.baseline.bpm) {
            parts.push(format!(
                "heart rate {hr:.0} bpm, within {:.0} % of the baseline {base:.0}",
                (hr / base - 1.0).max(0.0) * 100.0
            ));
        }
        parts.push(format!("{} on step", minutes(stats.time_on_step_us as f64 / 1e6)));
        parts.join("; ")
    }
}

fn minutes(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}
