//! The Trinvis headset app as Bevy plugins, one per concern. The binary
//! `trinvis-headset` is glue: it parses flags and calls [`build_app`].
//!
//! - [`engine::EnginePlugin`]: the session engine, ticked once a frame; every
//!   command and patient input reaches it as a message.
//! - [`scene::ScenePlugin`]: the scenario's environment, built from
//!   primitives, its parameters following the applied level every frame, and
//!   the calm safe scene.
//! - [`telemetry::TelemetryPlugin`]: one sample per frame (head, gaze,
//!   stimulus, session state, frame time).
//! - [`console::ConsolePlugin`]: the link to the console (commands in, acks,
//!   events and telemetry out).
//! - [`synthetic::SyntheticPatientPlugin`]: a synthetic patient moves the
//!   head, rates SUDS, reports heart rate (headless mode and tests).
//! - [`prompt::PromptPlugin`]: the SUDS prompt: opens on request, holds the
//!   rating being chosen, shows a scale in the scene.
//! - [`audio::AudioPlugin`]: ambience synthesised in code, played with kira
//!   (its mock backend when there is no device).
//! - [`desktop::DesktopPlugin`]: the window: mouse look, keys for the patient
//!   and a local therapist, the prompt's text, safe-scene fade, software-renderer
//!   settings.
//! - [`mirror::MirrorPlugin`]: a low-rate JPEG copy of the patient's view
//!   for the console's page, encoded off the frame's path.
//! - [`replay::ReplayPlugin`]: a recording drives the scene and the head
//!   (`--replay`), with play, pause, speed and seek.
//! - `xr::XrPlugin` (feature `xr`): OpenXR head and hands, controller panic
//!   and SUDS input, focus loss, the fade in the headset.
//!
//! One place, [`HeadsetSystems`], orders their systems within a frame.

pub mod audio;
pub mod console;
pub mod desktop;
pub mod engine;
pub mod mirror;
pub mod pairing;
pub mod prompt;
pub mod replay;
pub mod scene;
pub mod synthetic;
pub mod telemetry;
#[cfg(feature = "xr")]
pub mod xr;

use std::time::Duration;

use bevy::prelude::*;

/// The order of work within a frame: inputs, then the engine, then the scene
/// and what observes it.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeadsetSystems {
    /// Keys, controllers, the console link and the synthetic patient write messages.
    Input,
    /// The engine takes them and moves on.
    Engine,
    /// The scene follows the engine.
    Scene,
    /// Telemetry and the link's outbox read the frame.
    Observe,
}

/// Orders [`HeadsetSystems`]; every app built here adds it first.
#[derive(Debug)]
pub struct OrderPlugin;

impl Plugin for OrderPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            (HeadsetSystems::Input, HeadsetSystems::Engine, HeadsetSystems::Scene, HeadsetSystems::Observe).chain(),
        );
    }
}

/// How the headset shows the scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// An OpenXR headset (builds with the `xr` feature).
    Xr,
    /// A desktop window (the fallback renderer).
    Desktop,
    /// No window and no GPU, at a fixed time step.
    Headless,
}

/// Everything the app needs to start.
#[derive(Clone, Debug)]
pub struct HeadsetConfig {
    /// The scenario.
    pub scenario: scenario::Scenario,
    /// Its file's text (for the console's hash).
    pub scenario_text: String,
    /// Window or headless.
    pub display: Display,
    /// A synthetic patient moves the head and answers prompts.
    pub synthetic_patient: bool,
    /// Seed of the synthetic patient.
    pub seed: u64,
    /// Pseudonymous patient code.
    pub patient_code: String,
    /// The console's address and how to get in, when steered from a console.
    pub console: Option<(String, console::Access)>,
    /// Automatic mode.
    pub automatic: bool,
    /// Headless: simulated frames per second.
    pub rate_hz: f64,
    /// Headless: log through `tracing` to the terminal (windows always do).
    pub log: bool,
    /// Headless: stop after this much session time.
    pub duration: Option<Duration>,
    /// Start at this level at once (screenshots).
    pub initial_level: Option<f64>,
    /// Replay a recording instead of running a session.
    pub replay: Option<ReplayConfig>,
    /// The run only saves a screenshot (`--screenshot`) or times frames
    /// (`--measure`): shaders compile before their first frame, so every
    /// frame saved or timed is the whole scene.
    pub whole_frames: bool,
}

impl HeadsetConfig {
    /// A headless run of `scenario` (its file's `text`) with everything else
    /// off: no synthetic patient, console, automatic mode, log, time limit,
    /// initial level, replay or screenshot; 90 Hz; seed 1; patient `P-0000`.
    /// Callers set the fields they need.
    pub fn headless(scenario: scenario::Scenario, text: &str) -> HeadsetConfig {
        HeadsetConfig {
            scenario,
            scenario_text: text.to_owned(),
            display: Display::Headless,
            synthetic_patient: false,
            seed: 1,
            patient_code: "P-0000".into(),
            console: None,
            automatic: false,
            rate_hz: 90.0,
            log: false,
            duration: None,
            initial_level: None,
            replay: None,
            whole_frames: false,
        }
    }
}

/// `--replay FILE --at S --speed X`.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// The recording's frames.
    pub replay: replay::Replay,
    /// Start here, seconds of session time.
    pub start_s: f64,
    /// 1 to 16 times real time.
    pub speed: f64,
    /// Start paused.
    pub paused: bool,
}

