//! From the raw file to a checked [`Scenario`], collecting every problem.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::model::{AdvanceRule, Safety, Scenario, Step, SudsHold};
use crate::params::{EnvironmentKind, ParamKind, ParamSpec, ParamValue, Params};
use crate::raw::{RawAdvance, RawSafety, RawScenario, RawStep, RawValue};
use crate::span::{Pos, SpanIndex};

/// The scenario format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// One problem in a scenario file, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where: 1-based line and column.
    pub pos: Pos,
    /// Which part of the scenario, e.g. `step "floor-3"`; `None` at the top.
    pub context: Option<String>,
    /// The field, e.g. `height_m` or `advance.suds_drop_from_peak`.
    pub field: Option<String>,
    /// What is wrong and what would be accepted.
    pub message: String,
}

/// Everything wrong with one scenario file. Displays one line per problem:
/// `path:line:col: step "floor-3": height_m: must be > 0, got -2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file name (or other origin) given to [`crate::parse`].
    pub origin: String,
    /// At least one problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: ", self.origin, d.pos.line, d.pos.col)?;
            if let Some(context) = &d.context {
                write!(f, "{context}: ")?;
            }
            if let Some(field) = &d.field {
                write!(f, "{field}: ")?;
            }
            f.write_str(&d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Parses RON text into a checked [`Scenario`]. `origin` names the text in
/// errors (usually its path).
pub fn parse(src: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let index = SpanIndex::build(src);
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: RawScenario = options
        .from_str(src)
        .map_err(|e| ScenarioError { origin: origin.to_owned(), diagnostics: vec![syntax_diagnostic(&index, &e)] })?;
    let mut v = Validator { index: &index, diagnostics: Vec::new() };
    let scenario = v.scenario(raw);
    v.repeated_keys();
    if v.diagnostics.is_empty() {
        Ok(scenario)
    } else {
        let mut diagnostics = v.diagnostics;
        diagnostics.sort_by_key(|d| d.pos);
        Err(ScenarioError { origin: origin.to_owned(), diagnostics })
    }
}

fn syntax_diagnostic(index: &SpanIndex, e: &ron::error::SpannedError) -> Diagnostic {
    let pos = Pos { line: e.span.start.line as u32, col: e.span.start.col as u32 };
    let message = match &e.code {
        ron::Error::NoSuchStructField { expected, found, .. } => {
            format!("unknown field `{found}`; expected one of: {}", expected.join(", "))
        }
        ron::Error::MissingStructField { field, .. } => format!("missing field `{field}`"),
        ron::Error::DuplicateStructField { field, .. } => format!("field `{field}` is given twice"),
        ron::Error::NoSuchEnumVariant { expected, found, .. } => {
            format!("unknown name `{found}`; expected one of: {}", expected.join(", "))
        }
        other => other.to_string(),
    };
    let context = (0..)
        .map(|i| (i, format!("hierarchy/{i}")))
        .take_while(|(_, path)| index.has(path))
        .find(|(_, path)| index.contains(path, pos))
        .map(|(i, path)| step_context(index.text(&format!("{path}/id")), &(i + 1).to_string()));
    Diagnostic { pos, context, field: None, message }
}

fn step_context(id: Option<&str>, number: &str) -> String {
    match id {
        Some(id) if !id.is_empty() => format!("step \"{id}\""),
        _ => format!("step {number}"),
    }
}

/// Where a value lives in the file and how errors about it are headed.
struct Place<'p> {
    path: &'p str,
    context: Option<&'p str>,
    field: &'p str,
}

