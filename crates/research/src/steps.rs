//! The per-step summary: one row per visit to a step, on the recording's
//! session clock (docs/protocol.md §9.1), so a replay that shows session
//! time agrees with it. Every number is defined in docs/research.md.

use scenario::Scenario;
use serde::Serialize;

use crate::course::Course;
use crate::load::{Event, Sample, SessionData};

/// The patient counts as turned away from the stimulus when it lies at
/// least this far from the gaze direction: behind the plane of the face,
/// not merely outside the gaze cone.
pub const TURNED_AWAY_DEG: f64 = 90.0;

/// Length of the windows at the start and end of a visit whose mean
/// stimulus distances give `distance_change_m`.
pub const DISTANCE_WINDOW_US: u64 = 10_000_000;

/// One visit to a step.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Visit {
    /// Step number, from 1.
    pub step: u32,
    /// The step's id.
    pub step_id: String,
    /// The step's title, when the scenario file was at hand.
    pub step_title: Option<String>,
    /// Which visit to this step, from 1, not counting passes behind the
    /// safe scene; `None` for such a pass (`during_safe_scene`).
    pub visit: Option<u32>,
    /// Whether the whole visit was a pass through the step behind the safe
    /// scene: entered while the session was in the safe scene (the engine
    /// eases the level down behind it, entering each lower step on the way)
    /// and left before the session ran again. The patient did not see the
    /// step; the report leaves such visits out.
    pub during_safe_scene: bool,
    /// `seq` of the event that began the visit (`step_entered`).
    pub entered_seq: u64,
    /// `seq` of the event that ended it (`step_left` or the next
    /// `step_entered`); `None` while open. Events in between belong to it.
    pub left_seq: Option<u64>,
    /// Session time of arrival, µs.
    pub entered_us: u64,
    /// Session time of leaving (or of the recording's end), µs.
    pub left_us: u64,
    /// Whether the recording holds the end of the visit (`step_left`, or
    /// the arrival at another step); `false` when it was cut during it.
    pub closed: bool,
    /// Time on the step while running (pauses and safe scene excluded), µs.
    pub time_on_step_us: u64,
    /// First, highest and last SUDS rating during the visit.
    pub suds_first: Option<u8>,
    /// Highest SUDS rating.
    pub suds_peak: Option<u8>,
    /// Last SUDS rating.
    pub suds_final: Option<u8>,
    /// Number of ratings.
    pub suds_ratings: u32,
    /// `suds_peak - suds_final`, SUDS points.
    pub suds_drop: Option<i64>,
    /// `(suds_peak - suds_final) / suds_peak`; none when the peak is 0.
    pub suds_drop_ratio: Option<f64>,
    /// Mean and highest heart rate over the running frames, bpm.
    pub heart_rate_mean: Option<f64>,
    /// Highest heart rate.
    pub heart_rate_max: Option<f64>,
    /// Running frames of the visit.
    pub frames_running: u64,
    /// Share of running frames with the stimulus in the gaze cone.
    pub gaze_on_stimulus_fraction: Option<f64>,
    /// Share of running frames with the stimulus at least
    /// [`TURNED_AWAY_DEG`] from the gaze.
    pub turned_away_fraction: Option<f64>,
    /// Mean stimulus distance over the last 10 s of running frames minus
    /// over the first 10 s, metres; positive when the patient moved away.
    pub distance_change_m: Option<f64>,
    /// Frames per second over the visit: frames / (sum of `frame_ms`).
    pub frame_rate_hz: Option<f64>,
    /// Frames missed against the display's rate, summed.
    pub dropped_frames: u64,
}

