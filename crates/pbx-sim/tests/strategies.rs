//! Ring strategies and ring timeouts, observed through whole simulations.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use common::{check_invariants, config, flat_queue, hours, monday, steady_agent};
use lineup_pbx_sim::model::{AgentStatus, CallOutcome, RingStrategy, SegmentAction, SimConfig, Simulation};

/// Runs `config` for a day and returns answered calls per agent DN.
fn answered_per_agent(config: SimConfig) -> (Simulation, BTreeMap<String, usize>) {
    let mut sim = Simulation::new(config, 17, monday()).expect("valid config");
    sim.advance_to(monday() + hours(24));
    check_invariants(&sim);
    let mut counts = BTreeMap::new();
    for agent in &sim.config().agents {
        counts.insert(agent.dn.clone(), 0);
    }
    for t in sim.call_truths() {
        if let Some(dn) = &t.agent_dn {
            *counts.entry(dn.clone()).or_default() += 1;
        }
    }
    (sim, counts)
}

fn four_agents(strategy: RingStrategy) -> SimConfig {
    let agents = ["101", "102", "103", "104"].iter().map(|dn| steady_agent(dn, &["800"])).collect();
    config(vec![flat_queue("800", strategy, 30.0)], agents)
}

#[test]
fn round_robin_spreads_calls_evenly() {
    let (sim, counts) = answered_per_agent(four_agents(RingStrategy::RoundRobin));
    let total = sim.call_truths().len();
    assert!(total > 600, "{total} calls");
    for (dn, n) in &counts {
        assert!(n.abs_diff(total / 4) <= 3, "agent {dn} answered {n} of {total}: {counts:?}");
    }
}

#[test]
fn fewest_answered_spreads_calls_evenly() {
    let (sim, counts) = answered_per_agent(four_agents(RingStrategy::FewestAnswered));
    let total = sim.call_truths().len();
    for (dn, n) in &counts {
        assert!(n.abs_diff(total / 4) <= 3, "agent {dn} answered {n} of {total}: {counts:?}");
    }
}

#[test]
fn hunt_prefers_members_in_order() {
    let (sim, counts) = answered_per_agent(four_agents(RingStrategy::Hunt));
    let total = sim.call_truths().len();
    // The first member takes every call that finds it free (about 90% at this load).
    assert!(counts["101"] * 100 >= total * 85, "first member answered {} of {total}: {counts:?}", counts["101"]);
    assert!(
        counts["101"] > counts["102"] && counts["102"] > counts["103"] && counts["103"] >= counts["104"],
        "{counts:?}"
    );
}

#[test]
fn ring_all_rings_every_free_member_at_once() {
    let (sim, _) = answered_per_agent(four_agents(RingStrategy::RingAll));
    // Replay the log: a ring attempt is a run of Ringing entries for one call at one instant,
    // and it must take every agent that was available just before it.
    let mut status: HashMap<String, AgentStatus> = HashMap::new();
    let mut attempts = 0;
    let log = sim.agent_status_log();
    let mut k = 0;
    while k < log.len() {
        let change = &log[k];
        if change.status != AgentStatus::Ringing {
            status.insert(change.agent_dn.clone(), change.status);
            k += 1;
            continue;
        }
        let available = status.values().filter(|s| **s == AgentStatus::Available).count();
        let group = log[k..]
            .iter()
            .take_while(|c| c.status == AgentStatus::Ringing && c.call_id == change.call_id && c.at == change.at)
            .count();
        assert_eq!(
            group, available,
            "call {:?} at {} rang {group} of {available} free agents",
            change.call_id, change.at
        );
        for c in &log[k..k + group] {
            status.insert(c.agent_dn.clone(), c.status);
        }
        attempts += 1;
        k += group;
    }
    assert!(attempts > 600, "{attempts} ring attempts");
}

#[test]
fn longest_idle_rings_the_agent_free_for_longest() {
    let mut cfg = four_agents(RingStrategy::LongestIdle);
    cfg.queues[0].arrivals_per_hour = vec![200.0; 24];
    cfg.queues[0].talk = lineup_pbx_sim::model::DurationDist::Exponential { mean_secs: 40.0 };
    let (sim, _) = answered_per_agent(cfg);
    // Replay the log: at every ring, the rung agent became available no later than any other
    // available agent (a missed ring would not reset idle time, but these agents never miss).
    let mut status: HashMap<String, (AgentStatus, DateTime<Utc>)> = HashMap::new();
    let mut checked = 0;
    for change in sim.agent_status_log() {
        if change.status == AgentStatus::Ringing {
            let mine = status[&change.agent_dn].1;
            for (dn, (s, since)) in &status {
                if *s == AgentStatus::Available && dn != &change.agent_dn {
                    assert!(mine <= *since, "{} rang at {} though {dn} was idle longer", change.agent_dn, change.at);
                }
            }
            checked += 1;
        }
        status.insert(change.agent_dn.clone(), (change.status, change.at));
    }
    assert!(checked > 1000, "{checked} rings checked");
}

