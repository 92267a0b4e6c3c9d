//! Stimulus parameters: the schema of each environment kind and the values a
//! step gives them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The most parameters any environment kind has. Params live inline in an
/// array of this size so that [`crate::Scenario::params_at`] never allocates.
pub const MAX_PARAMS: usize = 12;

/// What the headset renders: each kind has its own scene and parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EnvironmentKind {
    /// Balconies, a glass lift or a roof edge above a visible drop.
    Heights,
    /// A room with a table, a bowl and procedural spiders.
    Spiders,
    /// A room with a lectern and an audience.
    PublicSpeaking,
    /// An aircraft cabin from the gate to landing.
    Flying,
    /// A lift car or small room whose size, light and crowd vary.
    Lift,
    /// A calm place: the safe scene, and relaxation practice.
    Safe,
}

impl EnvironmentKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [EnvironmentKind; 6] = [
        EnvironmentKind::Heights,
        EnvironmentKind::Spiders,
        EnvironmentKind::PublicSpeaking,
        EnvironmentKind::Flying,
        EnvironmentKind::Lift,
        EnvironmentKind::Safe,
    ];

    /// The parameters this kind's scene reads, in a fixed order.
    pub fn params(self) -> &'static [ParamSpec] {
        match self {
            EnvironmentKind::Heights => HEIGHTS,
            EnvironmentKind::Spiders => SPIDERS,
            EnvironmentKind::PublicSpeaking => PUBLIC_SPEAKING,
            EnvironmentKind::Flying => FLYING,
            EnvironmentKind::Lift => LIFT,
            EnvironmentKind::Safe => SAFE,
        }
    }

    /// The schema entry for `name`, with its position.
    pub fn param(self, name: &str) -> Option<(usize, &'static ParamSpec)> {
        self.params().iter().enumerate().find(|(_, spec)| spec.name == name)
    }
}

impl fmt::Display for EnvironmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The type and range of one parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// A real number, interpolated between steps.
    Number {
        /// Lowest accepted value.
        min: f64,
        /// Highest accepted value.
        max: f64,
        /// Whether `min` itself is refused (`> min` rather than `>= min`).
        min_exclusive: bool,
    },
    /// A whole number (spiders, listeners, people), interpolated then rounded.
    Count {
        /// Lowest accepted value.
        min: u32,
        /// Highest accepted value.
        max: u32,
    },
    /// On or off; switches at the midpoint between steps.
    Flag,
    /// One word out of a fixed list; switches at the midpoint between steps.
    Choice(&'static [&'static str]),
}

/// One parameter of an environment kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    /// The name used in scenario files.
    pub name: &'static str,
    /// Type and range.
    pub kind: ParamKind,
    /// Value used when neither the environment nor the step sets it.
    pub default: ParamValue,
    /// One line for clinicians: what it changes in the scene.
    pub help: &'static str,
}

/// A parameter's value after validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// See [`ParamKind::Number`].
    Number(f64),
    /// See [`ParamKind::Count`].
    Count(u32),
    /// See [`ParamKind::Flag`].
    Flag(bool),
    /// See [`ParamKind::Choice`].
    Choice(&'static str),
}

impl ParamValue {
    /// The value as a real number: counts convert, flags are 0 or 1, choices 0.
    pub fn as_f64(self) -> f64 {
        match self {
            ParamValue::Number(x) => x,
            ParamValue::Count(n) => f64::from(n),
            ParamValue::Flag(b) => f64::from(u8::from(b)),
            ParamValue::Choice(_) => 0.0,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Number(x) => write!(f, "{x}"),
            ParamValue::Count(n) => write!(f, "{n}"),
            ParamValue::Flag(b) => write!(f, "{b}"),
            ParamValue::Choice(s) => write!(f, "\"{s}\""),
        }
    }
}

/// A full set of stimulus parameters for one environment kind, in schema order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    kind: EnvironmentKind,
    values: [ParamValue; MAX_PARAMS],
}

