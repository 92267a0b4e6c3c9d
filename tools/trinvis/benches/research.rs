//! Research tools on a 60-minute recording made with `trinvis sim --record`
//! (heights, automatic mode, 90 Hz: 324 001 samples, about 23 MB):
//! - export to CSV and to Parquet, from the file to the dataset (read,
//!   parse, per-step summary, nine tables written). Goal: under 1 s each.
//! - seek: the messages of one second at a random time, through the chunk
//!   index, the file's bytes in memory. Goal: under 10 ms. Side by side,
//!   reading the whole file, which a seek avoids.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use recording::{Index, Recording};

fn hour_recording(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("hour.mcap");
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../..");
    let status = Command::new(env!("CARGO_BIN_EXE_trinvis"))
        .args(["sim", "--scenario", "scenarios/heights.ron", "--minutes", "60", "--auto", "--record"])
        .arg(&path)
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("trinvis runs");
    assert!(status.success(), "trinvis sim --record failed");
    path
}

fn research(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("trinvis-bench-research-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = hour_recording(&dir);

    let mut group = c.benchmark_group("60-minute recording");
    group.sample_size(10);
    for (name, format) in [("export to CSV", outputs::Format::Csv), ("export to Parquet", outputs::Format::Parquet)] {
        let out = dir.join(format.extension());
        group.bench_function(name, |b| {
            b.iter(|| {
                let data = research::load(&file).expect("reads");
                let visits = research::steps::visits(&data, None);
                black_box(outputs::export(&data, &visits, &out, format).expect("writes"))
            })
        });
    }
    let bytes = std::fs::read(&file).expect("reads");
    group.bench_function("read the whole file (what a seek avoids)", |b| {
        b.iter(|| black_box(Recording::read(&bytes).expect("reads").messages.len()))
    });
    group.finish();

    let mut group = c.benchmark_group("seek");
    let (start, end) = Index::read(&bytes).expect("reads").expect("indexed").time_range().expect("messages");
    // A random time in the recording, the same sequence every run.
    let mut rng = patient::Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut random_time = move || start + rng.next_u64() % (end - start);
    group.bench_function("one second at a random time (index read each time)", |b| {
        b.iter(|| {
            let t = random_time();
            let index = Index::read(&bytes).expect("reads").expect("indexed");
            black_box(index.range(&bytes, t, t + 1_000_000).expect("reads").len())
        })
    });
    let index = Index::read(&bytes).expect("reads").expect("indexed");
    let t = random_time();
    let second = index.range(&bytes, t, t + 1_000_000).expect("reads");
    assert!(second.len() >= 90, "a second holds at least 90 samples, got {}", second.len());
    group.bench_function("one second at a random time (index kept)", |b| {
        b.iter(|| {
            let t = random_time();
            black_box(index.range(&bytes, t, t + 1_000_000).expect("reads").len())
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, research);
criterion_main!(benches);
