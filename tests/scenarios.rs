//! Every file in `scenarios/` is a test case: it lints clean, and a simulated
//! session over it runs to the end, climbing wherever the file has rules.

use std::path::PathBuf;
use std::time::Duration;

use sim::{SimConfig, Simulation};

fn scenario_files() -> Vec<PathBuf> {
    let dir = trinvis_tests::root().join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "expected the six shipped scenarios, found {files:?}");
    files
}

#[test]
fn every_scenario_is_valid_and_a_simulated_session_completes() {
    for file in scenario_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let scenario = scenario::parse(&text, &file.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let has_rules = scenario.steps.iter().any(|s| s.advance.is_some());
        let steps = scenario.step_count();
        for automatic in [false, true] {
            let config = SimConfig { duration: Duration::from_secs(20 * 60), automatic, ..SimConfig::default() };
            let summary = Simulation::new(scenario.clone(), config).run();
            let name = file.display();
            assert_eq!(summary.frames, 20 * 60 * 90, "{name}: ran the whole session");
            assert!(!summary.steps.is_empty(), "{name}: the session started");
            // The arrival prompt comes 15 s after a step starts and the answer 3 s later.
            let prompts =
                scenario.safety.suds_prompt_after_step_s.is_some() || scenario.safety.suds_prompt_interval_s.is_some();
            let rated = |s: &&sim::StepSummary| !prompts || s.time_on_step_s < 30.0 || s.suds_peak.is_some();
            assert!(summary.steps.iter().all(|s| rated(&s)), "{name}: every step longer than 30 s has ratings");
            if has_rules {
                assert!(
                    summary.highest_step >= 3.min(steps),
                    "{name} (automatic: {automatic}): climbed to {}",
                    summary.highest_step
                );
            } else {
                assert_eq!(summary.highest_step, 1, "{name}: without rules nothing moves the patient up");
            }
        }
    }
}

#[test]
fn every_step_is_harder_or_different_from_the_one_before() {
    // A hierarchy whose neighbouring steps are identical is a typo.
    for file in scenario_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let scenario = scenario::parse(&text, "x").expect("valid");
        for pair in scenario.steps.windows(2) {
            assert_ne!(
                pair[0].params,
                pair[1].params,
                "{}: steps {} and {} show the same stimulus",
                file.display(),
                pair[0].id,
                pair[1].id
            );
        }
    }
}
