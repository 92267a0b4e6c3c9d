//! A synthetic patient for simulations and tests: seeded and deterministic.
//!
//! Distress (SUDS) rises with the stimulus and habituates while the patient
//! stays on a step; part of that habituation carries to the next step.
//! Heart rate follows arousal from a resting rate. The head wanders, and
//! turns away from the stimulus when distress is high (avoidance). The
//! patient answers SUDS prompts after a short delay, in steps of five as
//! people do, and can be set to press panic above a distress level.
//!
//! ```
//! use patient::{PatientParams, Stimulus, SyntheticPatient};
//!
//! let mut patient = SyntheticPatient::new(PatientParams::default(), 42);
//! let hard = Stimulus { intensity: 0.9, ..Stimulus::default() };
//! for _ in 0..90 * 20 {
//!     patient.step(1.0 / 90.0, &hard);
//! }
//! assert!(patient.distress() > 40.0, "a hard step is distressing at first");
//! ```
//!
//! The model is phenomenological, built to exercise the session engine with
//! plausible numbers; it is not a clinical model of anyone.

mod rng;

use glam::{EulerRot, Quat, Vec3};
use serde::{Deserialize, Serialize};

pub use rng::Rng;

/// How this patient responds. Defaults give a patient who habituates to each
/// step within two to three minutes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PatientParams {
    /// Distress at the hardest stimulus before any habituation, as a share of
    /// the SUDS scale above the baseline (0..1).
    pub sensitivity: f64,
    /// Time constant of habituation while exposed, seconds.
    pub habituation_s: f64,
    /// Share of habituation kept when the stimulus rises by a tenth of its range.
    pub generalisation: f64,
    /// Tendency to look away when distressed, 0 = never, 1 = whenever distress is high.
    pub avoidance: f64,
    /// SUDS at rest.
    pub baseline_suds: f64,
    /// Heart rate at rest, beats per minute.
    pub resting_heart_rate: f64,
    /// Extra beats per minute at SUDS 100.
    pub heart_rate_gain: f64,
    /// Spread of given ratings around felt distress, SUDS points.
    pub rating_noise: f64,
    /// How fast felt distress follows the stimulus, seconds.
    pub reaction_s: f64,
    /// Seconds between a prompt and the answer.
    pub answer_delay_s: f64,
    /// Press panic when felt distress reaches this (SUDS), if set.
    pub panic_at_suds: Option<f64>,
}

impl Default for PatientParams {
    fn default() -> PatientParams {
        PatientParams {
            sensitivity: 1.0,
            habituation_s: 80.0,
            generalisation: 0.35,
            avoidance: 0.4,
            baseline_suds: 8.0,
            resting_heart_rate: 70.0,
            heart_rate_gain: 50.0,
            rating_noise: 4.0,
            reaction_s: 6.0,
            answer_delay_s: 3.0,
            panic_at_suds: None,
        }
    }
}

/// What the patient is exposed to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stimulus {
    /// Strength of the stimulus, 0 = none, 1 = the hardest step.
    pub intensity: f64,
    /// How much the safe scene covers it, 0..1.
    pub safe_blend: f64,
    /// Direction from the head to the feared stimulus, in the world frame
    /// (y up, -z forward).
    pub direction: Vec3,
}

impl Default for Stimulus {
    fn default() -> Stimulus {
        Stimulus { intensity: 0.0, safe_blend: 0.0, direction: Vec3::NEG_Z }
    }
}

/// Height of a standing patient's eyes, metres: [`Output::head_position`]
/// is this above the origin, plus a little sway.
pub const EYE_HEIGHT_M: f32 = 1.6;

/// What the patient does in one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Output {
    /// Head position, metres, world frame: standing at the origin
    /// ([`EYE_HEIGHT_M`] up), swaying a little.
    pub head_position: Vec3,
    /// Head orientation, world frame.
    pub head_rotation: Quat,
    /// Heart rate, beats per minute.
    pub heart_rate: f64,
    /// Angle between where the head points and the stimulus, degrees.
    pub angle_to_stimulus_deg: f64,
    /// Whether the stimulus is within the central field of view.
    pub gaze_on_stimulus: bool,
    /// A SUDS answer, when a prompt's delay has passed.
    pub suds_answer: Option<u8>,
    /// The panic button was pressed in this step.
    pub panic: bool,
}

/// Half-angle of the cone within which the stimulus counts as looked at, degrees.
pub const GAZE_CONE_DEG: f64 = 25.0;

/// One synthetic patient.
#[derive(Clone, Debug)]
pub struct SyntheticPatient {
    params: PatientParams,
    rng: Rng,
    distress: f64,
    habituation: f64,
    exposure: f64,
    heart_rate: f64,
    yaw: f64,
    pitch: f64,
    wander_yaw: f64,
    wander_pitch: f64,
    look_away: Option<LookAway>,
    answer_in: Option<f64>,
    panic_cooldown: f64,
    time: f64,
}

