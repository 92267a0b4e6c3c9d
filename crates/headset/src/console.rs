//! The link to the console inside the app: commands become messages for the
//! engine, outcomes become acks, new events and every frame's sample go out.
//! The link never blocks the frame.

use bevy::prelude::*;
use link::{Clock, Link, LinkConfig};
use protocol::{ScenarioRef, StepInfo};
use session::LinkStatus;

use crate::HeadsetSystems;
use crate::engine::{CommandOutcome, Engine, LinkChanged, TherapistCommand};
use crate::telemetry::{HeadsetClock, TelemetryFrame};

/// Connects to a console.
#[derive(Debug)]
pub struct ConsolePlugin {
    /// `ws://host:port`.
    pub url: String,
    /// The headset token.
    pub token: String,
    /// Pseudonymous patient code.
    pub patient_code: String,
    /// The scenario file.
    pub scenario: ScenarioRef,
    /// The scenario's steps, for the console's labels.
    pub steps: Vec<StepInfo>,
}

/// The link and what it has already passed on.
#[derive(Resource, Debug)]
pub struct ConsoleLink {
    /// The link.
    pub link: Link,
    events_sent: u64,
    connected: Option<bool>,
}

impl Plugin for ConsolePlugin {
    fn build(&self, app: &mut App) {
        let clock = Clock::new();
        let headset_id = std::env::var("TRINVIS_HEADSET_ID").unwrap_or_else(|_| "trinvis-headset".to_owned());
        let mut config =
            LinkConfig::new(&self.url, &self.token, &headset_id, &self.patient_code, self.scenario.clone(), clock);
        config.app = concat!("trinvis-headset ", env!("CARGO_PKG_VERSION")).to_owned();
        config.steps = self.steps.clone();
        // The telemetry clock and the link's agree on session time 0.
        app.insert_resource(HeadsetClock { epoch_us: config.session_epoch_us });
        app.insert_resource(ConsoleLink { link: Link::start(config), events_sent: 0, connected: None })
            .add_systems(Update, receive.in_set(HeadsetSystems::Input))
            .add_systems(Update, send.in_set(HeadsetSystems::Observe));
    }
}

fn receive(
    mut console: ResMut<ConsoleLink>,
    mut commands: MessageWriter<TherapistCommand>,
    mut links: MessageWriter<LinkChanged>,
) {
    let connected = console.link.connected();
    if console.connected != Some(connected) {
        if console.connected.is_some() || !connected {
            links.write(LinkChanged(if connected { LinkStatus::Connected } else { LinkStatus::Lost }));
        }
        console.connected = Some(connected);
    }
    while let Some(message) = console.link.poll_command() {
        commands.write(TherapistCommand {
            command: link::command_from_wire(message.command),
            console_id: Some(message.id),
        });
    }
}

fn send(
    engine: Res<Engine>,
    mut console: ResMut<ConsoleLink>,
    mut outcomes: MessageReader<CommandOutcome>,
    mut frames: MessageReader<TelemetryFrame>,
) {
    for outcome in outcomes.read() {
        console.link.ack_command(outcome.console_id, outcome.result.clone());
    }
    let fresh = engine.session.events_since(console.events_sent);
    if !fresh.is_empty() {
        console.link.push_events(fresh.iter().map(link::event_to_wire).collect());
        console.events_sent = engine.session.events().len() as u64;
    }
    for frame in frames.read() {
        console.link.push_sample(frame.sample.clone());
    }
}
