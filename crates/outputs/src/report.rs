//! A session report for the patient's record: one self-contained HTML
//! page (inline SVG plots drawn with plotters, inline CSS, nothing
//! fetched) that prints well. The body is written for clinicians: who
//! (pseudonym), what, when, a summary in plain words, the course of the
//! session with its pauses and safe scenes, a row per step visit with the
//! patient's predictions and outcomes, and the notes and markers. Technical
//! details and how each number is computed close it, in an appendix.

use std::fmt::Write as _;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use scenario::Scenario;

use research::course::{Course, Interval, after_end};
use research::load::{Event, SessionData};
use research::steps::{TURNED_AWAY_DEG, Visit, visit_of};

const WIDTH: u32 = 960;
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 120, 20);
const RED_: RGBColor = RGBColor(200, 40, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);
const GREEN_: RGBColor = RGBColor(44, 160, 44);
const PAUSE: RGBColor = RGBColor(90, 110, 200);

/// The report page for a session and its visits.
pub fn html(data: &SessionData, visits: &[Visit], scenario: Option<&Scenario>) -> String {
    let report = Report::of(data, visits, scenario.filter(|s| s.id == data.metadata.scenario_id));
    let m = &data.metadata;
    let mut figures = 0;
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Session report {code} {date}</title><style>{CSS}</style></head><body>\n",
        code = escape(&m.patient_code),
        date = escape(&date(&m.started)),
    );
    page += &header(&report);
    let _ = write!(page, "<h2>Summary</h2>\n<p class=\"summary\">{}</p>\n", escape(&summary(&report)));
    page += "<h2>Course of the session</h2>\n";
    page += &figure(
        &mut figures,
        timeline(&report),
        "Distress (SUDS, blue, left axis) and heart rate (red, right axis) over session time. Grey bands are the \
         steps (number at the top), blue bands pauses, orange bands the safe scene; green lines are notes and \
         markers, numbered as in the list of notes and markers; red lines are presses of the panic button",
    );
    page += &intervals(&report);
    page += &what_the_patient_saw(&report);
    page += "<h2>Steps</h2>\n";
    page += &steps_table(&report);
    page += &figure(
        &mut figures,
        peak_final(&report.seen),
        "Peak (orange) and final (blue) SUDS on each step, and the drop from peak to final",
    );
    page += &figure(
        &mut figures,
        time_on_step(&report.seen),
        "Time on each step while running (pauses and the safe scene not counted)",
    );
    page += &figure(
        &mut figures,
        gaze(&report.seen),
        "Where the patient looked on each step: share of running time with the feared stimulus in view (green), \
         and turned away from it (red)",
    );
    page += &entries(&report);
    page += &appendix(&report, &mut figures);
    page += "</body></html>\n";
    page
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
h1{margin-bottom:0}.sub{font-size:1.2em;color:#555;margin-top:.2em}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}\
.summary{font-size:1.1em;line-height:1.5}figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}\
svg{max-width:100%;height:auto}\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1em}\
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:right;vertical-align:top}\
th{vertical-align:bottom}td:not(.t){white-space:nowrap}th.t,td.t{text-align:left}.none{color:#555}\
.strip{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:.6em;margin:.5em 0 1em}\
.strip figure{margin:0}.strip img{width:100%;display:block;border-radius:4px;background:#222}\
.strip figcaption{font-size:.8em}\
.appendix{margin-top:3em;border-top:2px solid #999;padding-top:1em}.tech{font-size:.85em;color:#444}\
@media print{body{max-width:none;margin:0}figure,tr{break-inside:avoid}h2,h3{break-after:avoid}\
.appendix{break-before:page;border-top:none}}";

/// What the report shows, worked out once.
struct Report<'a> {
    data: &'a SessionData,
    scenario_title: String,
    /// Steps in the scenario, when the scenario file or the metadata says.
    step_count: Option<usize>,
    course: Course,
    /// Every visit, passes behind the safe scene included (the appendix).
    visits: &'a [Visit],
    /// The visits the patient saw: passes behind the safe scene left out.
    seen: Vec<&'a Visit>,
    /// Per visit in `seen`: the predictions and the outcomes given for it.
    predictions: Vec<Vec<&'a Event>>,
    outcomes: Vec<Vec<&'a Event>>,
    /// Notes and markers, and predictions and outcomes for a step no seen
    /// visit went to, in log order: numbered from 1 in the report.
    entries: Vec<&'a Event>,
}

impl<'a> Report<'a> {
    fn of(data: &'a SessionData, visits: &'a [Visit], scenario: Option<&Scenario>) -> Report<'a> {
        let m = &data.metadata;
        let listed: Vec<serde_json::Value> = serde_json::from_str(&m.scenario_steps).unwrap_or_default();
        let seen: Vec<&Visit> = visits.iter().filter(|v| !v.during_safe_scene).collect();
        let mut predictions = vec![Vec::new(); seen.len()];
        let mut outcomes = vec![Vec::new(); seen.len()];
        let mut entries = Vec::new();
        for event in &data.events {
            let slots = match event.kind.as_str() {
                "prediction" => &mut predictions,
                "outcome" => &mut outcomes,
                "note" | "marker" => {
                    entries.push(event);
                    continue;
                }
                _ => continue,
            };
            // The step it names: the visit open when it was given, else the
            // latest visit to that step before it, else the step's first.
            let step = event.int("step");
            let of_step = |v: &&Visit| Some(i64::from(v.step)) == step;
            let at = seen
                .iter()
                .rposition(|v| of_step(v) && v.entered_seq < event.seq)
                .or_else(|| seen.iter().position(of_step));
            match at {
                Some(i) => slots[i].push(event),
                None => entries.push(event),
            }
        }
        Report {
            data,
            scenario_title: scenario.map_or_else(|| m.scenario_id.clone(), |s| s.title.clone()),
            step_count: scenario.map(Scenario::step_count).or((!listed.is_empty()).then_some(listed.len())),
            course: Course::of(data),
            visits,
            seen,
            predictions,
            outcomes,
            entries,
        }
    }

    /// When an event happened, in words: the step, or the state.
    fn during(&self, event: &Event) -> String {
        if after_end(event) {
            return "after the end".to_owned();
        }
        let step = || visit_of(self.visits, event.seq).map_or(String::new(), |v| format!("step {}", v.step));
        match self.course.state_at(event.seq) {
            "waiting" => "before the start".to_owned(),
            "ended" => "after the end".to_owned(),
            "safe_scene" => "in the safe scene".to_owned(),
            "paused" => format!("{}, paused", step()),
            _ => step(),
        }
    }
}

fn header(r: &Report) -> String {
    let m = &r.data.metadata;
    let duration = match r.course.start_us {
        Some(start) => format!(
            "{} from the start to the {}{}",
            clock_us(r.course.duration_us()),
            if r.course.ended { "end" } else { "end of the recording" },
            if start > 0 { format!(" (waited {} before the start)", clock_us(start)) } else { String::new() }
        ),
        None => format!("not started (waited {})", clock_us(r.course.end_us)),
    };
    let cut = if r.data.complete {
        String::new()
    } else {
        "<dt>Note</dt><dd><strong>The recording was cut short: the report covers what it holds.</strong></dd>"
            .to_owned()
    };
    format!(
        "<h1>Exposure session report</h1>\n<p class=\"sub\">{title}</p>\n<dl>\
         <dt>Patient code</dt><dd>{code}</dd><dt>Scenario</dt><dd>{title} ({sid}, version {version})</dd>\
         <dt>Date</dt><dd>{date}</dd><dt>Duration</dt><dd>{duration}</dd>{cut}</dl>\n",
        title = escape(&r.scenario_title),
        code = escape(&m.patient_code),
        sid = escape(&m.scenario_id),
        version = escape(&m.scenario_version),
        date = escape(&date(&m.started)),
        duration = escape(&duration),
    )
}

/// Most pictures in the strip of what the patient saw.
const MOMENTS: usize = 24;

/// The recorded mirror pictures nearest the moments that matter: each
/// step entered, each note and marker, and the highest SUDS rating. A
/// picture counts for a moment within 3 s of it.
fn what_the_patient_saw(r: &Report) -> String {
    let pictures = &r.data.pictures;
    if pictures.is_empty() {
        return String::new();
    }
    let mut moments: Vec<(u64, String)> = Vec::new();
    for e in &r.data.events {
        let what = match e.kind.as_str() {
            "step_entered" if r.course.state_at(e.seq) != "safe_scene" => {
                format!("step {} entered", e.int("step").unwrap_or(0))
            }
            "marker" => format!("marker “{}”", e.text("label").unwrap_or("")),
            "note" => format!("note “{}”", e.text("text").unwrap_or("")),
            _ => continue,
        };
        moments.push((e.at_us, what));
    }
    let peak = r
        .data
        .events
        .iter()
        .filter(|e| e.kind == "suds_recorded")
        .max_by_key(|e| (e.int("value"), std::cmp::Reverse(e.seq)));
    if let Some(peak) = peak {
        moments.push((peak.at_us, format!("highest SUDS, {}", peak.int("value").unwrap_or(0))));
    }
    moments.sort_by_key(|(at, _)| *at);
    let mut shown = String::new();
    let mut used = std::collections::BTreeSet::new();
    for (at, what) in moments {
        let nearest = pictures
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.session_us.map(|t| (i, t.abs_diff(at))))
            .min_by_key(|(_, d)| *d)
            .filter(|(_, d)| *d <= 3_000_000);
        let Some((i, _)) = nearest else { continue };
        if !used.insert(i) || used.len() > MOMENTS {
            continue;
        }
        let picture = &pictures[i];
        let mut data = Vec::new();
        recording::image::encode_base64(&picture.jpeg, &mut data);
        let _ = writeln!(
            shown,
            "<figure><img alt=\"the patient's view at {t}\" src=\"data:image/jpeg;base64,{data}\">\
             <figcaption>{t} · {what}</figcaption></figure>",
            t = clock_us(picture.session_us.unwrap_or(0)),
            data = String::from_utf8_lossy(&data),
            what = escape(&what),
        );
    }
    if shown.is_empty() {
        return String::new();
    }
    format!(
        "<h3>What the patient saw</h3>\n<p class=\"tech\">Pictures of the patient's view recorded by the console \
         (one a second at most), nearest to each step entered, each note and marker, and the highest rating.</p>\n\
         <div class=\"strip\">\n{shown}</div>\n"
    )
}

