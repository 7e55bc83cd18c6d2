use chrono::TimeDelta;

use super::*;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

/// Monday 6 January 2025, 10:00 UTC, plus `secs`.
fn monday_10(secs: i64) -> DateTime<Utc> {
    at("2025-01-06T10:00:00Z") + TimeDelta::seconds(secs)
}

fn sample(at: DateTime<Utc>, calls_waiting: u32, longest_wait_secs: u32) -> QueueSample {
    QueueSample { at, calls_waiting, longest_wait_secs }
}

fn absolute_rule(raise_after_secs: u32, clear_after_secs: u32, clear_factor: f64) -> CongestionRule {
    CongestionRule {
        waiting_threshold: Some(10),
        longest_wait_secs_threshold: None,
        normal_factor: None,
        relative_min_waiting: 0,
        clear_factor,
        raise_after_secs,
        clear_after_secs,
    }
}

#[test]
fn week_slots_count_quarter_hours_from_monday_midnight_utc() {
    let cases = [
        ("2025-01-06T00:00:00Z", 0),
        ("2025-01-06T00:14:59Z", 0),
        ("2025-01-06T00:15:00Z", 1),
        ("2025-01-08T10:30:00Z", 2 * 96 + 42),
        ("2025-01-12T23:59:59Z", 671),
        ("2025-01-13T00:59:00+01:00", 671),
    ];
    for (instant, slot) in cases {
        assert_eq!(week_slot(at(instant)), slot, "{instant}");
    }
}

#[test]
fn the_normal_is_the_mean_of_each_slots_samples_across_weeks() {
    let history = [
        sample(monday_10(0), 2, 0),
        sample(monday_10(600), 4, 0),        // same slot, 10:10
        sample(monday_10(7 * 86_400), 6, 0), // next Monday, same slot
        sample(monday_10(900), 9, 0),        // 10:15: the next slot
    ];
    let normal = Normal::from_samples(&history);
    let cases = [(monday_10(60), Some(4.0)), (monday_10(900), Some(9.0)), (monday_10(3600), None)];
    for (instant, mean) in cases {
        assert_eq!(normal.mean_calls_waiting(instant), mean, "{instant}");
    }
}

#[test]
fn samples_are_over_clear_or_in_between_by_the_documented_tests() {
    use CongestionReason::*;
    let rule = CongestionRule {
        waiting_threshold: Some(10),
        longest_wait_secs_threshold: Some(120),
        normal_factor: Some(1.5),
        relative_min_waiting: 3,
        clear_factor: 0.8,
        raise_after_secs: 0,
        clear_after_secs: 0,
    };
    // Normal 4 waiting at 10:00 → over above 6, clear at 4.8 or less; nothing known at 11:00.
    let normal = Normal::from_samples(&[sample(monday_10(0), 4, 0)]);
    let detector = CongestionDetector::new(rule, normal).unwrap();
    let ten = monday_10(60);
    let eleven = monday_10(3600);
    // (sample, reasons, clear)
    let cases = [
        (sample(ten, 2, 10), vec![], true),
        (sample(ten, 5, 10), vec![], false), // 5 > 4.8: between the thresholds
        (sample(ten, 7, 10), vec![AboveNormal], false),
        (sample(ten, 10, 10), vec![CallsWaiting, AboveNormal], false),
        (sample(ten, 4, 120), vec![LongestWait], false),
        (sample(ten, 4, 96), vec![], false), // 96 is not below 120 × 0.8
        (sample(ten, 4, 95), vec![], true),
        (sample(eleven, 7, 10), vec![], true), // no normal: only the absolute tests
        (sample(eleven, 8, 10), vec![], false),
    ];
    for (sample, reasons, clear) in cases {
        assert_eq!(detector.over_reasons(&sample), reasons, "{sample:?}");
        assert_eq!(detector.is_clear(&sample), clear, "{sample:?}");
    }
}

#[test]
fn alerts_rise_and_clear_only_after_lasting_runs() {
    #[derive(Debug, PartialEq)]
    enum Expect {
        Nothing,
        Raised { over_since: i64 },
        Cleared { raised_at: i64, peak: u32 },
    }
    use Expect::*;
    // (seconds after 10:00, calls waiting, expected event); raise after 60 s over, clear after
    // 120 s below 8.
    let steps = [
        (0, 12, Nothing),
        (30, 12, Nothing),
        (60, 5, Nothing), // breaks the over run
        (90, 11, Nothing),
        (120, 11, Nothing),
        (150, 10, Raised { over_since: 90 }),
        (180, 7, Nothing),
        (210, 9, Nothing), // between thresholds: breaks the clear run
        (240, 7, Nothing),
        (300, 6, Nothing),
        (360, 0, Cleared { raised_at: 150, peak: 10 }), // the peak counts from the raise
    ];
    let mut detector = CongestionDetector::new(absolute_rule(60, 120, 0.8), Normal::default()).unwrap();
    for (secs, waiting, expected) in steps {
        let event = detector.observe(&sample(monday_10(secs), waiting, 0)).unwrap();
        let seen = match event {
            None => Nothing,
            Some(CongestionEvent::Raised(raised)) => {
                Raised { over_since: (raised.over_since - monday_10(0)).num_seconds() }
            }
            Some(CongestionEvent::Cleared(cleared)) => Cleared {
                raised_at: (cleared.raised_at - monday_10(0)).num_seconds(),
                peak: cleared.peak_calls_waiting,
            },
        };
        assert_eq!(seen, expected, "at {secs} s");
    }
}

/// Calls waiting alternating 10, 9, 10, 9... every 30 s for an hour; returns the events.
fn hovering_at_the_threshold(rule: CongestionRule) -> Vec<CongestionEvent> {
    let mut detector = CongestionDetector::new(rule, Normal::default()).unwrap();
    (0..120)
        .filter_map(|i| detector.observe(&sample(monday_10(i * 30), if i % 2 == 0 { 10 } else { 9 }, 0)).unwrap())
        .collect()
}

#[test]
fn a_queue_hovering_at_the_threshold_raises_once_and_never_flaps() {
    let events = hovering_at_the_threshold(absolute_rule(0, 0, 0.8));
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], CongestionEvent::Raised(_)));
}

#[test]
fn a_queue_hovering_at_the_threshold_never_raises_when_runs_must_last() {
    assert_eq!(hovering_at_the_threshold(absolute_rule(60, 0, 0.8)), []);
}

#[test]
fn without_hysteresis_the_same_queue_would_flap() {
    assert_eq!(hovering_at_the_threshold(absolute_rule(0, 0, 1.0)).len(), 120);
}

#[test]
fn samples_back_in_time_are_refused() {
    let mut detector = CongestionDetector::new(absolute_rule(0, 0, 0.8), Normal::default()).unwrap();
    detector.observe(&sample(monday_10(60), 0, 0)).unwrap();
    assert!(matches!(detector.observe(&sample(monday_10(0), 0, 0)), Err(AnalyticsError::TimeWentBackwards { .. })));
}

#[test]
fn invalid_rules_are_refused() {
    let cases = [
        CongestionRule { clear_factor: 0.0, ..absolute_rule(0, 0, 0.8) },
        CongestionRule { clear_factor: 1.2, ..absolute_rule(0, 0, 0.8) },
        CongestionRule { normal_factor: Some(0.5), ..absolute_rule(0, 0, 0.8) },
        CongestionRule { normal_factor: Some(f64::INFINITY), ..absolute_rule(0, 0, 0.8) },
    ];
    for rule in cases {
        assert!(CongestionDetector::new(rule, Normal::default()).is_err(), "{rule:?}");
    }
}