impl Params {
    /// The schema defaults of `kind`.
    pub fn defaults(kind: EnvironmentKind) -> Params {
        let mut values = [ParamValue::Flag(false); MAX_PARAMS];
        for (slot, spec) in values.iter_mut().zip(kind.params()) {
            *slot = spec.default;
        }
        Params { kind, values }
    }

    /// The environment kind these parameters belong to.
    pub fn kind(&self) -> EnvironmentKind {
        self.kind
    }

    /// The value of `name`, or `None` when the kind has no such parameter.
    pub fn get(&self, name: &str) -> Option<ParamValue> {
        self.kind.param(name).map(|(i, _)| self.values[i])
    }

    /// The value of `name` as a real number (0 when the kind has no such parameter).
    pub fn number(&self, name: &str) -> f64 {
        self.get(name).map_or(0.0, ParamValue::as_f64)
    }

    /// Name and value of every parameter, in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, ParamValue)> + '_ {
        self.kind.params().iter().zip(&self.values).map(|(spec, v)| (spec.name, *v))
    }

    /// These parameters with `name` set to `value`; `None` when the kind has
    /// no such parameter or `value` does not fit its schema.
    pub fn with(mut self, name: &str, value: ParamValue) -> Option<Params> {
        let (i, spec) = self.kind.param(name)?;
        crate::validate::check_value(spec, value).ok()?;
        self.values[i] = value;
        Some(self)
    }

    pub(crate) fn set(&mut self, index: usize, value: ParamValue) {
        self.values[index] = value;
    }

    /// Parameters a fraction `t` (0..=1) of the way from `self` to `next`:
    /// numbers are interpolated, counts interpolated and rounded, flags and
    /// choices switch at the midpoint.
    pub fn lerp(&self, next: &Params, t: f64) -> Params {
        debug_assert_eq!(self.kind, next.kind);
        let mut out = *self;
        let n = self.kind.params().len();
        for i in 0..n {
            out.values[i] = match (self.values[i], next.values[i]) {
                (ParamValue::Number(a), ParamValue::Number(b)) => ParamValue::Number(a + (b - a) * t),
                (ParamValue::Count(a), ParamValue::Count(b)) => {
                    let x = f64::from(a) + (f64::from(b) - f64::from(a)) * t;
                    // Both ends are u32, so the rounded value is too.
                    ParamValue::Count(x.round() as u32)
                }
                (a, b) => {
                    if t < 0.5 {
                        a
                    } else {
                        b
                    }
                }
            };
        }
        out
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.kind.params().len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

const fn number(name: &'static str, min: f64, max: f64, default: f64, help: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Number { min, max, min_exclusive: false },
        default: ParamValue::Number(default),
        help,
    }
}

const fn positive(name: &'static str, max: f64, default: f64, help: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Number { min: 0.0, max, min_exclusive: true },
        default: ParamValue::Number(default),
        help,
    }
}

const fn count(name: &'static str, min: u32, max: u32, default: u32, help: &'static str) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::Count { min, max }, default: ParamValue::Count(default), help }
}

const fn flag(name: &'static str, default: bool, help: &'static str) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::Flag, default: ParamValue::Flag(default), help }
}

const fn choice(
    name: &'static str,
    options: &'static [&'static str],
    default: &'static str,
    help: &'static str,
) -> ParamSpec {
    ParamSpec { name, kind: ParamKind::Choice(options), default: ParamValue::Choice(default), help }
}

const HEIGHTS: &[ParamSpec] = &[
    choice("setting", &["balcony", "glass_lift", "rooftop", "bridge"], "balcony", "where the patient stands"),
    positive("height_m", 1000.0, 3.0, "height of the patient's floor above the ground, in metres"),
    number("edge_distance_m", 0.0, 10.0, 2.0, "distance from the patient to the edge, in metres"),
    number("railing_height_m", 0.0, 1.5, 1.1, "height of the railing; 0 = no railing"),
    flag("glass_floor", false, "the floor under the patient is transparent"),
    number("wind", 0.0, 1.0, 0.1, "wind strength, 0 = still air, 1 = gale (sound and sway)"),
    number("sway", 0.0, 1.0, 0.0, "how much the platform moves, 0 = rigid"),
];

