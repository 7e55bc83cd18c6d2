use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::*;
use crate::fact::Outcome;

fn minute(m: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-01-06T10:00:00Z").unwrap().with_timezone(&Utc) + TimeDelta::minutes(m)
}

/// An answered call that entered at `entered_at` and waited `wait_secs`.
fn call(entered_at: DateTime<Utc>, wait_secs: i64) -> CallFact {
    CallFact {
        queue: Uuid::nil(),
        agent: Some("101".into()),
        team: None,
        entered_at,
        answered_at: None,
        left_queue_at: None,
        ended_at: None,
        wait_ms: wait_secs * 1000,
        talk_ms: 60_000,
        hold_ms: 0,
        wrap_ms: 0,
        outcome: Outcome::Answered,
        transferred: false,
        callback: false,
    }
}

const IN_TIME: i64 = 10;
const LATE: i64 = 30;

fn target(window_minutes: u32, min_offered: u64, recovery_margin_points: f64) -> SlaTarget {
    SlaTarget {
        service_level_percent: 80.0,
        threshold_secs: 20,
        formula: ServiceLevelFormula::AnsweredWithinOverOffered,
        window_minutes,
        min_offered,
        recovery_margin_points,
        short_abandon_secs: 0,
        exclude_short_abandons: false,
    }
}

enum Step {
    /// A call entering at this minute with this wait.
    Call(i64, i64),
    /// Evaluate at this minute: expected offered, level, in breach, transition.
    Evaluate(i64, u64, Option<f64>, bool, Option<SlaTransition>),
}

#[test]
fn the_monitor_opens_and_closes_breaches_exactly_as_computed_by_hand() {
    use Step::*;
    let opened = SlaTransition::BreachOpened(BreachOpened { at: minute(7), level_percent: 500.0 / 7.0 });
    let closed = SlaTransition::BreachClosed(BreachClosed {
        at: minute(13),
        opened_at: minute(7),
        worst_level_percent: 500.0 / 7.0,
    });
    let steps = [
        Call(0, IN_TIME),
        Call(1, IN_TIME),
        Call(2, IN_TIME),
        Evaluate(3, 3, None, false, None), // fewer than 5 offered: not judged
        Call(3, IN_TIME),
        Call(4, IN_TIME),
        Evaluate(5, 5, Some(100.0), false, None),
        Call(5, LATE),
        Call(6, LATE),
        Evaluate(7, 7, Some(500.0 / 7.0), true, Some(opened)), // 5/7 < 80 %
        Call(7, IN_TIME),
        Call(8, IN_TIME),
        Call(9, IN_TIME),
        Call(10, IN_TIME),
        Evaluate(11, 11, Some(900.0 / 11.0), true, None), // 81.8 %: above target, below 82
        Call(11, IN_TIME),
        Call(12, IN_TIME),
        Evaluate(13, 13, Some(1100.0 / 13.0), false, Some(closed)), // 84.6 % ≥ 82
        Evaluate(66, 7, Some(600.0 / 7.0), false, None),            // window [10:06, 11:06): calls 6..=12
        Evaluate(100, 0, None, false, None),
    ];
    let mut monitor = SlaMonitor::new(target(60, 5, 2.0)).unwrap();
    for step in steps {
        match step {
            Call(m, wait_secs) => assert!(monitor.observe(&call(minute(m), wait_secs))),
            Evaluate(m, offered, level_percent, in_breach, transition) => {
                let standing = monitor.evaluate(minute(m)).unwrap();
                assert_eq!(
                    (standing.offered, standing.level_percent, standing.in_breach, standing.transition),
                    (offered, level_percent, in_breach, transition),
                    "at minute {m}"
                );
                assert_eq!(standing.window, Period { from: minute(m - 60), to: minute(m) });
            }
        }
    }
}

/// One call a minute from minute 0 to 400; calls at minutes 0, 1 and 7 of every 15 wait too
/// long. Over a 100-minute window the level oscillates between 79 %, 80 % and 81 %.
fn oscillating_levels(recovery_margin_points: f64) -> (Vec<f64>, Vec<SlaTransition>) {
    let mut monitor = SlaMonitor::new(target(100, 1, recovery_margin_points)).unwrap();
    for m in 0..=400 {
        let wait = if [0, 1, 7].contains(&(m % 15)) { LATE } else { IN_TIME };
        monitor.observe(&call(minute(m), wait));
    }
    let standings: Vec<_> = (100..=400).map(|m| monitor.evaluate(minute(m)).unwrap()).collect();
    let levels = standings.iter().map(|s| s.level_percent.unwrap()).collect();
    let transitions = standings.iter().filter_map(|s| s.transition).collect();
    (levels, transitions)
}

