//! Ground truth: per-interval rows equal a plain recount of the per-call rows, export shapes are
//! flat, and arrivals follow the configured profile.

mod common;

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use chrono::{TimeDelta, Timelike};
use common::{busy_config, config, flat_queue, hours, monday};
use lineup_pbx_sim::model::{CallOutcome, DurationDist, GroundTruth, RingStrategy, SimConfig, Simulation};

fn quarter_hour() -> NonZeroU32 {
    NonZeroU32::new(900).expect("non-zero")
}

#[test]
fn interval_rows_equal_a_recount_of_the_calls() {
    let mut sim = Simulation::new(SimConfig::default(), 77, monday()).expect("valid config");
    sim.advance_to(monday() + hours(24));
    let rows = sim.interval_truths(quarter_hour());
    assert_eq!(rows.len(), 5 * 96, "five queues, 96 quarter hours");

    // (queue, interval start) -> (offered, answered, abandoned, overflowed, sla, wait total, wait max, talk total)
    type Tally = (u32, u32, u32, u32, u32, i64, i64, i64);
    let mut recount: BTreeMap<(String, i64), Tally> = BTreeMap::new();
    for t in sim.call_truths() {
        let start = t.arrived_at.timestamp() / 900 * 900;
        let e = recount.entry((t.queue_dn.clone(), start)).or_default();
        e.0 += 1;
        e.1 += u32::from(t.outcome == CallOutcome::Answered);
        e.2 += u32::from(t.outcome == CallOutcome::Abandoned);
        e.3 += u32::from(t.outcome == CallOutcome::Overflowed);
        e.4 += u32::from(t.answered_within_sla);
        e.5 += t.wait_ms;
        e.6 = e.6.max(t.wait_ms);
        e.7 += t.talk_ms;
    }
    for row in &rows {
        let expected = recount.remove(&(row.queue_dn.clone(), row.interval_start.timestamp())).unwrap_or_default();
        let got = (
            row.offered,
            row.answered,
            row.abandoned,
            row.overflowed,
            row.answered_within_sla,
            row.wait_total_ms,
            row.wait_max_ms,
            row.talk_total_ms,
        );
        assert_eq!(got, expected, "{} at {}", row.queue_dn, row.interval_start);
        assert_eq!(row.interval_end - row.interval_start, TimeDelta::minutes(15));
        match row.answered {
            0 => assert_eq!(row.talk_avg_secs, None),
            n => assert_eq!(row.talk_avg_secs, Some(row.talk_total_ms as f64 / 1000.0 / f64::from(n))),
        }
    }
    assert!(recount.is_empty(), "calls outside every interval: {recount:?}");
    let offered: u32 = rows.iter().map(|r| r.offered).sum();
    assert_eq!(offered as usize, sim.call_truths().len());
}

#[test]
fn export_rows_are_flat_enough_for_csv() {
    let mut sim = Simulation::new(busy_config(), 3, monday()).expect("valid config");
    sim.advance_to(monday() + hours(2));
    let truth = sim.ground_truth(quarter_hour());
    let rows = serde_json::to_value(&truth.calls).expect("serialises").as_array().cloned().unwrap_or_default();
    let intervals = serde_json::to_value(&truth.intervals).expect("serialises").as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty() && !intervals.is_empty());
    for row in rows.iter().chain(&intervals) {
        let fields = row.as_object().expect("an object per row");
        assert!(fields.values().all(|v| !v.is_object() && !v.is_array()), "nested field in {row}");
    }
    let text = serde_json::to_string(&truth).expect("serialises");
    let back: GroundTruth = serde_json::from_str(&text).expect("parses");
    assert_eq!(back.calls, truth.calls);
    assert_eq!(back.intervals.len(), truth.intervals.len());
}

#[test]
fn arrivals_follow_the_time_of_day_profile() {
    // One queue, quiet nights and a busy day, callers who hang up at once: count arrivals per
    // local hour over twenty days.
    let rates: Vec<f64> = (0..24).map(|h| if (8..18).contains(&h) { 60.0 } else { 5.0 }).collect();
    let mut queue = flat_queue("800", RingStrategy::Hunt, 0.0);
    queue.arrivals_per_hour = rates.clone();
    queue.patience = DurationDist::Fixed { secs: 1.0 };
    let mut cfg = config(vec![queue], vec![]);
    cfg.utc_offset_minutes = -300;
    let days = 20;
    let mut sim = Simulation::new(cfg, 99, monday()).expect("valid config");
    sim.advance_to(monday() + hours(24 * days));
    let mut per_hour = [0u32; 24];
    for t in sim.call_truths() {
        let local = t.arrived_at - TimeDelta::minutes(300);
        per_hour[local.hour() as usize] += 1;
    }
    for (h, count) in per_hour.iter().enumerate() {
        let expected = rates[h] * days as f64;
        assert!(
            (f64::from(*count) - expected).abs() <= 5.0 * expected.sqrt(),
            "local hour {h}: {count} arrivals, expected about {expected}"
        );
    }
}
