//! The one place where the headset's domain types meet the wire: session
//! commands, events and states to and from protocol types.

use protocol::{Command as Wire, SessionEvent, SessionState};
use session::{Command, Event, State};

/// A command from the console as the session engine takes it.
pub fn command_from_wire(command: Wire) -> Command {
    match command {
        Wire::Start => Command::Start,
        Wire::SetLevel { level } => Command::SetLevel { level },
        Wire::GoToStep { step } => Command::GoToStep { step },
        Wire::NextStep => Command::NextStep,
        Wire::PreviousStep => Command::PreviousStep,
        Wire::AcceptSuggestion => Command::AcceptSuggestion,
        Wire::Pause => Command::Pause,
        Wire::Resume => Command::Resume,
        Wire::SafeScene => Command::SafeScene,
        Wire::Stop => Command::Stop,
        Wire::RequestSuds => Command::RequestSuds,
        Wire::RecordSuds { value } => Command::RecordSuds { value },
        Wire::Marker { label } => Command::Marker { label },
        Wire::Note { text } => Command::Note { text },
        Wire::Prediction { text } => Command::Prediction { text },
        Wire::Outcome { text } => Command::Outcome { text },
        Wire::SetAutomatic { on } => Command::SetAutomatic { on },
    }
}

/// A session state on the wire.
pub fn state_to_wire(state: State) -> SessionState {
    match state {
        State::Waiting => SessionState::Waiting,
        State::Running => SessionState::Running,
        State::Paused => SessionState::Paused,
        State::SafeScene => SessionState::SafeScene,
        State::Ended => SessionState::Ended,
    }
}

/// An engine event on the wire: its serde form, split into kind and fields.
pub fn event_to_wire(event: &Event) -> SessionEvent {
    let mut fields = match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => std::collections::BTreeMap::new(),
    };
    fields.remove("seq");
    fields.remove("at_us");
    let kind = match fields.remove("type") {
        Some(serde_json::Value::String(kind)) => kind,
        _ => "unknown".to_owned(),
    };
    SessionEvent { seq: event.seq, at_us: event.at_us, kind, fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_command_reaches_the_engine_with_the_same_json() {
        let wire = [
            Wire::Start,
            Wire::SetLevel { level: 2.5 },
            Wire::GoToStep { step: 3 },
            Wire::NextStep,
            Wire::PreviousStep,
            Wire::AcceptSuggestion,
            Wire::Pause,
            Wire::Resume,
            Wire::SafeScene,
            Wire::Stop,
            Wire::RequestSuds,
            Wire::RecordSuds { value: 40 },
            Wire::Marker { label: "m".into() },
            Wire::Note { text: "n".into() },
            Wire::Prediction { text: "p".into() },
            Wire::Outcome { text: "o".into() },
            Wire::SetAutomatic { on: true },
        ];
        for w in wire {
            let json = serde_json::to_value(&w).unwrap();
            assert_eq!(serde_json::to_value(command_from_wire(w)).unwrap(), json);
        }
    }

    #[test]
    fn events_keep_their_kind_and_fields() {
        let event = Event { seq: 4, at_us: 9, kind: session::EventKind::Marker { label: "here".into() } };
        let wire = event_to_wire(&event);
        assert_eq!((wire.seq, wire.at_us, wire.kind.as_str()), (4, 9, "marker"));
        assert_eq!(wire.fields.get("label"), Some(&serde_json::json!("here")));
    }
}
