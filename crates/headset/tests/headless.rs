//! The app's plugins without a window or a GPU: `MinimalPlugins`, manual
//! time, `app.update()`, assertions on the world.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::time::Duration;

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use headset::HeadsetConfig;
use headset::audio::AudioState;
use headset::engine::{Engine, PatientAction, TherapistCommand};
use headset::prompt::Rating;
use headset::scene::spiders::Part;
use headset::scene::{Lamp, Layer, Shown};
use headset::telemetry::TelemetryFrame;
use session::{Command, PatientInput, State};

const STEP: Duration = Duration::from_millis(100);

fn app(file: &str, text: &str, synthetic: bool) -> App {
    let config = HeadsetConfig {
        synthetic_patient: synthetic,
        seed: 3,
        patient_code: "P-0001".into(),
        rate_hz: 10.0,
        ..HeadsetConfig::headless(scenario::parse(text, file).unwrap(), text)
    };
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).insert_resource(TimeUpdateStrategy::ManualDuration(STEP));
    headset::add_session_plugins(&mut app, &config);
    app.add_plugins(headset::audio::AudioPlugin { output: headset::audio::Output::Mock });
    app.init_resource::<Frames>().add_systems(Last, keep_frames);
    app.update();
    app
}

#[derive(Resource, Default)]
struct Frames(Vec<TelemetryFrame>);

fn keep_frames(mut frames: MessageReader<TelemetryFrame>, mut kept: ResMut<Frames>) {
    kept.0.extend(frames.read().cloned());
}

fn command(app: &mut App, command: Command) {
    app.world_mut().write_message(TherapistCommand { command, console_id: None });
}

fn run_for(app: &mut App, time: Duration) {
    for _ in 0..(time.as_millis() / STEP.as_millis()) {
        app.update();
    }
}

fn spiders(app: &mut App) -> Vec<(u32, Transform, Visibility)> {
    let world = app.world_mut();
    let mut q = world.query::<(&Part, &Transform, &Visibility)>();
    let mut v: Vec<_> = q
        .iter(world)
        .filter_map(|(p, t, vis)| if let Part::Spider(i) = p { Some((*i, *t, *vis)) } else { None })
        .collect();
    v.sort_by_key(|s| s.0);
    v
}

#[test]
fn a_level_change_moves_the_scene() {
    let mut app = app("spiders.ron", include_str!("../../../scenarios/spiders.ron"), false);
    let shown = |app: &App| *app.world().resource::<Shown>();
    let before = shown(&app).params;
    assert_eq!(spiders(&mut app).iter().filter(|s| s.2 != Visibility::Hidden).count(), 1, "step 1: one spider");
    command(&mut app, Command::Start);
    command(&mut app, Command::GoToStep { step: 8 });
    // Eased at 0.2 steps a second: seven steps take 35 s.
    run_for(&mut app, Duration::from_secs(10));
    let half_way = shown(&app).params;
    assert!(half_way.number("distance_m") < before.number("distance_m"), "moving: {half_way:?}");
    run_for(&mut app, Duration::from_secs(30));
    let after = shown(&app).params;
    assert_eq!(app.world().resource::<Engine>().session.applied_level(), 8.0);
    assert_eq!(after.get("count"), Some(scenario::ParamValue::Count(8)));
    assert_eq!(after.get("contained"), Some(scenario::ParamValue::Flag(false)));
    let visible = spiders(&mut app).into_iter().filter(|s| s.2 != Visibility::Hidden).collect::<Vec<_>>();
    assert_eq!(visible.len(), 8, "step 8: eight spiders on the table");
    // Out of the bowl and near the hand (at z = -0.35): within a few centimetres of `distance_m`.
    let nearest = visible.iter().map(|s| (s.1.translation.z + 0.35).abs()).fold(f32::MAX, f32::min);
    assert!(nearest < 0.3, "nearest spider {nearest} m from the hand");
}