/// The summary in plain words (to be escaped).
fn summary(r: &Report) -> String {
    let data = r.data;
    let m = &data.metadata;
    let mut s = format!(
        "Patient {} had an exposure session with the scenario “{}” on {}.",
        m.patient_code,
        r.scenario_title,
        date(&m.started)
    );
    match r.course.start_us {
        Some(start) => {
            let _ = write!(s, " The exposure lasted {} from the start", clock_us(r.course.duration_us()));
            if start > 0 {
                let _ = write!(s, " (the patient waited {} before it)", clock_us(start));
            }
        }
        None => {
            let _ = write!(s, " The session was not started (the patient waited {})", clock_us(r.course.end_us));
        }
    }
    match r.seen.iter().max_by_key(|v| v.step) {
        Some(highest) => {
            let of = r.step_count.map_or(String::new(), |n| format!(" of {n}"));
            let title = highest.step_title.as_ref().map_or(String::new(), |t| format!(" ({t})"));
            let _ = write!(s, " and went up to step {}{of}{title}.", highest.step);
        }
        None => s += "; no step was reached.",
    }
    let ratings = data.events.iter().filter(|e| e.kind == "suds_recorded").count();
    let per_step: Vec<String> = step_suds(&r.seen)
        .into_iter()
        .filter_map(|(step, peak, last)| Some(format!("step {step} {} → {}", peak?, last?)))
        .collect();
    if ratings == 0 {
        s += " No distress ratings were given.";
    } else {
        let _ = write!(s, " Distress (SUDS, 0 = calm, 100 = worst) was rated {}", times(ratings));
        if per_step.is_empty() {
            s += ".";
        } else {
            let halved = step_suds(&r.seen)
                .into_iter()
                .filter(|(_, peak, last)| matches!((peak, last), (Some(p), Some(l)) if *p > 0 && 2 * l <= *p))
                .count();
            let _ = write!(
                s,
                "; peak → final on each step: {}. Distress fell by at least half from its peak on {halved} of {} rated steps.",
                per_step.join(", "),
                per_step.len()
            );
        }
    }
    s += &safe_scenes(&r.course.safe_scenes);
    s += &match r.course.pauses.as_slice() {
        [] => " The session was not paused.".to_owned(),
        pauses => format!(
            " The session was paused {} ({} in all).",
            times(pauses.len()),
            clock_us(pauses.iter().map(Interval::length_us).sum())
        ),
    };
    let panics = data.events.iter().filter(|e| e.kind == "panic").count();
    s += &match panics {
        0 => " The panic button was not pressed.".to_owned(),
        n => format!(" The panic button was pressed {}.", times(n)),
    };
    let baseline =
        data.events.iter().find(|e| e.kind == "heart_rate_baseline").and_then(|e| e.fields.get("bpm")?.as_f64());
    let (hr_sum, hr_n) = r
        .seen
        .iter()
        .filter_map(|v| Some((v.heart_rate_mean? * v.frames_running as f64, v.frames_running)))
        .fold((0.0, 0u64), |(a, b), (x, n)| (a + x, b + n));
    if hr_n > 0 {
        let _ = write!(s, " Heart rate averaged {:.0} beats per minute during the exposure", hr_sum / hr_n as f64);
        s += &baseline.map_or(".".to_owned(), |b| format!(" (at rest before it: {b:.0})."));
    }
    let running: u64 = r.seen.iter().map(|v| v.frames_running).sum();
    if running > 0 {
        let weighted = |f: fn(&Visit) -> Option<f64>| {
            r.seen.iter().filter_map(|v| Some(f(v)? * v.frames_running as f64)).sum::<f64>() / running as f64
        };
        let _ = write!(
            s,
            " The feared stimulus was in view {:.0} % of the time and the patient was turned away from it {:.0} % of the time.",
            100.0 * weighted(|v| v.gaze_on_stimulus_fraction),
            100.0 * weighted(|v| v.turned_away_fraction)
        );
    }
    let written = |kind: &str, one: &str, many: &str| {
        let all: Vec<&Event> = data.events.iter().filter(|e| e.kind == kind).collect();
        let late = all.iter().filter(|e| after_end(e)).count();
        let mut text = count(all.len(), one, many);
        if late > 0 {
            let _ = write!(text, " ({late} added after the end)");
        }
        text
    };
    let _ = write!(
        s,
        " The record holds {}, {}, {} and {}.",
        written("note", "note", "notes"),
        written("marker", "marker", "markers"),
        written("prediction", "prediction", "predictions"),
        written("outcome", "outcome", "outcomes"),
    );
    s
}

