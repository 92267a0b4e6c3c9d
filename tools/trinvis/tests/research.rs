//! `trinvis sim --record`, `export` and `report` as a researcher runs them:
//! three simulated sessions become one dataset that DuckDB (from Python, a
//! reader nobody here wrote) reads back with the recordings' row counts and
//! values; a recording cut short still exports; a missing file is named.
//!
//! The DuckDB checks need `python3` with the `duckdb` package, which
//! `./x test` installs; bare `cargo test` without it says so and skips them
//! (under `./x test`, TRINVIS_REQUIRE_PYTHON=1, a missing package fails).

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{root, text, trinvis};
use recording::{Channel, Recording};
use serde_json::Value;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trinvis-research-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn python() -> String {
    std::env::var("TRINVIS_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn have_duckdb() -> bool {
    let ok = Command::new(python()).args(["-c", "import duckdb"]).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("TRINVIS_REQUIRE_PYTHON").is_none(),
            "python3 with duckdb is required here: `python3 -m pip install duckdb`"
        );
        skipped("python3 with duckdb is not installed (./x test installs it)");
    }
    ok
}

/// Records a simulated session of `minutes` into `dir/name.mcap`.
fn record(dir: &Path, name: &str, scenario: &str, seed: u64, minutes: u32) -> PathBuf {
    let path = dir.join(format!("{name}.mcap"));
    let out = trinvis(&[
        "sim",
        "--scenario",
        &format!("scenarios/{scenario}.ron"),
        "--minutes",
        &minutes.to_string(),
        "--seed",
        &seed.to_string(),
        "--auto",
        "--record",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}

fn events(r: &Recording) -> Vec<Value> {
    r.channel(Channel::Events).map(|m| serde_json::from_slice(&m.data).unwrap()).collect()
}

#[test]
fn three_sessions_export_to_one_dataset_that_duckdb_reads_back() {
    let dir = fresh_dir("cohort");
    let files = [
        record(&dir, "s1", "spiders", 1, 12),
        record(&dir, "s2", "spiders", 2, 12),
        record(&dir, "s3", "heights", 3, 12),
    ];
    let recordings: Vec<Recording> = files.iter().map(|f| Recording::open(f).unwrap()).collect();
    for format in ["parquet", "csv"] {
        let out_dir = dir.join(format!("dataset-{format}"));
        let mut args = vec!["export", "--format", format, "--out", out_dir.to_str().unwrap()];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        let out = trinvis(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("exported 3 recording(s)"), "{}", text(&out.stdout));
        for (file, r) in files.iter().zip(&recordings) {
            let stem = file.file_stem().unwrap().to_str().unwrap();
            assert_eq!(r.metadata.session_id, stem, "sim --record names the session after the file");
            for table in ["telemetry", "events", "suds", "heart_rate", "steps", "sessions"] {
                let part = out_dir.join(table).join(format!("session={stem}")).join(format!("{stem}.{format}"));
                assert!(part.is_file(), "{} is missing", part.display());
            }
        }
        if !have_duckdb() {
            continue;
        }
        let read = Command::new(python())
            .arg(root().join("tests/python/read_export.py"))
            .arg(&out_dir)
            .arg(format)
            .output()
            .unwrap();
        assert!(read.status.success(), "{}", text(&read.stderr));
        let theirs: Value = serde_json::from_slice(&read.stdout).unwrap();
        check_against_recordings(&theirs, &recordings, format);
    }
}

fn check_against_recordings(theirs: &Value, recordings: &[Recording], format: &str) {
    for r in recordings {
        let id = r.metadata.session_id.as_str();
        let rows = |table: &str| theirs["rows"][table][id].as_u64().unwrap_or(0) as usize;
        let events = events(r);
        let suds: Vec<&Value> = events.iter().filter(|e| e["type"] == "suds_recorded").collect();
        assert_eq!(rows("telemetry"), r.channel(Channel::Telemetry).count(), "{format} {id}");
        assert_eq!(rows("events"), events.len(), "{format} {id}");
        assert_eq!(rows("suds"), suds.len(), "{format} {id}");
        assert!(!suds.is_empty(), "twelve minutes have SUDS ratings");
        assert_eq!(rows("sessions"), 1, "{format} {id}");
        // Heart rate: one row per second of session time that has samples.
        let seconds: std::collections::BTreeSet<u64> = r
            .channel(Channel::Telemetry)
            .map(|m| serde_json::from_slice::<Value>(&m.data).unwrap())
            .filter(|s| s.get("heart_rate").is_some())
            .map(|s| s["session_us"].as_u64().unwrap() / 1_000_000)
            .collect();
        assert_eq!(rows("heart_rate"), seconds.len(), "{format} {id}");

        // Every rating, in order, with its session time and value.
        let exported: Vec<&Value> =
            theirs["suds"].as_array().unwrap().iter().filter(|row| row[0].as_str() == Some(id)).collect();
        for (row, event) in exported.iter().zip(&suds) {
            assert_eq!(row[1], event["at_us"], "{format} {id}");
            assert_eq!(row[2], event["value"], "{format} {id}");
        }

        // Telemetry values: sums over every sample, and the metadata columns.
        let samples: Vec<Value> =
            r.channel(Channel::Telemetry).map(|m| serde_json::from_slice(&m.data).unwrap()).collect();
        let t = theirs["telemetry"].as_array().unwrap().iter().find(|row| row[0].as_str() == Some(id)).unwrap();
        assert_eq!(t[1].as_u64().unwrap() as usize, samples.len());
        let session_us: u64 = samples.iter().map(|s| s["session_us"].as_u64().unwrap()).sum();
        assert_eq!(t[2].as_f64().unwrap(), session_us as f64, "{format} {id}: sum of session_us");
        let heart: f64 = samples.iter().filter_map(|s| s["heart_rate"].as_f64()).sum();
        assert!((t[3].as_f64().unwrap() - heart).abs() < 1e-6 * heart, "{format} {id}: sum of heart rates");
        let on = samples.iter().filter(|s| s["gaze_on_stimulus"] == true).count();
        assert_eq!(t[4].as_u64().unwrap() as usize, on, "{format} {id}");
        assert_eq!(t[5].as_str(), Some(r.metadata.patient_code.as_str()), "{format}: metadata on every row");
        assert_eq!(t[6].as_str(), Some(r.metadata.scenario_id.as_str()));

        // The per-step rows agree with the engine's own numbers (`step_left`).
        let steps: Vec<&Value> =
            theirs["steps"].as_array().unwrap().iter().filter(|row| row[0].as_str() == Some(id)).collect();
        let left: Vec<&Value> = events.iter().filter(|e| e["type"] == "step_left").map(|e| &e["stats"]).collect();
        assert_eq!(steps.len(), left.len(), "{format} {id}: one row per visit, the last closed by the stop");
        for (row, stats) in steps.iter().zip(&left) {
            assert_eq!(row[1], stats["step"], "{format} {id}");
            assert_eq!(row[2], stats["id"], "{format} {id}");
            assert_eq!(row[4], stats["suds_first"], "{format} {id} step {}", row[1]);
            assert_eq!(row[5], stats["suds_peak"], "{format} {id} step {}", row[1]);
            assert_eq!(row[6], stats["suds_last"], "{format} {id} step {}", row[1]);
            let time = stats["time_on_step_us"].as_f64().unwrap() / 1e6;
            assert!((row[7].as_f64().unwrap() - time).abs() < 1e-6, "{format} {id}: {row:?} {stats}");
            let gaze = row[8].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&gaze), "{format} {id}: {gaze}");
            assert!(row[9].as_str().is_some_and(|t| !t.is_empty()), "titles come from scenarios/: {row:?}");
        }
    }
    // The README's query: every step any session reached, with a drop.
    let mean_drop = theirs["mean_drop"].as_array().unwrap();
    let first = |scenario: &str| mean_drop.iter().find(|row| row[0] == scenario).unwrap();
    assert_eq!(first("heights")[1], 1);
    assert_eq!(first("heights")[5], 1, "one heights session: {mean_drop:?}");
    assert_eq!(first("spiders")[1], 1);
    assert_eq!(first("spiders")[5], 2, "two spiders sessions: {mean_drop:?}");
    // The mean of the drops the recordings hold for spiders' step 1.
    let drops: Vec<f64> = recordings
        .iter()
        .filter(|r| r.metadata.scenario_id == "spiders")
        .flat_map(|r| events(r).into_iter().filter(|e| e["type"] == "step_left" && e["stats"]["step"] == 1))
        .filter_map(|e| Some(e["stats"]["suds_peak"].as_f64()? - e["stats"]["suds_last"].as_f64()?))
        .collect();
    let mean = drops.iter().sum::<f64>() / drops.len() as f64;
    assert!((first("spiders")[3].as_f64().unwrap() - mean).abs() < 0.051, "{mean} {mean_drop:?}");
}

