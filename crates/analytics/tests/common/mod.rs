//! Strategies for random facts, rules and options shared by the property tests.
#![allow(dead_code)] // each test binary uses a subset of the strategies

use chrono::{DateTime, TimeDelta, Utc};
use lineup_analytics::{AgentTime, CallFact, KpiOptions, Outcome, ServiceLevelFormula, TallyRules};
use proptest::prelude::*;
use uuid::Uuid;

/// Waits that hit the interesting edges: whole seconds (threshold boundaries), one millisecond
/// either side, negatives (clamped to zero) and anything up to a few minutes.
fn wait_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        (0i64..60).prop_map(|secs| secs * 1000),
        (0i64..60, prop_oneof![Just(-1i64), Just(1i64)]).prop_map(|(secs, off)| secs * 1000 + off),
        -5_000i64..300_000,
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![Just(Outcome::Answered), Just(Outcome::Abandoned), Just(Outcome::Overflowed), Just(Outcome::Dropped)]
}

/// A random finished call entering within two days of 2025-01-06T00:00Z.
pub fn fact() -> impl Strategy<Value = CallFact> {
    (
        (0u128..3, proptest::option::of(0u32..4), 0i64..2 * 86_400_000),
        (wait_ms(), -1_000i64..600_000, 0i64..120_000, 0i64..60_000),
        (outcome(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |((queue, agent, entered_ms), (wait_ms, talk_ms, hold_ms, wrap_ms), (outcome, transferred, callback))| {
                let base = DateTime::parse_from_rfc3339("2025-01-06T00:00:00Z").unwrap().with_timezone(&Utc);
                CallFact {
                    queue: Uuid::from_u128(queue),
                    agent: agent.map(|a| format!("10{a}")),
                    team: None,
                    entered_at: base + TimeDelta::milliseconds(entered_ms),
                    answered_at: None,
                    left_queue_at: None,
                    ended_at: None,
                    wait_ms,
                    talk_ms,
                    hold_ms,
                    wrap_ms,
                    outcome,
                    transferred,
                    callback,
                }
            },
        )
}

pub fn facts(max: usize) -> impl Strategy<Value = Vec<CallFact>> {
    proptest::collection::vec(fact(), 0..max)
}

pub fn rules() -> impl Strategy<Value = TallyRules> {
    (0u32..60, 0u32..30)
        .prop_map(|(service_level_secs, short_abandon_secs)| TallyRules { service_level_secs, short_abandon_secs })
}

pub fn options() -> impl Strategy<Value = KpiOptions> {
    let formula = prop_oneof![
        Just(ServiceLevelFormula::AnsweredWithinOverOffered),
        Just(ServiceLevelFormula::AnsweredWithinOverOfferedLessShortAbandons),
        Just(ServiceLevelFormula::AnsweredWithinOverAnswered),
        Just(ServiceLevelFormula::AnsweredAndAbandonedWithinOverOffered),
    ];
    (formula, any::<bool>())
        .prop_map(|(formula, exclude_short_abandons)| KpiOptions { formula, exclude_short_abandons })
}

pub fn agent_time() -> impl Strategy<Value = AgentTime> {
    (0u64..36_000_000, 0u64..36_000_000, 0u64..36_000_000, 0u64..3_600_000).prop_map(
        |(logged_in_ms, available_ms, busy_ms, paused_ms)| AgentTime { logged_in_ms, available_ms, busy_ms, paused_ms },
    )
}
