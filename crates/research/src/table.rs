//! Tidy tables: one row per observation, one column per variable, the
//! session's metadata on every row. Both writers (CSV, Parquet) take these,
//! so the two formats always hold the same columns. docs/research.md lists
//! every table and column.

use crate::load::{Pose, SessionData};
use crate::steps::Visit;

/// A column's values. Floats use NaN for a missing value: JSON cannot
/// carry NaN, so no recorded value is ever NaN.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// 64-bit integers.
    Int(Vec<Option<i64>>),
    /// 64-bit floats; NaN is missing.
    Float(Vec<f64>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// Text.
    Text(Vec<Option<String>>),
    /// The same text on every row (session metadata).
    Repeated(String),
}

/// A named column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Its name (snake_case; the unit is in the name where it has one).
    pub name: &'static str,
    /// Its values.
    pub values: Values,
}

/// A named table.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Its name, which is also its folder in an export.
    pub name: &'static str,
    /// Its row count.
    pub rows: usize,
    /// Its columns, in order.
    pub columns: Vec<Column>,
}

impl Table {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Every table's name, in the order [`tables`] returns them.
pub const TABLES: [&str; 9] =
    ["telemetry", "events", "suds", "heart_rate", "commands", "acks", "annotations", "steps", "sessions"];

/// Builds columns row by row, the metadata columns first.
struct Builder {
    name: &'static str,
    rows: usize,
    columns: Vec<Column>,
}

impl Builder {
    fn new(name: &'static str, data: &SessionData, rows: usize) -> Builder {
        let m = &data.metadata;
        let meta = [
            ("session_id", &m.session_id),
            ("patient_code", &m.patient_code),
            ("scenario_id", &m.scenario_id),
            ("scenario_version", &m.scenario_version),
            ("recording", &data.file_name),
        ];
        let columns = meta.into_iter().map(|(name, v)| Column { name, values: Values::Repeated(v.clone()) }).collect();
        Builder { name, rows, columns }
    }

    fn int(&mut self, name: &'static str, values: impl Iterator<Item = Option<i64>>) -> &mut Self {
        self.push(name, Values::Int(values.collect()))
    }

    fn float(&mut self, name: &'static str, values: impl Iterator<Item = Option<f64>>) -> &mut Self {
        self.push(name, Values::Float(values.map(|v| v.unwrap_or(f64::NAN)).collect()))
    }

    fn boolean(&mut self, name: &'static str, values: impl Iterator<Item = Option<bool>>) -> &mut Self {
        self.push(name, Values::Bool(values.collect()))
    }

    fn text(&mut self, name: &'static str, values: impl Iterator<Item = Option<String>>) -> &mut Self {
        self.push(name, Values::Text(values.collect()))
    }

    fn push(&mut self, name: &'static str, values: Values) -> &mut Self {
        self.columns.push(Column { name, values });
        self
    }

