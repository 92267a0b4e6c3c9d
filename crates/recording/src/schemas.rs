//! A JSON Schema per channel, stored in the file so viewers (Foxglove) can
//! show fields without knowing Trinvis. They describe `docs/protocol.md`'s
//! messages; `additionalProperties` stays open so that a newer headset's
//! extra fields do not make old viewers reject a file.

use crate::Channel;

/// Schema name and text for a channel.
pub(crate) fn for_channel(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Telemetry => ("trinvis.Sample", SAMPLE),
        Channel::Events => ("trinvis.SessionEvent", EVENT),
        Channel::Commands => ("trinvis.Command", COMMAND),
        Channel::Acks => ("trinvis.CommandAck", ACK),
        Channel::Annotations => ("trinvis.Annotation", ANNOTATION),
        Channel::Mirror => ("foxglove.CompressedImage", COMPRESSED_IMAGE),
    }
}

const SAMPLE: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "trinvis.Sample",
  "description": "One rendered frame: head pose, gaze, stimulus, session state, frame timing.",
  "type": "object",
  "required": ["t_us", "session_us", "head", "gaze", "gaze_on_stimulus", "stimulus_angle_deg", "state", "target_level", "applied_level", "step", "safe_blend", "frame_ms", "dropped_frames"],
  "properties": {
    "t_us": {"type": "integer", "description": "headset monotonic time, µs"},
    "session_us": {"type": "integer", "description": "session time, µs"},
    "head": {"$ref": "#/$defs/pose"},
    "left_hand": {"$ref": "#/$defs/pose"},
    "right_hand": {"$ref": "#/$defs/pose"},
    "gaze": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
    "gaze_on_stimulus": {"type": "boolean"},
    "stimulus_angle_deg": {"type": "number"},
    "stimulus_distance_m": {"type": "number"},
    "stimulus_p": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
    "state": {"enum": ["waiting", "running", "paused", "safe_scene", "ended"]},
    "target_level": {"type": "number"},
    "applied_level": {"type": "number"},
    "step": {"type": "integer"},
    "safe_blend": {"type": "number"},
    "frame_ms": {"type": "number"},
    "dropped_frames": {"type": "integer"},
    "heart_rate": {"type": "number"}
  },
  "$defs": {
    "pose": {
      "type": "object",
      "required": ["p", "q"],
      "properties": {
        "p": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3, "description": "position x, y, z in metres"},
        "q": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4, "description": "orientation quaternion x, y, z, w"}
      }
    }
  }
}"##;

const EVENT: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "trinvis.SessionEvent",
  "description": "One entry of the session engine's log; the fields depend on type.",
  "type": "object",
  "required": ["seq", "at_us", "type"],
  "properties": {
    "seq": {"type": "integer"},
    "at_us": {"type": "integer", "description": "session time, µs"},
    "type": {"type": "string"}
  }
}"##;

const COMMAND: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "trinvis.Command",
  "description": "A command the console sent to the headset.",
  "type": "object",
  "required": ["id", "command"],
  "properties": {
    "id": {"type": "integer"},
    "command": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
    "page": {"type": "integer", "description": "the console's id of the page that sent it (0: the console itself)"},
    "by": {"type": "string", "description": "that page's name, or \"console\""},
    "at_us": {"type": "integer", "description": "session time when the console passed it on, µs"}
  }
}"##;

const ACK: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "trinvis.CommandAck",
  "description": "The headset's result for a command.",
  "type": "object",
  "required": ["seq", "id", "ok"],
  "properties": {
    "seq": {"type": "integer"},
    "id": {"type": "integer"},
    "ok": {"type": "boolean"},
    "error": {"type": "string"}
  }
}"##;

const ANNOTATION: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "trinvis.Annotation",
  "description": "A note of the console: headset connected or gone, clock offset, telemetry gap.",
  "type": "object",
  "required": ["type"],
  "properties": {
    "type": {"type": "string"},
    "text": {"type": "string"}
  }
}"##;

/// Foxglove's own schema for `foxglove.CompressedImage` in JSON (its
/// `jsonschema/CompressedImage.json`), so Foxglove's Image panel takes the
/// channel as it is; `session_us` is Trinvis's own addition.
const COMPRESSED_IMAGE: &str = r##"{
  "title": "foxglove.CompressedImage",
  "description": "A compressed image",
  "type": "object",
  "properties": {
    "timestamp": {
      "type": "object",
      "title": "time",
      "properties": {
        "sec": {"type": "integer", "minimum": 0},
        "nsec": {"type": "integer", "minimum": 0, "maximum": 999999999}
      },
      "description": "Timestamp of image"
    },
    "frame_id": {"type": "string", "description": "Frame of reference for the image: the patient's view (left eye in a headset)"},
    "data": {"type": "string", "contentEncoding": "base64", "description": "Compressed image data"},
    "format": {"type": "string", "description": "Image format: jpeg"},
    "session_us": {"type": "integer", "description": "Trinvis: session time of the picture, µs"}
  }
}"##;
