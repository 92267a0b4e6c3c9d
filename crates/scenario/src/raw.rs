//! The scenario file as written: a serde mirror of the RON text. Nothing here
//! is checked beyond syntax and field names; [`crate::validate`] turns it into
//! a [`crate::Scenario`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Visitor};

use crate::params::EnvironmentKind;

/// What a scenario treats. `Other("...")` leaves room for conditions the
/// runtime has no special support for yet.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Condition {
    /// Fear of heights.
    Acrophobia,
    /// Fear of spiders.
    Arachnophobia,
    /// Social anxiety, in particular fear of public speaking.
    SocialAnxiety,
    /// Fear of flying (aviophobia).
    FearOfFlying,
    /// Fear of enclosed spaces.
    Claustrophobia,
    /// Not a condition: calm scenes for relaxation and as the safe scene.
    Relaxation,
    /// Any other condition, named in words.
    Other(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub(crate) struct RawScenario {
    pub format: f64,
    pub id: String,
    pub version: String,
    pub title: String,
    pub condition: Condition,
    #[serde(default)]
    pub description: String,
    pub environment: RawEnvironment,
    pub safety: RawSafety,
    pub hierarchy: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Environment")]
pub(crate) struct RawEnvironment {
    pub kind: EnvironmentKind,
    #[serde(default)]
    pub params: BTreeMap<String, RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Safety")]
pub(crate) struct RawSafety {
    pub safe_scene: String,
    pub link_loss_timeout_s: f64,
    #[serde(default)]
    pub link_loss_fade_s: Option<f64>,
    pub max_level_rate_per_s: f64,
    pub suds_prompt_interval_s: f64,
    #[serde(default)]
    pub suds_prompt_after_step_s: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Step")]
pub(crate) struct RawStep {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub therapist: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub params: BTreeMap<String, RawValue>,
    pub min_time_s: f64,
    #[serde(default)]
    pub advance: Option<RawAdvance>,
    #[serde(default)]
    pub prediction: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename = "Advance")]
pub(crate) struct RawAdvance {
    #[serde(default)]
    pub require: Option<Require>,
    #[serde(default)]
    pub suds_drop_from_peak: Option<f64>,
    #[serde(default)]
    pub suds_at_or_below: Option<RawSudsHold>,
    #[serde(default)]
    pub time_on_step_s: Option<f64>,
    #[serde(default)]
    pub heart_rate_within: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "SudsHold")]
pub(crate) struct RawSudsHold {
    pub suds: f64,
    pub for_s: f64,
}

/// How the criteria of an advance rule combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum Require {
    /// Every criterion given must hold.
    #[default]
    All,
    /// One criterion is enough.
    Any,
}

/// A parameter value as written: a number, `true`/`false`, or a quoted word.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawValue {
    Number(f64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawValue::Number(x) => write!(f, "{x}"),
            RawValue::Bool(b) => write!(f, "{b}"),
            RawValue::Text(s) => write!(f, "\"{s}\""),
        }
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        impl Visitor<'_> for ValueVisitor {
            type Value = RawValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, true or false, or a quoted word")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawValue, E> {
                Ok(RawValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawValue, E> {
                Ok(RawValue::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
                Ok(RawValue::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawValue, E> {
                Ok(RawValue::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
                Ok(RawValue::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawValue, E> {
                Ok(RawValue::Text(v))
            }
        }

        deserializer.deserialize_any(ValueVisitor)
    }
}