#[test]
fn a_ring_timeout_moves_the_call_to_the_next_agent() {
    let mut first = steady_agent("101", &["800"]);
    first.answer.miss_probability = 1.0;
    let cfg = config(vec![flat_queue("800", RingStrategy::Hunt, 10.0)], vec![first, steady_agent("102", &["800"])]);
    let mut sim = Simulation::new(cfg, 4, monday()).expect("valid config");
    sim.advance_to(monday() + hours(12));
    check_invariants(&sim);
    assert!(sim.finished_calls().len() > 50);
    let mut first_then_second = 0;
    for record in sim.finished_calls() {
        assert_eq!((record.outcome, record.agent_dn.as_deref()), (CallOutcome::Answered, Some("102")));
        let legs: Vec<(&str, SegmentAction, i64)> = record
            .segments
            .iter()
            .filter(|s| s.destination.dn != "800")
            .map(|s| (s.destination.dn.as_str(), s.action, s.ringing_ms))
            .collect();
        let (last, missed) = legs.split_last().expect("an agent leg");
        assert_eq!(*last, ("102", SegmentAction::Answered, 1_000));
        // 101 rings out after exactly the ring timeout, every time it is tried.
        assert!(missed.iter().all(|leg| *leg == ("101", SegmentAction::NoAnswer, 20_000)), "{legs:?}");
        first_then_second += usize::from(missed.len() == 1);
    }
    // Most calls try 101 once, then 102; the rest overlap another caller (101 still ringing for
    // it, or 102 busy so 101 is tried again).
    assert!(first_then_second * 10 >= sim.finished_calls().len() * 8);
}

#[test]
fn a_queue_without_agents_overflows_at_the_maximum_wait_or_loses_the_caller() {
    let mut with_overflow = flat_queue("800", RingStrategy::RingAll, 20.0);
    with_overflow.overflow = Some(lineup_pbx_sim::model::OverflowConfig {
        after_secs: 60,
        destination_dn: "899".into(),
        destination_name: "Voicemail".into(),
        message: lineup_pbx_sim::model::DurationDist::Fixed { secs: 15.0 },
    });
    let mut without = flat_queue("801", RingStrategy::Hunt, 20.0);
    without.patience = lineup_pbx_sim::model::DurationDist::Exponential { mean_secs: 30.0 };
    let mut sim = Simulation::new(config(vec![with_overflow, without], vec![]), 8, monday()).expect("valid config");
    sim.advance_to(monday() + hours(6));
    check_invariants(&sim);
    for t in sim.call_truths() {
        match t.queue_dn.as_str() {
            "800" => assert_eq!((t.outcome, t.wait_ms), (CallOutcome::Overflowed, 60_000)),
            _ => assert_eq!((t.outcome, t.wait_ms), (CallOutcome::Abandoned, t.patience_ms)),
        }
    }
    let voicemail = sim.finished_calls().iter().find(|r| r.queue_dn == "800").expect("an overflowed call");
    let last = voicemail.segments.last().expect("segments");
    assert_eq!((last.destination.dn.as_str(), last.action, last.talking_ms), ("899", SegmentAction::VoiceMail, 15_000));
}

#[test]
fn agents_ring_only_during_their_shift() {
    let mut agent = steady_agent("101", &["800"]);
    agent.shift = Some(lineup_pbx_sim::model::ShiftConfig { login: "09:00".into(), logout: "17:00".into() });
    let mut queue = flat_queue("800", RingStrategy::Hunt, 20.0);
    queue.patience = lineup_pbx_sim::model::DurationDist::Fixed { secs: 60.0 };
    let mut cfg = config(vec![queue], vec![agent]);
    cfg.utc_offset_minutes = 60;
    let mut sim = Simulation::new(cfg, 5, monday()).expect("valid config");
    sim.advance_to(monday() + hours(48));
    check_invariants(&sim);
    let log = sim.agent_status_log();
    let logins: Vec<String> =
        log.iter().filter(|c| c.status == AgentStatus::Available).take(1).map(|c| c.at.to_rfc3339()).collect();
    assert_eq!(logins, vec!["2024-03-04T08:00:00+00:00"], "09:00 local is 08:00 UTC");
    for change in log.iter().filter(|c| c.status == AgentStatus::Ringing) {
        let hour = (change.at + chrono::TimeDelta::hours(1)).format("%H").to_string();
        assert!(("09".."17").contains(&hour.as_str()), "rang at local hour {hour}");
    }
    let answered_at_night = sim
        .call_truths()
        .iter()
        .filter(|t| t.outcome == CallOutcome::Answered)
        .filter(|t| {
            let h = (t.arrived_at + chrono::TimeDelta::hours(1)).format("%H").to_string();
            !("09".."17").contains(&h.as_str())
        })
        .count();
    // Only a caller arriving in the minute before 09:00 can still be answered after login.
    assert!(answered_at_night < 3, "{answered_at_night} answered outside the shift");
}