#[derive(Clone, Copy, Debug)]
struct LookAway {
    yaw: f64,
    left_s: f64,
}

impl SyntheticPatient {
    /// A patient at rest. Equal `params` and `seed` give equal behaviour.
    pub fn new(params: PatientParams, seed: u64) -> SyntheticPatient {
        SyntheticPatient {
            distress: params.baseline_suds,
            heart_rate: params.resting_heart_rate,
            params,
            rng: Rng::new(seed),
            habituation: 0.0,
            exposure: 0.0,
            yaw: 0.0,
            pitch: 0.0,
            wander_yaw: 0.0,
            wander_pitch: 0.0,
            look_away: None,
            answer_in: None,
            panic_cooldown: 0.0,
            time: 0.0,
        }
    }

    /// The parameters this patient was made with.
    pub fn params(&self) -> &PatientParams {
        &self.params
    }

    /// Felt distress on the SUDS scale, before rounding and noise.
    pub fn distress(&self) -> f64 {
        self.distress
    }

    /// A SUDS prompt: the answer comes from [`SyntheticPatient::step`] after
    /// the answer delay. A second prompt before the answer changes nothing.
    pub fn ask_suds(&mut self) {
        self.answer_in.get_or_insert(self.params.answer_delay_s);
    }

    /// Advances the patient by `dt` seconds under `stimulus`.
    pub fn step(&mut self, dt: f64, stimulus: &Stimulus) -> Output {
        self.time += dt;
        let p = &self.params;
        let exposure = (stimulus.intensity * (1.0 - stimulus.safe_blend)).clamp(0.0, 1.0);

        // A stronger stimulus than the one habituated to is partly new.
        if exposure > self.exposure {
            let tenths = (exposure - self.exposure) * 10.0;
            self.habituation *= p.generalisation.powf(tenths);
        }
        self.exposure = exposure;
        if exposure > 0.02 {
            self.habituation += (1.0 - self.habituation) * (1.0 - (-dt / p.habituation_s).exp());
        }
        let drive = p.baseline_suds
            + (100.0 - p.baseline_suds) * p.sensitivity * exposure.powf(0.6) * (1.0 - 0.85 * self.habituation);
        self.distress += (drive - self.distress) * (1.0 - (-dt / p.reaction_s).exp());

        let hr_goal = p.resting_heart_rate + p.heart_rate_gain * (self.distress / 100.0);
        self.heart_rate += (hr_goal - self.heart_rate) * (1.0 - (-dt / 5.0).exp());
        let heart_rate = self.heart_rate + self.rng.normal() * 1.5;

        let (stim_yaw, stim_pitch) = yaw_pitch(stimulus.direction);
        self.look(dt, stim_yaw, stim_pitch, exposure);
        let forward = Quat::from_euler(EulerRot::YXZ, self.yaw as f32, self.pitch as f32, 0.0) * Vec3::NEG_Z;
        let to_stimulus = stimulus.direction.normalize_or(Vec3::NEG_Z);
        let angle = f64::from(forward.angle_between(to_stimulus)).to_degrees();

        let suds_answer = match self.answer_in.as_mut() {
            Some(left) if *left <= dt => {
                self.answer_in = None;
                let rated = self.distress + self.rng.normal() * self.params.rating_noise;
                // People rate in fives; the result is within 0..=100.
                Some(((rated / 5.0).round() * 5.0).clamp(0.0, 100.0) as u8)
            }
            Some(left) => {
                *left -= dt;
                None
            }
            None => None,
        };

        self.panic_cooldown = (self.panic_cooldown - dt).max(0.0);
        let panic = match self.params.panic_at_suds {
            Some(limit) if self.distress >= limit && self.panic_cooldown == 0.0 => {
                self.panic_cooldown = 60.0;
                true
            }
            _ => false,
        };

        let sway = Vec3::new((self.time * 0.31).sin() as f32 * 0.02, 0.0, (self.time * 0.23).cos() as f32 * 0.02);
        Output {
            head_position: Vec3::new(0.0, EYE_HEIGHT_M, 0.0) + sway,
            head_rotation: Quat::from_euler(EulerRot::YXZ, self.yaw as f32, self.pitch as f32, 0.0),
            heart_rate,
            angle_to_stimulus_deg: angle,
            gaze_on_stimulus: angle <= GAZE_CONE_DEG,
            suds_answer,
            panic,
        }
    }

