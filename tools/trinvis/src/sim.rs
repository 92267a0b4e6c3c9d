//! `trinvis sim --scenario FILE [--minutes N] [--seed S] [--auto] [--json]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use session::{Event, EventKind};
use sim::{SimConfig, Simulation, Summary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario to run.
    #[arg(long)]
    scenario: PathBuf,
    /// Session minutes to simulate, the one-minute baseline included.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Seed of the synthetic patient; equal seeds give equal sessions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Automatic mode: the engine follows its advance rules. Without it a
    /// simulated therapist accepts each suggestion after ten seconds.
    #[arg(long)]
    auto: bool,
    /// Frames per second.
    #[arg(long, default_value_t = 90.0)]
    rate: f64,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also print the session's event log, one line per event (with --json:
    /// the events as JSON lines before the summary).
    #[arg(long)]
    events: bool,
    /// Write the session to this new recording (MCAP, the channels and JSON
    /// a console records), e.g. for `trinvis export` and `trinvis report`.
    #[arg(long, conflicts_with = "console")]
    record: Option<PathBuf>,
    /// The pseudonymous patient code written in the recording, or sent by
    /// the simulated headset with --console (default `SIM-<seed>`, or
    /// `SIM-001`… for each of --patients).
    #[arg(long)]
    patient_code: Option<String>,
    /// Run in real time as headsets connected to this console
    /// (`ws://127.0.0.1:7450` on this machine, `wss://HOST:7450` on the
    /// clinic's network), steered from its page. Without --token the
    /// headset pairs: it prints a six-digit code to type into the page's
    /// "Pair a headset" box, then keeps its credential in --credentials.
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
    /// Where a paired headset keeps its credential and the console's
    /// fingerprint (default: `sim-headset.json` in the user's data folder).
    #[arg(long, conflicts_with = "token")]
    credentials: Option<PathBuf>,
    /// Simulated headsets (with --console), each its own patient (seeds S, S+1, …).
    #[arg(long, default_value_t = 1)]
    patients: u32,
    /// With --console: run this many times faster than real time (telemetry
    /// times follow the simulated clock), e.g. to record an hour in a minute.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(&args.scenario).with_context(|| format!("reading {}", args.scenario.display()))?;
    let scenario = match scenario::parse(&text, &args.scenario.display().to_string()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if !(args.minutes > 0.0 && args.minutes <= 24.0 * 60.0) {
        anyhow::bail!("--minutes must be between 0 and 1440, got {}", args.minutes);
    }
    if !(args.rate >= 1.0 && args.rate <= 1000.0) {
        anyhow::bail!("--rate must be between 1 and 1000 frames per second, got {}", args.rate);
    }
    let config = SimConfig {
        duration: Duration::from_secs_f64(args.minutes * 60.0),
        seed: args.seed,
        automatic: args.auto,
        rate_hz: args.rate,
        ..SimConfig::default()
    };
    if let Some(console) = &args.console {
        if !(1..=1000).contains(&args.patients) {
            anyhow::bail!("--patients must be between 1 and 1000, got {}", args.patients);
        }
        if !(args.speed > 0.0 && args.speed <= 1000.0) {
            anyhow::bail!("--speed must be above 0 and at most 1000, got {}", args.speed);
        }
        let scenario_ref = link::scenario_ref(&scenario, &text);
        let (token, fingerprint) = match &args.token {
            Some(token) => {
                let fingerprint = match &args.fingerprint {
                    Some(f) => Some(link::tls::normalise_fingerprint(f).with_context(|| {
                        format!("--fingerprint {f}: expected 32 hex bytes, as `trinvis console` printed it")
                    })?),
                    None => None,
                };
                if link::pair::normalise_console(console).starts_with("wss://") && fingerprint.is_none() {
                    anyhow::bail!(
                        "over wss:// give --fingerprint (as `trinvis console` printed it), or pair without --token"
                    );
                }
                (token.clone(), fingerprint)
            }
            None => {
                anyhow::ensure!(args.patients == 1, "pairing is one headset at a time: use --token for --patients > 1");
                let path =
                    args.credentials.clone().unwrap_or_else(|| link::pair::data_folder().join("sim-headset.json"));
                let credentials = link::pair::credentials_for(&path, console, "sim-001", |code| {
                    crate::sim_live::show_code(code);
                })
                .map_err(|e| anyhow::anyhow!("pairing with {console}: {e}"))?;
                println!("paired as {} (credential kept in {})", credentials.credential_id, path.display());
                (credentials.credential, credentials.fingerprint)
            }
        };
        return crate::sim_live::run(crate::sim_live::Live {
            console: console.clone(),
            token,
            fingerprint,
            patient_code: args.patient_code.clone(),
            patients: args.patients,
            speed: args.speed,
            config,
            scenario,
            scenario_ref,
        });
    }
    let scenario_ref = link::scenario_ref(&scenario, &text);
    let steps: Vec<protocol::StepInfo> =
        scenario.steps.iter().map(|s| protocol::StepInfo { id: s.id.clone(), title: s.title.clone() }).collect();
    let started = Instant::now();
    let mut simulation = Simulation::new(scenario, config);
    let summary = match &args.record {
        None => simulation.run_to_end(),
        Some(path) => {
            let session_id = path.file_stem().map_or_else(|| "sim".to_owned(), |s| s.to_string_lossy().into_owned());
            let identity = crate::record::Identity {
                session_id,
                patient_code: args.patient_code.clone().unwrap_or_else(|| format!("SIM-{}", args.seed)),
                scenario: scenario_ref,
                steps,
                started_unix_us: console::unix_us(),
            };
            crate::record::record(&mut simulation, args.rate, path, identity)?
        }
    };
    let wall = started.elapsed();
    if args.events {
        for event in simulation.session().events() {
            if args.json {
                println!("{}", serde_json::to_string(event)?);
            } else {
                println!("{}", describe(event, simulation.session().scenario()));
            }
        }
        if !args.json {
            println!();
        }
    }
    if let Some(path) = &args.record {
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", table(&summary, wall));
    }
    Ok(ExitCode::SUCCESS)
}

fn table(s: &Summary, wall: Duration) -> String {
    let mut out = format!(
        "{}: {:.0} min simulated at {} frames in {:.2} s ({:.0}x real time), seed {}, {}\n",
        s.scenario,
        s.simulated_s / 60.0,
        s.frames,
        wall.as_secs_f64(),
        s.simulated_s / wall.as_secs_f64().max(1e-9),
        s.seed,
        if s.automatic { "automatic mode" } else { "simulated therapist confirms suggestions" },
    );
    out += &format!(
        "reached step {} of {}; panics {}; heart-rate baseline {}\n\n",
        s.highest_step,
        s.step_count,
        s.panics,
        s.heart_rate_baseline.map_or("-".to_owned(), |b| format!("{b:.0} bpm")),
    );
    out += &format!(
        "{:>4}  {:<24} {:>6} {:>9} {:>6} {:>6} {:>6} {:>7} {:>8}\n",
        "step", "id", "visits", "time", "peak", "final", "drop", "avoid", "mean HR"
    );
    for step in &s.steps {
        out += &format!(
            "{:>4}  {:<24} {:>6} {:>9} {:>6} {:>6} {:>6} {:>7} {:>8}\n",
            step.step,
            truncate(&step.id, 24),
            step.visits,
            clock(step.time_on_step_s),
            opt(step.suds_peak.map(f64::from), 0, ""),
            opt(step.suds_final.map(f64::from), 0, ""),
            opt(step.suds_drop.map(|d| d * 100.0), 0, " %"),
            format!("{:.0} %", step.avoidance_share * 100.0),
            opt(step.heart_rate_mean, 0, ""),
        );
    }
    out
}

/// One event as a line for people: session clock, then what happened.
fn describe(event: &Event, scenario: &scenario::Scenario) -> String {
    let what = match &event.kind {
        EventKind::StateChanged { from, to, by } => format!("{from} -> {to} ({by:?})"),
        EventKind::SafeSceneEntered { cause, fade_s } => format!("safe scene ({cause:?}), fade {fade_s} s"),
        EventKind::TargetChanged { from, to, by } => format!("target level {from:.2} -> {to:.2} ({by:?})"),
        EventKind::LevelSettled { level } => format!("level settled at {level:.2}"),
        EventKind::StepEntered { step, id } => {
            let title = scenario.steps.get(step - 1).map_or("", |s| s.title.as_str());
            format!("step {step} {id}: {title}")
        }
        EventKind::StepLeft { stats } => format!(
            "left step {} after {}, SUDS peak {} last {}",
            stats.step,
            clock(stats.time_on_step_us as f64 / 1e6),
            opt(stats.suds_peak.map(f64::from), 0, ""),
            opt(stats.suds_last.map(f64::from), 0, "")
        ),
        EventKind::SuggestionRaised { step, reason } => format!("suggest step {step}: {reason}"),
        EventKind::SuggestionWithdrawn { step } => format!("suggestion of step {step} withdrawn"),
        EventKind::SudsRequested { by } => format!("SUDS asked ({by:?})"),
        EventKind::SudsRecorded { value, by } => format!("SUDS {value} ({by:?})"),
        EventKind::Panic => "PANIC pressed".to_owned(),
        EventKind::HeartRateBaseline { bpm } => format!("heart-rate baseline {bpm:.0} bpm"),
        EventKind::FocusLost => "headset focus lost".to_owned(),
        EventKind::FocusRestored => "headset focus back".to_owned(),
        EventKind::LinkLost => "link lost".to_owned(),
        EventKind::LinkRestored => "link restored".to_owned(),
        EventKind::AutomaticMode { on } => format!("automatic mode {}", if *on { "on" } else { "off" }),
        EventKind::Marker { label } => format!("marker: {label}"),
        EventKind::Note { text } => format!("note: {text}"),
        EventKind::Prediction { step, text } => format!("prediction for step {step}: {text}"),
        EventKind::Outcome { step, text } => format!("outcome of step {step}: {text}"),
    };
    let t = event.at_us as f64 / 1e6;
    format!("{:>3}:{:04.1}  {what}", (t / 60.0).floor() as u64, t % 60.0)
}

fn opt(x: Option<f64>, decimals: usize, unit: &str) -> String {
    x.map_or("-".to_owned(), |x| format!("{x:.decimals$}{unit}"))
}

fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n - 1).chain(['…']).collect() }
}