/// The app for `config`, ready to `run()`.
pub fn build_app(config: HeadsetConfig) -> App {
    let mut app = App::new();
    match config.display {
        #[cfg(feature = "xr")]
        Display::Xr => xr::add_xr_plugins(&mut app),
        #[cfg(not(feature = "xr"))]
        Display::Xr => panic!("Display::Xr needs the `xr` feature"),
        Display::Desktop => desktop::add_window_plugins(&mut app, config.whole_frames),
        Display::Headless => {
            let frame = Duration::from_secs_f64(1.0 / config.rate_hz);
            app.add_plugins(MinimalPlugins.set(bevy::app::ScheduleRunnerPlugin::run_loop(frame)));
            if config.log {
                app.add_plugins(bevy::log::LogPlugin::default());
            }
            app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(frame));
        }
    }
    if let Some(replay) = config.replay.clone() {
        add_replay_plugins(&mut app, &config, replay);
        return app;
    }
    add_session_plugins(&mut app, &config);
    let output = if config.display == Display::Headless { audio::Output::Mock } else { audio::Output::Device };
    app.add_plugins(audio::AudioPlugin { output });
    if config.display == Display::Desktop {
        app.add_plugins(desktop::DesktopPlugin { local_therapist: config.console.is_none(), replay: false });
    }
    if config.display != Display::Headless {
        app.add_plugins(mirror::MirrorPlugin { xr: config.display == Display::Xr });
    }
    #[cfg(feature = "xr")]
    if config.display == Display::Xr {
        app.add_plugins(xr::XrPlugin { replay: false });
    }
    if let Some(limit) = config.duration {
        app.add_systems(Update, move |engine: Res<engine::Engine>, mut exit: MessageWriter<AppExit>| {
            if engine.now >= limit {
                exit.write(AppExit::Success);
            }
        });
    }
    app
}

/// A replay: the scenario's scene and sound, driven by the recording; no
/// session runs, nothing is sent.
pub fn add_replay_plugins(app: &mut App, config: &HeadsetConfig, replay: ReplayConfig) {
    if !app.is_plugin_added::<TransformPlugin>() {
        app.add_plugins(TransformPlugin);
    }
    app.add_plugins((
        OrderPlugin,
        engine::EnginePlugin { scenario: config.scenario.clone(), automatic: false, initial_level: None },
        scene::ScenePlugin,
        replay::ReplayPlugin {
            replay: replay.replay,
            start_s: replay.start_s,
            speed: replay.speed,
            paused: replay.paused,
        },
    ));
    let output = if config.display == Display::Headless { audio::Output::Mock } else { audio::Output::Device };
    app.add_plugins(audio::AudioPlugin { output });
    match config.display {
        Display::Desktop => {
            app.add_plugins(desktop::DesktopPlugin { local_therapist: false, replay: true });
        }
        #[cfg(feature = "xr")]
        Display::Xr => {
            // After the engine's sets, so the level it reports is the
            // recording's last, not the frame's before.
            app.add_plugins(xr::XrPlugin { replay: true })
                .add_systems(Update, end_of_replay.after(HeadsetSystems::Engine));
        }
        _ => {}
    }
}

/// A replay in the headset has no keys: it ends with the recording, and
/// says where it ended.
#[cfg(feature = "xr")]
fn end_of_replay(
    replay: Res<replay::Replay>,
    playhead: Res<replay::Playhead>,
    drive: Res<engine::Drive>,
    mut frames: Local<u64>,
    mut ended: Local<bool>,
    mut exit: MessageWriter<AppExit>,
) {
    *frames += 1;
    if playhead.at_us >= replay.span().1 && !*ended {
        *ended = true;
        info!(
            "replay: the end of the recording ({}) after {} frames in the headset, at level {:.2}",
            replay::clock(playhead.at_us),
            *frames,
            drive.level
        );
        exit.write(AppExit::Success);
    }
}

/// The plugins every mode shares: engine, scene, telemetry, and the
/// synthetic patient and console link when asked for.
pub fn add_session_plugins(app: &mut App, config: &HeadsetConfig) {
    // Headless apps start from MinimalPlugins, which do not propagate
    // transforms; telemetry reads global positions.
    if !app.is_plugin_added::<TransformPlugin>() {
        app.add_plugins(TransformPlugin);
    }
    app.add_plugins((
        OrderPlugin,
        engine::EnginePlugin {
            scenario: config.scenario.clone(),
            automatic: config.automatic,
            initial_level: config.initial_level,
        },
        scene::ScenePlugin,
        prompt::PromptPlugin,
        telemetry::TelemetryPlugin,
    ));
    if config.synthetic_patient {
        app.add_plugins(synthetic::SyntheticPatientPlugin { seed: config.seed });
    }
    if let Some((url, access)) = &config.console {
        let reference = link::scenario_ref(&config.scenario, &config.scenario_text);
        app.add_plugins(console::ConsolePlugin {
            url: url.clone(),
            access: access.clone(),
            patient_code: config.patient_code.clone(),
            scenario: reference,
            steps: config
                .scenario
                .steps
                .iter()
                .map(|s| protocol::StepInfo { id: s.id.clone(), title: s.title.clone() })
                .collect(),
            // Headless there is no picture to send.
            mirror: config.display != Display::Headless,
        });
    }
}
