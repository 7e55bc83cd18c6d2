//! Same configuration, seed and calls: same results, however the time is sliced.

mod common;

use chrono::TimeDelta;
use common::{busy_config, fingerprint, hours, monday};
use lineup_pbx_sim::model::{SimConfig, Simulation};

fn run_in_steps(config: SimConfig, seed: u64, steps: &[TimeDelta], total: TimeDelta) -> serde_json::Value {
    let start = monday();
    let mut sim = Simulation::new(config, seed, start).expect("valid config");
    let end = start + total;
    let mut k = 0;
    while sim.now() < end {
        let next = (sim.now() + steps[k % steps.len()]).min(end);
        sim.advance_to(next);
        k += 1;
    }
    fingerprint(&sim)
}

#[test]
fn the_same_seed_gives_the_same_day() {
    let a = run_in_steps(SimConfig::default(), 7, &[hours(24)], hours(24));
    let b = run_in_steps(SimConfig::default(), 7, &[hours(24)], hours(24));
    assert_eq!(a, b);
}

#[test]
fn slicing_time_differently_gives_the_same_outcome() {
    let total = hours(6);
    let one_step = run_in_steps(busy_config(), 11, &[total], total);
    let slicings: [&[TimeDelta]; 3] = [
        &[TimeDelta::seconds(7)],
        &[TimeDelta::minutes(1)],
        &[TimeDelta::milliseconds(1), TimeDelta::seconds(13), TimeDelta::milliseconds(2500), TimeDelta::minutes(17)],
    ];
    for steps in slicings {
        assert_eq!(run_in_steps(busy_config(), 11, steps, total), one_step, "steps {steps:?}");
    }
}

#[test]
fn a_full_day_in_one_step_equals_a_day_polled_every_second() {
    let one_step = run_in_steps(SimConfig::default(), 3, &[hours(24)], hours(24));
    let polled = run_in_steps(SimConfig::default(), 3, &[TimeDelta::seconds(1)], hours(24));
    assert_eq!(one_step, polled);
}

#[test]
fn different_seeds_give_different_traffic() {
    let a = run_in_steps(busy_config(), 1, &[hours(3)], hours(3));
    let b = run_in_steps(busy_config(), 2, &[hours(3)], hours(3));
    assert_ne!(a["truths"], b["truths"]);
}

#[test]
fn advancing_backwards_changes_nothing() {
    let start = monday();
    let mut sim = Simulation::new(busy_config(), 5, start).expect("valid config");
    sim.advance_to(start + hours(2));
    let before = fingerprint(&sim);
    assert_eq!(sim.advance_to(start + hours(1)), 0);
    assert_eq!(fingerprint(&sim), before);
}
