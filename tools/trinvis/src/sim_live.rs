//! `trinvis sim --console URL --token T [--patients N]`: synthetic patients
//! in real time through the headset link, as many headsets would.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use glam::Vec3;
use link::{Bridge, Clock, Link, LinkConfig};
use protocol::{Pose, Sample, ScenarioRef, StepInfo};
use scenario::Scenario;
use session::Session;
use sim::{SimConfig, Simulation};

/// What every simulated headset shares.
pub struct Live {
    pub console: String,
    pub token: String,
    /// Over wss://: the pinned fingerprint of the console's certificate.
    pub fingerprint: Option<String>,
    /// The patient code (with several patients, `CODE-001`…).
    pub patient_code: Option<String>,
    pub patients: u32,
    pub speed: f64,
    pub config: SimConfig,
    pub scenario: Scenario,
    pub scenario_ref: ScenarioRef,
}

pub fn run(live: Live) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let live = Arc::new(live);
    let refused = runtime.block_on(async {
        println!(
            "{} simulated headset(s) on {} for {:.0} min, {} Hz; Ctrl-C to stop",
            live.patients,
            live.console,
            live.config.duration.as_secs_f64() / 60.0,
            live.config.rate_hz
        );
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..live.patients {
            tasks.spawn(headset(live.clone(), i, tokio::runtime::Handle::current(), stop.clone()));
        }
        let mut totals = Totals::default();
        let mut interrupted = false;
        // Ctrl-C ends every session as the simulation's end would (the
        // console records them as ended) and still counts; a second one
        // leaves at once.
        loop {
            tokio::select! {
                result = tasks.join_next() => match result {
                    Some(Ok(t)) => totals.add(&t),
                    Some(Err(_)) => {}
                    None => break,
                },
                _ = tokio::signal::ctrl_c() => {
                    if interrupted {
                        tasks.abort_all();
                        break;
                    }
                    interrupted = true;
                    println!("stopping: ending the sessions (Ctrl-C again to leave at once)");
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        println!(
            "samples: {} sent, {} dropped at the queue, {} lost from the resend buffer; messages unacknowledged at the end: {}",
            totals.samples, totals.dropped, totals.lost, totals.unacked
        );
        totals.refused
    });
    // A console that is not the paired one is a failure, not a session.
    Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// What the simulated headsets did, added up.
#[derive(Debug, Default)]
struct Totals {
    samples: u64,
    dropped: u64,
    lost: u64,
    unacked: u64,
    /// The console's certificate was not the pinned one.
    refused: bool,
}

impl Totals {
    fn add(&mut self, t: &Totals) {
        self.refused |= t.refused;
        self.samples += t.samples;
        self.dropped += t.dropped;
        self.lost += t.lost;
        self.unacked += t.unacked;
    }
}

async fn headset(live: Arc<Live>, i: u32, runtime: tokio::runtime::Handle, stop: Arc<AtomicBool>) -> Totals {
    let clock = Clock::new();
    let name = format!("{:03}", i + 1);
    let patient = match &live.patient_code {
        Some(code) if live.patients == 1 => code.clone(),
        Some(code) => format!("{code}-{name}"),
        None => format!("SIM-{name}"),
    };
    let mut link_config =
        LinkConfig::new(&live.console, &live.token, &format!("sim-{name}"), &patient, live.scenario_ref.clone(), clock);
    link_config.fingerprint.clone_from(&live.fingerprint);
    link_config.app = concat!("trinvis-sim ", env!("CARGO_PKG_VERSION")).to_owned();
    link_config.steps =
        live.scenario.steps.iter().map(|s| StepInfo { id: s.id.clone(), title: s.title.clone() }).collect();
    link_config.session_epoch_us = clock.now_us();
    let mut link = Link::start_on(&runtime, link_config);
    let mut samples = 0u64;
    let config = SimConfig { seed: live.config.seed + u64::from(i), simulated_therapist: false, ..live.config.clone() };
    let mut sim = Simulation::new(live.scenario.clone(), config.clone());
    let mut bridge = Bridge::new();
    let frame = Duration::from_secs_f64(1.0 / config.rate_hz / live.speed);
    // A sped-up run is a headset whose session clock runs fast: telemetry
    // carries the real headset clock (`t_us`, what the console records
    // commands and notes against) and the simulated session time
    // (`session_us`), and frame times as the simulated headset rendered
    // them (1/90 s), not the real loop's (1/360 s at --speed 4).
    let mut ticks = tokio::time::interval(frame);
    let mut last = Instant::now();
    let mut was_connected = false;
    let mut last_out = None;
    while !sim.finished() && !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let out = sim.step();
        let now = sim.now();
        let frame_ms = last.elapsed().as_secs_f32() * 1000.0 * live.speed as f32;
        last = Instant::now();
        let sample = sample(&out, sim.session(), clock.now_us(), frame_ms);
        link.push_sample(sample);
        samples += 1;
        last_out = Some(out);
        bridge.exchange(&mut link, sim.session_mut(), now);
        if samples.is_multiple_of(45)
            && let Some(why) = link.info().refused
        {
            eprintln!("sim-{name}: refusing the console: {why}");
            return Totals { refused: true, ..Totals::default() };
        }
        if link.connected() != was_connected {
            was_connected = link.connected();
            let info = link.info();
            let session = info.session_id.unwrap_or_default();
            println!(
                "sim-{name}: {} {session}",
                if was_connected { "connected to session" } else { "lost the console; buffering" }
            );
        }
    }
    let summary = sim.finish();
    let now = sim.now();
    bridge.exchange(&mut link, sim.session_mut(), now);
    // One last frame, so the console's list shows how the session ended.
    if let Some(out) = &last_out {
        link.push_sample(sample(out, sim.session(), clock.now_us(), 0.0));
    }
    // Let the link deliver the last events before the task ends.
    let deadline = Instant::now() + Duration::from_secs(3);
    while link.info().unacked > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("sim-{name}: done, reached step {} of {}", summary.highest_step, summary.step_count);
    let info = link.info();
    Totals { samples, dropped: info.dropped_samples, lost: info.lost_messages, unacked: info.unacked, refused: false }
}

/// Shows a pairing code on stdout (a headless headset's view).
pub fn show_code(code: &link::pair::Code) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", code.announcement());
    let _ = out.flush();
}

/// One telemetry sample from the synthetic patient's frame.
pub fn sample(out: &patient::Output, session: &Session, t_us: u64, frame_ms: f32) -> Sample {
    let gaze = out.head_rotation * Vec3::NEG_Z;
    Sample {
        t_us,
        session_us: u64::try_from(session.now().as_micros()).unwrap_or(u64::MAX),
        head: Pose { p: out.head_position.to_array(), q: out.head_rotation.to_array() },
        left_hand: None,
        right_hand: None,
        gaze: gaze.to_array(),
        gaze_on_stimulus: out.gaze_on_stimulus,
        stimulus_angle_deg: out.angle_to_stimulus_deg as f32,
        stimulus_distance_m: None,
        stimulus_p: None,
        state: link::state_to_wire(session.state()),
        target_level: session.target_level() as f32,
        applied_level: session.applied_level() as f32,
        step: u16::try_from(session.step()).unwrap_or(u16::MAX),
        safe_blend: session.safe_blend() as f32,
        frame_ms,
        dropped_frames: 0,
        heart_rate: Some(out.heart_rate as f32),
    }
}