    /// Head motion: a slow wander around the stimulus, and turns away from it
    /// that grow likelier with distress and the avoidance tendency.
    fn look(&mut self, dt: f64, stim_yaw: f64, stim_pitch: f64, exposure: f64) {
        // Ornstein-Uhlenbeck wander, about ten degrees across.
        let k = 1.0 - (-dt / 2.0).exp();
        self.wander_yaw += -self.wander_yaw * k + self.rng.normal() * 0.12 * dt.sqrt();
        self.wander_pitch += -self.wander_pitch * k + self.rng.normal() * 0.06 * dt.sqrt();

        match &mut self.look_away {
            Some(away) => {
                away.left_s -= dt;
                if away.left_s <= 0.0 {
                    self.look_away = None;
                }
            }
            None if exposure > 0.02 => {
                let urge = self.params.avoidance * ((self.distress - 30.0) / 50.0).clamp(0.0, 1.0);
                // Expected look-aways per second at full urge: one every 8 s.
                if self.rng.uniform() < urge * dt / 8.0 {
                    let side = if self.rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                    self.look_away = Some(LookAway {
                        yaw: side * self.rng.range(60.0, 150.0).to_radians(),
                        left_s: self.rng.range(2.0, 8.0),
                    });
                }
            }
            None => {}
        }
        let (goal_yaw, goal_pitch) = match self.look_away {
            Some(away) => (stim_yaw + away.yaw, 0.0),
            None => (stim_yaw + self.wander_yaw, stim_pitch + self.wander_pitch),
        };
        // Heads turn at up to about 120 degrees per second.
        let max_turn = 120f64.to_radians() * dt;
        self.yaw += wrap(goal_yaw - self.yaw).clamp(-max_turn, max_turn);
        self.pitch += (goal_pitch - self.pitch).clamp(-max_turn, max_turn);
    }
}

fn yaw_pitch(direction: Vec3) -> (f64, f64) {
    let d = direction.normalize_or(Vec3::NEG_Z);
    let yaw = f64::from((-d.x).atan2(-d.z));
    let pitch = f64::from(d.y.clamp(-1.0, 1.0).asin());
    (yaw, pitch)
}

fn wrap(angle: f64) -> f64 {
    (angle + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT: f64 = 1.0 / 90.0;

    fn run(patient: &mut SyntheticPatient, seconds: f64, stimulus: &Stimulus) -> Vec<Output> {
        (0..(seconds / DT) as usize).map(|_| patient.step(DT, stimulus)).collect()
    }

    #[test]
    fn same_seed_same_patient() {
        let s = Stimulus { intensity: 0.5, ..Stimulus::default() };
        let a = run(&mut SyntheticPatient::new(PatientParams::default(), 9), 30.0, &s);
        let b = run(&mut SyntheticPatient::new(PatientParams::default(), 9), 30.0, &s);
        assert_eq!(a, b);
    }

    #[test]
    fn distress_rises_with_the_stimulus_then_habituates_by_half() {
        let mut p = SyntheticPatient::new(PatientParams::default(), 1);
        run(&mut p, 20.0, &Stimulus { intensity: 0.6, ..Stimulus::default() });
        let peak = p.distress();
        run(&mut p, 240.0, &Stimulus { intensity: 0.6, ..Stimulus::default() });
        let later = p.distress();
        assert!(peak > 35.0, "peak {peak}");
        assert!(later < peak * 0.5, "peak {peak}, after four minutes {later}");
    }

    #[test]
    fn safe_scene_calms_and_heart_rate_follows() {
        let mut p = SyntheticPatient::new(PatientParams::default(), 2);
        let out = run(&mut p, 30.0, &Stimulus { intensity: 1.0, ..Stimulus::default() });
        let tense = out.last().map(|o| o.heart_rate).unwrap_or_default();
        let out = run(&mut p, 60.0, &Stimulus { intensity: 1.0, safe_blend: 1.0, ..Stimulus::default() });
        let calm = out.last().map(|o| o.heart_rate).unwrap_or_default();
        assert!(tense > 95.0 && calm < 80.0, "tense {tense}, calm {calm}");
    }

    #[test]
    fn avoidant_patients_look_away_more_when_distressed() {
        let share_away = |avoidance: f64| {
            let params = PatientParams { avoidance, habituation_s: 1e9, ..PatientParams::default() };
            let out =
                run(&mut SyntheticPatient::new(params, 3), 300.0, &Stimulus { intensity: 1.0, ..Stimulus::default() });
            out.iter().filter(|o| !o.gaze_on_stimulus).count() as f64 / out.len() as f64
        };
        let (none, some, much) = (share_away(0.0), share_away(0.4), share_away(1.0));
        assert!(none < 0.05 && some > none + 0.1 && much > some, "{none} {some} {much}");
    }

    #[test]
    fn answers_prompts_in_fives_after_the_delay_and_panics_when_set() {
        let params = PatientParams { panic_at_suds: Some(50.0), ..PatientParams::default() };
        let mut p = SyntheticPatient::new(params, 4);
        p.ask_suds();
        let out = run(&mut p, 40.0, &Stimulus { intensity: 1.0, ..Stimulus::default() });
        let answers: Vec<(usize, u8)> =
            out.iter().enumerate().filter_map(|(i, o)| o.suds_answer.map(|a| (i, a))).collect();
        assert_eq!(answers.len(), 1);
        let (frame, value) = answers[0];
        assert_eq!(frame, (3.0 / DT) as usize);
        assert_eq!(value % 5, 0);
        assert_eq!(out.iter().filter(|o| o.panic).count(), 1, "panics once, then not again within a minute");
    }
}
