//! What the console remembers of a session for its pages: every event, its
//! own notices, and the telemetry thinned to a few samples a second. A page
//! that subscribes gets it whole (`history`, docs/protocol.md §4.6) before
//! the live messages, so a reload or a reconnect shows what a page open
//! since the start shows. After a restart it is read back from the
//! session's recording parts ([`Memory::from_recordings`]).
//!
//! The avoidance alert is detected here too, once per episode for every
//! page ([`Memory::sample`]): the patient looking away from the stimulus
//! while running for [`AVOIDANCE_S`] or longer.

use std::path::Path;

use protocol::{Notice, NoticeKind, Sample, SessionEvent, SessionState};
use recording::{Channel, Recording};

/// Samples kept before the spacing doubles: bounds a page's `history`
/// (about 350 bytes a sample, under 1 MB) whatever the session's length:
/// 10 minutes at 4 a second, then 2, 1, … a second.
pub(crate) const MAX_SAMPLES: usize = 2400;
/// Spacing of kept samples at first: 4 a second.
pub(crate) const FIRST_SPACING_US: u64 = 250_000;
/// Events kept (a long session logs a few thousand).
const MAX_EVENTS: usize = 50_000;
const MAX_NOTICES: usize = 10_000;
/// Looking away this long while running is an avoidance episode.
pub(crate) const AVOIDANCE_S: f64 = 5.0;

/// One session's memory.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    samples: Vec<Sample>,
    spacing_us: u64,
    /// The newest sample, kept or not: the page's "now".
    latest: Option<Sample>,
    events: Vec<SessionEvent>,
    notices: Vec<Notice>,
    /// Avoidance: since when (session µs) the patient looks away while
    /// running, whether this spell was counted, and episodes so far.
    away_since: Option<u64>,
    counted: bool,
    episodes: u32,
}

impl Memory {
    pub(crate) fn new() -> Memory {
        Memory { spacing_us: FIRST_SPACING_US, ..Memory::default() }
    }

    /// Takes a sample; returns the avoidance notice when this sample makes
    /// an episode. Samples older than the newest (resent after a
    /// reconnect) are left out.
    pub(crate) fn sample(&mut self, sample: &Sample) -> Option<Notice> {
        if self.latest.as_ref().is_some_and(|l| sample.session_us <= l.session_us) {
            return None;
        }
        let keep = match self.samples.last() {
            None => true,
            Some(kept) => {
                sample.session_us >= kept.session_us.saturating_add(self.spacing_us)
                    || changed(kept, sample)
                    || self.latest.as_ref().is_some_and(|l| changed(l, sample))
            }
        };
        if keep {
            // The sample before a change is kept too, so a state or step
            // ends where it ended, not a spacing earlier.
            if let Some(l) = &self.latest
                && changed(l, sample)
                && self.samples.last().is_some_and(|k| k.session_us < l.session_us)
            {
                self.samples.push(l.clone());
            }
            self.samples.push(sample.clone());
            if self.samples.len() > MAX_SAMPLES {
                self.thin();
            }
        }
        self.latest = Some(sample.clone());
        self.avoidance(sample)
    }

    /// Doubles the spacing and drops the samples it no longer keeps.
    fn thin(&mut self) {
        self.spacing_us = self.spacing_us.saturating_mul(2);
        let old = std::mem::take(&mut self.samples);
        let mut prev: Option<&Sample> = None;
        for (i, s) in old.iter().enumerate() {
            let next_changes = old.get(i + 1).is_some_and(|n| changed(s, n));
            let keep = match (self.samples.last(), prev) {
                (None, _) => true,
                (Some(k), Some(p)) => {
                    s.session_us >= k.session_us.saturating_add(self.spacing_us) || changed(p, s) || next_changes
                }
                (Some(_), None) => true,
            };
            if keep {
                self.samples.push(s.clone());
            }
            prev = Some(s);
        }
    }

    fn avoidance(&mut self, sample: &Sample) -> Option<Notice> {
        if sample.gaze_on_stimulus || sample.state != SessionState::Running {
            self.away_since = None;
            self.counted = false;
            return None;
        }
        let since = *self.away_since.get_or_insert(sample.session_us);
        let away_s = sample.session_us.saturating_sub(since) as f64 / 1e6;
        if self.counted || away_s < AVOIDANCE_S {
            return None;
        }
        self.counted = true;
        self.episodes += 1;
        Some(Notice {
            at_us: sample.session_us,
            what: NoticeKind::Avoidance { episode: self.episodes, since_us: since },
        })
    }

