//! What the server reads while the day runs: live calls, queue and agent snapshots, history
//! with a lag, dropping calls, forgetting old records.

mod common;

use std::collections::BTreeSet;

use chrono::TimeDelta;
use common::{busy_config, check_invariants, hours, monday};
use lineup_pbx_sim::model::{AgentStatus, CallOutcome, LiveStatus, SegmentAction, SimConfig, Simulation};

/// Checks that live calls, queue snapshots and agent snapshots describe the same instant.
fn check_live_view(sim: &Simulation) {
    let live = sim.live_calls();
    let agents = sim.agent_snapshots();
    let agent = |dn: &str| agents.iter().find(|a| a.dn == dn).expect("known agent");
    assert!(live.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    for call in &live {
        assert!(call.established_at <= call.last_status_change && call.last_status_change <= sim.now());
        match call.status {
            LiveStatus::Routing => {
                assert_eq!(call.callee_dn, call.queue_dn);
                assert!(call.ringing_agent_dns.is_empty() && call.answered_at.is_none());
            }
            LiveStatus::Ringing => {
                assert_eq!(Some(&call.callee_dn), call.ringing_agent_dns.first());
                for dn in &call.ringing_agent_dns {
                    let a = agent(dn);
                    assert_eq!((a.status, a.current_call), (AgentStatus::Ringing, Some(call.id)), "agent {dn}");
                }
            }
            LiveStatus::Talking => match call.answered_at {
                Some(_) => {
                    let a = agent(&call.callee_dn);
                    assert_eq!((a.status, a.current_call), (AgentStatus::Talking, Some(call.id)));
                }
                None => assert_eq!(call.callee_dn, "899", "unanswered talking calls are in voicemail"),
            },
        }
    }
    for a in &agents {
        if let Some(id) = a.current_call {
            assert!(live.iter().any(|c| c.id == id), "agent {} holds a finished call", a.dn);
        }
    }
    for queue in sim.queue_snapshots() {
        let queued: Vec<i32> =
            live.iter().filter(|c| c.queue_dn == queue.dn && c.status != LiveStatus::Talking).map(|c| c.id).collect();
        assert_eq!(queue.waiting_call_ids, queued, "queue {}", queue.dn);
        let members: BTreeSet<&str> = queue.agent_dns.iter().map(String::as_str).collect();
        let logged_in = agents.iter().filter(|a| members.contains(a.dn.as_str()) && a.status.is_logged_in()).count();
        assert_eq!(queue.agents_logged_in as usize, logged_in);
        match queue.waiting_call_ids.first().and_then(|id| live.iter().find(|c| c.id == *id)) {
            Some(oldest) => assert_eq!(queue.longest_wait_ms, (sim.now() - oldest.established_at).num_milliseconds()),
            None => assert_eq!(queue.longest_wait_ms, 0),
        }
    }
}

#[test]
fn the_live_view_is_consistent_throughout_a_day() {
    let mut sim = Simulation::new(SimConfig::default(), 12, monday()).expect("valid config");
    let mut busiest = 0;
    for minute in (0..24 * 60).step_by(7) {
        sim.advance_to(monday() + TimeDelta::minutes(minute));
        check_live_view(&sim);
        busiest = busiest.max(sim.live_calls().len());
    }
    assert!(busiest >= 20, "the morning peak has many live calls, saw at most {busiest}");
}

#[test]
fn history_with_a_lag_is_a_prefix_of_the_finished_calls() {
    let mut sim = Simulation::new(busy_config(), 21, monday()).expect("valid config");
    sim.advance_to(monday() + hours(3));
    let lag = TimeDelta::seconds(45);
    let visible = sim.finished_calls_until(sim.now() - lag);
    let all = sim.finished_calls();
    assert!(!visible.is_empty() && visible.len() < all.len());
    assert_eq!(visible, &all[..visible.len()]);
    assert!(visible.iter().all(|r| r.ended_at <= sim.now() - lag));
    assert!(all[visible.len()..].iter().all(|r| r.ended_at > sim.now() - lag));
}

#[test]
fn dropping_a_queued_call_ends_it_as_dropped() {
    let mut sim = Simulation::new(SimConfig::default(), 5, monday()).expect("valid config");
    sim.advance_to(monday() + hours(9));
    let mut dropped = None;
    for _ in 0..600 {
        if let Some(call) = sim.live_calls().into_iter().find(|c| c.status != LiveStatus::Talking) {
            dropped = Some(call.id);
            break;
        }
        sim.advance_to(sim.now() + TimeDelta::seconds(5));
    }
    let id = dropped.expect("a queued call during the day");
    assert!(sim.drop_call(id));
    assert!(!sim.drop_call(id), "a call ends once");
    let record = sim.finished_calls().last().expect("the dropped call");
    assert_eq!((record.call_id, record.outcome), (id, CallOutcome::Dropped));
    assert!(record.segments.iter().all(|s| s.action == SegmentAction::Dropped));
    sim.advance_to(sim.now() + hours(1));
    check_invariants(&sim);
}

#[test]
fn dropping_a_conversation_ends_it_early_and_starts_wrap_up() {
    let mut sim = Simulation::new(SimConfig::default(), 6, monday()).expect("valid config");
    sim.advance_to(monday() + hours(11));
    let call = sim
        .live_calls()
        .into_iter()
        .find(|c| c.status == LiveStatus::Talking && c.answered_at.is_some())
        .expect("a conversation at 11:00");
    assert!(sim.drop_call(call.id));
    let record = sim.finished_calls().last().expect("the dropped call");
    assert_eq!((record.call_id, record.outcome), (call.id, CallOutcome::Answered));
    assert_eq!(record.ended_at, sim.now());
    let agent = sim.agent_snapshots().into_iter().find(|a| a.dn == call.callee_dn).expect("the agent");
    assert_eq!(agent.status, AgentStatus::WrapUp);
    assert!(!sim.drop_call(i32::MAX));
    sim.advance_to(sim.now() + hours(1));
    check_invariants(&sim);
}

#[test]
fn forgetting_old_records_keeps_the_recent_ones() {
    let mut sim = Simulation::new(busy_config(), 8, monday()).expect("valid config");
    sim.advance_to(monday() + hours(4));
    let cut = monday() + hours(2);
    let recent: Vec<i32> = sim.finished_calls().iter().filter(|r| r.ended_at >= cut).map(|r| r.call_id).collect();
    let live_before = sim.live_calls();
    sim.forget_before(cut);
    let kept: Vec<i32> = sim.finished_calls().iter().map(|r| r.call_id).collect();
    assert_eq!(kept, recent);
    assert_eq!(sim.call_truths().len(), kept.len());
    assert!(sim.agent_status_log().iter().all(|c| c.at >= cut));
    assert_eq!(sim.live_calls(), live_before);
}

#[test]
fn agents_start_logged_in_only_inside_their_shift() {
    // Default scenario, local time is UTC+1: at 08:30 local the 07:00 and 08:00 shifts work.
    let start = monday() + TimeDelta::minutes(7 * 60 + 30);
    let sim = Simulation::new(SimConfig::default(), 1, start).expect("valid config");
    let logged_in = sim.agent_snapshots().iter().filter(|a| a.status.is_logged_in()).count();
    assert_eq!(logged_in, 9 + 13);
    let snapshot = sim.agent_snapshots();
    assert!(snapshot.iter().all(|a| a.status_since == start));
    assert_eq!(AgentStatus::Paused.profile_name(), "Away");
    assert_eq!(AgentStatus::Talking.queue_status(), "LoggedIn");
}

#[test]
fn a_simulation_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Simulation>();
}

#[test]
fn absurd_durations_are_capped_instead_of_overflowing_the_clock() {
    let mut cfg = busy_config();
    cfg.queues[1].talk = lineup_pbx_sim::model::DurationDist::Fixed { secs: 1e300 };
    cfg.queues[1].patience = lineup_pbx_sim::model::DurationDist::Exponential { mean_secs: 1e300 };
    let mut sim = Simulation::new(cfg, 2, monday()).expect("valid config");
    sim.advance_to(monday() + hours(24 * 3));
    check_invariants(&sim);
}
