//! Headless simulation: a [`session::Session`] driven by a
//! [`patient::SyntheticPatient`] at a fixed frame rate, as fast as the CPU
//! allows. Used by `trinvis sim`, by the tests that run every scenario, and
//! by the benchmarks.
//!
//! ```
//! use std::time::Duration;
//! let scenario = scenario::parse(include_str!("../../../scenarios/spiders.ron"), "spiders.ron").unwrap();
//! let config = sim::SimConfig { duration: Duration::from_secs(10 * 60), automatic: true, ..sim::SimConfig::default() };
//! let summary = sim::Simulation::new(scenario, config).run();
//! assert!(summary.highest_step > 1, "ten minutes climb past the first step");
//! ```
//!
//! Without automatic mode a simulated therapist accepts each suggestion
//! after [`SimConfig::therapist_delay`]; with it the engine follows its own
//! rules. Either way the patient's answers, heart rate and panic go through
//! the same engine calls a headset makes.

use std::time::Duration;

use glam::Vec3;
use patient::{PatientParams, Stimulus, SyntheticPatient};
use scenario::Scenario;
use serde::Serialize;
use session::{Command, Config, EventKind, PatientInput, Session, State, StepStats};

/// How a simulation runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Frames per second (a headset's refresh rate).
    pub rate_hz: f64,
    /// Session time to simulate, baseline included.
    pub duration: Duration,
    /// Seed of the synthetic patient.
    pub seed: u64,
    /// Let the engine advance by its rules (research protocol mode).
    pub automatic: bool,
    /// Time in the waiting state before the start, for the heart-rate baseline.
    pub baseline: Duration,
    /// A simulated therapist starts the session after the baseline and
    /// accepts each suggestion after `therapist_delay`. Off when a real
    /// therapist steers from the console; then automatic mode, if on, starts
    /// the session after the baseline by itself.
    pub simulated_therapist: bool,
    /// How long the simulated therapist takes to accept a suggestion.
    pub therapist_delay: Duration,
    /// Heart-rate samples per second.
    pub heart_rate_hz: f64,
    /// The patient's parameters.
    pub patient: PatientParams,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            rate_hz: 90.0,
            duration: Duration::from_secs(30 * 60),
            seed: 1,
            automatic: false,
            baseline: Duration::from_secs(60),
            simulated_therapist: true,
            therapist_delay: Duration::from_secs(10),
            heart_rate_hz: 1.0,
            patient: PatientParams::default(),
        }
    }
}

/// One step's numbers over the whole session (all visits together).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepSummary {
    /// Step number, from 1.
    pub step: usize,
    /// The step's id.
    pub id: String,
    /// Visits to the step.
    pub visits: u32,
    /// Seconds on the step while running.
    pub time_on_step_s: f64,
    /// Highest SUDS rating on the step.
    pub suds_peak: Option<u8>,
    /// Last SUDS rating on the step.
    pub suds_final: Option<u8>,
    /// Fall from peak to final, as a fraction of the peak.
    pub suds_drop: Option<f64>,
    /// Share of running time the patient looked away from the stimulus.
    pub avoidance_share: f64,
    /// Mean heart rate on the step, beats per minute.
    pub heart_rate_mean: Option<f64>,
}

/// What a simulation did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The scenario's id.
    pub scenario: String,
    /// The patient's seed.
    pub seed: u64,
    /// Whether automatic mode was on.
    pub automatic: bool,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// Frames simulated.
    pub frames: u64,
    /// Highest step reached.
    pub highest_step: usize,
    /// Number of steps in the scenario.
    pub step_count: usize,
    /// Times the patient pressed panic.
    pub panics: u32,
    /// Heart-rate baseline measured before the start.
    pub heart_rate_baseline: Option<f64>,
    /// Entries in the session's event log.
    pub events: usize,
    /// Per step, in step order; steps never reached are left out.
    pub steps: Vec<StepSummary>,
}

#[derive(Clone, Debug, Default)]
struct Tally {
    visits: u32,
    time_us: u64,
    peak: Option<u8>,
    last: Option<u8>,
    frames: u64,
    frames_away: u64,
    heart_rate_sum: f64,
    heart_rate_weight: f64,
}

/// A session and a synthetic patient, stepped together.
#[derive(Debug)]
pub struct Simulation {
    session: Session,
    patient: SyntheticPatient,
    config: SimConfig,
    frame: u64,
    seen: u64,
    suggested_at: Option<Duration>,
    panics: u32,
    tallies: Vec<Tally>,
}

impl Simulation {
    /// A simulation at time zero, the session waiting.
    pub fn new(scenario: Scenario, config: SimConfig) -> Simulation {
        let tallies = vec![Tally::default(); scenario.step_count()];
        Simulation {
            session: Session::new(scenario, Config { automatic: config.automatic }),
            patient: SyntheticPatient::new(config.patient.clone(), config.seed),
            config,
            frame: 0,
            seen: 0,
            suggested_at: None,
            panics: 0,
            tallies,
        }
    }

    /// The session being simulated.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, for a driver that also feeds it commands (a live link).
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Session time of the next frame.
    pub fn now(&self) -> Duration {
        Duration::from_secs_f64(self.frame as f64 / self.config.rate_hz)
    }

    /// Whether the configured duration has been simulated.
    pub fn finished(&self) -> bool {
        self.now() >= self.config.duration || self.session.state() == State::Ended
    }

