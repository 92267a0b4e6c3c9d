//! Safety rules as properties over random sessions: random sequences of
//! therapist commands, patient inputs, link changes and time steps.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use session::{Actor, Command, Config, EventKind, LinkStatus, PatientInput, Session, State};

#[derive(Clone, Debug)]
enum Op {
    Command(Command),
    Patient(PatientInput),
    Link(LinkStatus),
    Tick,
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (-1.0f64..5.0).prop_map(|level| Command::SetLevel { level }),
        (0usize..5).prop_map(|step| Command::GoToStep { step }),
        Just(Command::NextStep),
        Just(Command::AcceptSuggestion),
        any::<bool>().prop_map(|on| Command::SetAutomatic { on }),
        non_raising_command(),
    ]
}

/// Every command that cannot raise the target.
fn non_raising_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::Start),
        Just(Command::PreviousStep),
        Just(Command::Pause),
        Just(Command::Resume),
        Just(Command::SafeScene),
        Just(Command::Stop),
        Just(Command::RequestSuds),
        (0u8..=120).prop_map(|value| Command::RecordSuds { value }),
        Just(Command::Marker { label: "m".into() }),
        Just(Command::SetAutomatic { on: false }),
    ]
}

fn op(commands: BoxedStrategy<Command>) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => commands.prop_map(Op::Command),
        2 => (0u8..=100).prop_map(|value| Op::Patient(PatientInput::Suds { value })),
        1 => Just(Op::Patient(PatientInput::Panic)),
        2 => (50.0f64..150.0).prop_map(|bpm| Op::Patient(PatientInput::HeartRate { bpm })),
        1 => any::<bool>().prop_map(|focused| Op::Patient(PatientInput::Focus { focused })),
        1 => prop_oneof![Just(LinkStatus::Lost), Just(LinkStatus::Connected)].prop_map(Op::Link),
        4 => Just(Op::Tick),
    ]
}

/// Time steps from one frame at 90 Hz to half a minute.
fn script(commands: BoxedStrategy<Command>) -> impl Strategy<Value = Vec<(u64, Op)>> {
    prop::collection::vec((prop_oneof![Just(11_111u64), 1u64..2_000_000, 1u64..30_000_000], op(commands)), 1..200)
}

