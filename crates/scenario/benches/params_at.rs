//! `Scenario::params_at`: called every frame by the headset and every tick by
//! the simulator.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn params_at(c: &mut Criterion) {
    let text = include_str!("../../../scenarios/heights.ron");
    let scenario = scenario::parse(text, "heights.ron").expect("heights.ron is valid");
    let mut level = 1.0;
    c.bench_function("params_at (heights, 7 params)", |b| {
        b.iter(|| {
            level = if level >= scenario.max_level() { 1.0 } else { level + 0.013 };
            black_box(scenario.params_at(black_box(level)))
        })
    });
    c.bench_function("parse + validate heights.ron", |b| b.iter(|| scenario::parse(black_box(text), "heights.ron")));
}

criterion_group!(benches, params_at);
criterion_main!(benches);
