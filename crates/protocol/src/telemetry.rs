//! `telemetry`: what the patient does and what the headset shows, per frame.

use serde::{Deserialize, Serialize};

use crate::SessionState;

/// A batch of samples, sent every few frames.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryBatch {
    /// Sequence number of this message (shared with `events` and
    /// `command_ack`): 1, 2, 3 … without gaps for one session.
    pub seq: u64,
    /// One per rendered frame, oldest first.
    pub samples: Vec<Sample>,
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Headset monotonic time, microseconds.
    pub t_us: u64,
    /// Session time, microseconds (the engine's clock).
    pub session_us: u64,
    /// Head pose in the world (metres; y up, -z forward).
    pub head: Pose,
    /// Left hand or controller, when tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_hand: Option<Pose>,
    /// Right hand or controller, when tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_hand: Option<Pose>,
    /// Gaze direction, a unit vector in the world (head forward when there is no eye tracking).
    #[serde(serialize_with = "fixed::unit3")]
    pub gaze: [f32; 3],
    /// Whether the feared stimulus is within the gaze cone.
    pub gaze_on_stimulus: bool,
    /// Angle between the gaze and the nearest stimulus, degrees.
    #[serde(serialize_with = "fixed::hundredths")]
    pub stimulus_angle_deg: f32,
    /// Distance from the head to the nearest stimulus, metres, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "fixed::opt_millimetres")]
    pub stimulus_distance_m: Option<f32>,
    /// Where that nearest stimulus is, metres: x, y, z (for the console's
    /// map), when the headset knows its scene.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "fixed::opt_millimetres3")]
    pub stimulus_p: Option<[f32; 3]>,
    /// The session's state.
    pub state: SessionState,
    /// Level the session eases toward.
    #[serde(serialize_with = "fixed::level")]
    pub target_level: f32,
    /// Level shown.
    #[serde(serialize_with = "fixed::level")]
    pub applied_level: f32,
    /// Step shown, from 1.
    pub step: u16,
    /// How much the safe scene covers the scenario, 0..1.
    #[serde(serialize_with = "fixed::level")]
    pub safe_blend: f32,
    /// Time of this frame, milliseconds.
    #[serde(serialize_with = "fixed::hundredths")]
    pub frame_ms: f32,
    /// Frames missed since the previous sample against the display's refresh rate.
    pub dropped_frames: u32,
    /// Heart rate, beats per minute, when a sensor is connected.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "fixed::opt_tenths")]
    pub heart_rate: Option<f32>,
}

/// Position and orientation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// Position, metres: x, y, z.
    #[serde(serialize_with = "fixed::millimetres3")]
    pub p: [f32; 3],
    /// Orientation quaternion: x, y, z, w.
    #[serde(serialize_with = "fixed::unit4")]
    pub q: [f32; 4],
}

/// Telemetry is written with the precision it has, not the digits an `f32`
/// prints: a tenth of a millimetre, 1e-5 for unit vectors and quaternions
/// (well under a hundredth of a degree). This halves a recording's size.
mod fixed {
    use serde::Serializer;
    use serde::ser::SerializeTuple;

    fn round(x: f32, scale: f32) -> f32 {
        (x * scale).round() / scale
    }