fn apply(session: &mut Session, now: Duration, op: &Op) {
    // Rejections are fine here: the properties hold either way.
    let _ = match op {
        Op::Command(c) => session.command(now, c.clone()),
        Op::Patient(p) => session.patient(now, *p),
        Op::Link(l) => {
            session.link(now, *l);
            Ok(())
        }
        Op::Tick => {
            session.tick(now);
            Ok(())
        }
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Without a command that can raise it (and without automatic mode,
    /// which must be asked for), the applied level never rises.
    #[test]
    fn never_raises_without_a_therapist(
        script in script(non_raising_command().boxed()),
    ) {
        let mut session = Session::new(common::ladder(), Config::default());
        let mut now = Duration::ZERO;
        let mut before = session.applied_level();
        for (dt_us, op) in &script {
            now += Duration::from_micros(*dt_us);
            apply(&mut session, now, op);
            prop_assert!(session.applied_level() <= before, "rose from {before} to {} after {op:?}", session.applied_level());
            before = session.applied_level();
        }
    }

    /// Every rise of the applied level happens while running, toward a target
    /// that a therapist or explicit automatic mode set, within the rate limit.
    #[test]
    fn rises_only_toward_a_commanded_target_at_the_eased_rate(
        automatic in any::<bool>(),
        script in script(command().boxed()),
    ) {
        let scenario = common::ladder();
        let rate = scenario.safety.max_level_rate_per_s;
        let mut session = Session::new(scenario, Config { automatic });
        let mut now = Duration::ZERO;
        let mut seen = 0;
        for (dt_us, op) in &script {
            let before = session.applied_level();
            let state_before = session.state();
            let target_before = session.target_level();
            let link_lost_before = session.link_lost();
            now += Duration::from_micros(*dt_us);
            apply(&mut session, now, op);
            let after = session.applied_level();
            prop_assert!((1.0..=3.0).contains(&after));
            prop_assert!((after - before).abs() <= rate * (*dt_us as f64 / 1e6) + 1e-9, "jumped from {before} to {after}");
            if after > before {
                prop_assert!(state_before == State::Running, "rose while {state_before}");
                // The call ticks first, then applies its input: the rise is
                // toward the target as it was before, or as the input set it.
                prop_assert!(after <= target_before.max(session.target_level()) + 1e-9);
            }
            for event in session.events_since(seen) {
                if let EventKind::TargetChanged { from, to, by } = &event.kind
                    && to > from {
                        prop_assert!(matches!(by, Actor::Therapist | Actor::Automatic), "raised by {by:?}");
                        if *by == Actor::Automatic {
                            let switched_off_now = matches!(op, Op::Command(Command::SetAutomatic { on: false }));
                            prop_assert!(session.automatic() || switched_off_now);
                            // The call ticks before it applies a link change: the link as it was.
                            prop_assert!(!link_lost_before, "automatic mode raised while the link was lost");
                        }
                    }
            }
            seen = session.events().len() as u64;
        }
    }

    /// Panic reaches the safe scene in the same call, from every state but ended.
    #[test]
    fn panic_always_reaches_the_safe_scene(script in script(command().boxed())) {
        let mut session = Session::new(common::ladder(), Config::default());
        let mut now = Duration::ZERO;
        for (dt_us, op) in &script {
            now += Duration::from_micros(*dt_us);
            let ended = session.state() == State::Ended;
            apply(&mut session, now, op);
            if matches!(op, Op::Patient(PatientInput::Panic)) && !ended {
                prop_assert_eq!(session.state(), State::SafeScene);
            }
        }
        // And the fade completes within a second of the last panic.
        if session.state() == State::SafeScene {
            let _ = session.patient(now, PatientInput::Panic);
            session.tick(now + Duration::from_secs(1));
            prop_assert_eq!(session.safe_blend(), 1.0);
        }
    }

    /// A link lost past the timeout while running or paused ends in the safe scene.
    #[test]
    fn link_loss_past_the_timeout_reaches_the_safe_scene(script in script(command().boxed())) {
        let scenario = common::ladder();
        let timeout = Duration::from_secs_f64(scenario.safety.link_loss_timeout_s);
        let mut session = Session::new(scenario, Config::default());
        let mut now = Duration::ZERO;
        let mut lost_since: Option<Duration> = None;
        for (dt_us, op) in &script {
            now += Duration::from_micros(*dt_us);
            let state_before = session.state();
            apply(&mut session, now, op);
            match op {
                Op::Link(LinkStatus::Lost) if lost_since.is_none() => lost_since = Some(now),
                Op::Link(LinkStatus::Connected) => lost_since = None,
                _ => {}
            }
            if let Some(since) = lost_since
                && now - since >= timeout && matches!(state_before, State::Running | State::Paused) && !matches!(op, Op::Command(_)) {
                    prop_assert_eq!(session.state(), State::SafeScene, "lost since {:?}, now {:?}", since, now);
                }
        }
    }

    /// The log is gap-free and in time order; an ended session stays ended.
    #[test]
    fn the_log_is_ordered_and_ended_is_final(script in script(command().boxed())) {
        let mut session = Session::new(common::ladder(), Config::default());
        let mut now = Duration::ZERO;
        let mut ended = false;
        for (dt_us, op) in &script {
            now += Duration::from_micros(*dt_us);
            apply(&mut session, now, op);
            if ended {
                prop_assert_eq!(session.state(), State::Ended);
            }
            ended = session.state() == State::Ended;
        }
        for (i, pair) in session.events().windows(2).enumerate() {
            prop_assert_eq!(pair[0].seq, i as u64);
            prop_assert_eq!(pair[1].seq, i as u64 + 1);
            prop_assert!(pair[0].at_us <= pair[1].at_us);
        }
    }
}