    fn finish(self) -> Table {
        Table { name: self.name, rows: self.rows, columns: self.columns }
    }
}

fn us(x: u64) -> Option<i64> {
    i64::try_from(x).ok()
}

fn seconds(x: u64) -> Option<f64> {
    Some(x as f64 / 1e6)
}

/// The tables of one session, named as in [`TABLES`].
pub fn tables(data: &SessionData, visits: &[Visit]) -> Vec<Table> {
    vec![
        telemetry(data),
        events(data),
        suds(data, visits),
        heart_rate(data),
        commands(data),
        acks(data),
        annotations(data),
        steps(data, visits),
        sessions(data, visits),
    ]
}

fn telemetry(data: &SessionData) -> Table {
    let s = &data.samples;
    let mut b = Builder::new("telemetry", data, s.len());
    b.int("log_time_us", s.iter().map(|x| us(x.log_time_us)))
        .int("t_us", s.iter().map(|x| us(x.t_us)))
        .int("session_us", s.iter().map(|x| us(x.session_us)))
        .float("session_s", s.iter().map(|x| seconds(x.session_us)))
        .text("state", s.iter().map(|x| Some(x.state.clone())))
        .int("step", s.iter().map(|x| Some(i64::from(x.step))))
        .float("target_level", s.iter().map(|x| Some(x.target_level)))
        .float("applied_level", s.iter().map(|x| Some(x.applied_level)))
        .float("safe_blend", s.iter().map(|x| Some(x.safe_blend)));
    pose(&mut b, "head", s.iter().map(|x| Some(x.head)).collect());
    b.float("gaze_x", s.iter().map(|x| Some(x.gaze[0])))
        .float("gaze_y", s.iter().map(|x| Some(x.gaze[1])))
        .float("gaze_z", s.iter().map(|x| Some(x.gaze[2])))
        .boolean("gaze_on_stimulus", s.iter().map(|x| Some(x.gaze_on_stimulus)))
        .float("stimulus_angle_deg", s.iter().map(|x| Some(x.stimulus_angle_deg)))
        .float("stimulus_distance_m", s.iter().map(|x| x.stimulus_distance_m))
        .float("stimulus_x", s.iter().map(|x| x.stimulus_p.map(|p| p[0])))
        .float("stimulus_y", s.iter().map(|x| x.stimulus_p.map(|p| p[1])))
        .float("stimulus_z", s.iter().map(|x| x.stimulus_p.map(|p| p[2])))
        .float("heart_rate_bpm", s.iter().map(|x| x.heart_rate))
        .float("frame_ms", s.iter().map(|x| Some(x.frame_ms)))
        .int("dropped_frames", s.iter().map(|x| Some(i64::from(x.dropped_frames))));
    pose(&mut b, "left_hand", s.iter().map(|x| x.left_hand).collect());
    pose(&mut b, "right_hand", s.iter().map(|x| x.right_hand).collect());
    b.finish()
}

fn pose(b: &mut Builder, prefix: &'static str, poses: Vec<Option<Pose>>) {
    let names: [&'static str; 7] = match prefix {
        "head" => ["head_px", "head_py", "head_pz", "head_qx", "head_qy", "head_qz", "head_qw"],
        "left_hand" => ["left_px", "left_py", "left_pz", "left_qx", "left_qy", "left_qz", "left_qw"],
        _ => ["right_px", "right_py", "right_pz", "right_qx", "right_qy", "right_qz", "right_qw"],
    };
    for (i, name) in names.into_iter().enumerate() {
        b.float(name, poses.iter().map(|p| p.map(|p| if i < 3 { p.p[i] } else { p.q[i - 3] })));
    }
}

fn events(data: &SessionData) -> Table {
    let e = &data.events;
    let mut b = Builder::new("events", data, e.len());
    b.int("log_time_us", e.iter().map(|x| us(x.log_time_us)))
        .int("seq", e.iter().map(|x| us(x.seq)))
        .int("session_us", e.iter().map(|x| us(x.at_us)))
        .float("session_s", e.iter().map(|x| seconds(x.at_us)))
        .text("type", e.iter().map(|x| Some(x.kind.clone())))
        .int("step", e.iter().map(|x| x.int("step")))
        .text("step_id", e.iter().map(|x| x.text("id").map(str::to_owned)))
        .int("value", e.iter().map(|x| x.int("value")))
        .text("by", e.iter().map(|x| x.text("by").map(str::to_owned)))
        .text("text", e.iter().map(|x| x.text("text").or(x.text("label")).or(x.text("reason")).map(str::to_owned)))
        .text(
            "fields_json",
            e.iter().map(|x| Some(serde_json::Value::Object(x.fields.clone().into_iter().collect()).to_string())),
        );
    b.finish()
}

fn suds(data: &SessionData, visits: &[Visit]) -> Table {
    let e: Vec<_> = data.events.iter().filter(|x| x.kind == "suds_recorded").collect();
    // The visit a rating belongs to, by the log's order, as in `steps`.
    let visit_of = |seq: u64| crate::steps::visit_of(visits, seq);
    let mut b = Builder::new("suds", data, e.len());
    b.int("log_time_us", e.iter().map(|x| us(x.log_time_us)))
        .int("seq", e.iter().map(|x| us(x.seq)))
        .int("session_us", e.iter().map(|x| us(x.at_us)))
        .float("session_s", e.iter().map(|x| seconds(x.at_us)))
        .int("value", e.iter().map(|x| x.int("value")))
        .text("by", e.iter().map(|x| x.text("by").map(str::to_owned)))
        .int("step", e.iter().map(|x| visit_of(x.seq).map(|v| i64::from(v.step))))
        .text("step_id", e.iter().map(|x| visit_of(x.seq).map(|v| v.step_id.clone())))
        .float(
            "time_on_visit_s",
            e.iter().map(|x| visit_of(x.seq).and_then(|v| seconds(x.at_us.saturating_sub(v.entered_us)))),
        );
    b.finish()
}

/// One row per second of session time that has heart-rate samples.
struct HeartSecond {
    second: u64,
    log_time_us: u64,
    step: u32,
    state: String,
    mean: f64,
    min: f64,
    max: f64,
    samples: u64,
}

fn heart_rate(data: &SessionData) -> Table {
    let mut rows: Vec<HeartSecond> = Vec::new();
    let mut sum = 0.0;
    for s in &data.samples {
        let Some(hr) = s.heart_rate else { continue };
        let second = s.session_us / 1_000_000;
        match rows.last_mut() {
            Some(row) if row.second == second => {
                sum += hr;
                row.samples += 1;
                row.min = row.min.min(hr);
                row.max = row.max.max(hr);
                row.mean = sum / row.samples as f64;
            }
            _ => {
                sum = hr;
                rows.push(HeartSecond {
                    second,
                    log_time_us: s.log_time_us,
                    step: s.step,
                    state: s.state.clone(),
                    mean: hr,
                    min: hr,
                    max: hr,
                    samples: 1,
                });
            }
        }
    }
    let mut b = Builder::new("heart_rate", data, rows.len());
    b.int("log_time_us", rows.iter().map(|r| us(r.log_time_us)))
        .int("session_us", rows.iter().map(|r| us(r.second * 1_000_000)))
        .float("session_s", rows.iter().map(|r| Some(r.second as f64)))
        .int("step", rows.iter().map(|r| Some(i64::from(r.step))))
        .text("state", rows.iter().map(|r| Some(r.state.clone())))
        .float("heart_rate_bpm", rows.iter().map(|r| Some(r.mean)))
        .float("heart_rate_min_bpm", rows.iter().map(|r| Some(r.min)))
        .float("heart_rate_max_bpm", rows.iter().map(|r| Some(r.max)))
        .int("samples", rows.iter().map(|r| us(r.samples)));
    b.finish()
}

fn commands(data: &SessionData) -> Table {
    let c = &data.commands;
    let ack = |id: Option<u64>| id.and_then(|id| data.acks.iter().find(|a| a.id == Some(id)));
    let mut b = Builder::new("commands", data, c.len());
    b.int("log_time_us", c.iter().map(|x| us(x.log_time_us)))
        .int("session_us", c.iter().map(|x| data.session_us_at(x.log_time_us)))
        .float("session_s", c.iter().map(|x| data.session_us_at(x.log_time_us).map(|t| t as f64 / 1e6)))
        .int("id", c.iter().map(|x| x.id.and_then(us)))
        .text("type", c.iter().map(|x| Some(x.kind.clone())))
        .text("command_json", c.iter().map(|x| Some(x.json.clone())))
        .boolean("ack_ok", c.iter().map(|x| ack(x.id).and_then(|a| a.ok)))
        .text("ack_error", c.iter().map(|x| ack(x.id).and_then(|a| a.error.clone())))
        .float(
            "ack_latency_ms",
            c.iter().map(|x| ack(x.id).map(|a| (a.log_time_us as f64 - x.log_time_us as f64) / 1000.0)),
        );
    b.finish()
}

fn acks(data: &SessionData) -> Table {
    let a = &data.acks;
    let mut b = Builder::new("acks", data, a.len());
    b.int("log_time_us", a.iter().map(|x| us(x.log_time_us)))
        .int("session_us", a.iter().map(|x| data.session_us_at(x.log_time_us)))
        .float("session_s", a.iter().map(|x| data.session_us_at(x.log_time_us).map(|t| t as f64 / 1e6)))
        .int("seq", a.iter().map(|x| x.seq.and_then(us)))
        .int("id", a.iter().map(|x| x.id.and_then(us)))
        .boolean("ok", a.iter().map(|x| x.ok))
        .text("error", a.iter().map(|x| x.error.clone()));
    b.finish()
}

/// The `mirror` table (only with `trinvis export --mirror-frames`): one
/// row per recorded picture of the patient's view, naming the JPEG file the
/// export wrote for it (`files[i]`, relative to the dataset folder).
pub fn mirror(data: &SessionData, files: &[String]) -> Table {
    let p = &data.pictures;
    let mut b = Builder::new("mirror", data, p.len());
    let size = |x: &crate::load::PictureRow| recording::image::jpeg_size(&x.jpeg);
    b.int("log_time_us", p.iter().map(|x| us(x.log_time_us)))
        .int("session_us", p.iter().map(|x| x.session_us.and_then(us)))
        .float("session_s", p.iter().map(|x| x.session_us.and_then(seconds)))
        .text("file", files.iter().map(|f| Some(f.clone())))
        .int("width", p.iter().map(|x| size(x).map(|s| i64::from(s.0))))
        .int("height", p.iter().map(|x| size(x).map(|s| i64::from(s.1))))
        .int("bytes", p.iter().map(|x| i64::try_from(x.jpeg.len()).ok()));
    b.finish()
}

fn annotations(data: &SessionData) -> Table {
    let a = &data.annotations;
    let mut b = Builder::new("annotations", data, a.len());
    b.int("log_time_us", a.iter().map(|x| us(x.log_time_us)))
        .int("session_us", a.iter().map(|x| data.session_us_at(x.log_time_us)))
        .float("session_s", a.iter().map(|x| data.session_us_at(x.log_time_us).map(|t| t as f64 / 1e6)))
        .text("type", a.iter().map(|x| Some(x.kind.clone())))
        .text("text", a.iter().map(|x| Some(x.text.clone())))
        .text("extra_json", a.iter().map(|x| Some(x.extra_json.clone())));
    b.finish()
}

fn steps(data: &SessionData, v: &[Visit]) -> Table {
    let mut b = Builder::new("steps", data, v.len());
    b.int("step", v.iter().map(|x| Some(i64::from(x.step))))
        .text("step_id", v.iter().map(|x| Some(x.step_id.clone())))
        .text("step_title", v.iter().map(|x| x.step_title.clone()))
        .int("visit", v.iter().map(|x| x.visit.map(i64::from)))
        .boolean("during_safe_scene", v.iter().map(|x| Some(x.during_safe_scene)))
        .int("entered_us", v.iter().map(|x| us(x.entered_us)))
        .int("left_us", v.iter().map(|x| us(x.left_us)))
        .float("entered_s", v.iter().map(|x| seconds(x.entered_us)))
        .float("left_s", v.iter().map(|x| seconds(x.left_us)))
        .boolean("closed", v.iter().map(|x| Some(x.closed)))
        .float("time_on_step_s", v.iter().map(|x| seconds(x.time_on_step_us)))
        .int("suds_first", v.iter().map(|x| x.suds_first.map(i64::from)))
        .int("suds_peak", v.iter().map(|x| x.suds_peak.map(i64::from)))
        .int("suds_final", v.iter().map(|x| x.suds_final.map(i64::from)))
        .int("suds_ratings", v.iter().map(|x| Some(i64::from(x.suds_ratings))))
        .int("suds_drop", v.iter().map(|x| x.suds_drop))
        .float("suds_drop_ratio", v.iter().map(|x| x.suds_drop_ratio))
        .float("heart_rate_mean_bpm", v.iter().map(|x| x.heart_rate_mean))
        .float("heart_rate_max_bpm", v.iter().map(|x| x.heart_rate_max))
        .int("frames_running", v.iter().map(|x| us(x.frames_running)))
        .float("gaze_on_stimulus_fraction", v.iter().map(|x| x.gaze_on_stimulus_fraction))
        .float("turned_away_fraction", v.iter().map(|x| x.turned_away_fraction))
        .float("distance_change_m", v.iter().map(|x| x.distance_change_m))
        .float("frame_rate_hz", v.iter().map(|x| x.frame_rate_hz))
        .int("dropped_frames", v.iter().map(|x| us(x.dropped_frames)));
    b.finish()
}

/// One row: the session as a whole, for joining and for cohort tables.
fn sessions(data: &SessionData, v: &[Visit]) -> Table {
    let m = &data.metadata;
    let text = |s: &str| std::iter::once(Some(s.to_owned()));
    let count = |kind: &str| data.events.iter().filter(|e| e.kind == kind).count() as i64;
    // Passes behind the safe scene are not visits the patient saw.
    let seen = v.iter().filter(|x| !x.during_safe_scene);
    let mut b = Builder::new("sessions", data, 1);
    b.text("headset_id", text(&m.headset_id))
        .text("headset_app", text(&m.headset_app))
        .text("console_app", text(&m.console_app))
        .text("scenario_sha256", text(&m.scenario_sha256))
        .text("started", text(&m.started))
        .int("started_unix_us", std::iter::once(us(m.started_unix_us)))
        .int("clock_offset_us", std::iter::once(Some(m.clock_offset_us)))
        .boolean("complete", std::iter::once(Some(data.complete)))
        .text("cut", std::iter::once(data.cut.clone()))
        .float("duration_s", std::iter::once(seconds(data.end_us())))
        .int("highest_step", std::iter::once(Some(seen.clone().map(|x| i64::from(x.step)).max().unwrap_or(0))))
        .int("steps_visited", std::iter::once(Some(seen.count() as i64)))
        .int("suds_ratings", std::iter::once(Some(count("suds_recorded"))))
        .int("panics", std::iter::once(Some(count("panic"))))
        .int("safe_scene_entries", std::iter::once(Some(count("safe_scene_entered"))))
        .int("telemetry_samples", std::iter::once(Some(data.samples.len() as i64)));
    b.finish()
}
