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

/// How the headset proves itself to the console.
#[derive(Clone, Debug)]
pub enum Access {
    /// The console's shared headset token (scripts, tests), and over
    /// `wss://` the console certificate's fingerprint.
    Token {
        /// The token.
        token: String,
        /// `AB:CD:…`, pinned.
        fingerprint: Option<String>,
    },
    /// This headset's own credential, kept in this file; when there is
    /// none for this console the headset pairs first (a code in its view).
    Paired {
        /// The credentials file.
        credentials: std::path::PathBuf,
    },
}

/// Connects to a console.
#[derive(Debug)]
pub struct ConsolePlugin {
    /// `ws://host:port` (loopback) or `wss://host:port`.
    pub url: String,
    /// Token or pairing.
    pub access: Access,
    /// Pseudonymous patient code.
    pub patient_code: String,
    /// The scenario file.
    pub scenario: ScenarioRef,
    /// The scenario's steps, for the console's labels.
    pub steps: Vec<StepInfo>,
    /// The app renders: it sends mirror frames when the console asks.
    pub mirror: bool,
}

/// A paired headset's link settings (without its credential) and where it
/// keeps the credential: the link starts from them once pairing brings one,
/// and pairing starts again when the console no longer takes it (revoked).
#[derive(Resource, Debug)]
struct PairedAccess {
    template: LinkConfig,
    url: String,
    headset_id: String,
    credentials: std::path::PathBuf,
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
        let mut config = LinkConfig::new(&self.url, "", &headset_id, &self.patient_code, self.scenario.clone(), clock);
        config.app = concat!("trinvis-headset ", env!("CARGO_PKG_VERSION")).to_owned();
        config.steps = self.steps.clone();
        config.mirror = self.mirror;
        // The telemetry clock and the link's agree on session time 0.
        app.insert_resource(HeadsetClock { epoch_us: config.session_epoch_us })
            .add_systems(Update, receive.in_set(HeadsetSystems::Input))
            .add_systems(Update, send.in_set(HeadsetSystems::Observe));
        let saved = match &self.access {
            Access::Token { token, fingerprint } => Some((token.clone(), fingerprint.clone())),
            Access::Paired { credentials } => match link::pair::Credentials::load(credentials) {
                Ok(Some(c)) if c.console == link::pair::normalise_console(&self.url) => {
                    info!("credential {} from {}", c.credential_id, credentials.display());
                    Some((c.credential, c.fingerprint))
                }
                Ok(Some(c)) => {
                    warn!("{} is for {}, not {}: pairing again", credentials.display(), c.console, self.url);
                    None
                }
                Ok(None) => None,
                Err(e) => {
                    warn!("{e}: pairing again");
                    None
                }
            },
        };
        if let Access::Paired { credentials } = &self.access {
            app.add_plugins(crate::pairing::PairingPlugin)
                .insert_resource(PairedAccess {
                    template: config.clone(),
                    url: self.url.clone(),
                    headset_id: headset_id.clone(),
                    credentials: credentials.clone(),
                })
                .add_systems(
                    Update,
                    (pair_again_when_refused, start_when_paired).chain().in_set(HeadsetSystems::Input).before(receive),
                );
            if saved.is_none() {
                app.insert_resource(crate::pairing::Pairing::start(&self.url, &headset_id, credentials.clone()));
            }
        }
        if let Some((token, fingerprint)) = saved {
            config.token = token;
            config.fingerprint = fingerprint;
            app.insert_resource(ConsoleLink { link: Link::start(config), events_sent: 0, connected: None });
        }
    }
}

/// Starts the link with the credential pairing brought.
fn start_when_paired(
    mut paired: MessageReader<crate::pairing::PairedWith>,
    access: Res<PairedAccess>,
    mut commands: Commands,
) {
    let Some(credentials) = paired.read().last() else { return };
    let mut config = access.template.clone();
    config.token.clone_from(&credentials.0.credential);
    config.fingerprint.clone_from(&credentials.0.fingerprint);
    commands.insert_resource(ConsoleLink { link: Link::start(config), events_sent: 0, connected: None });
}

/// A console that refuses this headset's credential (it was revoked there)
/// gets a new pairing: the credential file goes, the old link is let go (off
/// the frame: it may take a moment to stop) and the code shows again.
fn pair_again_when_refused(
    console: Option<Res<ConsoleLink>>,
    pairing: Option<Res<crate::pairing::Pairing>>,
    access: Res<PairedAccess>,
    mut frames: Local<u32>,
    mut commands: Commands,
) {
    *frames = frames.wrapping_add(1);
    // Twice a second at 90 Hz is soon enough, and keeps `info` off most frames.
    let (Some(console), None) = (console, pairing) else { return };
    if !frames.is_multiple_of(45) || !console.link.info().unauthorised {
        return;
    }
    warn!("the console refuses this headset's credential (revoked?): pairing again");
    if let Err(e) = std::fs::remove_file(&access.credentials) {
        warn!("{}: {e}", access.credentials.display());
    }
    commands.queue(|world: &mut World| {
        if let Some(old) = world.remove_resource::<ConsoleLink>() {
            let _ = std::thread::Builder::new().name("trinvis-link-stop".into()).spawn(move || drop(old));
        }
    });
    commands.insert_resource(crate::pairing::Pairing::start(
        &access.url,
        &access.headset_id,
        access.credentials.clone(),
    ));
}

fn receive(
    console: Option<ResMut<ConsoleLink>>,
    mut commands: MessageWriter<TherapistCommand>,
    mut links: MessageWriter<LinkChanged>,
) {
    let Some(mut console) = console else { return };
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
    console: Option<ResMut<ConsoleLink>>,
    mut outcomes: MessageReader<CommandOutcome>,
    mut frames: MessageReader<TelemetryFrame>,
) {
    let Some(mut console) = console else { return };
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
