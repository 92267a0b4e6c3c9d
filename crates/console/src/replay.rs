//! A recording replayed as if its headset were connected: the timeline
//! (play, pause, speed, seek) and the task that feeds browsers from it.
//!
//! [`Timeline`] is pure: time is passed in as a `Duration` on any monotonic
//! clock, so its tests control time. Positions are session time, µs (the
//! samples' `session_us`, the events' `at_us`), the same clock as
//! `trinvis-headset --replay`.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{
    ConsoleToBrowser, EventBatch, LinkState, REPLAY_SPEEDS, ReplayControl, ReplayStatus, Sample, ScenarioRef,
    SessionEvent, SessionInfo, SessionState, StepInfo, TelemetryBatch, decode,
};
use recording::{Channel, Recording};

use crate::hub::Hub;

/// Telemetry samples sent as history after a subscribe or a seek, at most:
/// enough for a chart as wide as a screen, small enough to arrive at once.
const HISTORY_SAMPLES: usize = 4000;
/// Samples per telemetry message when history is sent.
const HISTORY_BATCH: usize = 500;
/// How often the replay task moves the clock.
const TICK: Duration = Duration::from_millis(20);
/// How often a playing timeline reports its position.
const STATUS_EVERY: Duration = Duration::from_millis(250);

/// Telemetry samples and events, each with its position (µs).
pub type Passed<'a> = (&'a [(u64, Sample)], &'a [(u64, SessionEvent)]);

/// A recording's telemetry and events on a clock that can run, stop, jump
/// and change speed.
#[derive(Debug)]
pub struct Timeline {
    /// The session as the session list shows it.
    pub info: SessionInfo,
    telemetry: Vec<(u64, Sample)>,
    events: Vec<(u64, SessionEvent)>,
    duration_us: u64,
    /// Position at `anchor`.
    anchor_position_us: u64,
    anchor: Duration,
    playing: bool,
    speed: f64,
    generation: u64,
    /// Everything before this position has been sent.
    sent_to_us: u64,
    /// The recording's mirror pictures by position, as browsers take them.
    pictures: Vec<(u64, axum::body::Bytes)>,
}

/// Why a timeline request was refused.
#[derive(Debug, PartialEq)]
pub struct BadSpeed(pub f64);

impl std::fmt::Display for BadSpeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "speed runs from {} to {}, got {}", REPLAY_SPEEDS.start(), REPLAY_SPEEDS.end(), self.0)
    }
}

impl Timeline {
    /// The telemetry and events of `recording`; other channels, and messages
    /// that do not parse, are left out. `file` names it for people.
    pub fn new(recording: &Recording, file: &str) -> Timeline {
        // Positions are session time (samples' `session_us`, events' `at_us`):
        // the clock the page shows and `trinvis-headset --replay` seeks by.
        let (mut telemetry, mut events, mut pictures) = (Vec::new(), Vec::new(), Vec::new());
        for m in &recording.messages {
            if m.channel == Channel::Mirror {
                pictures.extend(recording::image::read(&m.data).and_then(mirror_frame));
                continue;
            }
            let Ok(text) = std::str::from_utf8(&m.data) else { continue };
            match m.channel {
                Channel::Telemetry => telemetry.extend(decode::<Sample>(text).ok().map(|s| (s.session_us, s))),
                Channel::Events => events.extend(decode::<SessionEvent>(text).ok().map(|e| (e.at_us, e))),
                _ => {}
            }
        }
        pictures.sort_by_key(|(at, _)| *at);
        // Resent data after a reconnect arrives late; session time orders it.
        telemetry.sort_by_key(|(at, _)| *at);
        events.sort_by_key(|(at, _)| *at);
        let duration_us = telemetry.last().map_or(0, |t| t.0).max(events.last().map_or(0, |e| e.0));
        let duration_us = duration_us.max(pictures.last().map_or(0, |p: &(u64, Vec<u8>)| p.0));
        let meta = &recording.metadata;
        let steps: Vec<StepInfo> = decode(&meta.scenario_steps).unwrap_or_default();
        let session_id = if meta.session_id.is_empty() { file.to_owned() } else { meta.session_id.clone() };
        let session_id_of_file = session_id.clone();
        let info = SessionInfo {
            session_id,
            headset_id: meta.headset_id.clone(),
            patient_code: meta.patient_code.clone(),
            scenario: ScenarioRef {
                id: meta.scenario_id.clone(),
                version: meta.scenario_version.clone(),
                sha256: meta.scenario_sha256.clone(),
            },
            state: SessionState::Waiting,
            link: LinkState::Disconnected,
            started: meta.started.clone(),
            rtt_us: None,
            recording: file.to_owned(),
            offset_us: Some(meta.clock_offset_us),
            steps,
            proposed_start: None,
            mirror_fps: None,
        };
        Timeline {
            info,
            telemetry,
            events,
            duration_us,
            anchor_position_us: 0,
            anchor: Duration::ZERO,
            playing: false,
            speed: 1.0,
            generation: 0,
            sent_to_us: 0,
            pictures: pictures
                .into_iter()
                .map(|(at, frame)| {
                    (at, axum::body::Bytes::from(protocol::mirror::for_browser(&session_id_of_file, &frame)))
                })
                .collect(),
        }
    }