/// The safe scene in a sentence, with its causes.
fn safe_scenes(safe: &[Interval]) -> String {
    if safe.is_empty() {
        return " The safe scene was not used.".to_owned();
    }
    let mut causes: Vec<(&str, usize)> = Vec::new();
    for interval in safe {
        let cause = cause_of_safe_scene(&interval.cause);
        match causes.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, n)) => *n += 1,
            None => causes.push((cause, 1)),
        }
    }
    let causes: Vec<String> = causes
        .into_iter()
        .map(|(cause, n)| if safe.len() == 1 { cause.to_owned() } else { format!("{cause} {}", times(n)) })
        .collect();
    format!(
        " The patient went to the safe scene {} ({}), {} in all.",
        times(safe.len()),
        causes.join(", "),
        clock_us(safe.iter().map(Interval::length_us).sum())
    )
}

fn cause_of_safe_scene(cause: &str) -> &str {
    match cause {
        "therapist" => "by the therapist",
        "panic" => "after the panic button",
        "link_loss" => "when the headset lost the console",
        "" => "cause not recorded",
        other => other,
    }
}

fn cause_of_pause(by: &str) -> &str {
    match by {
        "therapist" => "by the therapist",
        "safety" => "the headset lost focus (taken off, or its menu opened)",
        "" => "cause not recorded",
        other => other,
    }
}

/// The pauses and the times in the safe scene, as a table.
fn intervals(r: &Report) -> String {
    let mut rows: Vec<(&str, &Interval, &str)> = Vec::new();
    rows.extend(r.course.pauses.iter().map(|i| ("pause", i, cause_of_pause(&i.cause))));
    rows.extend(r.course.safe_scenes.iter().map(|i| ("safe scene", i, cause_of_safe_scene(&i.cause))));
    rows.sort_by_key(|(_, i, _)| i.from_us);
    if rows.is_empty() {
        return "<h3>Pauses and the safe scene</h3>\n<p class=\"none\">None: the session was neither paused nor \
                in the safe scene.</p>\n"
            .to_owned();
    }
    let mut t = String::from(
        "<h3>Pauses and the safe scene</h3>\n<table><tr><th class=\"t\">what</th><th>from</th><th>to</th>\
         <th>length</th><th class=\"t\">cause</th><th class=\"t\">then</th></tr>\n",
    );
    for (what, interval, cause) in rows {
        let then = match interval.until.as_deref() {
            Some("running") => "resumed",
            Some("ended") => "the session ended",
            Some("safe_scene") => "the safe scene",
            Some("paused") => "paused",
            Some(other) => other,
            None => "the recording ends",
        };
        let _ = writeln!(
            t,
            "<tr class=\"interval\"><td class=\"t\">{what}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td>\
             <td class=\"t\">{}</td></tr>",
            clock_us(interval.from_us),
            clock_us(interval.to_us),
            clock_us(interval.length_us()),
            escape(cause),
            escape(then),
        );
    }
    t + "</table>\n"
}

fn steps_table(r: &Report) -> String {
    if r.seen.is_empty() {
        return "<p class=\"none\">No step was reached.</p>\n".to_owned();
    }
    let mut t = String::from(
        "<table><tr><th>step</th><th class=\"t\">title</th><th>visit</th><th>entered</th><th>time on step</th>\
         <th>SUDS first</th><th>peak</th><th>final</th><th>drop</th><th>heart rate mean / max</th>\
         <th>in view / turned away</th><th class=\"t\">prediction</th><th class=\"t\">outcome</th></tr>\n",
    );
    let pct = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{:.0} %", 100.0 * x));
    let num = |x: Option<u8>| x.map_or("–".to_owned(), |x| x.to_string());
    let texts = |events: &[&Event]| {
        if events.is_empty() {
            return "–".to_owned();
        }
        let texts: Vec<String> = events
            .iter()
            .map(|e| {
                let text = escape(e.text("text").unwrap_or(""));
                if after_end(e) { format!("{text} <em>(after the end)</em>") } else { text }
            })
            .collect();
        texts.join("<br>")
    };
    for (i, v) in r.seen.iter().enumerate() {
        let _ = writeln!(
            t,
            "<tr class=\"visit\"><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>",
            v.step,
            escape(v.step_title.as_deref().unwrap_or(&v.step_id)),
            v.visit.map_or("–".to_owned(), |n| n.to_string()),
            clock_us(v.entered_us),
            clock_us(v.time_on_step_us) + if v.closed { "" } else { " (cut)" },
            num(v.suds_first),
            num(v.suds_peak),
            num(v.suds_final),
            match (v.suds_peak, v.suds_final) {
                (Some(peak), Some(last)) if peak == last => "no drop".to_owned(),
                (Some(peak), Some(last)) => match v.suds_drop_ratio {
                    Some(ratio) if peak > last => format!("{} ({:.0} %)", peak - last, 100.0 * ratio),
                    _ => change(peak, last),
                },
                _ => "–".to_owned(),
            },
            match (v.heart_rate_mean, v.heart_rate_max) {
                (Some(a), Some(b)) => format!("{a:.0} / {b:.0}"),
                _ => "–".to_owned(),
            },
            pct(v.gaze_on_stimulus_fraction),
            pct(v.turned_away_fraction),
            texts(&r.predictions[i]),
            texts(&r.outcomes[i]),
        );
    }
    t + "</table>\n"
}

