//! Model invariants over whole runs: every call ends once, waits add up, agents carry one call
//! at a time and ring only when available, ground truth matches the records.

mod common;

use std::num::NonZeroU32;

use chrono::TimeDelta;
use common::{busy_config, check_invariants, hours, monday};
use lineup_pbx_sim::model::{CallOutcome, SimConfig, Simulation};
use proptest::prelude::*;

#[test]
fn a_default_day_keeps_every_invariant() {
    let mut sim = Simulation::new(SimConfig::default(), 2024, monday()).expect("default config is valid");
    sim.advance_to(monday() + hours(24));
    check_invariants(&sim);
    let truths = sim.call_truths();
    assert!((4_500..5_500).contains(&truths.len()), "about 5,000 calls a day, got {}", truths.len());
    let answered = truths.iter().filter(|t| t.outcome == CallOutcome::Answered).count();
    assert!(answered * 10 >= truths.len() * 8, "a realistic centre answers most calls: {answered}/{}", truths.len());
    assert!(truths.iter().any(|t| t.outcome == CallOutcome::Abandoned));
    assert!(truths.iter().any(|t| t.outcome == CallOutcome::Overflowed));
}

#[test]
fn offered_is_answered_plus_abandoned_plus_overflowed_plus_dropped() {
    let mut sim = Simulation::new(busy_config(), 9, monday()).expect("valid config");
    sim.advance_to(monday() + hours(6));
    for row in sim.interval_truths(NonZeroU32::new(900).expect("non-zero")) {
        assert_eq!(row.offered, row.answered + row.abandoned + row.overflowed + row.dropped, "{row:?}");
        assert!(row.answered_within_sla <= row.answered);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_seed_keeps_every_invariant(seed in any::<u64>(), start_minute in 0i64..1440, hours_run in 1i64..7) {
        let start = monday() + TimeDelta::minutes(start_minute);
        let mut sim = Simulation::new(busy_config(), seed, start).expect("valid config");
        sim.advance_to(start + TimeDelta::hours(hours_run));
        check_invariants(&sim);
    }

    #[test]
    fn dropping_calls_at_any_moment_keeps_every_invariant(seed in any::<u64>(), picks in prop::collection::vec(0usize..50, 1..20)) {
        let start = monday() + TimeDelta::hours(1);
        let mut sim = Simulation::new(busy_config(), seed, start).expect("valid config");
        for (k, pick) in picks.iter().enumerate() {
            sim.advance_to(start + TimeDelta::minutes(7 * (k as i64 + 1)));
            let live = sim.live_calls();
            if let Some(call) = live.get(pick % live.len().max(1)) {
                prop_assert!(sim.drop_call(call.id));
            }
        }
        sim.advance_to(start + TimeDelta::hours(3));
        check_invariants(&sim);
    }
}