    /// The mirror picture at the position last advanced to (the latest
    /// recorded at or before it), with its index.
    pub(crate) fn picture(&self) -> Option<(usize, axum::body::Bytes)> {
        let n = self.pictures.partition_point(|(at, _)| *at <= self.sent_to_us);
        n.checked_sub(1).map(|i| (i, self.pictures[i].1.clone()))
    }

    /// Length of the recording, µs.
    pub fn duration_us(&self) -> u64 {
        self.duration_us
    }

    /// Where the clock stands at `now`.
    pub fn position_us(&self, now: Duration) -> u64 {
        if !self.playing {
            return self.anchor_position_us;
        }
        let run = now.saturating_sub(self.anchor).as_secs_f64() * self.speed * 1e6;
        (self.anchor_position_us + run as u64).min(self.duration_us)
    }

    fn reanchor(&mut self, now: Duration) {
        self.anchor_position_us = self.position_us(now);
        self.anchor = now;
    }

    /// Applies a browser's request.
    pub fn control(&mut self, control: &ReplayControl, now: Duration) -> Result<(), BadSpeed> {
        match *control {
            ReplayControl::Play => {
                self.reanchor(now);
                // Play at the end starts again from the beginning.
                if self.anchor_position_us >= self.duration_us {
                    self.seek(0, now);
                }
                self.playing = true;
            }
            ReplayControl::Pause => {
                self.reanchor(now);
                self.playing = false;
            }
            ReplayControl::Seek { position_us } => self.seek(position_us, now),
            ReplayControl::Speed { speed } => {
                if !REPLAY_SPEEDS.contains(&speed) {
                    return Err(BadSpeed(speed));
                }
                self.reanchor(now);
                self.speed = speed;
            }
        }
        Ok(())
    }

    fn seek(&mut self, position_us: u64, now: Duration) {
        self.anchor_position_us = position_us.min(self.duration_us);
        self.anchor = now;
        self.generation += 1;
        self.sent_to_us = self.anchor_position_us;
    }

    /// The timeline's state for browsers.
    pub fn status(&self, now: Duration) -> ReplayStatus {
        ReplayStatus {
            session_id: self.info.session_id.clone(),
            file: self.info.recording.clone(),
            position_us: self.position_us(now),
            duration_us: self.duration_us,
            playing: self.playing,
            speed: self.speed,
            generation: self.generation,
        }
    }

    /// What the clock passed over since the last call: samples and events
    /// with `sent_to < at <= position`. Pauses itself at the end.
    pub fn advance(&mut self, now: Duration) -> Passed<'_> {
        let to = self.position_us(now);
        let from = self.sent_to_us;
        self.sent_to_us = to;
        if self.playing && to >= self.duration_us {
            self.reanchor(now);
            self.playing = false;
        }
        if to <= from {
            return (&[], &[]);
        }
        let t = span(&self.telemetry, from, to);
        let e = span(&self.events, from, to);
        if let Some((_, last)) = self.telemetry[t.clone()].last() {
            self.info.state = last.state;
        }
        (&self.telemetry[t], &self.events[e])
    }

    /// Everything up to the position last advanced to (at the start, or
    /// after a seek: the seek's position): telemetry thinned out to at most
    /// `max_samples` evenly spaced samples (the last one always included),
    /// and every event.
    pub fn history(&self, max_samples: usize) -> (Vec<Sample>, Vec<SessionEvent>) {
        let upto = |at: u64| at <= self.sent_to_us;
        let n = self.telemetry.partition_point(|(at, _)| upto(*at));
        let step = n.div_ceil(max_samples.max(1)).max(1);
        let mut samples: Vec<Sample> = (0..n).step_by(step).map(|i| self.telemetry[i].1.clone()).collect();
        if n > 0 && (n - 1) % step != 0 {
            samples.push(self.telemetry[n - 1].1.clone());
        }
        let m = self.events.partition_point(|(at, _)| upto(*at));
        (samples, self.events[..m].iter().map(|(_, e)| e.clone()).collect())
    }

    /// The session's state at the position last advanced to.
    fn state_at_position(&self) -> Option<SessionState> {
        let n = self.telemetry.partition_point(|(at, _)| *at <= self.sent_to_us);
        n.checked_sub(1).map(|i| self.telemetry[i].1.state)
    }
}

