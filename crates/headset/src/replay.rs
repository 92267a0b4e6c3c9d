//! Re-rendered replay: `trinvis-headset --replay FILE` rebuilds the scene at
//! the recorded level and fade and moves the camera along the recorded head
//! pose, with play, pause, speed and seek. In a headset (`--display xr`) the
//! scene follows the recording while the viewer's own head is tracked, and
//! the app ends at the end of the recording.
//!
//! The clock is session time, the `session_us` of the recorded samples: the
//! same clock as `trinvis replay` in the console page, so both show the same
//! moment at the same time. Between two samples the head is interpolated
//! (position linearly, rotation by slerp) and the level eased linearly.

use std::path::Path;

use bevy::prelude::*;
use protocol::{Sample, SessionState};
use recording::{Channel, Recording};

use crate::HeadsetSystems;
use crate::engine::{Drive, Replaying};
use crate::telemetry::{Head, TrackedHead};

/// One recorded frame, as the replay needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// Session time, µs.
    pub session_us: u64,
    /// Head position, metres.
    pub position: Vec3,
    /// Head orientation.
    pub rotation: Quat,
    /// The applied level.
    pub level: f64,
    /// The safe-scene fade.
    pub safe_blend: f64,
    /// Step number, from 1.
    pub step: u16,
    /// The session's state.
    pub state: SessionState,
}

/// A recording's frames, in session time order.
#[derive(Resource, Clone, Debug)]
pub struct Replay {
    /// The frames.
    pub frames: Vec<Frame>,
    /// `scenario_id` from the recording's metadata.
    pub scenario_id: String,
    /// `scenario_sha256` from the recording's metadata.
    pub scenario_sha256: String,
    /// The patient's pseudonymous code.
    pub patient_code: String,
    /// Why the file ended early, when it was cut short (what it holds still plays).
    pub cut: Option<String>,
}

impl Replay {
    /// Reads the telemetry of the recording at `path`.
    pub fn open(path: &Path) -> Result<Replay, String> {
        let recording = Recording::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Replay::from_recording(&recording).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The frames of `recording`; a sample that does not parse is an error
    /// naming its position.
    pub fn from_recording(recording: &Recording) -> Result<Replay, String> {
        let mut frames = Vec::new();
        for (i, message) in recording.channel(Channel::Telemetry).enumerate() {
            let sample: Sample = serde_json::from_slice(&message.data)
                .map_err(|e| format!("telemetry message {} (log time {} µs): {e}", i + 1, message.log_time_us))?;
            let [x, y, z] = sample.head.p;
            let [qx, qy, qz, qw] = sample.head.q;
            frames.push(Frame {
                session_us: sample.session_us,
                position: Vec3::new(x, y, z),
                rotation: Quat::from_xyzw(qx, qy, qz, qw).normalize(),
                level: f64::from(sample.applied_level),
                safe_blend: f64::from(sample.safe_blend),
                step: sample.step,
                state: sample.state,
            });
        }
        if frames.is_empty() {
            return Err("no telemetry to replay".into());
        }
        // Resent samples after a reconnect arrive late; session time orders them.
        frames.sort_by_key(|f| f.session_us);
        frames.dedup_by_key(|f| f.session_us);
        let m = &recording.metadata;
        Ok(Replay {
            frames,
            scenario_id: m.scenario_id.clone(),
            scenario_sha256: m.scenario_sha256.clone(),
            patient_code: m.patient_code.clone(),
            cut: recording.cut.clone(),
        })
    }

    /// First and last session time, µs.
    pub fn span(&self) -> (u64, u64) {
        (self.frames[0].session_us, self.frames[self.frames.len() - 1].session_us)
    }

    /// The frame at session time `at_us`, interpolated between its neighbours.
    pub fn at(&self, at_us: u64) -> Frame {
        let i = self.frames.partition_point(|f| f.session_us <= at_us);
        if i == 0 {
            return self.frames[0];
        }
        let a = self.frames[i - 1];
        let Some(b) = self.frames.get(i) else { return a };
        // A gap (pause in the recording, a lost link) is held, not slid across.
        if b.session_us - a.session_us > 1_000_000 {
            return a;
        }
        let t = (at_us - a.session_us) as f64 / (b.session_us - a.session_us) as f64;
        Frame {
            session_us: at_us,
            position: a.position.lerp(b.position, t as f32),
            rotation: a.rotation.slerp(b.rotation, t as f32),
            level: a.level + (b.level - a.level) * t,
            safe_blend: a.safe_blend + (b.safe_blend - a.safe_blend) * t,
            ..a
        }
    }
}

/// Where the replay is and how fast it goes.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct Playhead {
    /// Session time shown, µs.
    pub at_us: u64,
    /// 1, 2, 4, 8 or 16 times real time.
    pub speed: f64,
    /// Playing or paused.
    pub playing: bool,
}