/// The change from a peak to a final rating in words: `drop 50 %`,
/// `no drop`, `rise +10 %` (a final above the peak cannot happen within a
/// visit, but the words say so plainly if it ever does).
fn change(peak: u8, last: u8) -> String {
    let (peak, last) = (f64::from(peak), f64::from(last));
    if last == peak {
        "no drop".to_owned()
    } else if peak == 0.0 {
        format!("rise +{last:.0} points")
    } else if last < peak {
        format!("drop {:.0} %", 100.0 * (peak - last) / peak)
    } else {
        format!("rise +{:.0} %", 100.0 * (last - peak) / peak)
    }
}

/// The notes and markers, and predictions and outcomes no visit holds.
fn entries(r: &Report) -> String {
    let mut t = String::from("<h2>Notes and markers</h2>\n");
    if r.entries.is_empty() {
        return t + "<p class=\"none\">None.</p>\n";
    }
    t += "<table><tr><th>#</th><th>session time</th><th class=\"t\">when</th><th class=\"t\">what</th>\
          <th class=\"t\">text</th></tr>\n";
    for (i, e) in r.entries.iter().enumerate() {
        let what = match (e.kind.as_str(), e.int("step")) {
            (kind @ ("prediction" | "outcome"), Some(step)) => format!("{kind} for step {step}"),
            (kind, _) => kind.to_owned(),
        };
        let text = e.text("text").or(e.text("label")).unwrap_or("");
        let _ = writeln!(
            t,
            "<tr class=\"entry\"><td>{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td>\
             <td class=\"t\">{}</td></tr>",
            i + 1,
            clock_us(e.at_us),
            escape(&r.during(e)),
            escape(&what),
            escape(text),
        );
    }
    t + "</table>\n"
}

