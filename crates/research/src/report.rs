//! A session report: one self-contained HTML page (inline SVG plots drawn
//! with plotters, inline CSS, nothing fetched) that a therapist can show a
//! patient and a researcher can cite: who (pseudonym), what, when, a
//! plain-language summary, plots, a row per visit and how each number is
//! computed.

use std::fmt::Write as _;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use scenario::Scenario;

use crate::load::SessionData;
use crate::steps::{TURNED_AWAY_DEG, Visit};

const WIDTH: u32 = 960;
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 120, 20);
const RED_: RGBColor = RGBColor(200, 40, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);
const GREEN_: RGBColor = RGBColor(44, 160, 44);

/// The report page for a session and its visits.
pub fn html(data: &SessionData, visits: &[Visit], scenario: Option<&Scenario>) -> String {
    let m = &data.metadata;
    let scenario = scenario.filter(|s| s.id == m.scenario_id);
    let scenario_name = scenario.map_or_else(|| m.scenario_id.clone(), |s| s.title.clone());
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Session report {code} {date}</title><style>{CSS}</style></head><body>\n\
         <h1>Exposure session report</h1>\n<p class=\"sub\">{name}</p>\n<dl>\
         <dt>Patient code</dt><dd>{code}</dd><dt>Scenario</dt><dd>{sid} {version}</dd>\
         <dt>Date</dt><dd>{date}</dd><dt>Duration</dt><dd>{duration}</dd>\
         <dt>Recording</dt><dd>{file}{state}</dd></dl>\n",
        code = escape(&m.patient_code),
        name = escape(&scenario_name),
        sid = escape(&m.scenario_id),
        version = escape(&m.scenario_version),
        date = escape(&date(&m.started)),
        duration = clock(data.end_us() as f64 / 1e6),
        file = escape(&data.file_name),
        state = if data.complete {
            String::new()
        } else {
            " <strong>(cut short: the report covers what the file holds)</strong>".to_owned()
        },
    );
    let _ = write!(page, "<h2>Summary</h2>\n<p class=\"summary\">{}</p>\n", escape(&summary(data, visits, scenario)));
    let figures: [(&str, Result<String, String>); 5] = [
        (
            "Distress (SUDS) and heart rate over the session; shaded bands are steps, lines are markers, panic and the safe scene",
            timeline(data, visits),
        ),
        ("Time on each step (while running)", time_on_step(visits)),
        ("Peak and final SUDS on each step; the label is the drop from peak", peak_final(visits)),
        ("Where the patient looked: share of running time with the stimulus in view, and turned away", gaze(visits)),
        ("Frame rate, frames per second over each second of the session", frame_rate(data)),
    ];
    for (i, (caption, svg)) in figures.into_iter().enumerate() {
        let body = svg.unwrap_or_else(|e| format!("<p>(plot not drawn: {})</p>", escape(&e)));
        let _ = writeln!(page, "<figure>{body}<figcaption>Figure {}. {caption}.</figcaption></figure>", i + 1);
    }
    page += &table(visits);
    page += &methods();
    let _ = write!(
        page,
        "<p class=\"foot\">Session {} · headset {} ({}) · {} · scenario SHA-256 {}</p>\n</body></html>\n",
        escape(&m.session_id),
        escape(&m.headset_id),
        escape(&m.headset_app),
        escape(&m.console_app),
        escape(&m.scenario_sha256)
    );
    page
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
h1{margin-bottom:0}.sub{font-size:1.2em;color:#555;margin-top:.2em}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}\
.summary{font-size:1.1em;line-height:1.5}figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}\
table{border-collapse:collapse;font-size:.9em}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:right}\
th:nth-child(2),td:nth-child(2){text-align:left}.methods{font-size:.85em;color:#444}.foot{font-size:.8em;color:#777}";

fn summary(data: &SessionData, visits: &[Visit], scenario: Option<&Scenario>) -> String {
    let mut s = String::new();
    let highest = visits.iter().map(|v| v.step).max().unwrap_or(0);
    let steps = scenario.map_or(String::new(), |s| format!(" of {}", s.step_count()));
    let _ = write!(s, "The session lasted {}", clock(data.end_us() as f64 / 1e6));
    if highest > 0 {
        let _ = write!(s, " and went up to step {highest}{steps}.");
    } else {
        s += "; no step was reached.";
    }
    let ratings: Vec<(u64, i64)> = data
        .events
        .iter()
        .filter(|e| e.kind == "suds_recorded")
        .filter_map(|e| Some((e.at_us, e.int("value")?)))
        .collect();
    if let Some(peak) = visits.iter().filter(|v| v.suds_peak.is_some()).max_by_key(|v| v.suds_peak) {
        let _ = write!(
            s,
            " Distress (SUDS, 0 = calm, 100 = worst) was rated {} times; it was highest, {}, on step {}{}.",
            ratings.len(),
            peak.suds_peak.unwrap_or(0),
            peak.step,
            peak.step_title.as_ref().map_or(String::new(), |t| format!(" ({t})"))
        );
        let rated: Vec<&Visit> = visits.iter().filter(|v| v.suds_drop_ratio.is_some()).collect();
        let halved = rated.iter().filter(|v| v.suds_drop_ratio.is_some_and(|r| r >= 0.5)).count();
        let _ = write!(
            s,
            " On {halved} of {} rated visits distress fell by at least half from its peak before the step ended.",
            rated.len()
        );
    } else {
        s += " No distress ratings were given.";
    }
    let baseline =
        data.events.iter().find(|e| e.kind == "heart_rate_baseline").and_then(|e| e.fields.get("bpm")?.as_f64());
    let (hr_sum, hr_n) = visits
        .iter()
        .filter_map(|v| Some((v.heart_rate_mean? * v.frames_running as f64, v.frames_running)))
        .fold((0.0, 0u64), |(a, b), (x, n)| (a + x, b + n));
    if hr_n > 0 {
        let _ = write!(s, " Heart rate averaged {:.0} beats per minute during the exposure", hr_sum / hr_n as f64);
        s += &baseline.map_or(".".to_owned(), |b| format!(" (at rest before it: {b:.0})."));
    }
    let running: u64 = visits.iter().map(|v| v.frames_running).sum();
    if running > 0 {
        let weighted = |f: fn(&Visit) -> Option<f64>| {
            visits.iter().filter_map(|v| Some(f(v)? * v.frames_running as f64)).sum::<f64>() / running as f64
        };
        let _ = write!(
            s,
            " The feared stimulus was in view {:.0} % of the time and the patient was turned away from it {:.0} % of the time.",
            100.0 * weighted(|v| v.gaze_on_stimulus_fraction),
            100.0 * weighted(|v| v.turned_away_fraction)
        );
    }
    let panics = data.events.iter().filter(|e| e.kind == "panic").count();
    s += &match panics {
        0 => " The panic button was not pressed.".to_owned(),
        1 => " The panic button was pressed once.".to_owned(),
        n => format!(" The panic button was pressed {n} times."),
    };
    s
}

fn table(visits: &[Visit]) -> String {
    let mut t = String::from(
        "<h2>Steps</h2>\n<table><tr><th>step</th><th>title</th><th>visit</th><th>entered</th><th>time on step</th>\
         <th>SUDS first</th><th>peak</th><th>final</th><th>drop</th><th>heart rate mean / max</th>\
         <th>stimulus in view</th><th>turned away</th><th>frame rate</th></tr>\n",
    );
    let pct = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{:.0} %", 100.0 * x));
    let num = |x: Option<u8>| x.map_or("–".to_owned(), |x| x.to_string());
    for v in visits {
        let _ = writeln!(
            t,
            "<tr class=\"visit\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            v.step,
            escape(v.step_title.as_deref().unwrap_or(&v.step_id)),
            v.visit,
            clock(v.entered_us as f64 / 1e6),
            clock(v.time_on_step_us as f64 / 1e6) + if v.closed { "" } else { " (cut)" },
            num(v.suds_first),
            num(v.suds_peak),
            num(v.suds_final),
            match (v.suds_drop, v.suds_drop_ratio) {
                (Some(d), Some(r)) => format!("{d} ({:.0} %)", 100.0 * r),
                (Some(d), None) => d.to_string(),
                _ => "–".to_owned(),
            },
            match (v.heart_rate_mean, v.heart_rate_max) {
                (Some(a), Some(b)) => format!("{a:.0} / {b:.0}"),
                _ => "–".to_owned(),
            },
            pct(v.gaze_on_stimulus_fraction),
            pct(v.turned_away_fraction),
            v.frame_rate_hz.map_or("–".to_owned(), |f| format!("{f:.1} Hz")),
        );
    }
    t + "</table>\n"
}

fn methods() -> String {
    format!(
        "<h2>Methods</h2>\n<ol class=\"methods\">\
<li>Times are session time: the session engine's clock from the moment the session began (before the start, the \
resting baseline is session time too), as recorded in each telemetry sample (<code>session_us</code>) and event \
(<code>at_us</code>). Durations are shown as minutes:seconds.</li>\
<li>A <em>visit</em> runs from the engine's <code>step_entered</code> event to its <code>step_left</code> event (or the \
next arrival, or the end of the recording). <em>Time on step</em> is the engine's own count of running time on the \
step (pauses and the safe scene excluded), from <code>step_left</code>; for a visit the recording does not close, it \
is the running time in its telemetry.</li>\
<li>SUDS <em>first</em>, <em>peak</em> and <em>final</em> are the first, highest and last <code>suds_recorded</code> \
ratings logged during the visit. The <em>drop</em> is peak − final in SUDS points, and in brackets (peak − final) / \
peak. The classic habituation criterion is a drop of at least 50 %.</li>\
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

fn timeline(data: &SessionData, visits: &[Visit]) -> Result<String, String> {
    let end = minutes(data.end_us()).max(1.0 / 60.0);
    let suds: Vec<(f64, f64)> = data
        .events
        .iter()
        .filter(|e| e.kind == "suds_recorded")
        .filter_map(|e| Some((minutes(e.at_us), e.int("value")? as f64)))
        .collect();
    let heart = per_second(data, |s| s.heart_rate);
    let (lo, hi) = heart.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, y)| (a.min(*y), b.max(*y)));
    let (lo, hi) = if lo.is_finite() { ((lo - 5.0).floor(), (hi + 5.0).ceil()) } else { (50.0, 150.0) };
    svg(380, |root| {
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
        for (i, v) in visits.iter().enumerate() {
            let shade = if i % 2 == 0 { GREY.mix(0.08) } else { GREY.mix(0.18) };
            let (x0, x1) = (minutes(v.entered_us), minutes(v.left_us));
            chart
                .draw_series(std::iter::once(Rectangle::new([(x0, 0.0), (x1, 100.0)], shade.filled())))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    v.step.to_string(),
                    (x0 + (x1 - x0) / 2.0, 97.0),
                    ("sans-serif", 12),
                )))
                .map_err(err)?;
        }
        for e in &data.events {
            let color = match e.kind.as_str() {
                "marker" | "note" => GREEN_,
                "panic" => RED_,
                "safe_scene_entered" => ORANGE,
                _ => continue,
            };
            let x = minutes(e.at_us);
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, 100.0)], color.stroke_width(2))))
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
fn per_second(data: &SessionData, value: impl Fn(&crate::load::Sample) -> Option<f64>) -> Vec<(f64, f64)> {
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

/// Per step (all visits together), in step order.
fn per_step(visits: &[Visit]) -> Vec<(u32, Vec<&Visit>)> {
    let mut steps: Vec<(u32, Vec<&Visit>)> = Vec::new();
    let mut sorted: Vec<&Visit> = visits.iter().collect();
    sorted.sort_by_key(|v| (v.step, v.visit));
    for v in sorted {
        match steps.last_mut() {
            Some((step, list)) if *step == v.step => list.push(v),
            _ => steps.push((v.step, vec![v])),
        }
    }
    steps
}

/// Bars per step: each series is (name, color, value per step).
fn bars(
    y_desc: &str,
    y_max: f64,
    steps: &[u32],
    series: &[(&str, RGBColor, Vec<Option<f64>>)],
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
            .draw()
            .map_err(err)?;
        let width = 0.8 / series.len() as f64;
        for (k, (name, color, values)) in series.iter().enumerate() {
            let rects = values.iter().enumerate().filter_map(|(i, v)| {
                let x0 = i as f64 - 0.4 + k as f64 * width;
                Some(Rectangle::new([(x0, 0.0), (x0 + width * 0.9, (*v)?)], color.filled()))
            });
            chart
                .draw_series(rects)
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
            let labels = values.iter().enumerate().filter_map(|(i, v)| {
                let v = (*v)?;
                let text = label(k, i, v);
                let at = (i as f64 - 0.4 + (k as f64 + 0.45) * width, v + y_max * 0.01);
                let style = TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
                (!text.is_empty()).then(|| Text::new(text, at, style))
            });
            chart.draw_series(labels).map_err(err)?;
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(GREY)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}

fn time_on_step(visits: &[Visit]) -> Result<String, String> {
    let steps = per_step(visits);
    let values: Vec<Option<f64>> =
        steps.iter().map(|(_, v)| Some(v.iter().map(|v| v.time_on_step_us as f64 / 60e6).sum())).collect();
    let max = values.iter().flatten().fold(1.0f64, |a, b| a.max(*b)) * 1.15;
    let ids: Vec<u32> = steps.iter().map(|(s, _)| *s).collect();
    bars("minutes", max, &ids, &[("time on step", BLUE, values)], |_, _, v| clock(v * 60.0))
}

fn peak_final(visits: &[Visit]) -> Result<String, String> {
    let steps = per_step(visits);
    // Per step: the highest peak over its visits, and the final rating of its last rated visit.
    let peak: Vec<Option<f64>> =
        steps.iter().map(|(_, v)| v.iter().filter_map(|v| v.suds_peak).max().map(f64::from)).collect();
    let last: Vec<Option<f64>> =
        steps.iter().map(|(_, v)| v.iter().rev().find_map(|v| v.suds_final).map(f64::from)).collect();
    let ids: Vec<u32> = steps.iter().map(|(s, _)| *s).collect();
    let drop = |i: usize| match (peak[i], last[i]) {
        (Some(p), Some(f)) if p > 0.0 => format!("−{:.0} %", 100.0 * (p - f) / p),
        _ => String::new(),
    };
    bars("SUDS", 125.0, &ids, &[("peak", ORANGE, peak.clone()), ("final", BLUE, last.clone())], |k, i, _| {
        if k == 1 { drop(i) } else { String::new() }
    })
}

fn gaze(visits: &[Visit]) -> Result<String, String> {
    let steps = per_step(visits);
    let weighted = |list: &[&Visit], f: fn(&Visit) -> Option<f64>| {
        let n: u64 = list.iter().filter(|v| f(v).is_some()).map(|v| v.frames_running).sum();
        (n > 0)
            .then(|| 100.0 * list.iter().filter_map(|v| Some(f(v)? * v.frames_running as f64)).sum::<f64>() / n as f64)
    };
    let on: Vec<Option<f64>> = steps.iter().map(|(_, v)| weighted(v, |v| v.gaze_on_stimulus_fraction)).collect();
    let away: Vec<Option<f64>> = steps.iter().map(|(_, v)| weighted(v, |v| v.turned_away_fraction)).collect();
    let ids: Vec<u32> = steps.iter().map(|(s, _)| *s).collect();
    bars(
        "% of running time",
        125.0,
        &ids,
        &[("stimulus in view", GREEN_, on), ("turned away", RED_, away)],
        |_, _, _| String::new(),
    )
}

fn frame_rate(data: &SessionData) -> Result<String, String> {
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
    let end = minutes(data.end_us()).max(1.0 / 60.0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_date_and_escape() {
        assert_eq!(clock(59.6), "1:00");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(date("2026-11-26T10:15:00Z"), "2026-11-26 10:15 UTC");
        assert_eq!(date("yesterday"), "yesterday");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