    fn array<S: Serializer, const N: usize>(v: &[f32; N], s: S, scale: f32) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(N)?;
        for x in v {
            t.serialize_element(&round(*x, scale))?;
        }
        t.end()
    }

    pub fn millimetres3<S: Serializer>(v: &[f32; 3], s: S) -> Result<S::Ok, S::Error> {
        array(v, s, 1e4)
    }
    pub fn unit3<S: Serializer>(v: &[f32; 3], s: S) -> Result<S::Ok, S::Error> {
        array(v, s, 1e5)
    }
    pub fn unit4<S: Serializer>(v: &[f32; 4], s: S) -> Result<S::Ok, S::Error> {
        array(v, s, 1e5)
    }
    pub fn hundredths<S: Serializer>(x: &f32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f32(round(*x, 100.0))
    }
    pub fn level<S: Serializer>(x: &f32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f32(round(*x, 1e4))
    }
    pub fn opt_millimetres<S: Serializer>(x: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
        match x {
            Some(x) => s.serialize_some(&round(*x, 1e4)),
            None => s.serialize_none(),
        }
    }
    pub fn opt_millimetres3<S: Serializer>(v: &Option<[f32; 3]>, s: S) -> Result<S::Ok, S::Error> {
        struct Rounded<'a>(&'a [f32; 3]);
        impl serde::Serialize for Rounded<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                millimetres3(self.0, s)
            }
        }
        match v {
            Some(v) => s.serialize_some(&Rounded(v)),
            None => s.serialize_none(),
        }
    }
    pub fn opt_tenths<S: Serializer>(x: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
        match x {
            Some(x) => s.serialize_some(&round(*x, 10.0)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::HeadsetToConsole;
    use crate::testing::check;

    #[test]
    fn floats_are_written_with_the_precision_they_have() {
        let pose = Pose {
            p: [0.000_206_662_98, 1.6, 0.019_999_411],
            q: [-0.034_898_996, 0.005_347_563, 0.000_186_741, 0.999_376_54],
        };
        assert_eq!(
            serde_json::to_string(&pose).unwrap(),
            r#"{"p":[0.0002,1.6,0.02],"q":[-0.0349,0.00535,0.00019,0.99938]}"#
        );
    }

    #[test]
    fn snapshot_and_round_trip() {
        let sample = Sample {
            t_us: 5_000_011_111,
            session_us: 61_011_111,
            head: Pose { p: [0.0, 1.6, 0.0], q: [0.0, 0.0, 0.0, 1.0] },
            left_hand: None,
            right_hand: Some(Pose { p: [0.2, 1.1, -0.3], q: [0.0, 0.0, 0.0, 1.0] }),
            gaze: [0.0, -0.287, -0.958],
            gaze_on_stimulus: true,
            stimulus_angle_deg: 4.5,
            stimulus_distance_m: Some(0.6),
            stimulus_p: Some([0.1, 0.8, -0.55]),
            state: SessionState::Running,
            target_level: 3.0,
            applied_level: 2.5,
            step: 3,
            safe_blend: 0.0,
            frame_ms: 11.1,
            dropped_frames: 0,
            heart_rate: Some(84.0),
        };
        check(
            &HeadsetToConsole::Telemetry(TelemetryBatch { seq: 42, samples: vec![sample] }),
            expect![[r#"
                {
                  "type": "telemetry",
                  "seq": 42,
                  "samples": [
                    {
                      "t_us": 5000011111,
                      "session_us": 61011111,
                      "head": {
                        "p": [
                          0.0,
                          1.6,
                          0.0
                        ],
                        "q": [
                          0.0,
                          0.0,
                          0.0,
                          1.0
                        ]
                      },
                      "right_hand": {
                        "p": [
                          0.2,
                          1.1,
                          -0.3
                        ],
                        "q": [
                          0.0,
                          0.0,
                          0.0,
                          1.0
                        ]
                      },
                      "gaze": [
                        0.0,
                        -0.287,
                        -0.958
                      ],
                      "gaze_on_stimulus": true,
                      "stimulus_angle_deg": 4.5,
                      "stimulus_distance_m": 0.6,
                      "stimulus_p": [
                        0.1,
                        0.8,
                        -0.55
                      ],
                      "state": "running",
                      "target_level": 3.0,
                      "applied_level": 2.5,
                      "step": 3,
                      "safe_blend": 0.0,
                      "frame_ms": 11.1,
                      "dropped_frames": 0,
                      "heart_rate": 84.0
                    }
                  ]
                }"#]],
        );
    }
}