fn appendix(r: &Report, figures: &mut usize) -> String {
    let data = r.data;
    let m = &data.metadata;
    let mut page = String::from("<h2 class=\"appendix\">Appendix: technical details</h2>\n<dl class=\"tech\">");
    let frames = data.samples.len();
    let frame_ms: f64 = data.samples.iter().map(|s| s.frame_ms).sum();
    let dropped: u64 = data.samples.iter().map(|s| u64::from(s.dropped_frames)).sum();
    let rows: [(&str, String); 12] = [
        ("Session", m.session_id.clone()),
        ("Recording", data.file_name.clone()),
        (
            "Complete",
            if data.complete {
                "yes".to_owned()
            } else {
                format!("no, cut short ({})", data.cut.as_deref().unwrap_or("no index"))
            },
        ),
        ("Recording began", m.started.clone()),
        ("Headset", format!("{} ({})", m.headset_id, m.headset_app)),
        ("Console", m.console_app.clone()),
        ("Scenario", format!("{} {}", m.scenario_id, m.scenario_version)),
        ("Scenario SHA-256", m.scenario_sha256.clone()),
        ("Clock offset", format!("{} µs (headset − console at the start)", m.clock_offset_us)),
        (
            "Messages",
            format!(
                "{frames} telemetry samples, {} events, {} commands, {} acknowledgements, {} annotations",
                data.events.len(),
                data.commands.len(),
                data.acks.len(),
                data.annotations.len()
            ),
        ),
        (
            "Frame rate",
            if frame_ms > 0.0 {
                format!("{:.1} Hz over the session, {dropped} frames dropped", frames as f64 / (frame_ms / 1000.0))
            } else {
                "–".to_owned()
            },
        ),
        ("Left out", data.unreadable_note().unwrap_or_else(|| "nothing".to_owned())),
    ];
    for (name, value) in rows {
        let _ = write!(page, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
    }
    page += "</dl>\n";
    page += &figure(
        figures,
        frame_rate(data, r.course.end_us),
        "Frame rate, frames per second over each second of the session",
    );
    page += "<h3>Every visit</h3>\n<table class=\"tech\"><tr><th>step</th><th>visit</th><th>entered</th><th>left</th>\
             <th>closed</th><th>behind the safe scene</th><th>time on step</th><th>running frames</th>\
             <th>frame rate</th><th>dropped frames</th></tr>\n";
    for v in r.visits {
        let _ = writeln!(
            page,
            "<tr class=\"tech\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            v.step,
            v.visit.map_or("–".to_owned(), |n| n.to_string()),
            clock_us(v.entered_us),
            clock_us(v.left_us),
            if v.closed { "yes" } else { "no" },
            if v.during_safe_scene { "yes" } else { "no" },
            clock_us(v.time_on_step_us),
            v.frames_running,
            v.frame_rate_hz.map_or("–".to_owned(), |f| format!("{f:.1} Hz")),
            v.dropped_frames,
        );
    }
    page += "</table>\n";
    page + &methods()
}

fn methods() -> String {
    format!(
        "<h3>Methods</h3>\n<ol class=\"tech\">\
<li>Times are session time: the session engine's clock from the moment the session began, that is from when the \
headset joined, waiting before the start included, as recorded in each telemetry sample (<code>session_us</code>) \
and event (<code>at_us</code>); the replay shows the same clock. Durations are shown as minutes:seconds. The \
<em>duration</em> runs from the start (the first <code>state_changed</code> to <code>running</code>) to the end \
(<code>state_changed</code> to <code>ended</code>, or the last moment the recording holds); the wait before the \
start is given apart.</li>\
<li>A <em>visit</em> runs from the engine's <code>step_entered</code> event to its <code>step_left</code> event (or the \
next arrival, or the end of the recording). When the safe scene is entered, the engine eases the level down behind \
it and enters each lower step on the way; a visit entered in the safe scene and left before the session ran again \
is such a pass, which the patient did not see. Passes are left out of the summary, the steps table and the figures \
(listed above as <em>behind the safe scene</em>) and are not counted in the visit numbers. <em>Time on step</em> is \
the engine's own count of running time on the step (pauses and the safe scene excluded), from \
<code>step_left</code>; for a visit the recording does not close, it is the running time in its telemetry.</li>\
<li>SUDS <em>first</em>, <em>peak</em> and <em>final</em> are the first, highest and last <code>suds_recorded</code> \
ratings logged during the visit (a rating given during a pass behind the safe scene is on the timeline only). The \
<em>drop</em> is peak − final in SUDS points, and in brackets (peak − final) / peak; <em>no drop</em> when the final \
rating is the peak. Per step (summary and figure), the peak is the highest over the step's visits and the final \
rating is that of its last rated visit. The classic habituation criterion is a drop of at least 50 %.</li>\
<li>Predictions and outcomes name a step; each is shown with the visit to that step that was open when it was \
given, or else the latest visit to it before, or else its first visit. Notes and markers are numbered in the \
order they were logged; the numbers are on the timeline. Those the console wrote after the session had ended \
(<code>\"by\": \"console\"</code>) are marked <em>after the end</em>.</li>\
<li>Pauses and times in the safe scene run from the <code>state_changed</code> event into the state to the next \
one out of it. A pause's cause is who paused (<code>by</code>: the therapist, or the headset when it lost focus); \
the safe scene's is the <code>cause</code> of its <code>safe_scene_entered</code> event.</li>\
<li>Heart rate mean and max are over the visit's telemetry frames while the session was running. The summary's \
average weights each visit by its running frames; the resting value is the engine's baseline taken before the start.</li>\
<li><em>Stimulus in view</em> is the share of running frames in which the headset reported the stimulus within the \
gaze cone (<code>gaze_on_stimulus</code>). <em>Turned away</em> is the share of running frames in which the stimulus \
was at least {TURNED_AWAY_DEG:.0}° from the gaze direction (<code>stimulus_angle_deg</code>), that is behind the plane \
of the face: avoidance, not merely looking elsewhere.</li>\
<li><em>Frame rate</em> is frames divided by the sum of their frame times (<code>frame_ms</code>), per visit and per \
second of session time.</li>\
<li>Made by <code>trinvis report</code> {} from the recording alone; the same numbers are in the <code>steps</code> \
table of <code>trinvis export</code> (docs/research.md).</li></ol>\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn figure(count: &mut usize, svg: Result<String, String>, caption: &str) -> String {
    *count += 1;
    let body = svg.unwrap_or_else(|e| format!("<p>(plot not drawn: {})</p>", escape(&e)));
    format!("<figure>{body}<figcaption>Figure {count}. {caption}.</figcaption></figure>\n")
}

/// Draws into an SVG string of the given height.
fn svg(
    height: u32,
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(root.clone())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn minutes(us: u64) -> f64 {
    us as f64 / 60e6
}

fn timeline(r: &Report) -> Result<String, String> {
    let data = r.data;
    let end_us = r.course.end_us;
    let end = minutes(end_us).max(1.0 / 60.0);
    let suds: Vec<(f64, f64)> = data
        .events
        .iter()
        .filter(|e| e.kind == "suds_recorded" && e.at_us <= end_us)
        .filter_map(|e| Some((minutes(e.at_us), e.int("value")? as f64)))
        .collect();
    let heart: Vec<(f64, f64)> =
        per_second(data, |s| s.heart_rate).into_iter().filter(|(t, _)| *t <= end + 1.0 / 60.0).collect();
    let (lo, hi) = heart.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, y)| (a.min(*y), b.max(*y)));
    let (lo, hi) = if lo.is_finite() { ((lo - 5.0).floor(), (hi + 5.0).ceil()) } else { (50.0, 150.0) };
    let band = |from_us: u64, to_us: u64, top: f64, style: ShapeStyle| {
        Rectangle::new([(minutes(from_us), 0.0), (minutes(to_us.min(end_us)), top)], style)
    };
    let small = |h: HPos, v: VPos| TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(h, v));
    svg(400, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .right_y_label_area_size(45)
            .build_cartesian_2d(0.0..end, 0.0..100.0)
            .map_err(err)?
            .set_secondary_coord(0.0..end, lo..hi);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("session time (min)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("SUDS")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_desc("heart rate (bpm)")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        if let Some(start) = r.course.start_us.filter(|s| *s > 0) {
            chart.draw_series(std::iter::once(band(0, start, 100.0, GREY.mix(0.04).filled()))).map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    "before the start",
                    (minutes(start / 2), 97.0),
                    small(HPos::Center, VPos::Center),
                )))
                .map_err(err)?;
        }
        for (i, v) in r.seen.iter().enumerate() {
            let shade = if i % 2 == 0 { GREY.mix(0.10) } else { GREY.mix(0.20) };
            chart.draw_series(std::iter::once(band(v.entered_us, v.left_us, 100.0, shade.filled()))).map_err(err)?;
            let middle = minutes(v.entered_us + v.left_us.min(end_us).saturating_sub(v.entered_us) / 2);
            chart
                .draw_series(std::iter::once(Text::new(
                    v.step.to_string(),
                    (middle, 97.0),
                    small(HPos::Center, VPos::Center),
                )))
                .map_err(err)?;
        }
        for (intervals, name, color) in
            [(&r.course.pauses, "paused", PAUSE.mix(0.25)), (&r.course.safe_scenes, "safe scene", ORANGE.mix(0.3))]
        {
            if intervals.is_empty() {
                continue;
            }
            chart
                .draw_series(intervals.iter().map(|i| band(i.from_us, i.to_us, 93.0, color.filled())))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
        }
        for e in data.events.iter().filter(|e| e.kind == "panic" && e.at_us <= end_us) {
            let x = minutes(e.at_us);
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, 93.0)], RED_.stroke_width(2))))
                .map_err(err)?;
        }
        // Notes and markers, numbered as in their list.
        for (i, e) in r.entries.iter().enumerate() {
            if !matches!(e.kind.as_str(), "note" | "marker") || after_end(e) || e.at_us > end_us {
                continue;
            }
            let x = minutes(e.at_us);
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, 88.0)], GREEN_.stroke_width(2))))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    (i + 1).to_string(),
                    (x, 89.0),
                    small(HPos::Center, VPos::Bottom).color(&GREEN_.mix(1.0)),
                )))
                .map_err(err)?;
        }
        chart
            .draw_secondary_series(LineSeries::new(heart.iter().copied(), RED_.mix(0.7).stroke_width(1)))
            .map_err(err)?
            .label("heart rate")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED_));
        chart
            .draw_series(LineSeries::new(suds.iter().copied(), BLUE.stroke_width(2)))
            .map_err(err)?
            .label("SUDS")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLUE));
        chart.draw_series(suds.iter().map(|p| Circle::new(*p, 3, BLUE.filled()))).map_err(err)?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// One value per second of session time: the mean of the samples that have it.
