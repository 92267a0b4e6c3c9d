//! `trinvis-headset`: the headset app. Glue: flags to a [`headset::HeadsetConfig`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bevy::prelude::AppExit;
use clap::{Parser, ValueEnum};
use headset::{Display, HeadsetConfig, build_app, desktop::Gallery, desktop::Screenshots};

#[derive(Debug, Parser)]
#[command(
    name = "trinvis-headset",
    version,
    about = "Trinvis headset: the patient's view of a graded exposure scenario"
)]
struct Args {
    /// The scenario to run (with --replay: found in ./scenarios by the
    /// recording's scenario id when not given).
    #[arg(long, required_unless_present_any = ["replay", "probe_xr"])]
    scenario: Option<PathBuf>,
    /// Replay a recording in the window (the scene at the recorded level,
    /// the camera on the recorded head pose) or, with `--display xr`, in the
    /// headset (the scene at the recorded level, your own head tracked; the
    /// app ends with the recording).
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// With --replay: start at this session time, in seconds.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    at: f64,
    /// With --replay: 1 to 16 times real time.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// The console's address: `ws://127.0.0.1:7450` on this machine,
    /// `wss://HOST:7450` on the clinic's network. Without --token the
    /// headset pairs the first time: it shows a six-digit code to type into
    /// the console page's "Pair a headset" box, then keeps its credential
    /// in --credentials. Without --console the session runs locally and the
    /// window's keys are the therapist's controls.
    #[arg(long)]
    console: Option<String>,
    /// The headset token the console printed (scripts and tests; a paired
    /// headset needs none).
    #[arg(long, env = "TRINVIS_HEADSET_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// With --token over wss://: the console certificate's SHA-256
    /// fingerprint, as `trinvis console` printed it.
    #[arg(long, requires = "token")]
    fingerprint: Option<String>,
    /// Where this headset keeps its credential and the console's pinned
    /// fingerprint (default: `headset.json` in ~/.local/share/trinvis).
    #[arg(long, conflicts_with = "token")]
    credentials: Option<PathBuf>,
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
    /// With --screenshot: also save DIR/stimulus-mask.png, the same frame
    /// white where the feared stimulus is drawn and black elsewhere.
    #[arg(long, requires = "screenshot")]
    stimulus_mask: bool,
    /// Save DIR/step-NN.png for every step of the scenario (a window's
    /// picture after --frames frames at the step, no status line), then quit.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["screenshot", "replay", "measure", "level", "console"])]
    gallery: Option<PathBuf>,
    /// With --screenshot or --gallery: the frame to save.
    #[arg(long, default_value_t = 30)]
    frames: u32,
    /// Time this many frames in the window (after 10 to warm up), print the
    /// frame times, then quit.
    #[arg(long)]
    measure: Option<u32>,
    /// Keep 1280x720 and MSAA on a software renderer, as on a GPU.
    #[arg(long)]
    full_quality: bool,
    /// With --measure: copy and encode the view for the mirror at this
    /// rate (frames a second), as for a console, to time what it costs.
    #[arg(long, value_name = "FPS", requires = "measure")]
    mirror: Option<u8>,
    /// Internal: ask the OpenXR loader for a runtime, print `ok RUNTIME` or
    /// `no REASON`, exit. The app runs this as a child process, so that the
    /// loader's own error lines land in the log instead of the terminal.
    #[arg(long, hide = true)]
    probe_xr: bool,
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

/// Whether an OpenXR runtime with a headset answers, and what the OpenXR
/// loader printed while finding out. The loader writes its errors to
/// stderr (five lines when no runtime is installed); the question is asked
/// in a child process (`--probe-xr`) whose stderr is kept for the log, so
/// the user sees one line.
#[cfg(feature = "xr")]
fn xr_runtime() -> (Result<String, String>, Vec<String>) {
    let child = std::env::current_exe().and_then(|exe| std::process::Command::new(exe).arg("--probe-xr").output());
    let output = match child {
        Ok(output) => output,
        // Without a way to start itself, ask in this process (the loader's lines then show).
        Err(_) => return (headset::xr::probe(), Vec::new()),
    };
    let said: Vec<String> = String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).collect();
    let answer = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_owned();
    let result = match answer.split_once(' ') {
        Some(("ok", runtime)) => Ok(runtime.to_owned()),
        Some(("no", why)) => Err(why.to_owned()),
        _ => Err(format!("the OpenXR probe ended without an answer ({})", output.status)),
    };
    (result, said)
}

