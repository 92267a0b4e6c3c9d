//! Scripted sessions: a script of timed inputs in, the event log out.
//!
//! Script lines are `<seconds> <verb> [argument]`; `<from>..<to> tick <dt>`
//! ticks every `dt` seconds. Verbs: start, level X, step N, next, previous,
//! accept, pause, resume, safe, stop, request, record N, marker TEXT,
//! note TEXT, predict TEXT, outcome TEXT, auto on|off (therapist); suds N,
//! panic, hr BPM, focus on|off (patient and headset); lost, connected (link); tick.
//! Update expectations with `UPDATE_EXPECT=1 cargo test -p trinvis-session`.

#![allow(clippy::unwrap_used, reason = "test helpers: a panic is the failure report")]

mod common;

use std::fmt::Write;
use std::time::Duration;

use expect_test::{Expect, expect};
use session::{Command, Config, LinkStatus, PatientInput, Session};

fn check(script: &str, expect: Expect) {
    let mut session = Session::new(common::ladder(), Config::default());
    let mut out = String::new();
    let mut printed = 0;
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (time, rest) = line.split_once(' ').expect("a time and a verb");
        let (verb, arg) = rest.split_once(' ').unwrap_or((rest, ""));
        let times: Vec<f64> = match time.split_once("..") {
            Some((from, to)) => {
                let (from, to, dt): (f64, f64, f64) =
                    (from.parse().unwrap(), to.parse().unwrap(), arg.parse().unwrap());
                (0..).map(|i| from + f64::from(i) * dt).take_while(|t| *t <= to + 1e-9).collect()
            }
            None => vec![time.parse().unwrap()],
        };
        for t in times {
            let now = Duration::from_secs_f64(t);
            let result = apply(&mut session, now, verb, arg);
            for event in session.events_since(printed) {
                let kind = serde_json::to_value(event).unwrap();
                let mut kind = kind.as_object().unwrap().clone();
                kind.remove("seq");
                kind.remove("at_us");
                writeln!(out, "{:>8.3} {}", event.at_us as f64 / 1e6, serde_json::Value::Object(kind)).unwrap();
            }
            printed = session.events().len() as u64;
            if let Err(rejection) = result {
                writeln!(out, "{t:>8.3} ! {verb}: {rejection}").unwrap();
            }
        }
    }
    writeln!(
        out,
        "-- {} level {:.2} -> {:.2}, step {}, safe {:.2}",
        session.state(),
        session.applied_level(),
        session.target_level(),
        session.step(),
        session.safe_blend()
    )
    .unwrap();
    expect.assert_eq(&out);
}

fn apply(session: &mut Session, now: Duration, verb: &str, arg: &str) -> Result<(), session::Rejection> {
    let command = |c| Some(c);
    let therapist = match verb {
        "start" => command(Command::Start),
        "level" => command(Command::SetLevel { level: arg.parse().unwrap() }),
        "step" => command(Command::GoToStep { step: arg.parse().unwrap() }),
        "next" => command(Command::NextStep),
        "previous" => command(Command::PreviousStep),
        "accept" => command(Command::AcceptSuggestion),
        "pause" => command(Command::Pause),
        "resume" => command(Command::Resume),
        "safe" => command(Command::SafeScene),
        "stop" => command(Command::Stop),
        "request" => command(Command::RequestSuds),
        "record" => command(Command::RecordSuds { value: arg.parse().unwrap() }),
        "marker" if arg == "LONG" => command(Command::Marker { label: "x".repeat(201) }),
        "marker" => command(Command::Marker { label: arg.into() }),
        "note" => command(Command::Note { text: arg.into() }),
        "predict" => command(Command::Prediction { text: arg.into() }),
        "outcome" => command(Command::Outcome { text: arg.into() }),
        "auto" => command(Command::SetAutomatic { on: arg == "on" }),
        _ => None,
    };
    if let Some(c) = therapist {
        return session.command(now, c);
    }
    match verb {
        "suds" => session.patient(now, PatientInput::Suds { value: arg.parse().unwrap() }),
        "panic" => session.patient(now, PatientInput::Panic),
        "hr" => session.patient(now, PatientInput::HeartRate { bpm: arg.parse().unwrap() }),
        "focus" => session.patient(now, PatientInput::Focus { focused: arg == "on" }),
        "lost" => {
            session.link(now, LinkStatus::Lost);
            Ok(())
        }
        "connected" => {
            session.link(now, LinkStatus::Connected);
            Ok(())
        }
        "tick" => {
            session.tick(now);
            Ok(())
        }
        other => panic!("unknown verb {other}"),
    }
}

