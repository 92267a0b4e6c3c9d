//! Re-rendered replay: a recording written here drives the scene's level and
//! the head, at session time, with seek and speed; a cut file still plays.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use std::time::Duration;

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use headset::engine::Drive;
use headset::replay::{Playhead, Replay};
use headset::scene::Shown;
use headset::telemetry::Head;
use headset::{HeadsetConfig, ReplayConfig};
use recording::{Channel, Metadata, Recording, Writer};

const SPIDERS: &str = include_str!("../../../scenarios/spiders.ron");

/// Ten seconds at 10 Hz: the level climbs from 1 to 6, the head walks along
/// x, and the last second fades to the safe scene.
fn recording() -> Recording {
    Recording::read(&recording_bytes()).unwrap()
}

fn recording_bytes() -> Vec<u8> {
    let mut writer = Writer::new(std::io::Cursor::new(Vec::new()), &Metadata::example()).unwrap();
    for i in 0..=100u64 {
        let session_us = i * 100_000;
        let t = i as f64 / 100.0;
        let sample = serde_json::json!({
            "t_us": 5_000_000 + session_us, "session_us": session_us,
            "head": {"p": [t * 2.0, 1.25, 0.15], "q": [0.0, 0.0, 0.0, 1.0]},
            "gaze": [0.0, 0.0, -1.0], "gaze_on_stimulus": true, "stimulus_angle_deg": 3.0,
            "state": if i >= 90 { "safe_scene" } else { "running" },
            "target_level": 1.0 + 5.0 * t, "applied_level": 1.0 + 5.0 * t, "step": 1 + (5.0 * t) as u16,
            "safe_blend": if i >= 90 { (i - 90) as f64 / 10.0 } else { 0.0 },
            "frame_ms": 11.1, "dropped_frames": 0
        });
        writer.write(Channel::Telemetry, 1_000_000 + session_us, sample.to_string().as_bytes()).unwrap();
        // A chunk every two seconds, as the console closes them.
        if i % 20 == 19 {
            writer.flush().unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

fn app(replay: Replay, start_s: f64, speed: f64) -> App {
    let config = HeadsetConfig {
        patient_code: "P-0042".into(),
        rate_hz: 10.0,
        ..HeadsetConfig::headless(scenario::parse(SPIDERS, "spiders.ron").unwrap(), SPIDERS)
    };
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    headset::add_replay_plugins(&mut app, &config, ReplayConfig { replay, start_s, speed, paused: false });
    app.update();
    app
}

fn head(app: &mut App) -> Transform {
    let world = app.world_mut();
    *world.query_filtered::<&Transform, With<Head>>().single(world).unwrap()
}

#[test]
fn the_scene_and_the_head_follow_the_recording_at_session_time() {
    let replay = Replay::from_recording(&recording()).unwrap();
    assert_eq!(replay.frames.len(), 101);
    assert_eq!(replay.span(), (0, 10_000_000));
    let mut app = app(replay.clone(), 2.0, 1.0);
    for _ in 0..20 {
        app.update();
    }
    let at = app.world().resource::<Playhead>().at_us;
    assert!((3_900_000..=4_200_000).contains(&at), "two seconds on from 2 s: {at} µs");
    let frame = replay.at(at);
    let drive = *app.world().resource::<Drive>();
    assert!((drive.level - frame.level).abs() < 0.05, "{drive:?} vs {frame:?}");
    assert!((head(&mut app).translation.x - frame.position.x).abs() < 0.05);
    // The scene shows the recorded level's parameters.
    let scenario = scenario::parse(SPIDERS, "spiders.ron").unwrap();
    let shown = app.world().resource::<Shown>().params;
    assert_eq!(shown.get("count"), scenario.params_at(drive.level).get("count"));
}

#[test]
fn seeking_and_speed_move_the_playhead_and_the_end_fades_to_safety() {
    let replay = Replay::from_recording(&recording()).unwrap();
    let mut app = app(replay.clone(), 0.0, 8.0);
    for _ in 0..10 {
        app.update();
    }
    let at = app.world().resource::<Playhead>().at_us;
    assert!(at >= 7_500_000, "eight times real time: {at} µs after about a second");
    app.world_mut().resource_mut::<Playhead>().seek_by(&replay, -60_000_000);
    assert_eq!(app.world().resource::<Playhead>().at_us, 0, "seek stops at the start");
    app.world_mut().resource_mut::<Playhead>().seek_by(&replay, 60_000_000);
    app.update();
    let playhead = *app.world().resource::<Playhead>();
    assert_eq!(playhead.at_us, 10_000_000);
    assert!(!playhead.playing, "the end pauses");
    assert_eq!(app.world().resource::<Drive>().safe_blend, 1.0);
    assert!(app.world().resource::<Shown>().safe);
}

#[test]
fn a_recording_cut_short_replays_what_it_holds_and_bad_samples_are_named() {
    let mut bytes = recording_bytes();
    bytes.truncate(bytes.len() / 2);
    let cut = Recording::read(&bytes).unwrap();
    assert!(!cut.complete);
    let replay = Replay::from_recording(&cut).unwrap();
    let (_, last) = replay.span();
    assert!(last > 0 && last < 10_000_000, "the chunks before the cut: up to {last} µs");
    let mut writer = Writer::new(std::io::Cursor::new(Vec::new()), &Metadata::example()).unwrap();
    writer.write(Channel::Telemetry, 1, br#"{"session_us": "soon"}"#).unwrap();
    let bad = Recording::read(&writer.finish().unwrap().into_inner()).unwrap();
    let error = Replay::from_recording(&bad).unwrap_err();
    assert!(error.starts_with("telemetry message 1 (log time 1 µs):"), "{error}");
}
