//! A small scenario the engine tests share: three steps, quick rules.

use scenario::Scenario;

pub const LADDER: &str = r#"
#![enable(implicit_some)]
Scenario(
    format: 1, id: "ladder", version: "1", title: "Test ladder", condition: Arachnophobia,
    environment: (kind: Spiders),
    safety: (
        safe_scene: "meadow", link_loss_timeout_s: 10.0, link_loss_fade_s: 4.0,
        max_level_rate_per_s: 0.5, suds_prompt_interval_s: 60.0, suds_prompt_after_step_s: 5.0,
    ),
    hierarchy: [
        Step(id: "far", title: "Far", params: { "distance_m": 3.0 }, min_time_s: 20.0,
             advance: (suds_drop_from_peak: 0.5)),
        Step(id: "near", title: "Near", params: { "distance_m": 1.0 }, min_time_s: 20.0,
             advance: (require: Any, suds_at_or_below: (suds: 20, for_s: 30), heart_rate_within: 0.1)),
        Step(id: "touch", title: "Touch", params: { "distance_m": 0.0 }, min_time_s: 20.0),
    ],
)
"#;

pub fn ladder() -> Scenario {
    scenario::parse(LADDER, "ladder.ron").expect("the test ladder is valid")
}