/// The visits of a session, in the order they happened.
pub fn visits(data: &SessionData, scenario: Option<&Scenario>) -> Vec<Visit> {
    let scenario = scenario.filter(|s| s.id == data.metadata.scenario_id);
    // Without the scenario file, the titles the headset listed in its hello.
    let listed: Vec<serde_json::Value> = serde_json::from_str(&data.metadata.scenario_steps).unwrap_or_default();
    let title = |step: u32| -> Option<String> {
        let i = (step as usize).checked_sub(1)?;
        match scenario {
            Some(s) => s.steps.get(i).map(|s| s.title.clone()),
            None => listed.get(i)?.get("title")?.as_str().map(str::to_owned),
        }
    };
    let mut visits: Vec<Visit> = Vec::new();
    // Ratings belong to the visit open when they were logged: the log's
    // order decides, so a rating logged at the same time as a step change
    // counts where the engine counted it.
    let mut ratings: Vec<Vec<u8>> = Vec::new();
    // The engine's own time on step, from `step_left`, per visit.
    let mut engine_times: Vec<Option<u64>> = Vec::new();
    let mut open = false;
    // The session's state by the log's order, and whether the open visit
    // has seen it running: a visit entered in the safe scene that never
    // ran is a pass behind it.
    let mut state = "waiting";
    let mut ran = false;
    for event in &data.events {
        match event.kind.as_str() {
            "state_changed" => {
                state = event.text("to").unwrap_or(state);
                ran |= state == "running";
            }
            "step_entered" => {
                if open {
                    close(&mut visits, event, ran);
                }
                let step = event.int("step").and_then(|s| u32::try_from(s).ok()).unwrap_or(0);
                visits.push(Visit {
                    step,
                    step_id: event.text("id").unwrap_or("").to_owned(),
                    step_title: title(step),
                    entered_seq: event.seq,
                    entered_us: event.at_us,
                    during_safe_scene: state == "safe_scene",
                    ..Visit::default()
                });
                ratings.push(Vec::new());
                engine_times.push(None);
                open = true;
                ran = state == "running";
            }
            "step_left" if open => {
                close(&mut visits, event, ran);
                if let Some(slot) = engine_times.last_mut() {
                    *slot = time_on_step(event);
                }
                open = false;
            }
            "suds_recorded" if open => {
                if let (Some(list), Some(value)) = (ratings.last_mut(), event.int("value")) {
                    list.push(u8::try_from(value.clamp(0, 100)).unwrap_or(0));
                }
            }
            _ => {}
        }
    }
    if let Some(last) = visits.last_mut().filter(|_| open) {
        last.left_us = Course::of(data).end_us.max(last.entered_us);
        last.closed = false;
        last.during_safe_scene &= !ran;
    }
    for i in 0..visits.len() {
        let (before, rest) = visits.split_at_mut(i);
        let visit = &mut rest[0];
        let earlier = before.iter().filter(|v| v.step == visit.step && !v.during_safe_scene).count() as u32;
        visit.visit = (!visit.during_safe_scene).then_some(earlier + 1);
    }
    for ((visit, ratings), engine_time) in visits.iter_mut().zip(&ratings).zip(engine_times) {
        fill_suds(visit, ratings);
        let running_us = fill_telemetry(visit, &data.samples);
        visit.time_on_step_us = engine_time.unwrap_or(running_us);
    }
    visits
}

fn time_on_step(event: &Event) -> Option<u64> {
    event.fields.get("stats")?.get("time_on_step_us")?.as_u64()
}

/// Closes the last visit at `event`; `ran`: whether the session ran during it.
fn close(visits: &mut [Visit], event: &Event, ran: bool) {
    if let Some(last) = visits.last_mut() {
        last.left_us = event.at_us.max(last.entered_us);
        last.left_seq = Some(event.seq);
        last.closed = true;
        last.during_safe_scene &= !ran;
    }
}

/// The visit an event belongs to, by the log's order.
pub fn visit_of(visits: &[Visit], seq: u64) -> Option<&Visit> {
    visits.iter().rev().find(|v| v.entered_seq < seq && v.left_seq.is_none_or(|left| seq < left))
}

fn fill_suds(visit: &mut Visit, ratings: &[u8]) {
    visit.suds_ratings = ratings.len() as u32;
    visit.suds_first = ratings.first().copied();
    visit.suds_final = ratings.last().copied();
    visit.suds_peak = ratings.iter().copied().max();
    if let (Some(peak), Some(last)) = (visit.suds_peak, visit.suds_final) {
        visit.suds_drop = Some(i64::from(peak) - i64::from(last));
        visit.suds_drop_ratio = (peak > 0).then(|| (f64::from(peak) - f64::from(last)) / f64::from(peak));
    }
}

