//! A recording's messages parsed into rows: telemetry samples, events,
//! commands, acknowledgements and annotations, each with its console time
//! and its session time.
//!
//! Payloads are parsed into this module's own shapes (docs/protocol.md §9.2)
//! with 64-bit floats, so a value written as `0.0349` is exported as
//! `0.0349`, not as the nearest 32-bit float widened.

use std::collections::BTreeMap;

use recording::{Channel, Metadata, Recording};
use serde::Deserialize;
use serde_json::Value;

/// A pose as recorded: position (m) and orientation quaternion (x, y, z, w).
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct Pose {
    /// Position x, y, z, metres.
    pub p: [f64; 3],
    /// Orientation quaternion x, y, z, w.
    pub q: [f64; 4],
}

/// One telemetry sample (one frame), as recorded on `/telemetry`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Sample {
    /// Console time, µs since the Unix epoch (the message's `log_time`).
    #[serde(skip)]
    pub log_time_us: u64,
    /// Headset monotonic clock, µs.
    pub t_us: u64,
    /// Session time, µs.
    pub session_us: u64,
    /// Head pose.
    pub head: Pose,
    /// Left hand, when tracked.
    #[serde(default)]
    pub left_hand: Option<Pose>,
    /// Right hand, when tracked.
    #[serde(default)]
    pub right_hand: Option<Pose>,
    /// Gaze direction, unit vector.
    pub gaze: [f64; 3],
    /// Whether the stimulus was within the gaze cone.
    pub gaze_on_stimulus: bool,
    /// Angle between gaze and the nearest stimulus, degrees.
    pub stimulus_angle_deg: f64,
    /// Distance from the head to the nearest stimulus, metres.
    #[serde(default)]
    pub stimulus_distance_m: Option<f64>,
    /// Where that stimulus is, metres (x, y, z).
    #[serde(default)]
    pub stimulus_p: Option<[f64; 3]>,
    /// Session state: `waiting`, `running`, `paused`, `safe_scene`, `ended`.
    pub state: String,
    /// Level the session eases toward.
    pub target_level: f64,
    /// Level shown.
    pub applied_level: f64,
    /// Step shown, from 1.
    pub step: u32,
    /// How much the safe scene covers the scenario, 0..1.
    pub safe_blend: f64,
    /// Frame time, ms.
    pub frame_ms: f64,
    /// Frames missed since the previous sample.
    pub dropped_frames: u32,
    /// Heart rate, beats per minute.
    #[serde(default)]
    pub heart_rate: Option<f64>,
}

impl Sample {
    /// Whether the session was running (not waiting, paused, in the safe
    /// scene or ended) in this frame.
    pub fn running(&self) -> bool {
        self.state == "running"
    }
}

/// One session event, as recorded on `/events`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Console time, µs since the Unix epoch.
    pub log_time_us: u64,
    /// Position in the session's log.
    pub seq: u64,
    /// Session time, µs.
    pub at_us: u64,
    /// The kind (`step_entered`, `suds_recorded`, …).
    pub kind: String,
    /// The kind's fields.
    pub fields: BTreeMap<String, Value>,
}

impl Event {
    /// An integer field.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.fields.get(name).and_then(Value::as_i64)
    }

    /// A text field.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

/// A command handed to the headset, as recorded on `/commands`.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRow {
    /// Console time, µs since the Unix epoch.
    pub log_time_us: u64,
    /// The console's id for the command.
    pub id: Option<u64>,
    /// The command's `type` (`set_level`, `request_suds`, …).
    pub kind: String,
    /// The command object as JSON.
    pub json: String,
}

/// An acknowledgement from the headset, as recorded on `/acks`.
#[derive(Clone, Debug, PartialEq)]
pub struct AckRow {
    /// Console time of receipt, µs since the Unix epoch.
    pub log_time_us: u64,
    /// The headset's message sequence number.
    pub seq: Option<u64>,
    /// The command's id.
    pub id: Option<u64>,
    /// Whether the session carried the command out.
    pub ok: Option<bool>,
    /// Why not.
    pub error: Option<String>,
}

/// A console note, as recorded on `/annotations`.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnotationRow {
    /// Console time, µs since the Unix epoch.
    pub log_time_us: u64,
    /// The note's kind (`headset_connected`, `clock`, `gap`, …).
    pub kind: String,
    /// Its text.
    pub text: String,
    /// Other fields, as a JSON object (`{}` when none).
    pub extra_json: String,
}