    /// Takes an event; false for one already held (resent after a reconnect).
    pub(crate) fn event(&mut self, event: &SessionEvent) -> bool {
        if self.events.last().is_some_and(|last| event.seq <= last.seq) || self.events.len() >= MAX_EVENTS {
            return false;
        }
        self.events.push(event.clone());
        true
    }

    pub(crate) fn notice(&mut self, notice: Notice) {
        if let NoticeKind::Avoidance { episode, .. } = notice.what {
            self.episodes = self.episodes.max(episode);
        }
        if self.notices.len() < MAX_NOTICES {
            self.notices.push(notice);
        }
    }

    /// Session time of the newest sample, µs.
    pub(crate) fn now_us(&self) -> Option<u64> {
        self.latest.as_ref().map(|s| s.session_us)
    }

    /// The newest target level.
    pub(crate) fn target(&self) -> Option<f64> {
        self.latest.as_ref().map(|s| f64::from(s.target_level))
    }

    /// Whether avoidance episode `n` was acknowledged.
    pub(crate) fn acknowledged(&self, n: u32) -> bool {
        self.notices.iter().any(|x| matches!(x.what, NoticeKind::Acknowledged { episode, .. } if episode == n))
    }

    pub(crate) fn episodes(&self) -> u32 {
        self.episodes
    }

    /// The `history` message.
    pub(crate) fn history(&self, session_id: &str) -> protocol::History {
        let mut samples = self.samples.clone();
        if let Some(l) = &self.latest
            && samples.last().is_none_or(|k| k.session_us < l.session_us)
        {
            samples.push(l.clone());
        }
        protocol::History {
            session_id: session_id.to_owned(),
            samples,
            spacing_us: self.spacing_us,
            events: self.events.clone(),
            notices: self.notices.clone(),
        }
    }

    /// A session's memory read back from its recording parts (after a
    /// console restart): the files `<id>.mcap`, `<id>-part2.mcap`, … that
    /// exist, each read up to its end or its first damaged record.
    /// `offset_us` and `epoch_us` place the console's own annotations
    /// without a session time of their own.
    pub(crate) fn from_recordings(dir: &Path, session_id: &str, parts: u32, offset_us: i64, epoch_us: u64) -> Memory {
        let mut memory = Memory::new();
        let session_time = |log_us: u64| {
            let headset = i64::try_from(log_us).unwrap_or(i64::MAX).saturating_add(offset_us);
            u64::try_from(headset).unwrap_or(0).saturating_sub(epoch_us)
        };
        for part in 1..=parts.max(1) {
            let name = recording::parts::file_name(session_id, part);
            let Ok(recording) = Recording::open(&dir.join(&name)) else { continue };
            for m in &recording.messages {
                match m.channel {
                    Channel::Telemetry => {
                        if let Ok(sample) = serde_json::from_slice::<Sample>(&m.data) {
                            memory.sample(&sample);
                        }
                    }
                    Channel::Events => {
                        if let Ok(event) = serde_json::from_slice::<SessionEvent>(&m.data) {
                            memory.event(&event);
                        }
                    }
                    Channel::Commands => {
                        if let Some(notice) = command_notice(&m.data, session_time(m.log_time_us)) {
                            memory.notice(notice);
                        }
                    }
                    Channel::Annotations => {
                        if let Some(notice) = annotation_notice(&m.data, session_time(m.log_time_us)) {
                            memory.notice(notice);
                        }
                    }
                    _ => {}
                }
            }
        }
        // Episodes of an older console counted by the page (markers).
        for e in &memory.events {
            if e.kind == "marker"
                && let Some(n) = e.fields.get("label").and_then(|l| l.as_str()).and_then(episode_of_marker)
            {
                memory.episodes = memory.episodes.max(n);
            }
        }
        memory.notices.sort_by_key(|n| n.at_us);
        memory
    }
}

/// A state or step change between two samples.
fn changed(a: &Sample, b: &Sample) -> bool {
    a.state != b.state || a.step != b.step
}

/// The label of the marker an avoidance episode writes into the session's log.
pub(crate) fn avoidance_marker(episode: u32) -> String {
    format!("avoidance episode {episode}: looked away {AVOIDANCE_S:.0} s or more")
}

fn episode_of_marker(label: &str) -> Option<u32> {
    label.strip_prefix("avoidance episode ")?.split(':').next()?.parse().ok()
}