#[test]
fn a_level_oscillating_around_the_target_opens_one_breach_and_never_flaps() {
    let (levels, transitions) = oscillating_levels(2.0);
    let mut distinct = levels.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    assert_eq!(distinct, [79.0, 80.0, 81.0]);
    assert_eq!(transitions, [SlaTransition::BreachOpened(BreachOpened { at: minute(100), level_percent: 79.0 })]);
}

#[test]
fn without_a_recovery_margin_the_same_levels_would_flap() {
    let (_, transitions) = oscillating_levels(0.0);
    assert!(transitions.len() > 10, "only {} transitions", transitions.len());
}

#[test]
fn calls_that_entered_before_the_latest_window_are_ignored() {
    let mut monitor = SlaMonitor::new(target(60, 1, 2.0)).unwrap();
    monitor.evaluate(minute(120)).unwrap();
    let cases = [(59, false), (60, true), (119, true)];
    for (entered, kept) in cases {
        assert_eq!(monitor.observe(&call(minute(entered), IN_TIME)), kept, "entered at minute {entered}");
    }
}

#[test]
fn evaluating_back_in_time_fails() {
    let mut monitor = SlaMonitor::new(target(60, 1, 2.0)).unwrap();
    monitor.evaluate(minute(10)).unwrap();
    assert_eq!(
        monitor.evaluate(minute(9)),
        Err(AnalyticsError::TimeWentBackwards { latest: minute(10), now: minute(9) })
    );
}

#[test]
fn invalid_targets_are_refused() {
    let cases = [
        SlaTarget { service_level_percent: 101.0, ..target(60, 1, 2.0) },
        SlaTarget { service_level_percent: f64::NAN, ..target(60, 1, 2.0) },
        SlaTarget { window_minutes: 0, ..target(60, 1, 2.0) },
        SlaTarget { recovery_margin_points: -1.0, ..target(60, 1, 2.0) },
    ];
    for invalid in cases {
        assert!(SlaMonitor::new(invalid).is_err(), "{invalid:?}");
    }
}

#[test]
fn historical_breaches_merge_adjacent_buckets_below_target() {
    let hour = |h: i64| minute(60 * h - 600); // minute(0) is 10:00; hour(h) is h:00 that day
                                              // (hour, offered, answered in time); hour 5 is missing.
    let rows = [(0, 10, 9), (1, 10, 7), (2, 10, 5), (3, 3, 0), (4, 10, 6), (6, 10, 7), (7, 10, 7), (8, 10, 8)];
    let rules = target(60, 5, 2.0).tally_rules();
    let buckets: Vec<_> = rows
        .iter()
        .map(|&(h, offered, in_time)| {
            let facts: Vec<_> = (0..offered).map(|i| call(hour(h), if i < in_time { IN_TIME } else { LATE })).collect();
            BucketTally { start: hour(h), tally: Tally::from_facts(rules, &facts) }
        })
        .collect();
    let expected = [
        BreachInterval { from: hour(1), to: hour(3), worst_level_percent: 50.0, buckets: 2 }, // ends: unjudged
        BreachInterval { from: hour(4), to: hour(5), worst_level_percent: 60.0, buckets: 1 }, // ends: gap
        BreachInterval { from: hour(6), to: hour(8), worst_level_percent: 70.0, buckets: 2 }, // ends: 80 % meets
    ];
    assert_eq!(breach_intervals(&target(60, 5, 2.0), Granularity::Hour, &buckets).unwrap(), expected);
}

#[test]
fn historical_detection_refuses_unordered_buckets() {
    let rules = target(60, 5, 2.0).tally_rules();
    let bucket = |m| BucketTally { start: minute(m), tally: Tally::empty(rules) };
    let buckets = [bucket(60), bucket(0)];
    assert!(breach_intervals(&target(60, 5, 2.0), Granularity::Hour, &buckets).is_err());
}

#[test]
fn transitions_serialise_with_a_kind_tag() {
    let opened = SlaTransition::BreachOpened(BreachOpened { at: minute(0), level_percent: 75.0 });
    let json = serde_json::to_value(opened).unwrap();
    assert_eq!(json, serde_json::json!({"kind": "breachOpened", "at": "2025-01-06T10:00:00Z", "levelPercent": 75.0}));
}
