//! Per-frame cost of telemetry and the console link in the headless app,
//! against the same app without them, side by side in one run.
//!
//! Both apps run the engine, the scene and the synthetic patient on the
//! spiders scenario at step 8 (eight moving spiders). The second also samples
//! telemetry every frame and hands it, with events and acks, to a link
//! connected to a real console on loopback (the link's own thread does the
//! encoding and the network). Goal: the difference below 0.5 % of an
//! 11.1 ms frame (56 µs).
//!
//! `cargo bench -p trinvis-headset --bench frame`; without `--bench` it
//! runs a few hundred frames as a smoke test.

#![allow(clippy::unwrap_used, reason = "a benchmark: a panic is the failure report")]

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use headset::HeadsetConfig;

fn app(console: Option<(String, String)>) -> App {
    let text = include_str!("../../../scenarios/spiders.ron");
    let config = HeadsetConfig {
        synthetic_patient: true,
        patient_code: "P-BENCH".into(),
        console: console
            .clone()
            .map(|(url, token)| (url, headset::console::Access::Token { token, fingerprint: None })),
        initial_level: Some(8.0),
        ..HeadsetConfig::headless(scenario::parse(text, "spiders.ron").unwrap(), text)
    };
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_nanos(11_111_111)));
    if console.is_some() {
        headset::add_session_plugins(&mut app, &config);
    } else {
        // The same app without the telemetry sampler and the link.
        app.add_plugins((
            TransformPlugin,
            headset::OrderPlugin,
            headset::engine::EnginePlugin {
                scenario: config.scenario.clone(),
                automatic: false,
                initial_level: Some(8.0),
            },
            headset::scene::ScenePlugin,
            headset::synthetic::SyntheticPatientPlugin { seed: 1 },
        ));
        app.init_resource::<headset::telemetry::HeartRate>();
    }
    app.update();
    app
}

fn time_frames(app: &mut App, frames: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..frames {
        app.update();
    }
    start.elapsed() / frames
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let frames = if full { 9_000 } else { 300 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("trinvis-frame-bench-{}", std::process::id()));
    let config = console::Config::new(dir.clone());
    let token = config.headset_token.clone();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(console::serve(listener, config, async {
        let _ = stopped.await;
    }));

    let mut bare = app(None);
    let mut linked = app(Some((format!("ws://{addr}"), token)));
    // Let the link connect, then warm both up.
    std::thread::sleep(Duration::from_millis(500));
    time_frames(&mut bare, frames / 10);
    time_frames(&mut linked, frames / 10);
    // Interleaved rounds, so that machine noise falls on both alike.
    let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        a += time_frames(&mut bare, frames / 5);
        b += time_frames(&mut linked, frames / 5);
    }
    let (a, b) = (a / 5, b / 5);
    let extra = b.saturating_sub(a);
    println!("headless frame, spiders at step 8, {frames} frames each:");
    println!("  engine + scene + synthetic patient:              {:>8.1} µs", a.as_secs_f64() * 1e6);
    println!("  the same + telemetry + console link (loopback):  {:>8.1} µs", b.as_secs_f64() * 1e6);
    println!(
        "  telemetry and link add {:.1} µs a frame = {:.3} % of an 11.1 ms frame (goal < 0.5 %); ratio {:.2}x",
        extra.as_secs_f64() * 1e6,
        extra.as_secs_f64() / 0.011_111 * 100.0,
        b.as_secs_f64() / a.as_secs_f64()
    );
    drop(linked);
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