/// A recorded picture as a headset frame again (docs/protocol.md §10.2), at its session time.
fn mirror_frame(picture: recording::image::Picture) -> Option<(u64, Vec<u8>)> {
    let at = picture.session_us?;
    let (width, height) = recording::image::jpeg_size(&picture.jpeg)?;
    let stimulus =
        picture.stimulus.iter().map(|b| protocol::mirror::Rect { x0: b[0], y0: b[1], x1: b[2], y1: b[3] }).collect();
    let header =
        protocol::mirror::FrameHeader { t_us: at, session_us: at, width, height, number: 0, stimulus, xr: false };
    // A picture the console once took passes its own check again, or is left out.
    let frame = header.encode(&picture.jpeg);
    protocol::mirror::Frame::parse(&frame).ok()?;
    Some((at, frame))
}

/// Indices of the items with `from < at <= to` (items sorted by `at`).
fn span<T>(items: &[(u64, T)], from: u64, to: u64) -> Range<usize> {
    let start = items.partition_point(|(at, _)| *at <= from);
    let end = items.partition_point(|(at, _)| *at <= to);
    start..end.max(start)
}

/// The replay's clock: one origin for the whole run.
#[derive(Debug)]
pub(crate) struct Replay {
    pub timeline: std::sync::Mutex<Timeline>,
    origin: Instant,
}

impl Replay {
    pub(crate) fn new(timeline: Timeline) -> Replay {
        Replay { timeline: std::sync::Mutex::new(timeline), origin: Instant::now() }
    }

