//! A synthetic patient in the headset: it turns the head, rates SUDS when
//! asked, reports heart rate and may press panic, through the same messages
//! a person's controller would.

use bevy::prelude::*;
use patient::{PatientParams, Stimulus as Exposure, SyntheticPatient};
use session::{EventKind, PatientInput, State};

use crate::HeadsetSystems;
use crate::engine::{Engine, PatientAction};
use crate::scene::Placement;
use crate::telemetry::{Head, HeartRate, Stimulus, TrackedHead};

/// Adds the synthetic patient.
#[derive(Debug)]
pub struct SyntheticPatientPlugin {
    /// Its seed.
    pub seed: u64,
}

#[derive(Resource, Debug)]
struct Synthetic {
    patient: SyntheticPatient,
    seen: u64,
    heart_rate_due: f64,
}

impl Plugin for SyntheticPatientPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Synthetic {
            patient: SyntheticPatient::new(PatientParams::default(), self.seed),
            seen: 0,
            heart_rate_due: 0.0,
        })
        .add_systems(Update, act.in_set(HeadsetSystems::Input));
    }
}

#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn act(
    time: Res<Time>,
    engine: Res<Engine>,
    mut synthetic: ResMut<Synthetic>,
    mut head: Query<&mut Transform, With<Head>>,
    tracked: Option<Res<TrackedHead>>,
    placement: Res<Placement>,
    stimuli: Query<(&GlobalTransform, &Visibility), With<Stimulus>>,
    mut actions: MessageWriter<PatientAction>,
    mut heart_rate: ResMut<HeartRate>,
) {
    let session = &engine.session;
    let synthetic = &mut *synthetic;
    for event in session.events_since(synthetic.seen) {
        if let EventKind::SudsRequested { .. } = event.kind {
            synthetic.patient.ask_suds();
        }
    }
    synthetic.seen = session.events().len() as u64;
    let Ok(mut head) = head.single_mut() else { return };
    let nearest = stimuli
        .iter()
        .filter(|(_, v)| **v != Visibility::Hidden)
        .map(|(t, _)| t.translation() - head.translation)
        .min_by(|a, b| a.length_squared().total_cmp(&b.length_squared()))
        .unwrap_or(Vec3::NEG_Z);
    let exposed = session.state() != State::Waiting;
    let exposure = Exposure {
        intensity: if exposed { session.applied_level() / session.scenario().max_level() } else { 0.0 },
        safe_blend: session.safe_blend(),
        direction: nearest,
    };
    let dt = time.delta_secs_f64();
    if dt <= 0.0 {
        return;
    }
    let out = synthetic.patient.step(dt, &exposure);
    // The scene places the patient (seated or standing); the synthetic
    // patient sways about that place and turns its head. In a headset, the
    // head is where the tracking says (a person's, or the runtime's
    // simulated one); the synthetic patient only rates.
    if tracked.is_none() {
        let sway = out.head_position - Vec3::Y * patient::EYE_HEIGHT_M;
        head.rotation = out.head_rotation;
        head.translation = placement.head.translation + sway;
    }
    heart_rate.0 = Some(out.heart_rate as f32);
    if let Some(value) = out.suds_answer {
        actions.write(PatientAction(PatientInput::Suds { value }));
    }
    if out.panic {
        actions.write(PatientAction(PatientInput::Panic));
    }
    synthetic.heart_rate_due -= dt;
    if synthetic.heart_rate_due <= 0.0 {
        synthetic.heart_rate_due += 1.0;
        actions.write(PatientAction(PatientInput::HeartRate { bpm: out.heart_rate }));
    }
}