fn per_second(data: &SessionData, value: impl Fn(&research::load::Sample) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut out: Vec<(u64, f64, u32)> = Vec::new();
    for s in &data.samples {
        let Some(x) = value(s) else { continue };
        let second = s.session_us / 1_000_000;
        match out.last_mut() {
            Some((t, sum, n)) if *t == second => {
                *sum += x;
                *n += 1;
            }
            _ => out.push((second, x, 1)),
        }
    }
    out.into_iter().map(|(t, sum, n)| ((t as f64 + 0.5) / 60.0, sum / f64::from(n))).collect()
}

/// Per step: the highest SUDS peak over its visits and the final rating
/// of its last rated visit, in step order.
fn step_suds(visits: &[&Visit]) -> Vec<(u32, Option<u8>, Option<u8>)> {
    per_step(visits)
        .into_iter()
        .map(|(step, list)| {
            let peak = list.iter().filter_map(|v| v.suds_peak).max();
            let last = list.iter().rev().find_map(|v| v.suds_final);
            (step, peak, last)
        })
        .collect()
}

/// Per step (all visits together), in step order.
fn per_step<'a>(visits: &[&'a Visit]) -> Vec<(u32, Vec<&'a Visit>)> {
    let mut steps: Vec<(u32, Vec<&Visit>)> = Vec::new();
    let mut sorted: Vec<&Visit> = visits.to_vec();
    sorted.sort_by_key(|v| (v.step, v.entered_seq));
    for v in sorted {
        match steps.last_mut() {
            Some((step, list)) if *step == v.step => list.push(v),
            _ => steps.push((v.step, vec![v])),
        }
    }
    steps
}

/// Bars per step: each series is (color, value per step), side by side,
/// named in the caption (a legend inside would cover tall bars); `label`
/// gives the text over a bar (series, step index, value).
fn bars(
    y_desc: &str,
    y_max: f64,
    steps: &[u32],
    series: &[(RGBColor, Vec<Option<f64>>)],
    label: impl Fn(usize, usize, f64) -> String,
) -> Result<String, String> {
    let n = steps.len().max(1) as f64;
    svg(300, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(steps.len().max(1))
            .x_label_formatter(&|x| {
                let near = x.round();
                let step = (near >= 0.0 && (x - near).abs() < 1e-6).then(|| steps.get(near as usize)).flatten();
                step.map_or(String::new(), u32::to_string)
            })
            // Short axes (a few minutes) need a decimal, or ticks repeat.
            .y_label_formatter(&|y| if y_max < 10.0 { format!("{y:.1}") } else { format!("{y:.0}") })
            .x_desc("step")
            .y_desc(y_desc)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(err)?;
        let width = 0.8 / series.len() as f64;
        for (k, (color, values)) in series.iter().enumerate() {
            let rects = values.iter().enumerate().filter_map(|(i, v)| {
                let x0 = i as f64 - 0.4 + k as f64 * width;
                Some(Rectangle::new([(x0, 0.0), (x0 + width * 0.9, (*v)?)], color.filled()))
            });
            chart.draw_series(rects).map_err(err)?;
            let labels = values.iter().enumerate().filter_map(|(i, v)| {
                let v = (*v)?;
                let text = label(k, i, v);
                let x = i as f64 - 0.4 + (k as f64 + 0.45) * width;
                // Over the bar, or inside its top when there is no room above it.
                let (at, pos, color) = if v > y_max * 0.9 {
                    ((x, v - y_max * 0.01), VPos::Top, &WHITE)
                } else {
                    ((x, v + y_max * 0.01), VPos::Bottom, &BLACK)
                };
                let style =
                    TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, pos)).color(color);
                (!text.is_empty()).then(|| Text::new(text, at, style))
            });
            chart.draw_series(labels).map_err(err)?;
        }
        Ok(())
    })
}

fn time_on_step(visits: &[&Visit]) -> Result<String, String> {
    let steps = per_step(visits);
    let values: Vec<Option<f64>> =
        steps.iter().map(|(_, v)| Some(v.iter().map(|v| v.time_on_step_us as f64 / 60e6).sum())).collect();
    let max = values.iter().flatten().fold(1.0f64, |a, b| a.max(*b)) * 1.15;
    let ids: Vec<u32> = steps.iter().map(|(s, _)| *s).collect();
    bars("minutes", max, &ids, &[(BLUE, values)], |_, _, v| clock(v * 60.0))
}

fn peak_final(visits: &[&Visit]) -> Result<String, String> {
    let steps = step_suds(visits);
    let peak: Vec<Option<f64>> = steps.iter().map(|(_, p, _)| p.map(f64::from)).collect();
    let last: Vec<Option<f64>> = steps.iter().map(|(_, _, l)| l.map(f64::from)).collect();
    let ids: Vec<u32> = steps.iter().map(|(s, _, _)| *s).collect();
    // SUDS runs from 0 to 100: so does the axis.
    bars("SUDS", 100.0, &ids, &[(ORANGE, peak), (BLUE, last)], |k, i, _| match steps[i] {
        (_, Some(p), Some(l)) if k == 1 => change(p, l),
        _ => String::new(),
    })
}

fn gaze(visits: &[&Visit]) -> Result<String, String> {
    let steps = per_step(visits);
    let weighted = |list: &[&Visit], f: fn(&Visit) -> Option<f64>| {
        let n: u64 = list.iter().filter(|v| f(v).is_some()).map(|v| v.frames_running).sum();
        (n > 0)
            .then(|| 100.0 * list.iter().filter_map(|v| Some(f(v)? * v.frames_running as f64)).sum::<f64>() / n as f64)
    };
    let on: Vec<Option<f64>> = steps.iter().map(|(_, v)| weighted(v, |v| v.gaze_on_stimulus_fraction)).collect();
    let away: Vec<Option<f64>> = steps.iter().map(|(_, v)| weighted(v, |v| v.turned_away_fraction)).collect();
    let ids: Vec<u32> = steps.iter().map(|(s, _)| *s).collect();
    bars("% of running time", 100.0, &ids, &[(GREEN_, on), (RED_, away)], |_, _, _| String::new())
}

