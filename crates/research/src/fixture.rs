//! A made-up session for tests (this crate's and `outputs`'s), with what the simulator gives only
//! sometimes: a pause, a panic into the safe scene with the level easing
//! down behind it, notes, markers, predictions and outcomes, and notes the
//! console wrote after the end.

use std::collections::BTreeMap;

use recording::Metadata;
use serde_json::{Value, json};

use crate::load::{Event, Pose, Sample, SessionData};

const START_UNIX_US: u64 = 1_795_688_100_000_000;

/// Seven minutes, one sample a second (times in s):
///
/// - 0–60 waiting; prediction for step 1 at 10; start at 60 on step 1.
/// - step 1 60–130: SUDS 40, 20; marker at 125.
/// - step 2 130–210: SUDS 50, paused 150–180, SUDS 50.
/// - step 3 210–270: prediction, SUDS 70, a note with markup in it.
/// - step 4 270–292: SUDS 90, panic at 290 into the safe scene; the level
///   eases down behind it: step 3 at 292, step 2 at 294, step 1 at 296.
/// - SUDS 60 at 300 in the safe scene; resumed at 360 on step 1: SUDS 30,
///   outcome for step 1 at 400; stopped at 420.
/// - after the end the console wrote a note and an outcome for step 1.
pub fn session() -> SessionData {
    let mut events: Vec<(u64, &str, Value)> = vec![
        (10, "prediction", json!({"step": 1, "text": "I will freeze"})),
        (60, "state_changed", json!({"from": "waiting", "to": "running", "by": "therapist"})),
        (60, "heart_rate_baseline", json!({"bpm": 72.0})),
        (60, "step_entered", json!({"step": 1, "id": "floor-1"})),
        (70, "suds_recorded", json!({"value": 40, "by": "patient"})),
        (120, "suds_recorded", json!({"value": 20, "by": "patient"})),
        (125, "marker", json!({"label": "looked down"})),
    ];
    events.extend(leave_enter(130, 1, 70, 2, "floor-2"));
    events.extend([
        (140, "suds_recorded", json!({"value": 50, "by": "patient"})),
        (150, "state_changed", json!({"from": "running", "to": "paused", "by": "therapist"})),
        (180, "state_changed", json!({"from": "paused", "to": "running", "by": "therapist"})),
        (200, "suds_recorded", json!({"value": 50, "by": "therapist"})),
    ]);
    events.extend(leave_enter(210, 2, 50, 3, "floor-3"));
    events.extend([
        (215, "prediction", json!({"step": 3, "text": "I will fall <over> & \"die\""})),
        (220, "suds_recorded", json!({"value": 70, "by": "patient"})),
        (260, "note", json!({"text": "Breathing <b>fast</b>"})),
    ]);
    events.extend(leave_enter(270, 3, 60, 4, "floor-4"));
    events.extend([
        (280, "suds_recorded", json!({"value": 90, "by": "patient"})),
        (290, "panic", json!({})),
        (290, "state_changed", json!({"from": "running", "to": "safe_scene", "by": "patient"})),
        (290, "safe_scene_entered", json!({"cause": "panic", "fade_s": 0.5})),
        (290, "target_changed", json!({"from": 4.0, "to": 1.0, "by": "safety"})),
    ]);
    events.extend(leave_enter(292, 4, 20, 3, "floor-3"));
    events.extend(leave_enter(294, 3, 0, 2, "floor-2"));
    events.extend(leave_enter(296, 2, 0, 1, "floor-1"));
    events.extend([
        (300, "suds_recorded", json!({"value": 60, "by": "therapist"})),
        (360, "state_changed", json!({"from": "safe_scene", "to": "running", "by": "therapist"})),
        (380, "suds_recorded", json!({"value": 30, "by": "patient"})),
        (400, "outcome", json!({"step": 1, "text": "Less scary than expected"})),
        (420, "step_left", json!({"stats": {"step": 1, "time_on_step_us": 60_000_000}})),
        (420, "state_changed", json!({"from": "running", "to": "ended", "by": "therapist"})),
        (4000, "note", json!({"text": "Phoned: slept well", "by": "console"})),
        (4010, "outcome", json!({"step": 1, "text": "Went up the stairs at home", "by": "console"})),
    ]);
    let events = events
        .into_iter()
        .enumerate()
        .map(|(seq, (at_s, kind, fields))| Event {
            log_time_us: START_UNIX_US + at_s * 1_000_000,
            seq: seq as u64,
            at_us: at_s * 1_000_000,
            kind: kind.to_owned(),
            fields: match fields {
                Value::Object(map) => map.into_iter().collect(),
                _ => BTreeMap::new(),
            },
        })
        .collect();
    let samples = (0..=420u64)
        .map(|t| {
            let (state, step) = match t {
                0..60 => ("waiting", 1),
                60..130 => ("running", 1),
                130..150 | 180..210 => ("running", 2),
                150..180 => ("paused", 2),
                210..270 => ("running", 3),
                270..290 => ("running", 4),
                290..360 => ("safe_scene", 1),
                360..420 => ("running", 1),
                _ => ("ended", 1),
            };
            Sample {
                log_time_us: START_UNIX_US + t * 1_000_000,
                t_us: t * 1_000_000,
                session_us: t * 1_000_000,
                head: Pose { p: [0.0, 1.6, 0.0], q: [0.0, 0.0, 0.0, 1.0] },
                left_hand: None,
                right_hand: None,
                gaze: [0.0, 0.0, -1.0],
                gaze_on_stimulus: t % 2 == 0,
                stimulus_angle_deg: if t % 5 == 0 { 120.0 } else { 10.0 },
                stimulus_distance_m: None,
                stimulus_p: None,
                state: state.to_owned(),
                target_level: f64::from(step),
                applied_level: f64::from(step),
                step,
                safe_blend: if state == "safe_scene" { 1.0 } else { 0.0 },
                frame_ms: 11.1,
                dropped_frames: 0,
                heart_rate: Some(80.0 + (t % 7) as f64),
            }
        })
        .collect();
    SessionData {
        file_name: "fixture.mcap".to_owned(),
        metadata: Metadata { patient_code: "P-0042".to_owned(), ..Metadata::example() },
        complete: true,
        cut: None,
        samples,
        events,
        commands: Vec::new(),
        acks: Vec::new(),
        annotations: Vec::new(),
        pictures: Vec::new(),
        unreadable: BTreeMap::new(),
    }
}

/// `step_left` for `from` (with the engine's time on it) and `step_entered` for `to`.
fn leave_enter(at_s: u64, from: u32, time_s: u64, to: u32, id: &'static str) -> [(u64, &'static str, Value); 2] {
    [
        (at_s, "step_left", json!({"stats": {"step": from, "time_on_step_us": time_s * 1_000_000}})),
        (at_s, "step_entered", json!({"step": to, "id": id})),
    ]
}
