//! A small hand-written recording through the whole pipeline: parsing,
//! visits, tables and CSV, checked against expectations
//! (`UPDATE_EXPECT=1 cargo test -p trinvis-research` refreshes them).

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

use expect_test::{Expect, expect};
use recording::{Channel, Metadata, Recording, Writer};

const START: u64 = 1_795_688_100_000_000;

/// Two seconds at 10 Hz: step 1 for a second (looking at the stimulus,
/// then turned away), step 2 after, never left; SUDS 40 then 10 on step 1,
/// 30 on step 2; a note with a comma and quotes; a command and its ack.
/// With `cut`, the file loses its last bytes (no summary, no end).
fn recording(cut: bool) -> Recording {
    let mut w = Writer::new(std::io::Cursor::new(Vec::new()), &Metadata::example()).unwrap();
    let events = [
        (0, r#"{"seq":0,"at_us":0,"type":"step_entered","id":"bowl-far","step":1}"#),
        (300_000, r#"{"seq":1,"at_us":300000,"type":"suds_recorded","by":"patient","value":40}"#),
        (900_000, r#"{"seq":2,"at_us":900000,"type":"suds_recorded","by":"therapist","value":10}"#),
        (
            1_000_000,
            r#"{"seq":3,"at_us":1000000,"type":"step_left","stats":{"step":1,"id":"bowl-far","time_on_step_us":950000}}"#,
        ),
        (1_000_000, r#"{"seq":4,"at_us":1000000,"type":"step_entered","id":"bowl-near","step":2}"#),
        (1_500_000, r#"{"seq":5,"at_us":1500000,"type":"suds_recorded","by":"patient","value":30}"#),
        (1_600_000, r#"{"seq":6,"at_us":1600000,"type":"note","text":"said \"no\", then yes"}"#),
    ];
    for (at, json) in events {
        w.write(Channel::Events, START + at, json.as_bytes()).unwrap();
    }
    for i in 0..20u64 {
        let session_us = i * 100_000;
        let (step, angle, on) = match i {
            0..5 => (1, 5.0, true),
            5..10 => (1, 120.0, false),
            _ => (2, 30.0, false),
        };
        let hr = if i % 2 == 0 { r#","heart_rate":80.5"# } else { "" };
        let json = format!(
            r#"{{"t_us":{t},"session_us":{session_us},"head":{{"p":[0,1.6,0],"q":[0,0,0,1]}},"gaze":[0,0,-1],"gaze_on_stimulus":{on},"stimulus_angle_deg":{angle},"state":"running","target_level":{step},"applied_level":{step},"step":{step},"safe_blend":0,"frame_ms":10,"dropped_frames":{d}{hr}}}"#,
            t = 7_000 + session_us,
            d = u32::from(i == 3),
        );
        w.write(Channel::Telemetry, START + session_us, json.as_bytes()).unwrap();
    }
    w.write(Channel::Commands, START + 1_250_000, br#"{"id":7,"command":{"type":"request_suds"}}"#).unwrap();
    w.write(Channel::Acks, START + 1_262_000, br#"{"seq":40,"id":7,"ok":true}"#).unwrap();
    w.flush().unwrap();
    let bytes = w.finish().unwrap().into_inner();
    Recording::read(if cut { &bytes[..bytes.len() - 20] } else { &bytes }).unwrap()
}

fn csv(table: &str, cut: bool) -> String {
    let data = research::SessionData::from_recording(&recording(cut), "r.mcap");
    let visits = research::steps::visits(&data, None);
    let tables = research::tables(&data, &visits);
    let table = tables.iter().find(|t| t.name == table).unwrap();
    let mut out = Vec::new();
    outputs::export::write_csv(&mut out, table).unwrap();
    String::from_utf8(out).unwrap()
}

fn check(table: &str, expect: Expect) {
    expect.assert_eq(&csv(table, false));
}

#[test]
fn steps_one_row_per_visit() {
    check(
        "steps",
        expect![[r#"
        session_id,patient_code,scenario_id,scenario_version,recording,step,step_id,step_title,visit,during_safe_scene,entered_us,left_us,entered_s,left_s,closed,time_on_step_s,suds_first,suds_peak,suds_final,suds_ratings,suds_drop,suds_drop_ratio,heart_rate_mean_bpm,heart_rate_max_bpm,frames_running,gaze_on_stimulus_fraction,turned_away_fraction,distance_change_m,frame_rate_hz,dropped_frames
        20261126T101500Z-5f3a,P-0042,spiders,1.0.0,r.mcap,1,bowl-far,,1,false,0,1000000,0.0,1.0,true,0.95,40,40,10,2,30,0.75,80.5,80.5,10,0.5,0.5,,100.0,1
        20261126T101500Z-5f3a,P-0042,spiders,1.0.0,r.mcap,2,bowl-near,,1,false,1000000,1900000,1.0,1.9,false,0.9,30,30,30,1,0,0.0,80.5,80.5,10,0.0,0.0,,100.0,0
    "#]],
    );
}

#[test]
fn suds_and_commands() {
    check(
        "suds",
        expect![[r#"
        session_id,patient_code,scenario_id,scenario_version,recording,log_time_us,seq,session_us,session_s,value,by,step,step_id,time_on_visit_s
        20261126T101500Z-5f3a,P-0042,spiders,1.0.0,r.mcap,1795688100300000,1,300000,0.3,40,patient,1,bowl-far,0.3
        20261126T101500Z-5f3a,P-0042,spiders,1.0.0,r.mcap,1795688100900000,2,900000,0.9,10,therapist,1,bowl-far,0.9
        20261126T101500Z-5f3a,P-0042,spiders,1.0.0,r.mcap,1795688101500000,5,1500000,1.5,30,patient,2,bowl-near,0.5
    "#]],
    );
    check(
        "commands",
        expect![[r#"
        session_id,patient_code,scenario_id,scenario_version,recording,log_time_us,session_us,session_s,id,type,command_json,ack_ok,ack_error,ack_latency_ms
        20261126T101500Z-5f3a,P-0042,spiders,1.0.0,r.mcap,1795688101250000,1250000,1.25,7,request_suds,"{""type"":""request_suds""}",true,,12.0
    "#]],
    );
}

#[test]
fn text_with_commas_and_quotes_is_quoted() {
    let events = csv("events", false);
    let note = events.lines().find(|l| l.contains(",note,")).unwrap();
    assert!(note.ends_with(r#","said ""no"", then yes","{""text"":""said \""no\"", then yes""}""#), "{note}");
}

#[test]
fn a_cut_file_keeps_what_it_holds() {
    let r = recording(true);
    assert!(!r.complete);
    let data = research::SessionData::from_recording(&r, "r.mcap");
    assert_eq!(data.samples.len(), 20, "the one chunk is whole");
    let sessions = csv("sessions", true);
    assert!(sessions.lines().nth(1).unwrap().contains(",false,"), "complete = false: {sessions}");
}