struct Validator<'a> {
    index: &'a SpanIndex,
    diagnostics: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn report(&mut self, pos: Pos, place: &Place<'_>, message: String) {
        self.diagnostics.push(Diagnostic {
            pos,
            context: place.context.map(str::to_owned),
            field: (!place.field.is_empty()).then(|| place.field.to_owned()),
            message,
        });
    }

    fn error(&mut self, place: &Place<'_>, message: String) {
        let pos = self.index.value(place.path);
        self.report(pos, place, message);
    }

    /// Checks `lo <(=) x <= hi`, reporting with the accepted range.
    fn range(&mut self, place: &Place<'_>, x: f64, lo: f64, lo_exclusive: bool, hi: f64) -> f64 {
        if let Err(message) = check_range(x, lo, lo_exclusive, hi) {
            self.error(place, message);
        }
        x
    }

    fn not_empty(&mut self, place: &Place<'_>, text: &str) {
        if text.trim().is_empty() {
            self.error(place, "must not be empty".to_owned());
        }
    }

    /// serde keeps the last of a repeated map key; a clinician who pasted a
    /// line twice should hear about it.
    fn repeated_keys(&mut self) {
        for (path, pos) in self.index.repeated() {
            let mut segments = path.split('/');
            let context = match (segments.next(), segments.next()) {
                (Some("hierarchy"), Some(i)) => {
                    let number = i.parse::<usize>().map_or_else(|_| i.to_owned(), |i| (i + 1).to_string());
                    Some(step_context(self.index.text(&format!("hierarchy/{i}/id")), &number))
                }
                (Some(first), _) => Some(first.to_owned()),
                _ => None,
            };
            let field = path.rsplit('/').next().unwrap_or(path);
            self.diagnostics.push(Diagnostic {
                pos: *pos,
                context,
                field: Some(field.to_owned()),
                message: "is given twice; remove one (the last would win)".to_owned(),
            });
        }
    }

    fn scenario(&mut self, raw: RawScenario) -> Scenario {
        let top = |path: &'static str| Place { path, context: None, field: path };
        if raw.format != f64::from(FORMAT_VERSION) {
            self.error(
                &top("format"),
                format!("unsupported format version {}; this build reads format {FORMAT_VERSION}", raw.format),
            );
        }
        if !is_identifier(&raw.id) {
            self.error(&top("id"), format!("must be lower-case letters, digits and '-', got \"{}\"", raw.id));
        }
        self.not_empty(&top("version"), &raw.version);
        self.not_empty(&top("title"), &raw.title);

        let kind = raw.environment.kind;
        let base =
            self.params(Params::defaults(kind), &raw.environment.params, "environment/params", Some("environment"));
        let safety = self.safety(&raw.safety);

        if raw.hierarchy.is_empty() {
            self.error(&top("hierarchy"), "must have at least one step".to_owned());
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut steps = Vec::with_capacity(raw.hierarchy.len());
        for (i, step) in raw.hierarchy.iter().enumerate() {
            if let Some(first) = seen.insert(step.id.as_str(), i) {
                let path = format!("hierarchy/{i}/id");
                let line = self.index.value(&format!("hierarchy/{first}/id")).line;
                let context = step_context(Some(&step.id), &(i + 1).to_string());
                self.error(
                    &Place { path: &path, context: Some(&context), field: "id" },
                    format!("duplicate step id; step {} (line {line}) has it already", first + 1),
                );
            }
            steps.push(self.step(i, step, &base));
        }

        Scenario {
            id: raw.id,
            version: raw.version,
            title: raw.title,
            condition: raw.condition,
            description: raw.description,
            environment: kind,
            steps,
            safety,
        }
    }

    fn safety(&mut self, raw: &RawSafety) -> Safety {
        let at = |field: &'static str, path: &'static str| Place { path, context: Some("safety"), field };
        let settings = match EnvironmentKind::Safe.param("setting") {
            Some((_, ParamSpec { kind: ParamKind::Choice(options), .. })) => *options,
            _ => &[],
        };
        let safe_scene = match settings.iter().find(|s| **s == raw.safe_scene) {
            Some(s) => *s,
            None => {
                self.error(
                    &at("safe_scene", "safety/safe_scene"),
                    format!("unknown safe scene \"{}\"; expected one of: {}", raw.safe_scene, settings.join(", ")),
                );
                "meadow"
            }
        };
        let timeout = self.range(
            &at("link_loss_timeout_s", "safety/link_loss_timeout_s"),
            raw.link_loss_timeout_s,
            0.0,
            true,
            600.0,
        );
        let fade = raw.link_loss_fade_s.unwrap_or(3.0);
        self.range(&at("link_loss_fade_s", "safety/link_loss_fade_s"), fade, 0.0, true, 30.0);
        let rate = self.range(
            &at("max_level_rate_per_s", "safety/max_level_rate_per_s"),
            raw.max_level_rate_per_s,
            0.0,
            true,
            5.0,
        );
        let interval = self.range(
            &at("suds_prompt_interval_s", "safety/suds_prompt_interval_s"),
            raw.suds_prompt_interval_s,
            0.0,
            false,
            3600.0,
        );
        let after_step = raw.suds_prompt_after_step_s.unwrap_or(15.0);
        self.range(&at("suds_prompt_after_step_s", "safety/suds_prompt_after_step_s"), after_step, 0.0, false, 3600.0);
        Safety {
            safe_scene,
            link_loss_timeout_s: timeout,
            link_loss_fade_s: fade,
            max_level_rate_per_s: rate,
            suds_prompt_interval_s: (interval > 0.0).then_some(interval),
            suds_prompt_after_step_s: (after_step > 0.0).then_some(after_step),
        }
    }

    fn step(&mut self, i: usize, raw: &RawStep, base: &Params) -> Step {
        let context = step_context(Some(&raw.id), &(i + 1).to_string());
        let path = |field: &str| format!("hierarchy/{i}/{field}");
        let p_id = path("id");
        if !is_identifier(&raw.id) {
            self.error(
                &Place { path: &p_id, context: Some(&context), field: "id" },
                format!("must be lower-case letters, digits and '-', got \"{}\"", raw.id),
            );
        }
        let p_title = path("title");
        self.not_empty(&Place { path: &p_title, context: Some(&context), field: "title" }, &raw.title);
        let params = self.params(*base, &raw.params, &path("params"), Some(&context));
        let p_min = path("min_time_s");
        let min_time_s = self.range(
            &Place { path: &p_min, context: Some(&context), field: "min_time_s" },
            raw.min_time_s,
            0.0,
            false,
            7200.0,
        );
        let advance = raw.advance.as_ref().map(|a| self.advance(a, &path("advance"), &context));
        Step {
            id: raw.id.clone(),
            title: raw.title.clone(),
            therapist: raw.therapist.clone(),
            patient: raw.patient.clone(),
            params,
            min_time_s,
            advance,
            prediction: raw.prediction.clone(),
        }
    }

    fn advance(&mut self, raw: &RawAdvance, path: &str, context: &str) -> AdvanceRule {
        let p = |field: &str| format!("{path}/{field}");
        let (p_drop, p_hold_suds, p_hold_for, p_time, p_hr) = (
            p("suds_drop_from_peak"),
            p("suds_at_or_below/suds"),
            p("suds_at_or_below/for_s"),
            p("time_on_step_s"),
            p("heart_rate_within"),
        );
        if let Some(x) = raw.suds_drop_from_peak {
            self.range(
                &Place { path: &p_drop, context: Some(context), field: "advance.suds_drop_from_peak" },
                x,
                0.0,
                true,
                1.0,
            );
        }
        if let Some(hold) = &raw.suds_at_or_below {
            self.range(
                &Place { path: &p_hold_suds, context: Some(context), field: "advance.suds_at_or_below.suds" },
                hold.suds,
                0.0,
                false,
                100.0,
            );
            self.range(
                &Place { path: &p_hold_for, context: Some(context), field: "advance.suds_at_or_below.for_s" },
                hold.for_s,
                0.0,
                false,
                7200.0,
            );
        }
        if let Some(x) = raw.time_on_step_s {
            self.range(
                &Place { path: &p_time, context: Some(context), field: "advance.time_on_step_s" },
                x,
                0.0,
                true,
                7200.0,
            );
        }
        if let Some(x) = raw.heart_rate_within {
            self.range(
                &Place { path: &p_hr, context: Some(context), field: "advance.heart_rate_within" },
                x,
                0.0,
                true,
                1.0,
            );
        }
        if raw.suds_drop_from_peak.is_none()
            && raw.suds_at_or_below.is_none()
            && raw.time_on_step_s.is_none()
            && raw.heart_rate_within.is_none()
        {
            self.error(
                &Place { path, context: Some(context), field: "advance" },
                "names no criterion; give at least one of suds_drop_from_peak, suds_at_or_below, time_on_step_s, heart_rate_within, or leave `advance` out".to_owned(),
            );
        }
        AdvanceRule {
            require: raw.require.unwrap_or_default(),
            suds_drop_from_peak: raw.suds_drop_from_peak,
            suds_at_or_below: raw.suds_at_or_below.as_ref().map(|h| SudsHold { suds: h.suds, for_s: h.for_s }),
            time_on_step_s: raw.time_on_step_s,
            heart_rate_within: raw.heart_rate_within,
        }
    }

    fn params(
        &mut self,
        mut out: Params,
        raw: &BTreeMap<String, RawValue>,
        path: &str,
        context: Option<&str>,
    ) -> Params {
        let kind = out.kind();
        for (name, value) in raw {
            let value_path = format!("{path}/{name}");
            let place = Place { path: &value_path, context, field: name };
            let Some((i, spec)) = kind.param(name) else {
                let known: Vec<_> = kind.params().iter().map(|s| s.name).collect();
                let pos = self.index.key(&value_path);
                self.report(
                    pos,
                    &place,
                    format!("unknown parameter for {kind}; expected one of: {}", known.join(", ")),
                );
                continue;
            };
            match convert(spec, value).and_then(|v| check_value(spec, v).map(|()| v)) {
                Ok(v) => out.set(i, v),
                Err(message) => self.error(&place, message),
            }
        }
        out
    }
}

