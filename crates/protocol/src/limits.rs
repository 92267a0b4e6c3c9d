//! The accepted range of every number a peer sends. serde checks types;
//! these checks run right after it, in [`crate::decode`], so no edge ever
//! acts on a time near `u64::MAX`, a level of 1e39 or an infinite frame
//! time. Ranges are chosen so that sums and differences of two accepted
//! times can never overflow, and so that every integer survives a trip
//! through a browser (JavaScript numbers are exact only up to 2^53).
//!
//! `docs/protocol.md` states each range next to its field; a test there
//! and here keeps both in step.

use std::fmt;
use std::ops::RangeInclusive;

use crate::{
    BrowserToConsole, Command, CommandAck, CommandRequest, ConsoleToBrowser, ConsoleToHeadset, EventBatch,
    HeadsetToConsole, Hello, Pong, Pose, ReplayControl, Sample, SessionEvent, StepInfo, TelemetryBatch,
};

/// The largest integer a JavaScript number holds exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Times in microseconds (headset clock, session time, console clock):
/// 0 to 2^53 − 1 µs, about 285 years.
pub const TIME_US: RangeInclusive<u64> = 0..=MAX_SAFE_INTEGER;

/// Sequence numbers of `telemetry`, `events` and `command_ack`: from 1.
pub const SEQ: RangeInclusive<u64> = 1..=MAX_SAFE_INTEGER;

/// Ids, counters and event positions: 0 to 2^53 − 1.
pub const COUNT: RangeInclusive<u64> = 0..=MAX_SAFE_INTEGER;

/// Positions, metres, per axis.
pub const POSITION_M: RangeInclusive<f64> = -100_000.0..=100_000.0;

/// Components of unit vectors and quaternions (a little slack for rounding).
pub const UNIT: RangeInclusive<f64> = -1.001..=1.001;

/// Angles between the gaze and the stimulus, degrees.
pub const ANGLE_DEG: RangeInclusive<f64> = 0.0..=180.0;

/// Distances, metres.
pub const DISTANCE_M: RangeInclusive<f64> = 0.0..=1_000_000.0;

/// Intensity levels (1.0 is step 1).
pub const LEVEL: RangeInclusive<f64> = 0.0..=1000.0;

/// The safe scene's cover, 0 (none) to 1 (all).
pub const BLEND: RangeInclusive<f64> = 0.0..=1.0;

/// Frame time, milliseconds: up to a minute (a hitch, not a frame rate).
pub const FRAME_MS: RangeInclusive<f64> = 0.0..=60_000.0;

/// Heart rate, beats per minute.
pub const HEART_RATE: RangeInclusive<f64> = 0.0..=400.0;

/// Step numbers a command may name.
pub const STEP: RangeInclusive<u64> = 0..=u16::MAX as u64;

/// Steps a `hello` may list.
pub const MAX_STEPS: usize = 1000;

/// Length of `hello.headset_id`, bytes.
pub const HEADSET_ID_BYTES: RangeInclusive<usize> = 1..=128;

/// A number outside its accepted range, or a list too long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    /// Where, as a path: `samples[3].head.p[0]`.
    pub field: String,
    /// What was given and what is accepted.
    pub message: String,
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A message whose numbers can be checked against their ranges.
pub trait Validate {
    /// `Err` names the first field out of range.
    fn validate(&self) -> Result<(), OutOfRange>;
}

/// Builds field paths only when something is wrong: the check of a
/// telemetry batch must cost next to nothing when all is well.
pub(crate) fn fail(field: impl FnOnce() -> String, message: String) -> Result<(), OutOfRange> {
    Err(OutOfRange { field: field(), message })
}

fn int(field: impl FnOnce() -> String, value: u64, range: &RangeInclusive<u64>) -> Result<(), OutOfRange> {
    if range.contains(&value) {
        return Ok(());
    }
    fail(field, format!("{value} is outside {} to {}", range.start(), range.end()))
}

fn float(field: impl FnOnce() -> String, value: f64, range: &RangeInclusive<f64>) -> Result<(), OutOfRange> {
    // NaN is in no range; an f32 that overflowed on parsing is infinite.
    if range.contains(&value) {
        return Ok(());
    }
    let shown = if !value.is_finite() {
        "a number beyond 32-bit float range".to_owned()
    } else if value != 0.0 && !(1e-6..1e9).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        value.to_string()
    };
    fail(field, format!("{shown} is outside {} to {}", range.start(), range.end()))
}