/// Fills the numbers that come from telemetry; returns the running time in
/// the visit's frames, µs.
fn fill_telemetry(visit: &mut Visit, samples: &[Sample]) -> u64 {
    let from = samples.partition_point(|s| s.session_us < visit.entered_us);
    // A closed visit is [entered, left); an open one (the recording ends in
    // it) also holds the frame at its end, the last the recording has.
    let to = if visit.closed {
        samples.partition_point(|s| s.session_us < visit.left_us)
    } else {
        samples.partition_point(|s| s.session_us <= visit.left_us)
    };
    let window = &samples[from..to.max(from)];
    let (mut running, mut on, mut away) = (0u64, 0u64, 0u64);
    let (mut hr_sum, mut hr_n, mut hr_max) = (0.0, 0u64, f64::NEG_INFINITY);
    let (mut frame_ms, mut frames, mut dropped) = (0.0, 0u64, 0u64);
    let mut running_us = 0u64;
    for (i, s) in window.iter().enumerate() {
        frames += 1;
        frame_ms += s.frame_ms;
        dropped += u64::from(s.dropped_frames);
        if !s.running() {
            continue;
        }
        running += 1;
        on += u64::from(s.gaze_on_stimulus);
        away += u64::from(s.stimulus_angle_deg >= TURNED_AWAY_DEG);
        if let Some(hr) = s.heart_rate {
            hr_sum += hr;
            hr_n += 1;
            hr_max = f64::max(hr_max, hr);
        }
        let next = window.get(i + 1).map_or(visit.left_us, |n| n.session_us);
        running_us += next.saturating_sub(s.session_us);
    }
    visit.frames_running = running;
    let share = |n: u64| (running > 0).then(|| n as f64 / running as f64);
    visit.gaze_on_stimulus_fraction = share(on);
    visit.turned_away_fraction = share(away);
    visit.heart_rate_mean = (hr_n > 0).then(|| hr_sum / hr_n as f64);
    visit.heart_rate_max = (hr_n > 0).then_some(hr_max);
    visit.frame_rate_hz = (frame_ms > 0.0).then(|| frames as f64 / (frame_ms / 1000.0));
    visit.dropped_frames = dropped;
    visit.distance_change_m = distance_change(window);
    running_us
}

fn distance_change(window: &[Sample]) -> Option<f64> {
    let running: Vec<(u64, f64)> =
        window.iter().filter(|s| s.running()).filter_map(|s| Some((s.session_us, s.stimulus_distance_m?))).collect();
    let (first, last) = (running.first()?.0, running.last()?.0);
    let mean = |keep: &dyn Fn(u64) -> bool| {
        let (sum, n) = running.iter().filter(|(t, _)| keep(*t)).fold((0.0, 0u32), |(s, n), (_, d)| (s + d, n + 1));
        (n > 0).then(|| sum / f64::from(n))
    };
    let start = mean(&|t| t < first + DISTANCE_WINDOW_US)?;
    let end = mean(&|t| t + DISTANCE_WINDOW_US > last)?;
    Some(end - start)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::fixture;

    /// Each visit as `step/visit` (`step/-` for a pass behind the safe scene) and its time on step.
    fn check(data: &SessionData, expect: Expect) {
        let visits: Vec<String> = visits(data, None)
            .iter()
            .map(|v| {
                let visit = v.visit.map_or("-".to_owned(), |n| n.to_string());
                let behind = if v.during_safe_scene { " behind the safe scene" } else { "" };
                format!(
                    "{}/{visit} at {}s for {}s{behind}",
                    v.step,
                    v.entered_us / 1_000_000,
                    v.time_on_step_us / 1_000_000
                )
            })
            .collect();
        expect.assert_eq(&visits.join("\n"));
    }

    #[test]
    fn passes_behind_the_safe_scene_are_marked_and_not_counted_as_visits() {
        check(
            &fixture::session(),
            expect![[r#"
            1/1 at 60s for 70s
            2/1 at 130s for 50s
            3/1 at 210s for 60s
            4/1 at 270s for 20s
            3/- at 292s for 0s behind the safe scene
            2/- at 294s for 0s behind the safe scene
            1/2 at 296s for 60s"#]],
        );
    }

    #[test]
    fn a_session_that_ends_in_the_safe_scene_ends_on_a_pass() {
        let mut data = fixture::session();
        // Stopped in the safe scene instead of resumed.
        let resume = data.events.iter().position(|e| e.kind == "state_changed" && e.at_us == 360_000_000).unwrap();
        data.events.truncate(resume);
        data.samples.truncate(361);
        check(
            &data,
            expect![[r#"
            1/1 at 60s for 70s
            2/1 at 130s for 50s
            3/1 at 210s for 60s
            4/1 at 270s for 20s
            3/- at 292s for 0s behind the safe scene
            2/- at 294s for 0s behind the safe scene
            1/- at 296s for 0s behind the safe scene"#]],
        );
    }
}
