//! The course of a session from the engine's `state_changed` events: when
//! the exposure started and ended, when it was paused and when the patient
//! was in the safe scene, and why. Times are session time, µs.

use crate::load::{Event, SessionData};

/// A stretch of session time.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// Session time it began, µs.
    pub from_us: u64,
    /// Session time it ended (or the session's end, when it lasted to it), µs.
    pub to_us: u64,
    /// Who began it: the `by` of its `state_changed` (`therapist`,
    /// `safety`, `patient`, …), or for the safe scene the `cause` of its
    /// `safe_scene_entered` (`therapist`, `panic`, `link_loss`). Empty when
    /// the recording does not say.
    pub cause: String,
    /// What ended it: the state the session went to (`running`,
    /// `safe_scene`, `paused`, `ended`), or `None` when the recording ends
    /// during it.
    pub until: Option<String>,
}

impl Interval {
    /// Its length, µs.
    pub fn length_us(&self) -> u64 {
        self.to_us.saturating_sub(self.from_us)
    }
}

/// When a session started and ended, and its pauses and safe scenes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Course {
    /// Session time of the first `state_changed` to `running` (the
    /// therapist's start), µs; `None` when the session was not started.
    pub start_us: Option<u64>,
    /// Session time of `state_changed` to `ended`, or, without one, the
    /// last session time the recording holds of the session itself
    /// (events written by the console after the end not counted), µs.
    pub end_us: u64,
    /// Whether the recording holds the end (`state_changed` to `ended`).
    pub ended: bool,
    /// Pauses (`paused`), in order.
    pub pauses: Vec<Interval>,
    /// Times in the safe scene (`safe_scene`), in order.
    pub safe_scenes: Vec<Interval>,
    /// The state after each `state_changed`: (its `seq`, the new state).
    changes: Vec<(u64, String)>,
}

impl Course {
    /// The course of a session.
    pub fn of(data: &SessionData) -> Course {
        let mut course = Course::default();
        let last_sample = data.samples.iter().map(|s| s.session_us).max().unwrap_or(0);
        let last_event = data.events.iter().filter(|e| !after_end(e)).map(|e| e.at_us).max().unwrap_or(0);
        course.end_us = last_sample.max(last_event);
        // The interval the session is in, and whether it is a pause.
        let mut open: Option<(Interval, bool)> = None;
        for (i, event) in data.events.iter().enumerate() {
            if event.kind != "state_changed" {
                continue;
            }
            let Some(to) = event.text("to") else { continue };
            if let Some((mut interval, paused)) = open.take() {
                interval.to_us = event.at_us.max(interval.from_us);
                interval.until = Some(to.to_owned());
                if paused { course.pauses.push(interval) } else { course.safe_scenes.push(interval) }
            }
            course.changes.push((event.seq, to.to_owned()));
            let by = event.text("by").unwrap_or("").to_owned();
            match to {
                "running" => {
                    course.start_us.get_or_insert(event.at_us);
                }
                "paused" => open = Some((Interval { from_us: event.at_us, to_us: 0, cause: by, until: None }, true)),
                "safe_scene" => {
                    // The engine logs why right after the change.
                    let cause = data.events[i + 1..]
                        .iter()
                        .take_while(|e| e.kind != "state_changed")
                        .find(|e| e.kind == "safe_scene_entered")
                        .and_then(|e| e.text("cause"))
                        .unwrap_or("")
                        .to_owned();
                    open = Some((Interval { from_us: event.at_us, to_us: 0, cause, until: None }, false));
                }
                "ended" => {
                    course.end_us = event.at_us;
                    course.ended = true;
                    break;
                }
                _ => {}
            }
        }
        if let Some((mut interval, paused)) = open {
            interval.to_us = course.end_us.max(interval.from_us);
            if paused { course.pauses.push(interval) } else { course.safe_scenes.push(interval) }
        }
        course
    }

    /// Running time from the start to the end, µs (pauses and the safe
    /// scene included); 0 when the session was not started.
    pub fn duration_us(&self) -> u64 {
        self.start_us.map_or(0, |start| self.end_us.saturating_sub(start))
    }

    /// The state the session was in when the event with this `seq` was
    /// logged: `waiting` before the first `state_changed`.
    pub fn state_at(&self, seq: u64) -> &str {
        let i = self.changes.partition_point(|(at, _)| *at < seq);
        i.checked_sub(1).map_or("waiting", |i| self.changes[i].1.as_str())
    }
}

/// Whether the console wrote the event after the session had ended (a
/// note, marker, prediction or outcome given once the headset had left;
/// protocol.md §9): such events carry `"by": "console"`.
pub fn after_end(event: &Event) -> bool {
    event.text("by") == Some("console")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn start_end_pauses_and_safe_scenes() {
        let data = fixture::session();
        let course = Course::of(&data);
        let s = 1_000_000;
        assert_eq!(course.start_us, Some(60 * s));
        assert_eq!((course.end_us, course.ended), (420 * s, true), "notes the console wrote later do not count");
        assert_eq!(course.duration_us(), 360 * s);
        let pause =
            Interval { from_us: 150 * s, to_us: 180 * s, cause: "therapist".into(), until: Some("running".into()) };
        assert_eq!(course.pauses, [pause]);
        let safe = Interval { from_us: 290 * s, to_us: 360 * s, cause: "panic".into(), until: Some("running".into()) };
        assert_eq!(course.safe_scenes, [safe]);
        let state = |at_s: u64| {
            let event = data.events.iter().find(|e| e.at_us >= at_s * s).unwrap();
            course.state_at(event.seq).to_owned()
        };
        assert_eq!(
            [state(10), state(70), state(160), state(300), state(4000)],
            ["waiting", "running", "paused", "safe_scene", "ended"]
        );
    }

    #[test]
    fn without_an_end_the_session_ends_with_the_recording() {
        let mut data = fixture::session();
        data.events.retain(|e| e.at_us < 300_000_000 || after_end(e));
        let course = Course::of(&data);
        assert!(!course.ended);
        assert_eq!(course.end_us, 420_000_000, "the last sample");
        assert_eq!(course.safe_scenes[0].until, None);
        assert_eq!(course.safe_scenes[0].to_us, 420_000_000);
    }
}
