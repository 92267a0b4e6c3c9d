//! `Session::tick`, once per frame on the headset and in the simulator.
//! Goal: at most 1 µs, under 0.01 % of an 11.1 ms frame at 90 Hz.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use session::{Command, Config, PatientInput, Session};

const FRAME: Duration = Duration::from_nanos(11_111_111);

fn running_session() -> Session {
    let text = include_str!("../../../scenarios/heights.ron");
    let scenario = scenario::parse(text, "heights.ron").expect("valid");
    let mut session = Session::new(scenario, Config::default());
    session.command(Duration::ZERO, Command::Start).expect("starts");
    session.command(Duration::ZERO, Command::SetLevel { level: 12.0 }).expect("accepted");
    session
}

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("session");
    // Easing toward a distant target: the busiest path (easing, step changes, rules).
    let mut session = running_session();
    let mut now = Duration::ZERO;
    group.bench_function("tick (running, easing)", |b| {
        b.iter(|| {
            now += FRAME;
            session.tick(black_box(now));
        })
    });
    // A frame as the headset sends it: heart rate, then the tick.
    let mut session = running_session();
    let mut now = Duration::ZERO;
    group.bench_function("heart rate + tick", |b| {
        b.iter(|| {
            now += FRAME;
            let _ = session.patient(now, PatientInput::HeartRate { bpm: black_box(80.0) });
            session.tick(black_box(now));
        })
    });
    group.finish();
}

criterion_group!(benches, tick);
criterion_main!(benches);