#[test]
fn a_recording_cut_short_exports_what_it_holds_and_says_so() {
    let dir = fresh_dir("cut");
    let whole = record(&dir, "whole", "spiders", 4, 5);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let held = Recording::open(&cut).unwrap();
    assert!(!held.complete);
    let out_dir = dir.join("dataset");
    let out = trinvis(&["export", "--format", "csv", "--out", out_dir.to_str().unwrap(), cut.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cut.mcap: the recording was cut short"), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(out_dir.join("telemetry/session=whole/cut.csv")).unwrap();
    assert_eq!(csv.lines().count() - 1, held.channel(Channel::Telemetry).count());
    assert!(held.channel(Channel::Telemetry).count() > 90 * 60, "more than a minute survives");
    let sessions = std::fs::read_to_string(out_dir.join("sessions/session=whole/cut.csv")).unwrap();
    assert!(sessions.lines().nth(1).unwrap().contains(",false,"), "complete = false: {sessions}");
    // The visit the cut fell in is there, marked open.
    let steps = std::fs::read_to_string(out_dir.join("steps/session=whole/cut.csv")).unwrap();
    assert!(steps.lines().last().unwrap().contains(",false,"), "{steps}");
}

#[test]
fn a_recovered_copy_beside_its_original_counts_as_one_session() {
    let dir = fresh_dir("recovered");
    let whole = record(&dir, "twice", "spiders", 5, 2);
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(&whole, &bytes[..bytes.len() * 7 / 10]).unwrap();
    // `trinvis recover FILE` puts its copy beside the file, among the recordings.
    let out = trinvis(&["recover", whole.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recovered = dir.join("twice.recovered.mcap");
    let held = Recording::open(&recovered).unwrap();
    let out_dir = dir.join("dataset");
    let out = trinvis(&[
        "export",
        "--format",
        "csv",
        "--out",
        out_dir.to_str().unwrap(),
        whole.to_str().unwrap(),
        recovered.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("2 files read as one session"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 recording(s), 1 session(s)"), "{}", text(&out.stdout));
    let files: Vec<PathBuf> =
        std::fs::read_dir(out_dir.join("sessions/session=twice")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let sessions = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(sessions.lines().count(), 2, "one row: {sessions}");
    let telemetry = std::fs::read_to_string(out_dir.join("telemetry/session=twice/twice.csv")).unwrap();
    assert_eq!(telemetry.lines().count() - 1, held.channel(Channel::Telemetry).count(), "each sample once");
}

#[test]
fn a_missing_file_is_named_and_nothing_is_written() {
    let dir = fresh_dir("missing");
    let out_dir = dir.join("dataset");
    let missing = dir.join("nope.mcap");
    let out = trinvis(&["export", "--out", out_dir.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&missing.display().to_string()), "{}", text(&out.stderr));
    assert!(!out_dir.exists());
    let out = trinvis(&["report", missing.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&missing.display().to_string()), "{}", text(&out.stderr));
}

#[test]
fn the_report_is_one_html_file_with_plots_and_a_row_per_visit() {
    let dir = fresh_dir("report");
    let file = record(&dir, "rep", "heights", 5, 20);
    let out_dir = dir.join("report");
    let out = trinvis(&["report", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(out_dir.join("index.html")).unwrap();
    let data = research::load(&file).unwrap();
    let visits = research::steps::visits(&data, None);
    assert!(visits.iter().all(|v| v.step_title.is_some()), "without the scenario file, titles from the metadata");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("SIM-5"), "patient code");
    assert!(html.contains("Fear of heights") || html.contains("heights"), "scenario");
    assert!(html.matches("<svg").count() >= 5, "five plots inline");
    assert!(!html.contains("src=\"http"), "self-contained: nothing fetched");
    // Passes through steps behind the safe scene are not visits the patient saw.
    let seen = visits.iter().filter(|v| !v.during_safe_scene).count();
    assert_eq!(html.matches("<tr class=\"visit\">").count(), seen);
    assert!(html.contains("Methods"));

    // Issue 13: a report for the patient's record.
    assert!(!html.contains(" 1 times"), "once, not 1 times");
    assert!(!html.contains("−0 %") && !html.contains("-0 %"), "no drop is not a drop of −0 %");
    let course = research::course::Course::of(&data);
    let start = course.start_us.expect("the simulated therapist starts the session");
    assert!(start > 0, "the sim waits before the start");
    let seconds = |us: u64| (us + 500_000) / 1_000_000;
    let minutes = |us: u64| format!("{}:{:02}", seconds(us) / 60, seconds(us) % 60);
    let lasted = format!("The exposure lasted {} from the start", minutes(course.end_us - start));
    assert!(html.contains(&lasted), "{lasted}: the duration counts from the start");
    let peak_final = html.split("<figure>").find(|f| f.contains("final (blue) SUDS on each step")).unwrap();
    assert!(peak_final.contains("\n100\n</text>") && !peak_final.contains("\n120\n</text>"), "SUDS is 0–100");
    let appendix = html.find("<h2 class=\"appendix\">Appendix: technical details</h2>").unwrap();
    for detail in
        [data.metadata.scenario_sha256.as_str(), &data.metadata.headset_app, "rep.mcap", "frames per second", " Hz"]
    {
        let at = html.find(detail).unwrap_or_else(|| panic!("{detail} is in the report"));
        assert!(at > appendix, "{detail} is a technical detail, for the appendix");
    }
}

use testkit::skipped;

/// `export --since DAY` leaves out older sessions and says how many; two
/// clinics' datasets answer the README's multi-clinic DuckDB query as one.
#[test]
fn since_leaves_out_older_sessions_and_clinics_query_as_one() {
    let dir = fresh_dir("clinics");
    let files = [
        record(&dir, "a1", "spiders", 11, 4),
        record(&dir, "b1", "spiders", 12, 4),
        record(&dir, "b2", "heights", 13, 4),
    ];
    let export = |out: &str, since: &str, files: &[&PathBuf]| {
        let out_dir = dir.join(out);
        let mut args = vec!["export", "--since", since, "--out", out_dir.to_str().unwrap()];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        trinvis(&args)
    };
    // Every session started today, after 2000 and before 2999.
    let none = export("none", "2999-01-01", &[&files[1], &files[2]]);
    assert!(none.status.success(), "{}", text(&none.stderr));
    assert!(text(&none.stderr).contains("0 of 2 session(s) started on or after 2999-01-01"), "{}", text(&none.stderr));
    assert!(text(&none.stdout).starts_with("exported 0 recording(s), 0 session(s)"), "{}", text(&none.stdout));
    assert!(!dir.join("none/steps").exists(), "nothing written for sessions left out");
    let bad = export("bad", "2026-13-01", &[&files[0]]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("YYYY-MM-DD"), "{}", text(&bad.stderr));
    for (clinic, which) in [("clinic-a", vec![&files[0]]), ("clinic-b", vec![&files[1], &files[2]])] {
        let out = export(clinic, "2000-01-01", &which);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let n = which.len();
        assert!(
            text(&out.stdout).starts_with(&format!("exported {n} recording(s), {n} session(s)")),
            "{}",
            text(&out.stdout)
        );
    }
    if !have_duckdb() {
        return;
    }
    let read = Command::new(python())
        .arg(root().join("tests/python/clinics.py"))
        .arg(&dir)
        .args(["clinic-a", "clinic-b"])
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", text(&read.stderr));
    let theirs: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(theirs["sessions"]["clinic-a"], 1, "{theirs}");
    assert_eq!(theirs["sessions"]["clinic-b"], 2, "{theirs}");
    assert!(theirs["rows"].as_u64().unwrap() >= 2, "{theirs}");
}

/// `trinvis index` builds the course index from a recordings folder: two
/// sessions of one patient, a broken file named and skipped; deleting the
/// index and indexing again gives the same rows.
#[test]
fn index_builds_the_course_from_recordings_and_the_same_again_after_deleting_it() {
    let dir = fresh_dir("index");
    let recordings = dir.join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    for (seed, name) in [(3u64, "first"), (4, "second")] {
        let out = trinvis(&[
            "sim",
            "--scenario",
            "scenarios/heights.ron",
            "--minutes",
            "15",
            "--seed",
            &seed.to_string(),
            "--record",
            recordings.join(format!("{name}.mcap")).to_str().unwrap(),
            "--patient-code",
            "P-IDX",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    std::fs::write(recordings.join("broken.mcap"), b"not a recording").unwrap();
    let index = || {
        let out = trinvis(&["index", recordings.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "a skipped file is a failure to report: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("broken.mcap"), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("indexed 2 session(s) of 1 patient(s)"), "{}", text(&out.stdout));
        course::Db::open(&dir.join("console-data/course.sqlite")).unwrap().dump().unwrap()
    };
    let first = index();
    let patients: Value = serde_json::from_str(&first).unwrap();
    let sessions = patients[0]["courses"][0]["sessions"].as_array().unwrap();
    assert_eq!((patients[0]["code"].as_str(), sessions.len()), (Some("P-IDX"), 2));
    assert!(sessions.iter().all(|s| s["highest_step"].as_u64().unwrap() >= 2), "{first}");
    assert!(sessions[0]["steps"][0]["suds_peak"].is_u64(), "{first}");
    for f in ["course.sqlite", "course.sqlite-wal", "course.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join("console-data").join(f));
    }
    assert_eq!(index(), first, "rebuilt from the recordings, the rows differ");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A JPEG file's first bytes as far as its size (SOF0 of `w` x `h`), then its end.
fn tiny_jpeg(w: u16, h: u16, mark: u8) -> Vec<u8> {
    let [wh, wl] = w.to_be_bytes();
    let [hh, hl] = h.to_be_bytes();
    vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, hh, hl, wh, wl, 0x01, 0x01, 0x11, 0x00, mark, 0xFF, 0xD9]
}

#[test]
fn export_writes_the_mirror_pictures_and_their_table_only_when_asked() {
    let dir = fresh_dir("mirror-frames");
    let file = record(&dir, "pictures", "spiders", 4, 1);
    // The simulation has no picture: add three, as a console records them.
    let recording = Recording::open(&file).unwrap();
    let with = dir.join("with-pictures.mcap");
    let mut writer = recording::Writer::create(&with, &recording.metadata).unwrap();
    for m in &recording.messages {
        writer.write_at(m.channel, m.log_time_us, m.publish_time_us, &m.data).unwrap();
    }
    let start = recording.messages[0].log_time_us;
    for (i, session_s) in [1u64, 2, 3].into_iter().enumerate() {
        let json = recording::image::compressed_image(
            start + session_s * 1_000_000,
            session_s * 1_000_000,
            &tiny_jpeg(480, 270, i as u8),
            &[],
        );
        writer.write(Channel::Mirror, start + session_s * 1_000_000, &json).unwrap();
    }
    writer.finish().unwrap();
    std::fs::remove_file(&file).unwrap();

    let plain = dir.join("plain");
    let out = trinvis(&["export", with.to_str().unwrap(), "--format", "csv", "--out", plain.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!plain.join("mirror").exists(), "pictures are written only when asked");

    let asked = dir.join("asked");
    let args =
        ["export", with.to_str().unwrap(), "--format", "csv", "--out", asked.to_str().unwrap(), "--mirror-frames"];
    let out = trinvis(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.lines().any(|l| l.trim_start().starts_with("mirror") && l.ends_with(" 3 rows (and as many JPEG files)")),
        "{said}"
    );
    let session = std::fs::read_dir(asked.join("mirror")).unwrap().next().unwrap().unwrap().path();
    let table = std::fs::read_to_string(session.join("with-pictures.csv")).unwrap();
    let mut lines = table.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[column("session_us")], ((i as u64 + 1) * 1_000_000).to_string());
        assert_eq!((row[column("width")], row[column("height")]), ("480", "270"));
        let jpeg = std::fs::read(asked.join(row[column("file")])).unwrap();
        assert_eq!(jpeg, tiny_jpeg(480, 270, i as u8), "the file holds the picture as recorded");
    }
    assert!(rows[0][column("file")].ends_with("with-pictures-000001000.jpg"), "{:?}", rows[0]);
    let _ = std::fs::remove_dir_all(&dir);
}
