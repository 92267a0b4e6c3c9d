//! `trinvis-headset`: the headset app. Glue: flags to a [`headset::HeadsetConfig`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bevy::prelude::AppExit;
use clap::{Parser, ValueEnum};
use headset::{Display, HeadsetConfig, build_app, desktop::Screenshots};

#[derive(Debug, Parser)]
#[command(
    name = "trinvis-headset",
    version,
    about = "Trinvis headset: the patient's view of a graded exposure scenario"
)]
struct Args {
    /// The scenario to run.
    #[arg(long)]
    scenario: PathBuf,
    /// The console's address (`ws://127.0.0.1:7450`); without it the session
    /// runs locally and the window's keys are the therapist's controls.
    #[arg(long, requires = "token")]
    console: Option<String>,
    /// The headset token the console printed.
    #[arg(long, env = "TRINVIS_HEADSET_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where the scene is shown. Default: the headset when an OpenXR runtime
    /// answers (builds with the `xr` feature, the default), else a window when
    /// there is a display, else headless.
    #[arg(long, value_enum)]
    display: Option<DisplayArg>,
    /// Who wears the headset: a person, or the synthetic patient (headless
    /// always uses the synthetic patient).
    #[arg(long, value_enum, default_value = "human")]
    patient: PatientArg,
    /// The pseudonymous patient code; never a name.
    #[arg(long, default_value = "P-0000")]
    patient_code: String,
    /// Seed of the synthetic patient.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Automatic mode (research protocols): start after a one-minute resting
    /// baseline and advance by the scenario's rules.
    #[arg(long)]
    auto: bool,
    /// Minutes of session time after which the app stops.
    #[arg(long)]
    minutes: Option<f64>,
    /// Headless: frames per second.
    #[arg(long, default_value_t = 90.0)]
    rate: f64,
    /// Start at this level at once (1.0 = step 1).
    #[arg(long)]
    level: Option<f64>,
    /// Save a PNG of frame `--frames` into this folder, then quit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// With --screenshot: the frame to save.
    #[arg(long, default_value_t = 30)]
    frames: u32,
    /// Time this many frames in the window (after 5 to warm up), print the
    /// frame times, then quit.
    #[arg(long)]
    measure: Option<u32>,
    /// Keep 1280x720 and MSAA on a software renderer, as on a GPU.
    #[arg(long)]
    full_quality: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DisplayArg {
    Xr,
    Desktop,
    Headless,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PatientArg {
    Human,
    Synthetic,
}

/// Whether an OpenXR runtime with a headset answers.
#[cfg(feature = "xr")]
fn xr_runtime() -> Result<String, String> {
    headset::xr::probe()
}

#[cfg(not(feature = "xr"))]
fn xr_runtime() -> Result<String, String> {
    Err("built without the `xr` feature".into())
}

fn main() -> ExitCode {
    match run() {
        Ok(AppExit::Success) => ExitCode::SUCCESS,
        Ok(AppExit::Error(code)) => ExitCode::from(code.get()),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<AppExit> {
    let args = Args::parse();
    let text =
        std::fs::read_to_string(&args.scenario).with_context(|| format!("reading {}", args.scenario.display()))?;
    let scenario = scenario::parse(&text, &args.scenario.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let fallback = if has_display { Display::Desktop } else { Display::Headless };
    let display = match args.display {
        Some(DisplayArg::Xr) | None => match xr_runtime() {
            Ok(runtime) => {
                eprintln!("trinvis-headset: OpenXR runtime {runtime}: showing the scene in the headset");
                Display::Xr
            }
            Err(why) => {
                let to = if has_display { "the desktop window" } else { "headless with the synthetic patient" };
                eprintln!("trinvis-headset: {why}; falling back to {to}");
                fallback
            }
        },
        Some(DisplayArg::Desktop) => Display::Desktop,
        Some(DisplayArg::Headless) => Display::Headless,
    };
    anyhow::ensure!(
        display == Display::Desktop || (args.screenshot.is_none() && args.measure.is_none()),
        "--screenshot and --measure need a window (a display, or Xvfb)"
    );
    let config = HeadsetConfig {
        scenario,
        scenario_text: text,
        display,
        synthetic_patient: display == Display::Headless || args.patient == PatientArg::Synthetic,
        seed: args.seed,
        patient_code: args.patient_code.clone(),
        console: args.console.clone().map(|c| (c, args.token.clone().unwrap_or_default())),
        automatic: args.auto,
        rate_hz: args.rate,
        log: true,
        duration: args.minutes.map(|m| Duration::from_secs_f64(m * 60.0)),
        initial_level: args.level,
    };
    let mut app = build_app(config);
    if let Some(frames) = args.measure {
        app.insert_resource(headset::desktop::Measure { frames, warmup: 5 });
    }
    if args.full_quality {
        app.insert_resource(headset::desktop::FullQuality);
    }
    if let Some(dir) = &args.screenshot {
        app.insert_resource(headset::prompt::PromptHidden);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = args.scenario.file_stem().map_or("scene".into(), |s| s.to_string_lossy().into_owned());
        let level = args.level.map_or(String::new(), |l| format!("-level-{l}"));
        app.insert_resource(Screenshots { dir: dir.clone(), frames: args.frames, name: format!("{name}{level}") });
    }
    Ok(app.run())
}