/// One recording, parsed.
/// One mirror picture: a JPEG of what the patient saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PictureRow {
    /// Console time, µs since the Unix epoch.
    pub log_time_us: u64,
    /// Session time, µs, as the headset stamped it.
    pub session_us: Option<u64>,
    /// The JPEG file.
    pub jpeg: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct SessionData {
    /// The recording's file name, for people and for the `recording` column.
    pub file_name: String,
    /// The session's metadata.
    pub metadata: Metadata,
    /// Whether the file was closed properly; `false` for a recording cut
    /// short, which holds what was written up to its last complete chunk.
    pub complete: bool,
    /// Why reading stopped early, for a cut file.
    pub cut: Option<String>,
    /// Telemetry in console-time order.
    pub samples: Vec<Sample>,
    /// Events in log order (`seq`).
    pub events: Vec<Event>,
    /// Commands in console-time order.
    pub commands: Vec<CommandRow>,
    /// Acknowledgements in console-time order.
    pub acks: Vec<AckRow>,
    /// Annotations in console-time order.
    pub annotations: Vec<AnnotationRow>,
    /// Mirror pictures (what the patient saw) in console-time order.
    pub pictures: Vec<PictureRow>,
    /// Messages whose payload was not the JSON this version understands,
    /// per channel topic; they are left out of every table.
    pub unreadable: BTreeMap<&'static str, usize>,
}

impl SessionData {
    /// Parses every message of a recording.
    pub fn from_recording(recording: &Recording, file_name: &str) -> SessionData {
        let mut data = SessionData {
            file_name: file_name.to_owned(),
            metadata: recording.metadata.clone(),
            complete: recording.complete,
            cut: recording.cut.clone(),
            samples: Vec::with_capacity(recording.messages.len()),
            events: Vec::new(),
            commands: Vec::new(),
            acks: Vec::new(),
            annotations: Vec::new(),
            pictures: Vec::new(),
            unreadable: BTreeMap::new(),
        };
        // Telemetry is nearly all of a recording: parse it on every core.
        let telemetry: Vec<&recording::Message> = recording.channel(Channel::Telemetry).collect();
        for sample in parse_samples(&telemetry) {
            match sample {
                Some(sample) => data.samples.push(sample),
                None => *data.unreadable.entry(Channel::Telemetry.topic()).or_default() += 1,
            }
        }
        for message in recording.messages.iter().filter(|m| m.channel != Channel::Telemetry) {
            let t = message.log_time_us;
            let parsed = match message.channel {
                Channel::Telemetry => true, // parsed above
                Channel::Events => parse_event(t, &message.data).map(|e| data.events.push(e)).is_some(),
                Channel::Commands => parse_command(t, &message.data).map(|c| data.commands.push(c)).is_some(),
                Channel::Acks => parse_ack(t, &message.data).map(|a| data.acks.push(a)).is_some(),
                Channel::Annotations => parse_annotation(t, &message.data).map(|a| data.annotations.push(a)).is_some(),
                Channel::Mirror => recording::image::read(&message.data)
                    .filter(|p| p.format == "jpeg")
                    .map(|p| data.pictures.push(PictureRow { log_time_us: t, session_us: p.session_us, jpeg: p.jpeg }))
                    .is_some(),
            };
            if !parsed {
                *data.unreadable.entry(message.channel.topic()).or_default() += 1;
            }
        }
        // The log's own order; a resent batch may arrive after later telemetry.
        data.events.sort_by_key(|e| e.seq);
        data
    }

    /// Session time of a console time, µs: from the nearest telemetry sample
    /// at or before it (the first sample for earlier times), adding the
    /// console time elapsed since. Session time runs with the wall clock
    /// (pauses included), so this is exact up to the clock-offset estimate.
    /// Without telemetry, the first event is the reference. `None` when the
    /// recording has neither.
    pub fn session_us_at(&self, log_time_us: u64) -> Option<i64> {
        let (log, session) = if self.samples.is_empty() {
            let e = self.events.iter().min_by_key(|e| e.log_time_us)?;
            (e.log_time_us, e.at_us)
        } else {
            let i = self.samples.partition_point(|s| s.log_time_us <= log_time_us).saturating_sub(1);
            (self.samples[i].log_time_us, self.samples[i].session_us)
        };
        Some(session as i64 + (log_time_us as i64 - log as i64))
    }

    /// The last session time the recording knows of, µs.
    pub fn end_us(&self) -> u64 {
        let last_sample = self.samples.iter().map(|s| s.session_us).max().unwrap_or(0);
        let last_event = self.events.iter().map(|e| e.at_us).max().unwrap_or(0);
        last_sample.max(last_event)
    }

    /// Messages that were left out, in words, or `None`.
    pub fn unreadable_note(&self) -> Option<String> {
        if self.unreadable.is_empty() {
            return None;
        }
        let parts: Vec<String> = self.unreadable.iter().map(|(topic, n)| format!("{n} on {topic}")).collect();
        Some(format!("left out unreadable messages: {}", parts.join(", ")))
    }
}

