//! A full day of the default scenario (5 queues, 40 agents, ~5,000 calls) must simulate fast.
//! Run `cargo test -p lineup-pbx-sim --release --test speed -- --nocapture` to see the timing.

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use common::{hours, monday};
use lineup_pbx_sim::model::{CallOutcome, SimConfig, Simulation};

#[test]
fn a_default_day_simulates_quickly() {
    let started = Instant::now();
    let mut sim = Simulation::new(SimConfig::default(), 1, monday()).expect("default config is valid");
    let events = sim.advance_to(monday() + hours(24));
    let elapsed = started.elapsed();
    let truths = sim.call_truths();
    let count = |o: CallOutcome| truths.iter().filter(|t| t.outcome == o).count();
    let answered = count(CallOutcome::Answered);
    let sla = truths.iter().filter(|t| t.answered_within_sla).count();
    let segments: usize = sim.finished_calls().iter().map(|r| r.segments.len()).sum();
    println!(
        "default day: {} calls ({answered} answered, {} abandoned, {} overflowed, {sla} within SLA), \
         {segments} segments, {events} events in {elapsed:?}",
        truths.len(),
        count(CallOutcome::Abandoned),
        count(CallOutcome::Overflowed),
    );
    for row in sim.interval_truths(NonZeroU32::new(86_400).expect("non-zero")) {
        println!(
            "  queue {}: offered {}, answered {}, abandoned {}, overflowed {}, ASA {:.1}s, max wait {:.1}s, AHT talk {:.1}s",
            row.queue_dn,
            row.offered,
            row.answered,
            row.abandoned,
            row.overflowed,
            row.answer_wait_avg_secs.unwrap_or(0.0),
            row.wait_max_ms as f64 / 1000.0,
            row.talk_avg_secs.unwrap_or(0.0),
        );
    }
    // Generous enough for an unoptimised build on a slow machine; release runs far below it.
    assert!(elapsed < Duration::from_secs(10), "a day took {elapsed:?}");
}
