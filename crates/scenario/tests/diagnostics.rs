//! What a clinician sees when a scenario file is wrong: one located line per
//! problem. Each case edits a valid file and checks the full error text.

use expect_test::{Expect, expect};

const SPIDERS: &str = include_str!("../../../scenarios/spiders.ron");

/// Applies `(from, to)` replacements to spiders.ron (each must match) and
/// checks the error text.
fn check(edits: &[(&str, &str)], expect: Expect) {
    let mut text = SPIDERS.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "edit target {from:?} not in spiders.ron");
        text = text.replacen(from, to, 1);
    }
    let actual = match scenario::parse(&text, "spiders.ron") {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    expect.assert_eq(&actual);
}

#[test]
fn the_original_is_valid() {
    check(&[], expect!["ok"]);
}

#[test]
fn negative_value_names_step_field_and_range() {
    check(
        &[(r#""size_cm": 1.5"#, r#""size_cm": -2"#)],
        expect![[r#"spiders.ron:40:46: step "bowl-near": size_cm: must be > 0, got -2"#]],
    );
}

#[test]
fn misspelt_struct_field_is_located_in_its_step() {
    check(
        &[(
            "            min_time_s: 90.0,\n            advance: (require: Any, suds_drop_from_peak: 0.5, suds_at_or_below: (suds: 20, for_s: 60)),\n            prediction: \"How will",
            "            min_tim_s: 90.0,\n            advance: (require: Any, suds_drop_from_peak: 0.5, suds_at_or_below: (suds: 20, for_s: 60)),\n            prediction: \"How will",
        )],
        expect![[
            r#"spiders.ron:51:13: step "bowl-moving": unknown field `min_tim_s`; expected one of: id, title, therapist, patient, params, min_time_s, advance, prediction"#
        ]],
    );
}

#[test]
fn misspelt_parameter_lists_the_known_ones() {
    check(
        &[(r#""activity": 0.4 },"#, r#""activty": 0.4 },"#)],
        expect![[
            r#"spiders.ron:50:70: step "bowl-moving": activty: unknown parameter for Spiders; expected one of: count, size_cm, distance_m, activity, contained, realism"#
        ]],
    );
}

#[test]
fn several_problems_are_reported_at_once_in_file_order() {
    check(
        &[
            ("format: 1,", "format: 2,"),
            ("max_level_rate_per_s: 0.2", "max_level_rate_per_s: 0"),
            (r#"id: "bowl-near""#, r#"id: "bowl-far""#),
            (r#""count": 3, "size_cm": 2.5, "distance_m": 0.6"#, r#""count": 2.5, "size_cm": 2.5, "distance_m": 0.6"#),
            (r#""contained": false },"#, r#""contained": "yes" },"#),
            (
                "advance: (require: Any, suds_drop_from_peak: 0.5, suds_at_or_below: (suds: 20, for_s: 60)),\n            prediction: \"What do you expect the spider",
                "advance: (require: Any, suds_drop_from_peak: 1.5, suds_at_or_below: (suds: 20, for_s: 60)),\n            prediction: \"What do you expect the spider",
            ),
        ],
        expect![[r#"
            spiders.ron:8:13: format: unsupported format version 2; this build reads format 1
            spiders.ron:21:31: safety: max_level_rate_per_s: must be > 0, got 0
            spiders.ron:36:17: step "bowl-far": id: duplicate step id; step 1 (line 26) has it already
            spiders.ron:60:32: step "bowl-three": count: must be a whole number from 0 to 50, got 2.5
            spiders.ron:70:100: step "one-out": contained: must be true or false, got "yes"
            spiders.ron:72:58: step "one-out": advance.suds_drop_from_peak: must be <= 1, got 1.5"#]],
    );
}

#[test]
fn unknown_choice_lists_the_accepted_words() {
    check(
        &[(r#"safe_scene: "meadow""#, r#"safe_scene: "garden""#)],
        expect![[
            r#"spiders.ron:19:21: safety: safe_scene: unknown safe scene "garden"; expected one of: meadow, beach, forest"#
        ]],
    );
}

#[test]
fn syntax_error_is_located() {
    check(
        &[(r#"title: "The spider moves in the bowl","#, r#"title: "The spider moves in the bowl""#)],
        expect![[r#"spiders.ron:48:13: step "bowl-moving": Expected comma"#]],
    );
}

#[test]
fn a_parameter_given_twice_is_an_error() {
    check(
        &[(r#""count": 1, "size_cm": 1.0"#, r#""count": 1, "size_cm": 1.0, "count": 2"#)],
        expect![[r#"spiders.ron:30:51: step "bowl-far": count: is given twice; remove one (the last would win)"#]],
    );
}