/// Samples in the order given; `None` for one that does not parse.
fn parse_samples(messages: &[&recording::Message]) -> Vec<Option<Sample>> {
    let parse = |m: &&recording::Message| {
        serde_json::from_slice::<Sample>(&m.data).ok().map(|s| Sample { log_time_us: m.log_time_us, ..s })
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    if threads < 2 || messages.len() < 10_000 {
        return messages.iter().map(parse).collect();
    }
    let per_thread = messages.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = messages
            .chunks(per_thread)
            .map(|part| scope.spawn(move || part.iter().map(parse).collect::<Vec<_>>()))
            .collect();
        // A parse cannot panic; were a thread to, its samples count as unreadable.
        parts
            .into_iter()
            .zip(messages.chunks(per_thread))
            .flat_map(|(handle, part)| handle.join().unwrap_or_else(|_| vec![None; part.len()]))
            .collect()
    })
}

fn parse_event(log_time_us: u64, data: &[u8]) -> Option<Event> {
    let Value::Object(mut map) = serde_json::from_slice(data).ok()? else { return None };
    let seq = map.remove("seq")?.as_u64()?;
    let at_us = map.remove("at_us")?.as_u64()?;
    let kind = map.remove("type")?.as_str()?.to_owned();
    Some(Event { log_time_us, seq, at_us, kind, fields: map.into_iter().collect() })
}

fn parse_command(log_time_us: u64, data: &[u8]) -> Option<CommandRow> {
    let value: Value = serde_json::from_slice(data).ok()?;
    let command = value.get("command")?;
    Some(CommandRow {
        log_time_us,
        id: value.get("id").and_then(Value::as_u64),
        kind: command.get("type").and_then(Value::as_str).unwrap_or("").to_owned(),
        json: command.to_string(),
    })
}

fn parse_ack(log_time_us: u64, data: &[u8]) -> Option<AckRow> {
    let value: Value = serde_json::from_slice(data).ok()?;
    value.as_object()?;
    Some(AckRow {
        log_time_us,
        seq: value.get("seq").and_then(Value::as_u64),
        id: value.get("id").and_then(Value::as_u64),
        ok: value.get("ok").and_then(Value::as_bool),
        error: value.get("error").and_then(Value::as_str).map(str::to_owned),
    })
}

fn parse_annotation(log_time_us: u64, data: &[u8]) -> Option<AnnotationRow> {
    let Value::Object(mut map) = serde_json::from_slice(data).ok()? else { return None };
    let kind = map.remove("type").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let text = map.remove("text").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    Some(AnnotationRow { log_time_us, kind, text, extra_json: Value::Object(map).to_string() })
}

impl SessionData {
    /// One session from the recordings that hold it: the parts a console
    /// writes when a session resumes after a restart (`<id>.mcap`,
    /// `<id>-part2.mcap`, …), and copies such as `trinvis recover`'s. What
    /// several files hold twice counts once: samples by session time,
    /// events by their place in the session's log, acknowledgements by the
    /// headset's sequence number, and identical commands and annotations.
    /// Parts are taken in the order they began; the first names the
    /// session (`file_name`, metadata). `None` for no parts.
    pub fn merge(mut parts: Vec<SessionData>) -> Option<SessionData> {
        parts.sort_by_key(|p| (p.metadata.started_unix_us, p.file_name.clone()));
        let mut parts = parts.into_iter();
        let mut whole = parts.next()?;
        for part in parts {
            whole.complete &= part.complete;
            if whole.cut.is_none() {
                whole.cut = part.cut.map(|why| format!("{}: {why}", part.file_name));
            }
            whole.samples.extend(part.samples);
            whole.events.extend(part.events);
            whole.commands.extend(part.commands);
            whole.acks.extend(part.acks);
            whole.annotations.extend(part.annotations);
            whole.pictures.extend(part.pictures);
            for (topic, n) in part.unreadable {
                *whole.unreadable.entry(topic).or_default() += n;
            }
        }
        whole.samples.sort_by_key(|s| (s.session_us, s.log_time_us));
        whole.samples.dedup_by_key(|s| s.session_us);
        whole.samples.sort_by_key(|s| s.log_time_us);
        whole.events.sort_by_key(|e| e.seq);
        whole.events.dedup_by_key(|e| e.seq);
        whole.commands.sort_by(|a, b| (a.log_time_us, &a.json).cmp(&(b.log_time_us, &b.json)));
        whole.commands.dedup();
        whole.acks.sort_by_key(|a| (a.seq, a.log_time_us));
        whole.acks.dedup_by(|b, a| a.seq.is_some() && a.seq == b.seq);
        whole.acks.sort_by_key(|a| a.log_time_us);
        whole.annotations.sort_by(|a, b| (a.log_time_us, &a.kind, &a.text).cmp(&(b.log_time_us, &b.kind, &b.text)));
        whole.annotations.dedup();
        whole.pictures.sort_by_key(|p| p.log_time_us);
        whole.pictures.dedup_by_key(|p| p.log_time_us);
        Some(whole)
    }
}
