//! The session engine inside the app: one resource, ticked once per frame
//! with the app's virtual time; commands and patient inputs arrive as
//! messages, so every source (console, keys, synthetic patient, XR
//! controllers) goes through the same place.

use std::time::Duration;

use bevy::prelude::*;
use session::{Command, LinkStatus, PatientInput, Session};

use crate::HeadsetSystems;

/// What the scene, the sound and the fade show this frame: the live
/// session's applied level and safe-scene fade, or, in a replay, the
/// recording's.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct Drive {
    /// The applied level (1.0 = step 1).
    pub level: f64,
    /// The safe-scene fade, 0 (scenario) to 1 (safe scene).
    pub safe_blend: f64,
}

/// Present while something else drives the scene instead of the engine: a
/// recording, or `--gallery` stepping through the scenario.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Replaying;

/// The patient's session.
#[derive(Resource, Debug)]
pub struct Engine {
    /// The engine itself; read freely, change only through the messages.
    pub session: Session,
    /// Session time of the last tick.
    pub now: Duration,
}

/// A therapist's command, from the console or the window's keys.
#[derive(Message, Clone, Debug)]
pub struct TherapistCommand {
    /// The command.
    pub command: Command,
    /// The console's id, to acknowledge; `None` for local keys.
    pub console_id: Option<u64>,
}

/// Something the patient did.
#[derive(Message, Clone, Copy, Debug)]
pub struct PatientAction(pub PatientInput);

/// The link to the console came or went.
#[derive(Message, Clone, Copy, Debug)]
pub struct LinkChanged(pub LinkStatus);

/// A command's outcome, for the link to acknowledge.
#[derive(Message, Clone, Debug)]
pub struct CommandOutcome {
    /// The console's id.
    pub console_id: u64,
    /// What the engine said.
    pub result: Result<(), String>,
}

/// Resting time before an automatic session starts itself (heart-rate baseline).
pub const BASELINE: Duration = Duration::from_secs(60);

#[derive(Resource, Debug)]
struct AutoStart(Duration);

/// Owns the engine resource and its messages.
#[derive(Debug)]
pub struct EnginePlugin {
    /// The scenario.
    pub scenario: scenario::Scenario,
    /// Automatic mode (research protocols).
    pub automatic: bool,
    /// Start at this level at once (screenshots of a given step).
    pub initial_level: Option<f64>,
}

impl Plugin for EnginePlugin {
    fn build(&self, app: &mut App) {
        let mut session = Session::new(self.scenario.clone(), session::Config { automatic: self.automatic });
        if let Some(level) = self.initial_level {
            // Started and settled before the first frame: the session clock
            // begins where the easing would have ended.
            let _ = session.command(Duration::ZERO, Command::Start);
            let _ = session.command(Duration::ZERO, Command::SetLevel { level });
            session.tick(Duration::from_secs(3600));
        }
        if self.automatic {
            // A research protocol starts itself after a resting baseline,
            // as the simulator does.
            app.insert_resource(AutoStart(BASELINE));
        }
        app.insert_resource(Drive { level: session.applied_level(), safe_blend: session.safe_blend() })
            .insert_resource(Engine { session, now: Duration::ZERO })
            .add_message::<TherapistCommand>()
            .add_message::<PatientAction>()
            .add_message::<LinkChanged>()
            .add_message::<CommandOutcome>()
            .add_systems(
                Update,
                (step_engine, drive.run_if(not(resource_exists::<Replaying>))).chain().in_set(HeadsetSystems::Engine),
            );
    }
}

/// Time first, then inputs in the order they came: the engine ticks itself
/// inside each call.
fn step_engine(
    time: Res<Time<Real>>,
    mut engine: ResMut<Engine>,
    mut commands: MessageReader<TherapistCommand>,
    mut actions: MessageReader<PatientAction>,
    mut links: MessageReader<LinkChanged>,
    mut outcomes: MessageWriter<CommandOutcome>,
    auto_start: Option<Res<AutoStart>>,
) {
    let now = time.elapsed().max(engine.now);
    engine.now = now;
    engine.session.tick(now);
    if let Some(after) = auto_start
        && now >= after.0
        && engine.session.state() == session::State::Waiting
    {
        let _ = engine.session.command(now, Command::Start);
    }
    for LinkChanged(status) in links.read() {
        engine.session.link(now, *status);
    }
    for PatientAction(input) in actions.read() {
        // Patient inputs from our own systems are always in range; an ended
        // session refusing them changes nothing.
        let _ = engine.session.patient(now, *input);
    }
    for message in commands.read() {
        let result = engine.session.command(now, message.command.clone());
        if let Err(rejection) = &result {
            info!("command {} refused: {rejection}", message.command.name());
        }
        if let Some(console_id) = message.console_id {
            outcomes.write(CommandOutcome { console_id, result: result.map_err(|r| r.to_string()) });
        }
    }
}

fn drive(engine: Res<Engine>, mut drive: ResMut<Drive>) {
    let session = &engine.session;
    drive.set_if_neq(Drive { level: session.applied_level(), safe_blend: session.safe_blend() });
}