fn frame_rate(data: &SessionData, end_us: u64) -> Result<String, String> {
    let mut per: Vec<(u64, f64, u32)> = Vec::new();
    for s in &data.samples {
        let second = s.session_us / 1_000_000;
        match per.last_mut() {
            Some((t, ms, n)) if *t == second => {
                *ms += s.frame_ms;
                *n += 1;
            }
            _ => per.push((second, s.frame_ms, 1)),
        }
    }
    let points: Vec<(f64, f64)> = per
        .iter()
        .filter(|(_, ms, _)| *ms > 0.0)
        .map(|(t, ms, n)| ((*t as f64 + 0.5) / 60.0, f64::from(*n) / (ms / 1000.0)))
        .collect();
    let end = minutes(end_us.max(data.samples.iter().map(|s| s.session_us).max().unwrap_or(0))).max(1.0 / 60.0);
    let hi = points.iter().map(|p| p.1).fold(0.0f64, f64::max).max(30.0) * 1.2;
    svg(240, |root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(0.0..end, 0.0..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("session time (min)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("frames per second")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        chart.draw_series(LineSeries::new(points, BLUE.stroke_width(1))).map_err(err)?;
        Ok(())
    })
}

/// `2026-11-26T10:15:00Z` as `2026-11-26 10:15 UTC`.
fn date(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) if rfc3339.ends_with('Z') => format!("{day} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// Seconds as `m:ss` (or `h:mm:ss` from an hour).
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Microseconds as `m:ss`.
fn clock_us(us: u64) -> String {
    clock(us as f64 / 1e6)
}

/// `once`, `2 times`.
fn times(n: usize) -> String {
    if n == 1 { "once".to_owned() } else { format!("{n} times") }
}

/// `no notes`, `1 note`, `2 notes`.
fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use research::fixture;
    use research::steps::visits;

    fn report(data: &SessionData) -> String {
        html(data, &visits(data, None), None)
    }

    /// The SVG of the figure whose caption begins so.
    fn figure_svg<'a>(html: &'a str, caption: &str) -> &'a str {
        let (end, _) = html
            .match_indices("<figcaption>Figure ")
            .find(|(at, open)| html[at + open.len()..].split_once(". ").is_some_and(|(_, c)| c.starts_with(caption)))
            .expect("the figure is there");
        let start = html[..end].rfind("<figure>").expect("it opens");
        &html[start..end]
    }

    /// The texts an SVG draws, with their fill colour.
    fn svg_texts(svg: &str) -> Vec<(&str, &str)> {
        svg.split("<text ")
            .skip(1)
            .filter_map(|t| {
                let (attributes, rest) = t.split_once('>')?;
                let fill = attributes.split("fill=\"").nth(1)?.split('"').next()?;
                Some((fill, rest.split("</text>").next()?.trim()))
            })
            .collect()
    }

    /// The text of the `<tr class="…">` rows with this class.
    fn rows<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
        let open = format!("<tr class=\"{class}\">");
        html.split(open.as_str()).skip(1).map(|row| &row[..row.find("</tr>").unwrap_or(row.len())]).collect()
    }

    #[test]
    fn the_strip_shows_the_picture_nearest_each_moment_and_none_without_pictures() {
        assert!(!report(&fixture::session()).contains("What the patient saw"), "no pictures, no strip");
        let mut data = fixture::session();
        // A picture every 10 s of session time; its bytes name the second.
        for s in (0..430u64).step_by(10) {
            let jpeg = [&[0xFF, 0xD8][..], s.to_string().as_bytes(), &[0xFF, 0xD9]].concat();
            data.pictures.push(research::load::PictureRow { log_time_us: s, session_us: Some(s * 1_000_000), jpeg });
        }
        let html = report(&data);
        let strip = &html[html.find("<h3>What the patient saw").expect("a strip")..];
        let strip = &strip[..strip.find("</div>").unwrap()];
        let shown: Vec<&str> =
            strip.split("<figcaption>").skip(1).map(|c| c.split("</figcaption>").next().unwrap()).collect();
        // Step 1 entered at 60 s, the marker at 125 (nearest picture 2:00 or
        // 2:10 lies 5 s away: none within 3 s), step 2 at 130, …, the highest
        // rating (90) at 280, the note at 260; behind the safe scene no step.
        assert_eq!(shown[0], "1:00 · step 1 entered");
        assert!(shown.iter().any(|c| c == &"4:40 · highest SUDS, 90"), "{shown:?}");
        assert!(
            shown.iter().any(|c| c.starts_with("4:20 · note “Breathing &lt;b&gt;fast&lt;/b&gt;”")),
            "escaped: {shown:?}"
        );
        assert!(!shown.iter().any(|c| c.contains("marker")), "no picture within 3 s of the marker: {shown:?}");
        assert!(!shown.iter().any(|c| c.starts_with("4:5") || c.starts_with("4:56")), "{shown:?}");
        let mut sixty = Vec::new();
        recording::image::encode_base64(&[&[0xFF, 0xD8][..], b"60", &[0xFF, 0xD9]].concat(), &mut sixty);
        assert!(strip.contains(&format!("data:image/jpeg;base64,{}", String::from_utf8(sixty).unwrap())));
    }

    #[test]
    fn clock_date_and_escape() {
        assert_eq!(clock(59.6), "1:00");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(date("2026-11-26T10:15:00Z"), "2026-11-26 10:15 UTC");
        assert_eq!(date("yesterday"), "yesterday");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!([times(1), times(2)], ["once", "2 times"]);
        assert_eq!(
            [count(0, "note", "notes"), count(1, "note", "notes"), count(3, "note", "notes")],
            ["no notes", "1 note", "3 notes"]
        );
    }

    #[test]
    fn a_change_is_a_drop_no_drop_or_a_rise_never_minus_zero() {
        assert_eq!(change(40, 20), "drop 50 %");
        assert_eq!(change(50, 50), "no drop");
        assert_eq!(change(0, 0), "no drop");
        assert_eq!(change(20, 30), "rise +50 %");
        assert_eq!(change(0, 10), "rise +10 points");
    }

    #[test]
    fn the_summary_reads_as_a_clinician_writes() {
        let data = fixture::session();
        let visits = visits(&data, None);
        let summary = summary(&Report::of(&data, &visits, None));
        expect![[r#"Patient P-0042 had an exposure session with the scenario “spiders” on 2026-11-26 10:15 UTC. The exposure lasted 6:00 from the start (the patient waited 1:00 before it) and went up to step 4. Distress (SUDS, 0 = calm, 100 = worst) was rated 8 times; peak → final on each step: step 1 60 → 30, step 2 50 → 50, step 3 70 → 70, step 4 90 → 90. Distress fell by at least half from its peak on 1 of 4 rated steps. The patient went to the safe scene once (after the panic button), 1:10 in all. The session was paused once (0:30 in all). The panic button was pressed once. Heart rate averaged 83 beats per minute during the exposure (at rest before it: 72). The feared stimulus was in view 50 % of the time and the patient was turned away from it 20 % of the time. The record holds 2 notes (1 added after the end), 1 marker, 2 predictions and 2 outcomes (1 added after the end)."#]]
        .assert_eq(&summary);
    }

    #[test]
    fn one_rating_is_rated_once() {
        let mut data = fixture::session();
        let mut ratings = 0;
        data.events.retain(|e| {
            e.kind != "suds_recorded" || {
                ratings += 1;
                ratings == 1
            }
        });
        let html = report(&data);
        assert!(html.contains("was rated once"), "{html}");
        assert!(!html.contains("1 times"));
    }

    #[test]
    fn the_duration_counts_from_the_start_not_from_the_waiting_room_nor_to_notes_after_the_end() {
        let html = report(&fixture::session());
        let header = &html[..html.find("<h2>Course").unwrap()];
        assert!(header.contains("<dd>6:00 from the start to the end (waited 1:00 before the start)</dd>"), "{header}");
        assert!(header.contains("The exposure lasted 6:00 from the start (the patient waited 1:00 before it)"));
        assert!(!header.contains("1:06:"), "the console's note an hour later is not in the duration");
    }

    #[test]
    fn no_minus_zero_and_the_suds_axis_ends_at_100() {
        let html = report(&fixture::session());
        assert!(!html.contains("−0 %") && !html.contains("-0 %"));
        let bars = svg_texts(figure_svg(&html, "Peak (orange) and final (blue) SUDS"));
        let labels: Vec<&str> = bars.iter().map(|(_, text)| *text).collect();
        assert!(labels.contains(&"no drop"), "step 2 went 50 → 50: {labels:?}");
        assert!(labels.contains(&"drop 50 %"), "step 1 went 60 → 30: {labels:?}");
        assert!(labels.contains(&"100") && !labels.contains(&"120"), "SUDS is 0–100: {labels:?}");
        let gaze = svg_texts(figure_svg(&html, "Where the patient looked"));
        assert!(gaze.contains(&("#000000", "100")) && !gaze.contains(&("#000000", "120")), "a share is at most 100 %");
    }

    #[test]
    fn notes_markers_predictions_and_outcomes_are_listed_escaped() {
        let html = report(&fixture::session());
        let entries = rows(&html, "entry");
        assert_eq!(entries.len(), 3, "a marker, a note, a note after the end: {entries:?}");
        assert!(
            entries[0].contains(
                "<td>2:05</td><td class=\"t\">step 1</td><td class=\"t\">marker</td><td class=\"t\">looked down</td>"
            ),
            "{}",
            entries[0]
        );
        assert!(entries[1].contains("Breathing &lt;b&gt;fast&lt;/b&gt;"), "{}", entries[1]);
        assert!(entries[2].contains("after the end") && entries[2].contains("Phoned: slept well"), "{}", entries[2]);
        assert!(!html.contains("<b>fast</b>"), "free text is escaped");
        let visits = rows(&html, "visit");
        assert!(visits[0].contains("I will freeze"), "a prediction given before the start: {}", visits[0]);
        assert!(visits[2].contains("I will fall &lt;over&gt; &amp; &quot;die&quot;"), "{}", visits[2]);
        let last = visits.last().unwrap();
        assert!(
            last.contains("Less scary than expected<br>Went up the stairs at home <em>(after the end)</em>"),
            "{last}"
        );
    }

    #[test]
    fn markers_are_numbered_on_the_timeline_with_pauses_and_the_safe_scene_shaded() {
        let html = report(&fixture::session());
        let timeline = figure_svg(&html, "Distress (SUDS");
        let numbers: Vec<&str> =
            svg_texts(timeline).into_iter().filter(|(fill, _)| *fill == "#2CA02C").map(|(_, text)| text).collect();
        assert_eq!(numbers, ["1", "2"], "the marker and the note during the session, not the one after");
        assert!(timeline.contains("fill=\"#5A6EC8\""), "a pause band");
        assert!(timeline.contains("fill=\"#E67814\""), "a safe-scene band");
        let intervals = rows(&html, "interval");
        assert_eq!(intervals.len(), 2, "{intervals:?}");
        assert!(
            intervals[0].starts_with(
                "<td class=\"t\">pause</td><td>2:30</td><td>3:00</td><td>0:30</td><td class=\"t\">by the therapist</td>"
            ),
            "{}",
            intervals[0]
        );
        assert!(intervals[1].starts_with("<td class=\"t\">safe scene</td><td>4:50</td><td>6:00</td><td>1:10</td><td class=\"t\">after the panic button</td>"), "{}", intervals[1]);
    }

    #[test]
    fn passes_behind_the_safe_scene_are_left_out_of_the_steps_table() {
        let html = report(&fixture::session());
        let steps: Vec<(&str, &str)> = rows(&html, "visit")
            .into_iter()
            .map(|row| {
                let cells: Vec<&str> = row.split("</td>").collect();
                (cells[0].trim_start_matches("<td>"), cells[2].trim_start_matches("<td>"))
            })
            .collect();
        assert_eq!(steps, [("1", "1"), ("2", "1"), ("3", "1"), ("4", "1"), ("1", "2")], "step and visit");
        assert_eq!(rows(&html, "tech").len(), 7, "the appendix lists every visit, the passes too");
        assert!(html.contains("went up to step 4."));
    }

    #[test]
    fn technical_details_are_only_in_the_appendix() {
        let mut data = fixture::session();
        data.metadata.scenario_sha256 = "sha-of-the-scenario".to_owned();
        data.metadata.headset_app = "headset-app-9.9".to_owned();
        data.metadata.console_app = "console-app-8.8".to_owned();
        let html = report(&data);
        let appendix = html.find("<h2 class=\"appendix\">Appendix: technical details</h2>").unwrap();
        for detail in [
            "sha-of-the-scenario",
            "SHA-256",
            "headset-app-9.9",
            "console-app-8.8",
            "fixture.mcap",
            "Hz",
            "frames per second",
            &data.metadata.session_id,
        ] {
            let at = html.find(detail).unwrap_or_else(|| panic!("{detail} is in the report"));
            assert!(at > appendix, "{detail} before the appendix");
        }
        assert!(html.find("<h2>").unwrap() < appendix);
    }
}