const SPIDERS: &[ParamSpec] = &[
    count("count", 0, 50, 1, "number of spiders in the scene"),
    positive("size_cm", 20.0, 2.0, "leg span of each spider, in centimetres"),
    number("distance_m", 0.0, 5.0, 3.0, "distance from the nearest spider to the patient's hands, in metres"),
    number("activity", 0.0, 1.0, 0.2, "how much and how fast the spiders move, 0 = still"),
    flag("contained", true, "the spiders are inside a closed glass bowl"),
    number("realism", 0.0, 1.0, 0.5, "0 = cartoon-like, 1 = hairy and detailed"),
];

const PUBLIC_SPEAKING: &[ParamSpec] = &[
    choice("room", &["meeting_room", "classroom", "auditorium"], "meeting_room", "the room the talk is given in"),
    count("audience", 0, 200, 3, "number of listeners"),
    number("attention", 0.0, 1.0, 0.5, "share of listeners looking at the speaker"),
    number("hostility", 0.0, 1.0, 0.0, "0 = warm and nodding, 1 = frowning, bored, interrupting"),
    flag("questions", false, "listeners raise hands and ask questions"),
    number("speaker_distance_m", 0.5, 20.0, 4.0, "distance from the lectern to the first row, in metres"),
];

const FLYING: &[ParamSpec] = &[
    choice(
        "phase",
        &["gate", "boarding", "taxi", "takeoff", "cruise", "descent", "landing"],
        "gate",
        "which part of the flight is shown",
    ),
    number("turbulence", 0.0, 1.0, 0.0, "shaking of the cabin, 0 = smooth, 1 = severe"),
    number("occupancy", 0.0, 1.0, 0.3, "share of seats taken"),
    choice("seat", &["aisle", "middle", "window"], "aisle", "where the patient sits"),
    count("row", 1, 40, 12, "seat row, 1 = front of the cabin"),
    flag("night", false, "dark outside, cabin lights dimmed"),
    choice("weather", &["clear", "cloudy", "storm"], "clear", "what the windows show"),
    number("engine_noise", 0.0, 1.0, 0.5, "loudness of the engines"),
    flag("anxious_passenger", false, "a neighbour makes anxious comments"),
];

const LIFT: &[ParamSpec] = &[
    positive("width_m", 4.0, 2.0, "inner width of the lift car, in metres"),
    positive("depth_m", 4.0, 2.0, "inner depth of the lift car, in metres"),
    number("ride_s", 0.0, 600.0, 10.0, "length of the ride, in seconds"),
    count("people", 0, 12, 0, "other people in the car"),
    number("light", 0.0, 1.0, 1.0, "brightness, 0 = dark, 1 = bright"),
    flag("doors_open", true, "the doors stay open"),
    flag("stops_between_floors", false, "the car halts between floors for a while"),
    flag("flicker", false, "the car's light flickers"),
];

const SAFE: &[ParamSpec] = &[
    choice("setting", &["meadow", "beach", "forest"], "meadow", "the calm place shown"),
    number("light", 0.0, 1.0, 0.8, "brightness, 0 = dusk, 1 = full sun"),
    number("ambience", 0.0, 1.0, 0.5, "loudness of the calm ambient sound"),
    number("breathing_guide", 0.0, 1.0, 0.0, "visibility of a slow breathing guide, 0 = hidden"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_fits_and_has_valid_defaults() {
        for kind in EnvironmentKind::ALL {
            let specs = kind.params();
            assert!(specs.len() <= MAX_PARAMS, "{kind} has too many params");
            for spec in specs {
                assert!(crate::validate::check_value(spec, spec.default).is_ok(), "{kind}.{} default", spec.name);
            }
            let mut names: Vec<_> = specs.iter().map(|s| s.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), specs.len(), "{kind} repeats a name");
        }
    }

    #[test]
    fn lerp_interpolates_numbers_and_switches_discrete_at_midpoint() {
        let kind = EnvironmentKind::Spiders;
        let mut a = Params::defaults(kind);
        let mut b = Params::defaults(kind);
        a.set(0, ParamValue::Count(1));
        b.set(0, ParamValue::Count(5));
        a.set(2, ParamValue::Number(3.0));
        b.set(2, ParamValue::Number(1.0));
        a.set(4, ParamValue::Flag(true));
        b.set(4, ParamValue::Flag(false));
        let quarter = a.lerp(&b, 0.25);
        assert_eq!(quarter.get("count"), Some(ParamValue::Count(2)));
        assert_eq!(quarter.get("distance_m"), Some(ParamValue::Number(2.5)));
        assert_eq!(quarter.get("contained"), Some(ParamValue::Flag(true)));
        let half = a.lerp(&b, 0.5);
        assert_eq!(half.get("contained"), Some(ParamValue::Flag(false)));
        assert_eq!(half.get("count"), Some(ParamValue::Count(3)));
    }
}