impl Playhead {
    /// Moves by `delta_us` (either way), within the recording.
    pub fn seek_by(&mut self, replay: &Replay, delta_us: i64) {
        let (first, last) = replay.span();
        self.at_us = self.at_us.saturating_add_signed(delta_us).clamp(first, last);
    }
}

/// Drives the scene and the head from a recording.
#[derive(Debug)]
pub struct ReplayPlugin {
    /// The recording's frames.
    pub replay: Replay,
    /// Start here, seconds of session time.
    pub start_s: f64,
    /// Start at this speed.
    pub speed: f64,
    /// Start paused (screenshots).
    pub paused: bool,
}

impl Plugin for ReplayPlugin {
    fn build(&self, app: &mut App) {
        let (first, last) = self.replay.span();
        let start = ((self.start_s * 1e6) as u64).clamp(first, last);
        let frame = self.replay.at(start);
        app.insert_resource(Replaying)
            .insert_resource(Drive { level: frame.level, safe_blend: frame.safe_blend })
            .insert_resource(self.replay.clone())
            .insert_resource(Playhead { at_us: start, speed: self.speed.clamp(1.0, 16.0), playing: !self.paused })
            .add_systems(Update, advance.in_set(HeadsetSystems::Input))
            .add_systems(Update, show.in_set(HeadsetSystems::Engine));
    }
}

/// Keys in the window: Space play/pause, Left/Right ten seconds, Up/Down
/// speed, Home the start, digits a tenth of the way each.
pub fn replay_keys(keys: Res<ButtonInput<KeyCode>>, replay: Res<Replay>, mut head: ResMut<Playhead>) {
    if keys.just_pressed(KeyCode::Space) {
        head.playing = !head.playing;
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        head.seek_by(&replay, 10_000_000);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) {
        head.seek_by(&replay, -10_000_000);
    }
    if keys.just_pressed(KeyCode::ArrowUp) {
        head.speed = (head.speed * 2.0).min(16.0);
    }
    if keys.just_pressed(KeyCode::ArrowDown) {
        head.speed = (head.speed / 2.0).max(1.0);
    }
    let (first, last) = replay.span();
    if keys.just_pressed(KeyCode::Home) {
        head.at_us = first;
    }
    for (tenth, key) in crate::desktop::DIGITS.iter().enumerate() {
        if keys.just_pressed(*key) {
            head.at_us = first + (last - first) * tenth as u64 / 10;
        }
    }
}

/// Session time moves with the real clock times the speed; the end pauses.
fn advance(time: Res<Time<Real>>, replay: Res<Replay>, mut head: ResMut<Playhead>) {
    if !head.playing {
        return;
    }
    let step = (time.delta_secs_f64() * head.speed * 1e6) as i64;
    head.seek_by(&replay, step);
    if head.at_us >= replay.span().1 {
        head.playing = false;
    }
}

/// The recorded frame into the scene's drive and the head.
fn show(
    replay: Res<Replay>,
    playhead: Res<Playhead>,
    mut drive: ResMut<Drive>,
    mut head: Query<&mut Transform, With<Head>>,
    tracked: Option<Res<TrackedHead>>,
) {
    let frame = replay.at(playhead.at_us);
    drive.set_if_neq(Drive { level: frame.level, safe_blend: frame.safe_blend });
    // In a headset the viewer's own head is tracked: moving it along the
    // recorded pose would move the world under their eyes.
    if tracked.is_some() {
        return;
    }
    if let Ok(mut head) = head.single_mut() {
        head.translation = frame.position;
        head.rotation = frame.rotation;
    }
}

/// `m:ss` or `h:mm:ss` of session time.
pub fn clock(us: u64) -> String {
    let s = us / 1_000_000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