/// A command the console recorded, as the notice pages saw.
fn command_notice(data: &[u8], fallback_us: u64) -> Option<Notice> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let command = serde_json::from_value(v.get("command")?.clone()).ok()?;
    let by = v.get("by").and_then(|b| b.as_str()).unwrap_or("a page").to_owned();
    let page = v.get("page").and_then(serde_json::Value::as_u64).unwrap_or(0);
    let at_us = v.get("at_us").and_then(serde_json::Value::as_u64).unwrap_or(fallback_us);
    Some(Notice { at_us, what: NoticeKind::Command { page, by, command } })
}

/// A console annotation that pages show: link changes and alerts.
fn annotation_notice(data: &[u8], fallback_us: u64) -> Option<Notice> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let at_us = v.get("at_us").and_then(serde_json::Value::as_u64).unwrap_or(fallback_us);
    let number = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    let what = match v.get("type")?.as_str()? {
        "headset_disconnected" => NoticeKind::HeadsetLeft,
        "headset_reconnected" => NoticeKind::HeadsetBack,
        "avoidance" => NoticeKind::Avoidance {
            episode: u32::try_from(number("episode")?).ok()?,
            since_us: number("since_us").unwrap_or(at_us),
        },
        "alert_acknowledged" => NoticeKind::Acknowledged {
            episode: u32::try_from(number("episode")?).ok()?,
            page: number("page").unwrap_or(0),
            by: v.get("by").and_then(|b| b.as_str()).unwrap_or("a page").to_owned(),
        },
        _ => return None,
    };
    Some(Notice { at_us, what })
}