    pub(crate) fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Timeline> {
        self.timeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The batches of a history, ready to send.
pub(crate) fn history_messages(timeline: &Timeline, seq: &mut u64) -> Vec<ConsoleToBrowser> {
    let (samples, events) = timeline.history(HISTORY_SAMPLES);
    let session_id = &timeline.info.session_id;
    let mut out = Vec::new();
    for chunk in samples.chunks(HISTORY_BATCH) {
        *seq += 1;
        let batch = TelemetryBatch { seq: *seq, samples: chunk.to_vec() };
        out.push(ConsoleToBrowser::Telemetry { session_id: session_id.clone(), batch });
    }
    for chunk in events.chunks(HISTORY_BATCH) {
        *seq += 1;
        let batch = EventBatch { seq: *seq, events: chunk.to_vec() };
        out.push(ConsoleToBrowser::Events { session_id: session_id.clone(), batch });
    }
    out
}

/// Moves the clock and feeds subscribed browsers until the console stops.
pub(crate) async fn run(hub: Arc<Hub>, replay: Arc<Replay>) {
    let mut tick = tokio::time::interval(TICK);
    let mut stop = hub.stop.clone();
    let mut last_status = Instant::now();
    let mut was_playing = false;
    let mut picture_shown = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = replay.now();
        let (messages, status, state, picture) = {
            let mut timeline = replay.lock();
            let mut seq = hub.next_id();
            let session_id = timeline.info.session_id.clone();
            let (samples, events) = timeline.advance(now);
            let mut messages = Vec::new();
            if !samples.is_empty() {
                let batch = TelemetryBatch { seq, samples: samples.iter().map(|(_, s)| s.clone()).collect() };
                messages.push((ConsoleToBrowser::Telemetry { session_id: session_id.clone(), batch }, true));
                seq = hub.next_id();
            }
            if !events.is_empty() {
                let batch = EventBatch { seq, events: events.iter().map(|(_, e)| e.clone()).collect() };
                messages.push((ConsoleToBrowser::Events { session_id: session_id.clone(), batch }, false));
            }
            let playing = timeline.status(now).playing;
            let due = playing && last_status.elapsed() >= STATUS_EVERY || playing != was_playing;
            was_playing = playing;
            (messages, due.then(|| timeline.status(now)), timeline.state_at_position(), timeline.picture())
        };
        let session_id = replay.lock().info.session_id.clone();
        for (message, droppable) in &messages {
            hub.fan_out(&session_id, message, *droppable);
        }
        if let Some(state) = state {
            hub.set_replay_state(&session_id, state);
        }
        // The picture at the playhead, each time another one is due (a seek too).
        if let Some((index, frame)) = picture
            && picture_shown != Some(index)
        {
            picture_shown = Some(index);
            hub.fan_out_frame(&session_id, &frame);
        }
        if let Some(status) = status {
            last_status = Instant::now();
            hub.broadcast(&ConsoleToBrowser::ReplayStatus(status));
        }
    }
}

/// Whether `id` can name a session's files: letters, digits and `-` only
/// (so it never leaves the recordings folder).
pub fn valid_session_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A session's recording, all its parts joined (`<id>.mcap`,
/// `<id>-part2.mcap`, … in `dir`): messages in time order, what two parts
/// hold twice (resent after a reconnect) once. `None` when no part exists.
pub fn join_parts(dir: &std::path::Path, session_id: &str) -> Result<Option<(Recording, usize)>, recording::Error> {
    let first = dir.join(recording::parts::file_name(session_id, 1));
    let files: Vec<std::path::PathBuf> =
        recording::parts::session_files(&first, session_id).into_iter().filter(|f| f.is_file()).collect();
    let mut joined: Option<Recording> = None;
    for file in &files {
        let part = Recording::open(file)?;
        match &mut joined {
            None => joined = Some(part),
            Some(all) => {
                all.complete &= part.complete;
                all.messages.extend(part.messages);
            }
        }
    }
    let Some(mut all) = joined else { return Ok(None) };
    all.messages.sort_by_key(|m| m.log_time_us);
    let (mut seqs, mut times) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    all.messages.retain(|m| {
        let value = || serde_json::from_slice::<serde_json::Value>(&m.data).ok();
        match m.channel {
            Channel::Events => value().and_then(|v| v["seq"].as_u64()).is_none_or(|seq| seqs.insert(seq)),
            Channel::Telemetry => value().and_then(|v| v["session_us"].as_u64()).is_none_or(|t| times.insert(t)),
            _ => true,
        }
    });
    Ok(Some((all, files.len())))
}

#[cfg(test)]
mod tests {
    use recording::{Metadata, Writer};

    use super::*;

    const START: u64 = 1_795_688_100_000_000;