#[test]
fn climbs_on_habituation_and_suggests_with_a_reason() {
    check(
        "
        0 hr 70
        10 hr 72
        20 start
        26 suds 60
        30..40 tick 5
        41 suds 30
        41 accept
        42 tick
        45 tick
        46 next
        ",
        expect![[r#"
              20.000 {"bpm":71.0,"type":"heart_rate_baseline"}
              20.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
              20.000 {"id":"far","step":1,"type":"step_entered"}
              26.000 {"by":"step_arrival","type":"suds_requested"}
              26.000 {"by":"patient","type":"suds_recorded","value":60}
              41.000 {"by":"patient","type":"suds_recorded","value":30}
              41.000 {"reason":"SUDS fell 50 % from its peak of 60 (now 30); 21 s on step","step":2,"type":"suggestion_raised"}
              41.000 {"by":"therapist","from":1.0,"to":2.0,"type":"target_changed"}
              42.000 {"stats":{"entered_at_us":20000000,"heart_rate_mean":null,"id":"far","ratings":2,"step":1,"suds_first":60,"suds_last":30,"suds_peak":60,"time_on_step_us":22000000},"type":"step_left"}
              42.000 {"id":"near","step":2,"type":"step_entered"}
              45.000 {"level":2.0,"type":"level_settled"}
              46.000 {"by":"therapist","from":2.0,"to":3.0,"type":"target_changed"}
            -- running level 2.00 -> 3.00, step 2, safe 0.00
        "#]],
    );
}

#[test]
fn panic_goes_to_the_safe_scene_at_once_and_comes_back_low() {
    check(
        "
        0 start
        1 step 3
        6 panic
        6.25 tick
        6.5 tick
        10 resume
        12 tick
        ",
        expect![[r#"
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               1.000 {"by":"therapist","from":1.0,"to":3.0,"type":"target_changed"}
               6.000 {"level":3.0,"type":"level_settled"}
               6.000 {"stats":{"entered_at_us":0,"heart_rate_mean":null,"id":"far","ratings":0,"step":1,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":6000000},"type":"step_left"}
               6.000 {"id":"touch","step":3,"type":"step_entered"}
               6.000 {"type":"panic"}
               6.000 {"by":"patient","from":"running","to":"safe_scene","type":"state_changed"}
               6.000 {"cause":"panic","fade_s":0.5,"type":"safe_scene_entered"}
               6.000 {"by":"safety","from":3.0,"to":1.0,"type":"target_changed"}
              10.000 {"level":1.0,"type":"level_settled"}
              10.000 {"stats":{"entered_at_us":6000000,"heart_rate_mean":null,"id":"touch","ratings":0,"step":3,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":0},"type":"step_left"}
              10.000 {"id":"far","step":1,"type":"step_entered"}
              10.000 {"by":"therapist","from":"safe_scene","to":"running","type":"state_changed"}
            -- running level 1.00 -> 1.00, step 1, safe 0.00
        "#]],
    );
}

#[test]
fn link_loss_waits_for_the_timeout_then_fades_slowly() {
    check(
        "
        0 start
        1 level 2
        5 lost
        10 tick
        14.9 tick
        15 tick
        17 connected
        17 next
        18 resume
        ",
        expect![[r#"
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               1.000 {"by":"therapist","from":1.0,"to":2.0,"type":"target_changed"}
               5.000 {"level":2.0,"type":"level_settled"}
               5.000 {"stats":{"entered_at_us":0,"heart_rate_mean":null,"id":"far","ratings":0,"step":1,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":5000000},"type":"step_left"}
               5.000 {"id":"near","step":2,"type":"step_entered"}
               5.000 {"type":"link_lost"}
              10.000 {"by":"step_arrival","type":"suds_requested"}
              15.000 {"by":"safety","from":"running","to":"safe_scene","type":"state_changed"}
              15.000 {"cause":"link_loss","fade_s":4.0,"type":"safe_scene_entered"}
              15.000 {"by":"safety","from":2.0,"to":1.0,"type":"target_changed"}
              17.000 {"level":1.0,"type":"level_settled"}
              17.000 {"stats":{"entered_at_us":5000000,"heart_rate_mean":null,"id":"near","ratings":0,"step":2,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":10000000},"type":"step_left"}
              17.000 {"id":"far","step":1,"type":"step_entered"}
              17.000 {"type":"link_restored"}
              17.000 {"by":"therapist","from":1.0,"to":2.0,"type":"target_changed"}
              18.000 {"by":"therapist","from":"safe_scene","to":"running","type":"state_changed"}
            -- running level 1.00 -> 2.00, step 1, safe 0.75
        "#]],
    );
}

#[test]
fn focus_loss_pauses_and_waits_for_the_therapist() {
    check(
        "
        0 start
        1 level 2
        3 focus off
        4 focus off
        6 focus on
        7 tick
        8 resume
        ",
        expect![[r#"
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               1.000 {"by":"therapist","from":1.0,"to":2.0,"type":"target_changed"}
               3.000 {"level":2.0,"type":"level_settled"}
               3.000 {"stats":{"entered_at_us":0,"heart_rate_mean":null,"id":"far","ratings":0,"step":1,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":3000000},"type":"step_left"}
               3.000 {"id":"near","step":2,"type":"step_entered"}
               3.000 {"type":"focus_lost"}
               3.000 {"by":"safety","from":"running","to":"paused","type":"state_changed"}
               6.000 {"type":"focus_restored"}
               8.000 {"by":"therapist","from":"paused","to":"running","type":"state_changed"}
            -- running level 2.00 -> 2.00, step 2, safe 0.00
        "#]],
    );
}

#[test]
fn commands_that_do_not_apply_are_rejected_and_change_nothing() {
    check(
        "
        0 pause
        0 resume
        0 accept
        0 step 4
        0 start
        0 start
        1 record 101
        1 marker LONG
        1 stop
        2 next
        2 suds 10
        ",
        expect![[r#"
               0.000 ! pause: pause does not apply while waiting
               0.000 ! resume: resume does not apply while waiting
               0.000 ! accept: no step is suggested
               0.000 ! step: there is no step 4; steps run from 1 to 3
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               0.000 ! start: start does not apply while running
               1.000 ! record: SUDS runs from 0 to 100, got 101
               1.000 ! marker: label has 201 characters; at most 200 are kept
               1.000 {"stats":{"entered_at_us":0,"heart_rate_mean":null,"id":"far","ratings":0,"step":1,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":1000000},"type":"step_left"}
               1.000 {"by":"therapist","from":"running","to":"ended","type":"state_changed"}
               2.000 ! next: the session has ended
               2.000 ! suds: the session has ended
            -- ended level 1.00 -> 1.00, step 1, safe 0.50
        "#]],
    );
}

#[test]
fn automatic_mode_follows_the_rules_and_pauses_hold_everything() {
    check(
        "
        0 auto on
        0 start
        5 suds 80
        10 pause
        40 tick
        40 resume
        55 suds 40
        55 tick
        ",
        expect![[r#"
               0.000 {"on":true,"type":"automatic_mode"}
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               5.000 {"by":"step_arrival","type":"suds_requested"}
               5.000 {"by":"patient","type":"suds_recorded","value":80}
              10.000 {"by":"therapist","from":"running","to":"paused","type":"state_changed"}
              40.000 {"by":"therapist","from":"paused","to":"running","type":"state_changed"}
              55.000 {"by":"patient","type":"suds_recorded","value":40}
              55.000 {"reason":"SUDS fell 50 % from its peak of 80 (now 40); 25 s on step","step":2,"type":"suggestion_raised"}
              55.000 {"by":"automatic","from":1.0,"to":2.0,"type":"target_changed"}
            -- running level 1.00 -> 2.00, step 1, safe 0.00
        "#]],
    );
}

#[test]
fn prompts_arrive_after_each_step_and_at_the_interval_and_notes_are_kept() {
    check(
        "
        0 start
        0 predict I will faint
        0..70 tick 1
        70 outcome I did not faint
        70 marker first step done
        70 note calm voice helped
        70 request
        71 record 25
        ",
        expect![[r#"
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               0.000 {"step":1,"text":"I will faint","type":"prediction"}
               5.000 {"by":"step_arrival","type":"suds_requested"}
              65.000 {"by":"interval","type":"suds_requested"}
              70.000 {"step":1,"text":"I did not faint","type":"outcome"}
              70.000 {"label":"first step done","type":"marker"}
              70.000 {"text":"calm voice helped","type":"note"}
              70.000 {"by":"therapist","type":"suds_requested"}
              71.000 {"by":"therapist","type":"suds_recorded","value":25}
            -- running level 1.00 -> 1.00, step 1, safe 0.00
        "#]],
    );
}

#[test]
fn automatic_mode_waits_for_the_link_before_raising() {
    check(
        "
        0 auto on
        0 start
        5 suds 80
        30 lost
        31 suds 30
        35 tick
        36 connected
        37 tick
        ",
        expect![[r#"
               0.000 {"on":true,"type":"automatic_mode"}
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               5.000 {"by":"step_arrival","type":"suds_requested"}
               5.000 {"by":"patient","type":"suds_recorded","value":80}
              30.000 {"type":"link_lost"}
              31.000 {"by":"patient","type":"suds_recorded","value":30}
              35.000 {"reason":"SUDS fell 62 % from its peak of 80 (now 30); 35 s on step","step":2,"type":"suggestion_raised"}
              36.000 {"type":"link_restored"}
              37.000 {"by":"automatic","from":1.0,"to":2.0,"type":"target_changed"}
            -- running level 1.00 -> 2.00, step 1, safe 0.00
        "#]],
    );
}

/// A prediction given while the scene still eases up toward a raised
/// target belongs to the step being approached; an outcome to the step
/// shown; lowering the target never moves a prediction down.
#[test]
fn a_prediction_names_the_step_being_approached() {
    check(
        "
        0 start
        0 step 3
        1 predict it will jump at me
        30 predict now I am on step 3
        30 outcome it did not jump
        30 step 1
        30.5 predict going down
        ",
        expect![[r#"
               0.000 {"by":"therapist","from":"waiting","to":"running","type":"state_changed"}
               0.000 {"id":"far","step":1,"type":"step_entered"}
               0.000 {"by":"therapist","from":1.0,"to":3.0,"type":"target_changed"}
               1.000 {"stats":{"entered_at_us":0,"heart_rate_mean":null,"id":"far","ratings":0,"step":1,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":1000000},"type":"step_left"}
               1.000 {"id":"near","step":2,"type":"step_entered"}
               1.000 {"step":3,"text":"it will jump at me","type":"prediction"}
              30.000 {"level":3.0,"type":"level_settled"}
              30.000 {"stats":{"entered_at_us":1000000,"heart_rate_mean":null,"id":"near","ratings":0,"step":2,"suds_first":null,"suds_last":null,"suds_peak":null,"time_on_step_us":29000000},"type":"step_left"}
              30.000 {"id":"touch","step":3,"type":"step_entered"}
              30.000 {"step":3,"text":"now I am on step 3","type":"prediction"}
              30.000 {"step":3,"text":"it did not jump","type":"outcome"}
              30.000 {"by":"therapist","from":3.0,"to":1.0,"type":"target_changed"}
              30.500 {"step":3,"text":"going down","type":"prediction"}
            -- running level 2.75 -> 1.00, step 3, safe 0.00
        "#]],
    );
}