#[test]
fn telemetry_frames_carry_increasing_numbers_and_times() {
    let mut app = app("heights.ron", include_str!("../../../scenarios/heights.ron"), true);
    command(&mut app, Command::Start);
    run_for(&mut app, Duration::from_secs(5));
    let frames = &app.world().resource::<Frames>().0;
    assert!(frames.len() >= 49, "{} frames", frames.len());
    for pair in frames.windows(2) {
        assert_eq!(pair[1].frame, pair[0].frame + 1);
        assert!(pair[1].sample.t_us > pair[0].sample.t_us);
        assert!(pair[1].sample.session_us > pair[0].sample.session_us);
    }
    let last = &frames.last().unwrap().sample;
    assert_eq!(last.state, protocol::SessionState::Running);
    assert!(last.heart_rate.is_some(), "the synthetic patient reports heart rate");
    assert!(last.stimulus_distance_m.is_some_and(|d| d > 1.0), "the drop is below: {last:?}");
}

#[test]
fn panic_reaches_the_safe_scene_within_a_second() {
    let mut app = app("flying.ron", include_str!("../../../scenarios/flying.ron"), false);
    command(&mut app, Command::Start);
    run_for(&mut app, Duration::from_secs(2));
    app.world_mut().write_message(PatientAction(PatientInput::Panic));
    app.update();
    assert_eq!(app.world().resource::<Engine>().session.state(), State::SafeScene, "on the next frame");
    run_for(&mut app, Duration::from_secs(1));
    assert_eq!(app.world().resource::<Engine>().session.safe_blend(), 1.0);
    assert!(app.world().resource::<Shown>().safe);
    let world = app.world_mut();
    // Every part and lamp of the scenario is hidden, and the safe place's shown.
    let mut q = world.query::<(&Layer, &Visibility, Has<Lamp>)>();
    let (mut safe_shown, mut scenario_shown, mut lamps) = (0, 0, 0);
    for (layer, vis, lamp) in q.iter(world) {
        lamps += usize::from(lamp && *vis != Visibility::Hidden);
        if *vis != Visibility::Hidden {
            match layer {
                Layer::Safe => safe_shown += 1,
                Layer::Scenario => scenario_shown += 1,
            }
        }
    }
    assert!(safe_shown > 0 && scenario_shown == 0, "safe {safe_shown}, scenario {scenario_shown}");
    assert_eq!(lamps, 1, "the safe place's sun alone");
}

#[test]
fn losing_focus_pauses_the_session_and_is_logged() {
    let mut app = app("heights.ron", include_str!("../../../scenarios/heights.ron"), false);
    command(&mut app, Command::Start);
    run_for(&mut app, Duration::from_secs(1));
    app.world_mut().write_message(PatientAction(PatientInput::Focus { focused: false }));
    app.update();
    let session = &app.world().resource::<Engine>().session;
    assert_eq!(session.state(), State::Paused);
    assert!(session.events().iter().any(|e| e.kind == session::EventKind::FocusLost));
    app.world_mut().write_message(PatientAction(PatientInput::Focus { focused: true }));
    run_for(&mut app, Duration::from_secs(1));
    let session = &app.world().resource::<Engine>().session;
    assert_eq!(session.state(), State::Paused, "the therapist resumes, not the headset");
    assert!(session.events().iter().any(|e| e.kind == session::EventKind::FocusRestored));
}