fn floats(field: &dyn Fn() -> String, values: &[f32], range: &RangeInclusive<f64>) -> Result<(), OutOfRange> {
    for (i, v) in values.iter().enumerate() {
        float(|| format!("{}[{i}]", field()), f64::from(*v), range)?;
    }
    Ok(())
}

fn pose(field: &dyn Fn() -> String, pose: &Pose) -> Result<(), OutOfRange> {
    floats(&|| format!("{}.p", field()), &pose.p, &POSITION_M)?;
    floats(&|| format!("{}.q", field()), &pose.q, &UNIT)
}

impl Validate for Sample {
    fn validate(&self) -> Result<(), OutOfRange> {
        self.validate_at(&String::new)
    }
}

impl Sample {
    fn validate_at(&self, at: &dyn Fn() -> String) -> Result<(), OutOfRange> {
        let f = |name: &str| {
            let prefix = at();
            let name = name.to_owned();
            move || if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") }
        };
        int(f("t_us"), self.t_us, &TIME_US)?;
        int(f("session_us"), self.session_us, &TIME_US)?;
        pose(&f("head"), &self.head)?;
        if let Some(hand) = &self.left_hand {
            pose(&f("left_hand"), hand)?;
        }
        if let Some(hand) = &self.right_hand {
            pose(&f("right_hand"), hand)?;
        }
        floats(&f("gaze"), &self.gaze, &UNIT)?;
        float(f("stimulus_angle_deg"), f64::from(self.stimulus_angle_deg), &ANGLE_DEG)?;
        if let Some(d) = self.stimulus_distance_m {
            float(f("stimulus_distance_m"), f64::from(d), &DISTANCE_M)?;
        }
        if let Some(p) = &self.stimulus_p {
            floats(&f("stimulus_p"), p, &POSITION_M)?;
        }
        float(f("target_level"), f64::from(self.target_level), &LEVEL)?;
        float(f("applied_level"), f64::from(self.applied_level), &LEVEL)?;
        float(f("safe_blend"), f64::from(self.safe_blend), &BLEND)?;
        float(f("frame_ms"), f64::from(self.frame_ms), &FRAME_MS)?;
        if let Some(hr) = self.heart_rate {
            float(f("heart_rate"), f64::from(hr), &HEART_RATE)?;
        }
        Ok(())
    }
}

impl Validate for TelemetryBatch {
    fn validate(&self) -> Result<(), OutOfRange> {
        int(|| "seq".into(), self.seq, &SEQ)?;
        for (i, sample) in self.samples.iter().enumerate() {
            sample.validate_at(&|| format!("samples[{i}]"))?;
        }
        Ok(())
    }
}

impl Validate for SessionEvent {
    fn validate(&self) -> Result<(), OutOfRange> {
        int(|| "seq".into(), self.seq, &COUNT)?;
        int(|| "at_us".into(), self.at_us, &TIME_US)
    }
}

impl Validate for EventBatch {
    fn validate(&self) -> Result<(), OutOfRange> {
        int(|| "seq".into(), self.seq, &SEQ)?;
        for (i, e) in self.events.iter().enumerate() {
            e.validate().map_err(|mut err| {
                err.field = format!("events[{i}].{}", err.field);
                err
            })?;
        }
        Ok(())
    }
}

impl Validate for Hello {
    fn validate(&self) -> Result<(), OutOfRange> {
        if !HEADSET_ID_BYTES.contains(&self.headset_id.len()) {
            let message = format!(
                "{} bytes; {} to {} accepted",
                self.headset_id.len(),
                HEADSET_ID_BYTES.start(),
                HEADSET_ID_BYTES.end()
            );
            return fail(|| "headset_id".into(), message);
        }
        int(|| "resume_from".into(), self.resume_from, &COUNT)?;
        int(|| "headset_us".into(), self.headset_us, &TIME_US)?;
        int(|| "session_epoch_us".into(), self.session_epoch_us, &TIME_US)?;
        self.steps.validate()
    }
}

