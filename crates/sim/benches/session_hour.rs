//! A 60-minute session at 90 Hz (324 000 frames): engine, synthetic patient
//! and driver together. Goal: under 3.6 s, at least 1000x real time.
//! Side by side: the same hour of the synthetic patient alone, the baseline
//! that shows what the engine and driver add.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use patient::{PatientParams, Stimulus, SyntheticPatient};
use sim::{SimConfig, Simulation};

fn hour(c: &mut Criterion) {
    let text = include_str!("../../../scenarios/heights.ron");
    let scenario = scenario::parse(text, "heights.ron").expect("valid");
    let mut group = c.benchmark_group("60-minute session at 90 Hz");
    group.sample_size(10);
    group.bench_function("simulation (engine + patient + driver)", |b| {
        b.iter(|| {
            let config = SimConfig { duration: Duration::from_secs(3600), automatic: true, ..SimConfig::default() };
            black_box(Simulation::new(scenario.clone(), config).run())
        })
    });
    group.bench_function("patient alone (baseline)", |b| {
        b.iter(|| {
            let mut patient = SyntheticPatient::new(PatientParams::default(), 1);
            let stimulus = Stimulus { intensity: 0.5, ..Stimulus::default() };
            for _ in 0..3600 * 90 {
                black_box(patient.step(1.0 / 90.0, &stimulus));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, hour);
criterion_main!(benches);