/// Turns a written value into the spec's type, or says what was expected.
fn convert(spec: &ParamSpec, value: &RawValue) -> Result<ParamValue, String> {
    match (spec.kind, value) {
        (ParamKind::Number { .. }, RawValue::Number(x)) => Ok(ParamValue::Number(*x)),
        (ParamKind::Count { min, max }, RawValue::Number(x)) => {
            if x.fract() != 0.0 || *x < f64::from(min) || *x > f64::from(max) {
                Err(format!("must be a whole number from {min} to {max}, got {value}"))
            } else {
                // Checked whole and within u32 bounds just above.
                Ok(ParamValue::Count(*x as u32))
            }
        }
        (ParamKind::Flag, RawValue::Bool(b)) => Ok(ParamValue::Flag(*b)),
        (ParamKind::Choice(options), RawValue::Text(s)) => options
            .iter()
            .find(|o| **o == s.as_str())
            .map(|o| ParamValue::Choice(o))
            .ok_or_else(|| format!("must be one of {}, got {value}", quoted(options))),
        (ParamKind::Number { .. }, _) => Err(format!("must be a number, got {value}")),
        (ParamKind::Count { .. }, _) => Err(format!("must be a whole number, got {value}")),
        (ParamKind::Flag, _) => Err(format!("must be true or false, got {value}")),
        (ParamKind::Choice(options), _) => Err(format!("must be one of {}, got {value}", quoted(options))),
    }
}

/// Whether `value` is within the spec's range; the message says what is accepted.
pub(crate) fn check_value(spec: &ParamSpec, value: ParamValue) -> Result<(), String> {
    match (spec.kind, value) {
        (ParamKind::Number { min, max, min_exclusive }, ParamValue::Number(x)) => {
            check_range(x, min, min_exclusive, max)
        }
        (ParamKind::Count { min, max }, ParamValue::Count(n)) if (min..=max).contains(&n) => Ok(()),
        (ParamKind::Flag, ParamValue::Flag(_)) => Ok(()),
        (ParamKind::Choice(options), ParamValue::Choice(c)) if options.contains(&c) => Ok(()),
        _ => Err(format!("does not fit {:?}", spec.kind)),
    }
}

fn check_range(x: f64, lo: f64, lo_exclusive: bool, hi: f64) -> Result<(), String> {
    let above = if lo_exclusive { x > lo } else { x >= lo };
    if above && x <= hi {
        return Ok(());
    }
    Err(if above {
        format!("must be <= {hi}, got {x}")
    } else {
        format!("must be {} {lo}, got {x}", if lo_exclusive { ">" } else { ">=" })
    })
}

fn quoted(options: &[&str]) -> String {
    options.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", ")
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