/// The steps a recording's metadata lists (as `hello.steps` does).
impl Validate for Vec<StepInfo> {
    fn validate(&self) -> Result<(), OutOfRange> {
        if self.len() > MAX_STEPS {
            return fail(|| "steps".into(), format!("{} steps; at most {MAX_STEPS} accepted", self.len()));
        }
        Ok(())
    }
}

impl Validate for CommandAck {
    fn validate(&self) -> Result<(), OutOfRange> {
        int(|| "seq".into(), self.seq, &SEQ)?;
        int(|| "id".into(), self.id, &COUNT)
    }
}

impl Validate for Pong {
    fn validate(&self) -> Result<(), OutOfRange> {
        int(|| "id".into(), self.id, &COUNT)?;
        int(|| "console_us".into(), self.console_us, &TIME_US)?;
        int(|| "headset_us".into(), self.headset_us, &TIME_US)
    }
}

impl Validate for HeadsetToConsole {
    fn validate(&self) -> Result<(), OutOfRange> {
        match self {
            HeadsetToConsole::Hello(m) => m.validate(),
            HeadsetToConsole::Telemetry(m) => m.validate(),
            HeadsetToConsole::Events(m) => m.validate(),
            HeadsetToConsole::CommandAck(m) => m.validate(),
            HeadsetToConsole::Pong(m) => m.validate(),
        }
    }
}

impl Validate for Command {
    fn validate(&self) -> Result<(), OutOfRange> {
        match self {
            Command::SetLevel { level } => float(|| "command.level".into(), *level, &LEVEL),
            Command::GoToStep { step } => int(|| "command.step".into(), *step as u64, &STEP),
            _ => Ok(()),
        }
    }
}

impl Validate for CommandRequest {
    fn validate(&self) -> Result<(), OutOfRange> {
        int(|| "request_id".into(), self.request_id, &COUNT)?;
        if let Some(basis) = self.basis {
            float(|| "basis".into(), basis, &LEVEL)?;
        }
        self.command.validate()
    }
}

impl Validate for BrowserToConsole {
    fn validate(&self) -> Result<(), OutOfRange> {
        match self {
            BrowserToConsole::Command(request) => request.validate(),
            BrowserToConsole::Replay(ReplayControl::Seek { position_us }) => {
                int(|| "position_us".into(), *position_us, &TIME_US)
            }
            BrowserToConsole::Replay(ReplayControl::Speed { speed }) => {
                float(|| "speed".into(), *speed, &crate::REPLAY_SPEEDS)
            }
            BrowserToConsole::Mirror(rate) => rate.validate(),
            BrowserToConsole::Page(page) => {
                let long = |s: &Option<String>| s.as_ref().is_some_and(|s| s.chars().count() > 64);
                if long(&page.name) {
                    return fail(|| "name".into(), "longer than 64 characters".to_owned());
                }
                if long(&page.viewing) {
                    return fail(|| "viewing".into(), "longer than 64 characters".to_owned());
                }
                Ok(())
            }
            BrowserToConsole::ListSessions
            | BrowserToConsole::Acknowledge(_)
            | BrowserToConsole::Subscribe(_)
            | BrowserToConsole::Unsubscribe(_)
            | BrowserToConsole::ListRecordings
            | BrowserToConsole::Replay(ReplayControl::Play | ReplayControl::Pause) => Ok(()),
        }
    }
}

impl Validate for ConsoleToHeadset {
    fn validate(&self) -> Result<(), OutOfRange> {
        match self {
            ConsoleToHeadset::Welcome(w) => {
                int(|| "acked".into(), w.acked, &COUNT)?;
                w.mirror_fps.map_or(Ok(()), |fps| rate(fps, "mirror_fps"))
            }
            ConsoleToHeadset::Command(c) => {
                int(|| "id".into(), c.id, &COUNT)?;
                c.command.validate()
            }
            ConsoleToHeadset::Ack(a) => int(|| "up_to".into(), a.up_to, &COUNT),
            ConsoleToHeadset::Ping(p) => {
                int(|| "id".into(), p.id, &COUNT)?;
                int(|| "console_us".into(), p.console_us, &TIME_US)?;
                if let Some(offset) = p.offset_us {
                    int(|| "offset_us".into(), offset.unsigned_abs(), &TIME_US)?;
                }
                if let Some(rtt) = p.rtt_us {
                    int(|| "rtt_us".into(), rtt, &TIME_US)?;
                }
                Ok(())
            }
            ConsoleToHeadset::Mirror(rate) => rate.validate(),
            ConsoleToHeadset::Error(_) => Ok(()),
        }
    }
}