#[cfg(not(feature = "xr"))]
fn xr_runtime() -> (Result<String, String>, Vec<String>) {
    (Err("built without the `xr` feature".into()), Vec::new())
}

/// `--probe-xr`: one line on stdout for the parent.
fn probe_xr() -> ExitCode {
    #[cfg(feature = "xr")]
    let answer = headset::xr::probe();
    #[cfg(not(feature = "xr"))]
    let answer: Result<String, String> = Err("built without the `xr` feature".into());
    match answer {
        Ok(runtime) => println!("ok {runtime}"),
        Err(why) => println!("no {why}"),
    }
    ExitCode::SUCCESS
}

/// What the OpenXR loader printed during the probe, in the log at debug
/// level (`RUST_LOG=debug` shows it).
#[derive(bevy::prelude::Resource, Default)]
struct LoaderLines(Vec<String>);

fn log_loader_lines(lines: bevy::prelude::Res<LoaderLines>) {
    for line in &lines.0 {
        bevy::log::debug!(target: "openxr_loader", "{line}");
    }
}

/// The file in `./scenarios` whose id is `id`.
fn find_scenario(id: &str) -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from("scenarios");
    let entries = std::fs::read_dir(&dir).with_context(|| {
        format!("the recording names scenario {id:?}; give it with --scenario (no ./scenarios here)")
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "ron")
            && let Ok(text) = std::fs::read_to_string(&path)
            && scenario::parse(&text, "").is_ok_and(|s| s.id == id)
        {
            return Ok(path);
        }
    }
    anyhow::bail!("the recording names scenario {id:?}, which is not in ./scenarios; give it with --scenario")
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
    if args.probe_xr {
        probe_xr();
        return Ok(AppExit::Success);
    }
    let replay = args.replay.as_deref().map(headset::replay::Replay::open).transpose().map_err(anyhow::Error::msg)?;
    if let Some(cut) = replay.as_ref().and_then(|r| r.cut.as_ref()) {
        eprintln!("trinvis-headset: the recording was cut short ({cut}); replaying what it holds");
    }
    let scenario_path = match (&args.scenario, &replay) {
        (Some(path), _) => path.clone(),
        (None, Some(replay)) => find_scenario(&replay.scenario_id)?,
        (None, None) => anyhow::bail!("--scenario is required"),
    };
    let text =
        std::fs::read_to_string(&scenario_path).with_context(|| format!("reading {}", scenario_path.display()))?;
    let scenario = scenario::parse(&text, &scenario_path.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The scene reads the scenario's parameters as its schema has them.
    headset::scene::check(&scenario).map_err(|e| anyhow::anyhow!("{}: {e}", scenario_path.display()))?;
    if let Some(replay) = &replay {
        let reference = link::scenario_ref(&scenario, &text);
        if reference.id != replay.scenario_id || reference.sha256 != replay.scenario_sha256 {
            eprintln!(
                "trinvis-headset: warning: the recording used scenario {} ({}), this is {} ({}); the scene may differ",
                replay.scenario_id, replay.scenario_sha256, reference.id, reference.sha256
            );
        }
    }
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let fallback = if has_display { Display::Desktop } else { Display::Headless };
    let mut loader_lines = Vec::new();
    let display = match args.display {
        // A replay is watched in the window unless the headset is asked for.
        None if replay.is_some() => Display::Desktop,
        Some(DisplayArg::Xr) | None => {
            let (answer, said) = xr_runtime();
            loader_lines = said;
            match answer {
                Ok(runtime) => {
                    let what = if replay.is_some() { "the replay" } else { "the scene" };
                    eprintln!("trinvis-headset: OpenXR runtime {runtime}: showing {what} in the headset");
                    Display::Xr
                }
                Err(why) => {
                    let to = match (has_display, replay.is_some()) {
                        (true, _) => "the desktop window",
                        (false, false) => "headless with the synthetic patient",
                        (false, true) => anyhow::bail!(
                            "{why}; a replay needs a headset or a window (a display, or Xvfb: xvfb-run -a …)"
                        ),
                    };
                    eprintln!("trinvis-headset: {why}; falling back to {to}");
                    fallback
                }
            }
        }
        Some(DisplayArg::Desktop) => Display::Desktop,
        Some(DisplayArg::Headless) => Display::Headless,
    };
    anyhow::ensure!(
        replay.is_none() || display != Display::Headless,
        "--replay needs a headset (--display xr) or a window (a display, or Xvfb: xvfb-run -a …)"
    );
    anyhow::ensure!(
        display == Display::Desktop || (args.screenshot.is_none() && args.gallery.is_none() && args.measure.is_none()),
        "--screenshot, --gallery and --measure need a window (a display, or Xvfb)"
    );
    let steps = scenario.steps.len();
    let config = HeadsetConfig {
        scenario,
        scenario_text: text,
        display,
        synthetic_patient: display == Display::Headless || args.patient == PatientArg::Synthetic,
        seed: args.seed,
        patient_code: args.patient_code.clone(),
        console: match &args.console {
            None => None,
            Some(url) => Some((url.clone(), access(&args, url)?)),
        },
        automatic: args.auto,
        rate_hz: args.rate,
        log: true,
        duration: args.minutes.map(|m| Duration::from_secs_f64(m * 60.0)),
        initial_level: args.level,
        whole_frames: args.screenshot.is_some() || args.gallery.is_some() || args.measure.is_some(),
        replay: replay.map(|replay| headset::ReplayConfig {
            replay,
            start_s: args.at,
            speed: args.speed,
            paused: args.screenshot.is_some(),
        }),
    };
    let mut app = build_app(config);
    if !loader_lines.is_empty() {
        app.insert_resource(LoaderLines(loader_lines)).add_systems(bevy::prelude::Startup, log_loader_lines);
    }
    if let Some(frames) = args.measure {
        app.insert_resource(headset::desktop::Measure { frames, warmup: 10 });
    }
    if let Some(fps) = args.mirror {
        app.insert_resource(headset::mirror::FixedRate(fps));
    }
    if args.full_quality {
        app.insert_resource(headset::desktop::FullQuality);
    }
    if let Some(dir) = &args.gallery {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        app.insert_resource(headset::prompt::PromptHidden)
            .insert_resource(headset::engine::Replaying)
            .insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(1.0 / 30.0)))
            .insert_resource(Gallery { dir: dir.clone(), steps, frames: args.frames });
    }
    if let Some(dir) = &args.screenshot {
        app.insert_resource(headset::prompt::PromptHidden);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = scenario_path.file_stem().map_or("scene".into(), |s| s.to_string_lossy().into_owned());
        let level = match (&args.replay, args.level) {
            (Some(_), _) => format!("-replay-{}s", args.at),
            (None, Some(l)) => format!("-level-{l}"),
            (None, None) => String::new(),
        };
        app.insert_resource(Screenshots {
            dir: dir.clone(),
            frames: args.frames,
            name: format!("{name}{level}"),
            mask: args.stimulus_mask,
        });
    }
    Ok(app.run())
}

/// How this headset gets into the console: the token (with a fingerprint
/// over wss://) or its own credential, paired if need be.
fn access(args: &Args, url: &str) -> anyhow::Result<headset::console::Access> {
    let Some(token) = &args.token else {
        let credentials = args.credentials.clone().unwrap_or_else(|| link::pair::data_folder().join("headset.json"));
        return Ok(headset::console::Access::Paired { credentials });
    };
    let fingerprint = match &args.fingerprint {
        Some(f) => Some(link::tls::normalise_fingerprint(f).ok_or_else(|| {
            anyhow::anyhow!("--fingerprint {f}: expected 32 hex bytes, as `trinvis console` printed it")
        })?),
        None => None,
    };
    anyhow::ensure!(
        !link::pair::normalise_console(url).starts_with("wss://") || fingerprint.is_some(),
        "over wss:// give --fingerprint (as `trinvis console` printed it), or pair without --token"
    );
    Ok(headset::console::Access::Token { token: token.clone(), fingerprint })
}