    /// One frame: the patient reacts to what the session shows, the session
    /// takes the patient's inputs and moves on.
    pub fn step(&mut self) -> patient::Output {
        let now = self.now();
        let dt = 1.0 / self.config.rate_hz;
        let starts_itself = self.config.simulated_therapist || self.config.automatic;
        if starts_itself && self.session.state() == State::Waiting && now >= self.config.baseline {
            self.therapist(now, Command::Start);
        }
        let scenario = self.session.scenario();
        // While waiting the patient rests: the baseline is taken without the stimulus.
        let exposed = self.session.state() != State::Waiting;
        let stimulus = Stimulus {
            intensity: if exposed { self.session.applied_level() / scenario.max_level() } else { 0.0 },
            safe_blend: self.session.safe_blend(),
            direction: Vec3::new(0.0, -0.3, -1.0),
        };
        let out = self.patient.step(dt, &stimulus);

        if let Some(value) = out.suds_answer {
            // The patient's answers are always in range; a rejection would mean the session ended.
            let _ = self.session.patient(now, PatientInput::Suds { value });
        }
        if out.panic {
            self.panics += 1;
            let _ = self.session.patient(now, PatientInput::Panic);
        }
        let hr_every = (self.config.rate_hz / self.config.heart_rate_hz).round().max(1.0) as u64;
        if self.frame.is_multiple_of(hr_every) {
            let _ = self.session.patient(now, PatientInput::HeartRate { bpm: out.heart_rate });
        }
        self.session.tick(now);
        self.read_events();

        if self.config.simulated_therapist && !self.config.automatic {
            match (self.session.suggestion().is_some(), self.suggested_at) {
                (true, None) => self.suggested_at = Some(now),
                (true, Some(at)) if now - at >= self.config.therapist_delay => {
                    self.suggested_at = None;
                    self.therapist(now, Command::AcceptSuggestion);
                }
                (false, _) => self.suggested_at = None,
                _ => {}
            }
        }

        if self.session.state() == State::Running {
            let tally = &mut self.tallies[self.session.step() - 1];
            tally.frames += 1;
            tally.frames_away += u64::from(!out.gaze_on_stimulus);
        }
        self.frame += 1;
        out
    }

    /// Runs to the configured duration, stops the session and summarises.
    pub fn run(mut self) -> Summary {
        self.run_to_end()
    }

    /// Like [`Simulation::run`], keeping the simulation (and its session's
    /// event log) for the caller.
    pub fn run_to_end(&mut self) -> Summary {
        while !self.finished() {
            self.step();
        }
        self.finish()
    }

    /// Stops the session now and summarises.
    pub fn finish(&mut self) -> Summary {
        let now = self.now();
        self.therapist(now, Command::Stop);
        self.read_events();
        let scenario = self.session.scenario();
        let steps: Vec<StepSummary> = self
            .tallies
            .iter()
            .enumerate()
            .filter(|(_, t)| t.visits > 0)
            .map(|(i, t)| StepSummary {
                step: i + 1,
                id: scenario.steps[i].id.clone(),
                visits: t.visits,
                time_on_step_s: t.time_us as f64 / 1e6,
                suds_peak: t.peak,
                suds_final: t.last,
                suds_drop: match (t.peak, t.last) {
                    (Some(peak), Some(last)) if peak > 0 => {
                        Some(f64::from(peak.saturating_sub(last)) / f64::from(peak))
                    }
                    _ => None,
                },
                avoidance_share: if t.frames == 0 { 0.0 } else { t.frames_away as f64 / t.frames as f64 },
                heart_rate_mean: (t.heart_rate_weight > 0.0).then(|| t.heart_rate_sum / t.heart_rate_weight),
            })
            .collect();
        Summary {
            scenario: scenario.id.clone(),
            seed: self.config.seed,
            automatic: self.config.automatic,
            simulated_s: now.as_secs_f64(),
            frames: self.frame,
            highest_step: steps.iter().map(|s| s.step).max().unwrap_or(0),
            step_count: scenario.step_count(),
            panics: self.panics,
            heart_rate_baseline: self.session.heart_rate_baseline(),
            events: self.session.events().len(),
            steps,
        }
    }

    fn therapist(&mut self, now: Duration, command: Command) {
        // The simulated therapist only sends commands that apply; a rejection
        // here would be a bug in this driver, and changes nothing.
        let _ = self.session.command(now, command);
    }

    /// Prompts reach the patient; finished visits reach the tallies.
    fn read_events(&mut self) {
        for event in self.session.events_since(self.seen) {
            match &event.kind {
                EventKind::SudsRequested { .. } => self.patient.ask_suds(),
                EventKind::StepLeft { stats } => tally(&mut self.tallies[stats.step - 1], stats),
                _ => {}
            }
        }
        self.seen = self.session.events().len() as u64;
    }
}

fn tally(t: &mut Tally, stats: &StepStats) {
    t.visits += 1;
    t.time_us += stats.time_on_step_us;
    if stats.suds_peak.is_some() {
        t.peak = t.peak.max(stats.suds_peak);
    }
    if stats.suds_last.is_some() {
        t.last = stats.suds_last;
    }
    if let Some(hr) = stats.heart_rate_mean {
        let weight = stats.time_on_step_us as f64;
        t.heart_rate_sum += hr * weight;
        t.heart_rate_weight += weight;
    }
}