fn rate(fps: u8, field: &'static str) -> Result<(), OutOfRange> {
    if crate::mirror::valid_rate(fps) {
        return Ok(());
    }
    fail(|| field.into(), format!("{fps} is not one of {:?} frames a second", crate::mirror::RATES))
}

impl Validate for crate::MirrorRate {
    fn validate(&self) -> Result<(), OutOfRange> {
        rate(self.fps, "fps")
    }
}

/// What the console sends browsers comes from checked input; browsers and
/// tests parse it without a second check.
impl Validate for ConsoleToBrowser {
    fn validate(&self) -> Result<(), OutOfRange> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    fn error(text: &str) -> String {
        decode::<HeadsetToConsole>(text).unwrap_err().message
    }

    const SAMPLE: &str = r#"{"t_us":1,"session_us":1,"head":{"p":[0,1.6,0],"q":[0,0,0,1]},"gaze":[0,0,-1],
        "gaze_on_stimulus":true,"stimulus_angle_deg":0,"state":"running","target_level":1,"applied_level":1,
        "step":1,"safe_blend":0,"frame_ms":11.1,"dropped_frames":0}"#;

    fn telemetry_with(field: &str, value: &str) -> String {
        let mut sample: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        sample[field] = serde_json::from_str(value).unwrap();
        format!(r#"{{"type":"telemetry","seq":1,"samples":[{SAMPLE},{sample}]}}"#)
    }

    #[test]
    fn every_out_of_range_number_is_named() {
        assert_eq!(
            error(&telemetry_with("frame_ms", "1e39")),
            "samples[1].frame_ms: a number beyond 32-bit float range is outside 0 to 60000"
        );
        assert_eq!(
            error(&telemetry_with("frame_ms", "3.4028235e38")),
            "samples[1].frame_ms: 3.4028234663852886e38 is outside 0 to 60000"
        );
        assert_eq!(
            error(&telemetry_with("t_us", "18446744073709551615")),
            "samples[1].t_us: 18446744073709551615 is outside 0 to 9007199254740991"
        );
        assert_eq!(
            error(&telemetry_with("head", r#"{"p":[1e6,0,0],"q":[0,0,0,1]}"#)),
            "samples[1].head.p[0]: 1000000 is outside -100000 to 100000"
        );
        assert_eq!(error(&telemetry_with("heart_rate", "-1")), "samples[1].heart_rate: -1 is outside 0 to 400");
        assert_eq!(error(r#"{"type":"telemetry","seq":0,"samples":[]}"#), "seq: 0 is outside 1 to 9007199254740991");
        assert_eq!(
            error(r#"{"type":"events","seq":2,"events":[{"seq":0,"at_us":18446744073709551615,"type":"x"}]}"#),
            "events[0].at_us: 18446744073709551615 is outside 0 to 9007199254740991"
        );
        assert_eq!(
            error(r#"{"type":"pong","id":1,"console_us":9223372036854775808,"headset_us":0}"#),
            "console_us: 9223372036854775808 is outside 0 to 9007199254740991"
        );
        let b = decode::<BrowserToConsole>(
            r#"{"type":"command","session_id":"s","request_id":1,"command":{"type":"set_level","level":1e300}}"#,
        )
        .unwrap_err();
        assert_eq!(b.message, "command.level: 1e300 is outside 0 to 1000");
    }

    #[test]
    fn the_edges_of_each_range_are_accepted() {
        assert!(decode::<HeadsetToConsole>(&telemetry_with("t_us", "9007199254740991")).is_ok());
        assert!(decode::<HeadsetToConsole>(&telemetry_with("t_us", "0")).is_ok());
        assert!(decode::<HeadsetToConsole>(&telemetry_with("frame_ms", "60000")).is_ok());
        assert!(decode::<HeadsetToConsole>(&telemetry_with("safe_blend", "1")).is_ok());
        assert!(decode::<HeadsetToConsole>(&telemetry_with("stimulus_angle_deg", "180")).is_ok());
    }
}
