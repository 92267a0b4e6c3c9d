//! One sample per frame: where the head is and looks, the nearest feared
//! stimulus, the session's state and the frame's timing.

use bevy::prelude::*;
use protocol::{Pose, Sample};

use crate::HeadsetSystems;
use crate::engine::Engine;

/// The patient's head: the camera in a window, a plain transform headless.
#[derive(Component, Debug, Default)]
pub struct Head;

/// A tracked hand or controller (XR).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hand {
    /// The left hand.
    Left,
    /// The right hand.
    Right,
}

/// A [`Hand`] the tracking has lost (or not found yet): telemetry leaves it
/// out rather than report a made-up pose.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Untracked;

/// Present when a headset's tracking owns [`Head`] (OpenXR): the synthetic
/// patient and a replay then leave the head alone, so nothing but the
/// person's own movement moves what they see.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct TrackedHead;

/// The frame timing the patient's display shows, when the display says
/// (OpenXR's predicted display times); without it, telemetry times frames
/// by the app's own clock against [`TARGET_HZ`].
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq)]
pub struct DisplayTiming {
    /// Time from the last frame shown to this one, ms.
    pub frame_ms: f32,
    /// Display periods that passed with no new frame in between.
    pub dropped: u32,
}

impl DisplayTiming {
    /// The timing of a frame shown at `now_ns` after one shown at
    /// `before_ns`, on a display refreshing every `period_ns`.
    pub fn between(before_ns: i64, now_ns: i64, period_ns: i64) -> DisplayTiming {
        let gap = (now_ns - before_ns).max(0);
        let periods = if period_ns > 0 { (gap as f64 / period_ns as f64).round().max(1.0) as u32 } else { 1 };
        DisplayTiming { frame_ms: gap as f32 / 1e6, dropped: periods - 1 }
    }
}

/// Something the patient fears (a spider, the drop, the audience, a wall).
#[derive(Component, Debug, Default)]
pub struct Stimulus;

/// The headset clock: µs at session time 0, the clock of `Sample::t_us`.
#[derive(Resource, Clone, Copy, Debug)]
pub struct HeadsetClock {
    /// Headset clock at session time 0.
    pub epoch_us: u64,
}

/// A frame's sample, numbered.
#[derive(Message, Clone, Debug)]
pub struct TelemetryFrame {
    /// Frame number from 1.
    pub frame: u64,
    /// The sample.
    pub sample: Sample,
}

/// The latest heart rate, when a sensor (or the synthetic patient) gives one.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct HeartRate(pub Option<f32>);

/// The display rate frames are measured against (90 Hz headsets).
pub const TARGET_HZ: f64 = 90.0;

/// Samples the frame.
#[derive(Debug)]
pub struct TelemetryPlugin;

impl Plugin for TelemetryPlugin {
    fn build(&self, app: &mut App) {
        let clock = link::Clock::new();
        app.insert_resource(HeadsetClock { epoch_us: clock.now_us() })
            .init_resource::<HeartRate>()
            .add_message::<TelemetryFrame>()
            .add_systems(Update, sample_frame.in_set(HeadsetSystems::Observe));
    }
}

#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn sample_frame(
    time: Res<Time<Real>>,
    clock: Res<HeadsetClock>,
    engine: Res<Engine>,
    head: Query<&GlobalTransform, With<Head>>,
    stimuli: Query<(&GlobalTransform, &Visibility), With<Stimulus>>,
    hands: Query<(&GlobalTransform, &Hand), Without<Untracked>>,
    heart_rate: Res<HeartRate>,
    display: Option<Res<DisplayTiming>>,
    mut frames: MessageWriter<TelemetryFrame>,
    mut count: Local<u64>,
) {
    let Ok(head) = head.single() else { return };
    *count += 1;
    let (_, rotation, position) = head.to_scale_rotation_translation();
    let gaze = rotation * Vec3::NEG_Z;
    // The nearest stimulus by angle; distance to it.
    let nearest = stimuli
        .iter()
        .filter(|(_, visibility)| **visibility != Visibility::Hidden)
        .map(|(t, _)| {
            let to = t.translation() - position;
            (gaze.angle_between(to.normalize_or(Vec3::NEG_Z)).to_degrees(), to.length(), t.translation())
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let hand = |which: Hand| {
        hands.iter().find(|(_, h)| **h == which).map(|(t, _)| {
            let (_, q, p) = t.to_scale_rotation_translation();
            Pose { p: p.to_array(), q: q.to_array() }
        })
    };
    let session = &engine.session;
    let frame_s = time.delta_secs_f64();
    let (frame_ms, dropped) = match display {
        Some(display) => (display.frame_ms, display.dropped),
        None => ((frame_s * 1000.0) as f32, ((frame_s * TARGET_HZ).round() as u32).saturating_sub(1)),
    };
    let sample = Sample {
        t_us: clock.epoch_us + u64::try_from(engine.now.as_micros()).unwrap_or(u64::MAX),
        session_us: u64::try_from(engine.now.as_micros()).unwrap_or(u64::MAX),
        head: Pose { p: position.to_array(), q: rotation.to_array() },
        left_hand: hand(Hand::Left),
        right_hand: hand(Hand::Right),
        gaze: gaze.to_array(),
        gaze_on_stimulus: nearest.is_some_and(|(angle, ..)| f64::from(angle) <= patient::GAZE_CONE_DEG),
        stimulus_angle_deg: nearest.map_or(180.0, |(angle, ..)| angle),
        stimulus_distance_m: nearest.map(|(_, d, _)| d),
        stimulus_p: nearest.map(|(.., p)| p.to_array()),
        state: link::state_to_wire(session.state()),
        target_level: session.target_level() as f32,
        applied_level: session.applied_level() as f32,
        step: u16::try_from(session.step()).unwrap_or(u16::MAX),
        safe_blend: session.safe_blend() as f32,
        frame_ms,
        dropped_frames: dropped,
        heart_rate: heart_rate.0,
    };
    frames.write(TelemetryFrame { frame: *count, sample });
}

#[cfg(test)]
mod tests {
    use super::DisplayTiming;

    #[test]
    fn display_timing_counts_the_periods_a_frame_missed() {
        let period = 11_111_111; // 90 Hz
        assert_eq!(DisplayTiming::between(0, period, period), DisplayTiming { frame_ms: 11.111111, dropped: 0 });
        assert_eq!(DisplayTiming::between(0, 3 * period, period).dropped, 2);
        // Slightly early or late predictions round to the nearest period.
        assert_eq!(DisplayTiming::between(0, 2 * period + 2_000_000, period).dropped, 1);
        // A 20 Hz runtime showing a frame of about 110 ms: 2 periods missed of 2.2.
        let t = DisplayTiming::between(0, 100_000_000, 50_000_000);
        assert_eq!((t.frame_ms, t.dropped), (100.0, 1));
        // Nonsense from a runtime (time going back, no period) is not a panic.
        assert_eq!(DisplayTiming::between(10, 0, 0).dropped, 0);
    }
}