#[test]
fn the_prompt_opens_on_request_and_closes_on_an_answer() {
    let mut app = app("spiders.ron", include_str!("../../../scenarios/spiders.ron"), false);
    command(&mut app, Command::Start);
    run_for(&mut app, Duration::from_secs(1));
    command(&mut app, Command::RequestSuds);
    app.update();
    assert!(app.world().resource::<Rating>().open);
    let value = {
        let mut rating = app.world_mut().resource_mut::<Rating>();
        rating.nudge(15);
        rating.nudge(-5);
        rating.answer()
    };
    assert_eq!(value, 60, "opens at 50 when nothing was rated on the step");
    app.world_mut().write_message(PatientAction(PatientInput::Suds { value }));
    app.update();
    assert_eq!(app.world().resource::<Engine>().session.step_stats().suds_last, Some(60));
    // Answered aloud to the therapist instead: the prompt closes too.
    command(&mut app, Command::RequestSuds);
    app.update();
    assert!(app.world().resource::<Rating>().open);
    command(&mut app, Command::RecordSuds { value: 40 });
    app.update();
    app.update();
    assert!(!app.world().resource::<Rating>().open);
}

#[test]
fn the_sound_follows_the_level() {
    let mut app = app("spiders.ron", include_str!("../../../scenarios/spiders.ron"), false);
    let rustle = |app: &App| app.world().resource::<AudioState>().controls.get().rustle;
    command(&mut app, Command::Start);
    run_for(&mut app, Duration::from_secs(1));
    let before = rustle(&app);
    command(&mut app, Command::GoToStep { step: 9 });
    run_for(&mut app, Duration::from_secs(45));
    assert!(rustle(&app) > before * 4.0, "rustle {before} -> {}", rustle(&app));
    assert!(!app.world().resource::<AudioState>().device, "the mock backend here");
    // Panic: the spiders fall silent behind the fade, the calm sound comes up.
    app.world_mut().write_message(PatientAction(PatientInput::Panic));
    run_for(&mut app, Duration::from_secs(1));
    let mix = app.world().resource::<AudioState>().controls.get();
    assert_eq!(mix.rustle, 0.0);
    assert!(mix.calm >= 0.5);
}

#[test]
fn the_synthetic_patient_looks_around_and_answers_prompts() {
    let mut app = app("public-speaking.ron", include_str!("../../../scenarios/public-speaking.ron"), true);
    command(&mut app, Command::Start);
    run_for(&mut app, Duration::from_secs(40));
    let session = &app.world().resource::<Engine>().session;
    let answered = session
        .events()
        .iter()
        .any(|e| matches!(e.kind, session::EventKind::SudsRecorded { by: session::Actor::Patient, .. }));
    assert!(answered, "the arrival prompt was answered");
    let frames = &app.world().resource::<Frames>().0;
    let gazes: Vec<[f32; 3]> = frames.iter().map(|f| f.sample.gaze).collect();
    assert!(gazes.windows(2).any(|w| w[0] != w[1]), "the head moves");
}

/// The environment places the patient: the synthetic patient sits at the
/// spider table and in the aircraft seat, and stands at the railing, the
/// lectern and in the lift, swaying only a little about that place.
#[test]
fn the_synthetic_patient_sits_where_the_scene_seats_it() {
    for (file, text, seated) in [
        ("spiders.ron", include_str!("../../../scenarios/spiders.ron"), true),
        ("flying.ron", include_str!("../../../scenarios/flying.ron"), true),
        ("heights.ron", include_str!("../../../scenarios/heights.ron"), false),
        ("claustrophobia.ron", include_str!("../../../scenarios/claustrophobia.ron"), false),
    ] {
        let mut app = app(file, text, true);
        let placement = *app.world().resource::<headset::scene::Placement>();
        assert_eq!(placement.seated, seated, "{file}");
        command(&mut app, Command::Start);
        run_for(&mut app, Duration::from_secs(10));
        let frames = &app.world().resource::<Frames>().0;
        for frame in &frames[frames.len() - 20..] {
            let [x, y, z] = frame.sample.head.p;
            let at = Vec3::new(x, y, z);
            assert!(at.distance(placement.head.translation) < 0.05, "{file}: head at {at}, placed at {placement:?}");
            assert!(if seated { y < 1.3 } else { y > 1.5 }, "{file}: eyes at {y} m");
        }
    }
}