/// The parameter table of `kind` as `docs/scenario-format.md` shows it
/// (name, type, range, default, meaning), made from the schema; a test
/// compares it with the document, so the two cannot drift.
#[cfg(test)]
pub(crate) fn reference_table(kind: EnvironmentKind) -> String {
    let mut out = String::from("| name | type | range | default | meaning |\n| --- | --- | --- | --- | --- |\n");
    let number = |x: f64| if x.fract() == 0.0 && x.abs() < 1e9 { format!("{x:.0}") } else { format!("{x}") };
    for spec in kind.params() {
        let (kind_word, range) = match spec.kind {
            ParamKind::Number { min, max, min_exclusive } => {
                ("number", format!("{}{} to {}", if min_exclusive { "> " } else { "" }, number(min), number(max)))
            }
            ParamKind::Count { min, max } => ("count", format!("whole number, {min} to {max}")),
            ParamKind::Flag => ("flag", "`true`, `false`".to_owned()),
            ParamKind::Choice(words) => {
                ("choice", words.iter().map(|w| format!("`\"{w}\"`")).collect::<Vec<_>>().join(", "))
            }
        };
        let default = match spec.default {
            ParamValue::Number(x) => format!("{x:?}"),
            ParamValue::Count(n) => n.to_string(),
            other => format!("`{other}`"),
        };
        out.push_str(&format!("| `{}` | {kind_word} | {range} | {default} | {} |\n", spec.name, spec.help));
    }
    out
}

#[cfg(test)]
mod reference_tests {
    use super::{EnvironmentKind, reference_table};

    /// docs/scenario-format.md's parameter tables are the schema's: a
    /// parameter added, renamed or given another range or default without
    /// the document fails here (`UPDATE_DOCS=1 cargo test -p trinvis-scenario`
    /// rewrites them).
    #[test]
    fn the_documents_parameter_tables_are_the_schemas() {
        let path = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
            .join("../../docs/scenario-format.md");
        let mut doc = std::fs::read_to_string(&path).expect("docs/scenario-format.md");
        let mut problems = Vec::new();
        for kind in EnvironmentKind::ALL {
            let start_marker = format!("<!-- generated: {kind:?} parameters -->\n");
            let Some(start) = doc.find(&start_marker).map(|s| s + start_marker.len()) else {
                problems.push(format!("no `{}` in docs/scenario-format.md", start_marker.trim()));
                continue;
            };
            let Some(end) = doc[start..].find("<!-- end generated -->").map(|e| start + e) else {
                problems.push(format!("no end marker after the {kind:?} table"));
                continue;
            };
            let table = reference_table(kind);
            if doc[start..end] != table {
                problems.push(format!("the {kind:?} table differs:\n{}\nshould be:\n{table}", &doc[start..end]));
                doc.replace_range(start..end, &table);
            }
        }
        if problems.is_empty() {
            return;
        }
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, doc).expect("write docs/scenario-format.md");
            return;
        }
        panic!("{}\n(UPDATE_DOCS=1 cargo test -p trinvis-scenario rewrites them)", problems.join("\n"));
    }
}