    /// A recording with a sample every 100 ms for 10 s (the step is the
    /// second, from 1) and an event every second.
    fn timeline() -> Timeline {
        let mut file = std::io::Cursor::new(Vec::new());
        let mut metadata = Metadata::example();
        metadata.scenario_steps = r#"[{"id":"a","title":"Step A"}]"#.into();
        let mut writer = Writer::new(&mut file, &metadata).expect("writer");
        for i in 0..=100u64 {
            let mut sample = serde_json::json!({"t_us": i * 100_000, "session_us": i * 100_000,
                "head": {"p": [0, 1.6, 0], "q": [0, 0, 0, 1]}, "gaze": [0, 0, -1], "gaze_on_stimulus": true,
                "stimulus_angle_deg": 0, "state": "running", "target_level": 1, "applied_level": 1,
                "step": 1 + i / 10, "safe_blend": 0, "frame_ms": 11.1, "dropped_frames": 0});
            if i == 100 {
                sample["state"] = "ended".into();
            }
            writer.write(Channel::Telemetry, START + i * 100_000, sample.to_string().as_bytes()).expect("write");
        }
        for i in 0..10u64 {
            let event = serde_json::json!({"seq": i, "at_us": i * 1_000_000 + 50_000, "type": "marker", "label": format!("m{i}")});
            writer.write(Channel::Events, START + i * 1_000_000 + 50_000, event.to_string().as_bytes()).expect("write");
        }
        writer.write(Channel::Annotations, START, br#"{"type":"headset_connected","text":"x"}"#).expect("write");
        writer.finish().expect("finish");
        Timeline::new(&Recording::read(file.get_ref()).expect("read"), "x.mcap")
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn reads_metadata_steps_and_length() {
        let t = timeline();
        assert_eq!(t.duration_us(), 10_000_000);
        assert_eq!(t.info.steps, vec![StepInfo { id: "a".into(), title: "Step A".into() }]);
        assert_eq!(t.info.patient_code, "P-0042");
        assert_eq!((t.telemetry.len(), t.events.len()), (101, 10));
    }

    #[test]
    fn seek_lands_on_the_sample_at_that_position() {
        let mut t = timeline();
        t.control(&ReplayControl::Seek { position_us: 4_250_000 }, secs(1.0)).expect("seek");
        assert_eq!(t.position_us(secs(5.0)), 4_250_000, "paused: the clock stays");
        let (samples, events) = t.history(1000);
        // Samples at 0.0 … 4.2 s, the last one the step-5 sample at 4.2 s.
        assert_eq!(samples.len(), 43);
        assert_eq!(samples.last().map(|s| (s.t_us, s.step)), Some((4_200_000, 5)));
        assert_eq!(events.len(), 5, "markers at 0.05 … 4.05 s");
        // Playing on from there sends what follows the position, nothing before.
        t.control(&ReplayControl::Play, secs(1.0)).expect("play");
        let (samples, _) = t.advance(secs(1.15));
        assert_eq!(samples.iter().map(|(at, _)| *at).collect::<Vec<_>>(), [4_300_000, 4_400_000]);
        assert_eq!(t.status(secs(1.15)).generation, 1);
        // Beyond the end clamps.
        t.control(&ReplayControl::Seek { position_us: 99_000_000 }, secs(2.0)).expect("seek");
        assert_eq!(t.position_us(secs(2.0)), 10_000_000);
    }

    #[test]
    fn speed_scales_time() {
        let mut t = timeline();
        t.control(&ReplayControl::Play, secs(10.0)).expect("play");
        assert_eq!(t.position_us(secs(11.0)), 1_000_000);
        t.control(&ReplayControl::Speed { speed: 4.0 }, secs(11.0)).expect("speed");
        assert_eq!(t.position_us(secs(12.0)), 5_000_000, "1 s at 1x, then 1 s at 4x");
        t.control(&ReplayControl::Speed { speed: 16.0 }, secs(12.0)).expect("speed");
        assert_eq!(t.position_us(secs(12.25)), 9_000_000);
        assert_eq!(t.position_us(secs(13.0)), 10_000_000, "stops at the end");
        t.control(&ReplayControl::Pause, secs(12.1)).expect("pause");
        assert_eq!(t.position_us(secs(20.0)), 6_600_000, "5 s + 0.1 s at 16x");
    }

    #[test]
    fn speeds_outside_1_to_16_are_refused_and_change_nothing() {
        let mut t = timeline();
        let e = t.control(&ReplayControl::Speed { speed: 32.0 }, secs(0.0)).unwrap_err();
        assert_eq!(e.to_string(), "speed runs from 1 to 16, got 32");
        assert!(t.control(&ReplayControl::Speed { speed: 0.5 }, secs(0.0)).is_err());
        assert_eq!(t.status(secs(0.0)).speed, 1.0);
    }

    #[test]
    fn advancing_sends_every_sample_once_and_pauses_at_the_end() {
        let mut t = timeline();
        t.control(&ReplayControl::Speed { speed: 16.0 }, secs(0.0)).expect("speed");
        t.control(&ReplayControl::Play, secs(0.0)).expect("play");
        // The sample at 0 is the history a browser gets when it subscribes.
        assert_eq!(t.history(1000).0.len(), 1);
        let (mut samples, mut events) = (0, 0);
        for i in 0..=100 {
            let (s, e) = t.advance(secs(f64::from(i) * 0.01));
            samples += s.len();
            events += e.len();
        }
        assert_eq!((samples, events), (100, 10));
        assert!(!t.status(secs(2.0)).playing);
        assert_eq!(t.info.state, SessionState::Ended);
    }

    #[test]
    fn history_is_thinned_to_the_limit_and_keeps_the_last_sample() {
        let mut t = timeline();
        t.control(&ReplayControl::Seek { position_us: 10_000_000 }, secs(0.0)).expect("seek");
        let (samples, events) = t.history(10);
        assert!(samples.len() <= 11, "{}", samples.len());
        assert_eq!(samples.last().map(|s| s.t_us), Some(10_000_000));
        assert_eq!(events.len(), 10);
    }
}