/// The annotation a notice is recorded as (read back by [`annotation_notice`]).
pub(crate) fn annotation_of(notice: &Notice) -> Option<serde_json::Value> {
    let at_us = notice.at_us;
    Some(match &notice.what {
        NoticeKind::Avoidance { episode, since_us } => serde_json::json!({
            "type": "avoidance", "text": avoidance_marker(*episode), "episode": episode, "since_us": since_us, "at_us": at_us,
        }),
        NoticeKind::Acknowledged { episode, page, by } => serde_json::json!({
            "type": "alert_acknowledged", "text": format!("avoidance episode {episode} acknowledged by {by}"),
            "episode": episode, "page": page, "by": by, "at_us": at_us,
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: u64, state: SessionState, step: u16, gaze: bool) -> Sample {
        let mut s = testkit::sample(t_ms * 1000, state, f32::from(step));
        s.step = step;
        s.gaze_on_stimulus = gaze;
        s
    }

    #[test]
    fn thins_to_its_spacing_but_keeps_every_change_and_the_newest() {
        let mut m = Memory::new();
        // 90 Hz for 20 s; the step changes at 10.000 s.
        for i in 0..1800u64 {
            let t = i * 1000 / 90;
            m.sample(&sample(t, SessionState::Running, if t < 10_000 { 1 } else { 2 }, true));
        }
        let h = m.history("s");
        assert!(h.samples.len() <= 20 * 4 + 4, "{}", h.samples.len());
        let last_of_1 = h.samples.iter().rev().find(|s| s.step == 1).unwrap();
        let first_of_2 = h.samples.iter().find(|s| s.step == 2).unwrap();
        assert!(first_of_2.session_us - last_of_1.session_us < 20_000, "the change is exact to a frame");
        assert_eq!(h.samples.last().unwrap().session_us, 1799 * 1000 / 90 * 1000, "the newest is there");
    }

    #[test]
    fn stays_bounded_however_long_the_session() {
        let mut m = Memory::new();
        for i in 0..(4 * 3600 * 90u64) {
            m.sample(&sample(i * 1000 / 90, SessionState::Running, 1, true));
        }
        let h = m.history("s");
        assert!(h.samples.len() <= MAX_SAMPLES + 1, "{}", h.samples.len());
        assert!(h.spacing_us > FIRST_SPACING_US);
        let gaps = h.samples.windows(2).map(|w| w[1].session_us - w[0].session_us).max().unwrap();
        assert!(gaps <= h.spacing_us * 2, "even spacing: {gaps}");
    }

    #[test]
    fn one_avoidance_notice_per_episode_numbered_on() {
        let mut m = Memory::new();
        let mut notices = Vec::new();
        let mut t = 0;
        for (ms, gaze) in [(3000, true), (7000, false), (2000, true), (4000, false), (1000, true), (6000, false)] {
            for _ in 0..ms / 10 {
                t += 10;
                notices.extend(m.sample(&sample(t, SessionState::Running, 1, gaze)));
            }
        }
        let episodes: Vec<u32> = notices
            .iter()
            .map(|n| match n.what {
                NoticeKind::Avoidance { episode, .. } => episode,
                _ => 0,
            })
            .collect();
        assert_eq!(episodes, [1, 2], "7 s and 6 s away count, 4 s does not");
        // Paused or in the safe scene, looking away is not avoidance.
        for _ in 0..1000 {
            t += 10;
            assert!(m.sample(&sample(t, SessionState::Paused, 1, false)).is_none());
        }
    }

    #[test]
    fn resent_events_and_samples_are_held_once() {
        let mut m = Memory::new();
        let e = |seq| SessionEvent { seq, at_us: seq, kind: "marker".into(), fields: Default::default() };
        assert!(m.event(&e(0)) && m.event(&e(1)));
        assert!(!m.event(&e(1)), "a resent event");
        m.sample(&sample(100, SessionState::Running, 1, true));
        m.sample(&sample(50, SessionState::Running, 1, true));
        assert_eq!(m.history("s").samples.len(), 1);
        assert_eq!(m.history("s").events.len(), 2);
    }

    /// After a restart the memory is read back from the parts: the page's
    /// history, and the episodes counted on (an older console's page
    /// markers too), so the next one is not "episode 1" again.
    #[test]
    fn read_back_from_the_parts_it_counts_on_and_keeps_who_did_what() {
        let dir = std::env::temp_dir().join(format!("trinvis-memory-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let metadata = recording::Metadata::example();
        let mut first = recording::Writer::create(&dir.join("s-1.mcap"), &metadata).unwrap();
        for i in 0..100u64 {
            let json = serde_json::to_vec(&sample(i * 100, SessionState::Running, 1, true)).unwrap();
            first.write(Channel::Telemetry, 1_000_000 + i * 100_000, &json).unwrap();
        }
        let marker = serde_json::json!({"seq": 0, "at_us": 2_000_000, "type": "marker", "label": avoidance_marker(2)});
        first.write(Channel::Events, 3_000_000, marker.to_string().as_bytes()).unwrap();
        let command =
            serde_json::json!({"id": 7, "command": {"type": "next_step"}, "page": 3, "by": "Anna", "at_us": 4_000_000});
        first.write(Channel::Commands, 5_000_000, command.to_string().as_bytes()).unwrap();
        first.finish().unwrap();
        // The second part, cut short (a console killed): read up to the cut.
        let mut second = recording::Writer::create(&dir.join("s-1-part2.mcap"), &metadata).unwrap();
        let alert = annotation_of(&Notice {
            at_us: 9_000_000,
            what: NoticeKind::Avoidance { episode: 3, since_us: 4_000_000 },
        });
        second.write(Channel::Annotations, 12_000_000, alert.unwrap().to_string().as_bytes()).unwrap();
        second.write(Channel::Annotations, 12_500_000, br#"{"type":"headset_disconnected","text":"gone"}"#).unwrap();
        second.flush().unwrap();
        drop(second);
        let mut m = Memory::from_recordings(&dir, "s-1", 2, 0, 0);
        assert_eq!(m.episodes(), 3);
        let h = m.history("s-1");
        assert_eq!(h.events.len(), 1);
        assert!((30..=40).contains(&h.samples.len()), "10 s thinned to 4 a second: {}", h.samples.len());
        let kinds: Vec<&NoticeKind> = h.notices.iter().map(|n| &n.what).collect();
        assert!(
            matches!(kinds[0], NoticeKind::Command { page: 3, by, .. } if by == "Anna"),
            "the page that sent it: {kinds:?}"
        );
        assert!(matches!(kinds[1], NoticeKind::Avoidance { episode: 3, .. }), "{kinds:?}");
        assert_eq!(h.notices[2], Notice { at_us: 12_500_000, what: NoticeKind::HeadsetLeft }, "placed by its log time");
        // The next episode goes on from there.
        let mut next = None;
        for i in 0..700u64 {
            next = next.or(m.sample(&sample(20_000 + i * 10, SessionState::Running, 1, false)));
        }
        assert!(matches!(next.map(|n| n.what), Some(NoticeKind::Avoidance { episode: 4, .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn markers_of_avoidance_name_their_episode() {
        assert_eq!(episode_of_marker(&avoidance_marker(12)), Some(12));
        assert_eq!(episode_of_marker("closer"), None);
    }
}
