//! Shared helpers for the model's integration tests: small configurations and the invariant
//! checker every run must pass.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lineup_pbx_sim::model::{
    AgentConfig, AgentStatus, AnswerConfig, BreakConfig, CallOutcome, CallerConfig, DnKind, DurationDist, QueueConfig,
    RingStrategy, SegmentAction, ShiftConfig, SimConfig, Simulation,
};

/// Monday 2024-03-04 00:00 UTC.
pub fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 4, 0, 0, 0).single().expect("valid date")
}

pub fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

/// A queue with a flat arrival rate and fixed, easy-to-reason-about durations.
pub fn flat_queue(dn: &str, strategy: RingStrategy, per_hour: f64) -> QueueConfig {
    QueueConfig {
        dn: dn.into(),
        name: format!("Queue {dn}"),
        strategy,
        ring_timeout_secs: 20,
        sla_secs: 20,
        overflow: None,
        arrivals_per_hour: vec![per_hour; 24],
        patience: DurationDist::Fixed { secs: 100_000.0 },
        talk: DurationDist::Fixed { secs: 10.0 },
        wrap_up: DurationDist::Fixed { secs: 0.0 },
    }
}

/// An always-logged-in agent who answers every call after exactly one second, never pausing.
pub fn steady_agent(dn: &str, queues: &[&str]) -> AgentConfig {
    AgentConfig {
        dn: dn.into(),
        name: format!("Agent {dn}"),
        queues: queues.iter().map(|q| q.to_string()).collect(),
        shift: None,
        breaks: BreakConfig { probability_after_call: 0.0, duration: DurationDist::Fixed { secs: 60.0 } },
        answer: AnswerConfig { delay: DurationDist::Fixed { secs: 1.0 }, miss_probability: 0.0 },
    }
}

pub fn config(queues: Vec<QueueConfig>, agents: Vec<AgentConfig>) -> SimConfig {
    SimConfig { utc_offset_minutes: 0, queues, agents, callers: CallerConfig::default() }
}

/// A small but busy centre exercising every feature: two queues (ring-all with overflow,
/// round robin), six agents with shifts, breaks, misses and random durations.
pub fn busy_config() -> SimConfig {
    let mut vip = flat_queue("800", RingStrategy::RingAll, 40.0);
    vip.overflow = Some(lineup_pbx_sim::model::OverflowConfig {
        after_secs: 90,
        destination_dn: "899".into(),
        destination_name: "Voicemail".into(),
        message: DurationDist::Uniform { min_secs: 5.0, max_secs: 30.0 },
    });
    vip.patience = DurationDist::Exponential { mean_secs: 80.0 };
    vip.talk = DurationDist::LogNormal { mean_secs: 120.0, sd_secs: 60.0 };
    vip.wrap_up = DurationDist::Uniform { min_secs: 0.0, max_secs: 15.0 };
    let mut sales = flat_queue("801", RingStrategy::RoundRobin, 70.0);
    sales.patience = DurationDist::LogNormal { mean_secs: 100.0, sd_secs: 80.0 };
    sales.talk = DurationDist::Exponential { mean_secs: 150.0 };
    sales.ring_timeout_secs = 8;
    let shifts = [("00:00", "04:00"), ("01:00", "06:00"), ("02:30", "05:30"), ("23:00", "03:00"), ("00:30", "05:00")];
    let mut agents: Vec<AgentConfig> = shifts
        .iter()
        .enumerate()
        .map(|(i, (login, logout))| AgentConfig {
            dn: format!("{}", 101 + i),
            name: format!("Agent {i}"),
            queues: if i % 2 == 0 { vec!["800".into(), "801".into()] } else { vec!["801".into()] },
            shift: Some(ShiftConfig { login: (*login).into(), logout: (*logout).into() }),
            breaks: BreakConfig {
                probability_after_call: 0.15,
                duration: DurationDist::Uniform { min_secs: 30.0, max_secs: 300.0 },
            },
            answer: AnswerConfig {
                delay: DurationDist::Uniform { min_secs: 1.0, max_secs: 12.0 },
                miss_probability: 0.1,
            },
        })
        .collect();
    agents.push(steady_agent("106", &["800"]));
    config(vec![vip, sales], agents)
}

/// Checks every invariant of a run and panics with a description of the first violation.
pub fn check_invariants(sim: &Simulation) {
    let records = sim.finished_calls();
    let truths = sim.call_truths();
    let live = sim.live_calls();
    let config = sim.config();

    // Every call ends exactly once; ids have no gaps; live and finished are disjoint.
    assert_eq!(records.len(), truths.len(), "one truth row per record");
    let mut ids = BTreeSet::new();
    for (r, t) in records.iter().zip(truths) {
        assert_eq!(r.call_id, t.call_id, "records and truths in the same order");
        assert!(ids.insert(r.call_id), "call {} ended twice", r.call_id);
    }
    for call in &live {
        assert!(ids.insert(call.id), "call {} is both live and finished", call.id);
    }
    if let Some(max) = ids.last() {
        assert_eq!(ids.len() as i32, *max, "call ids are 1..=n without gaps");
    }
    assert!(records.windows(2).all(|w| w[0].ended_at <= w[1].ended_at), "records in end order");

    let mut segment_ids = BTreeSet::new();
    type Span = (DateTime<Utc>, DateTime<Utc>);
    let mut agent_busy: HashMap<&str, Vec<Span>> = HashMap::new();
    for (r, t) in records.iter().zip(truths) {
        let queue = config.queues.iter().find(|q| q.dn == r.queue_dn).expect("known queue");
        let members: Vec<&str> =
            config.agents.iter().filter(|a| a.queues.contains(&queue.dn)).map(|a| a.dn.as_str()).collect();
        // Waits and outcomes.
        assert_eq!(t.wait_ms, (t.left_queue_at - t.arrived_at).num_milliseconds(), "call {}: wait", t.call_id);
        assert!(t.wait_ms >= 0 && t.talk_ms >= 0);
        assert!(t.wait_ms <= t.patience_ms, "call {} waited {} past patience {}", t.call_id, t.wait_ms, t.patience_ms);
        assert!(t.ended_at >= t.left_queue_at && t.left_queue_at >= t.arrived_at);
        match t.outcome {
            CallOutcome::Answered => {
                assert_eq!(t.answered_at, Some(t.left_queue_at), "call {}: answered when it left", t.call_id);
                assert!(t.agent_dn.as_deref().is_some_and(|a| members.contains(&a)), "call {}: agent", t.call_id);
                assert_eq!(t.talk_ms, (t.ended_at - t.left_queue_at).num_milliseconds());
            }
            CallOutcome::Abandoned => {
                assert_eq!(t.wait_ms, t.patience_ms, "call {}: abandons exactly at its patience", t.call_id);
                assert_eq!(t.abandoned_at, Some(t.left_queue_at));
            }
            CallOutcome::Overflowed => {
                let max = queue.overflow.as_ref().expect("overflow configured").after_secs;
                assert_eq!(t.wait_ms, i64::from(max) * 1000, "call {}: overflow at the maximum wait", t.call_id);
            }
            CallOutcome::Dropped => {}
        }
        if t.outcome != CallOutcome::Abandoned {
            assert!(t.abandoned_at.is_none(), "call {}", t.call_id);
        }
        if t.outcome != CallOutcome::Answered {
            assert!(t.answered_at.is_none() && t.agent_dn.is_none() && t.talk_ms == 0, "call {}", t.call_id);
        }
        assert_eq!(
            t.answered_within_sla,
            t.outcome == CallOutcome::Answered && t.wait_ms <= i64::from(t.sla_secs) * 1000
        );

        // Segments.
        let queue_segments: Vec<_> = r.segments.iter().filter(|s| s.destination.kind == DnKind::Queue).collect();
        assert_eq!(queue_segments.len(), 1, "call {}: one queue segment", r.call_id);
        assert_eq!(queue_segments[0].ringing_ms, t.wait_ms);
        assert_eq!(queue_segments[0].started_at, t.arrived_at);
        let answered: Vec<_> =
            r.segments.iter().filter(|s| s.destination.kind == DnKind::Extension && s.answered).collect();
        assert_eq!(answered.len(), usize::from(t.outcome == CallOutcome::Answered), "call {}", r.call_id);
        if let Some(s) = answered.first() {
            assert_eq!(Some(s.destination.dn.clone()), t.agent_dn);
            assert_eq!(s.talking_ms, t.talk_ms);
            assert_eq!(s.started_at + TimeDelta::milliseconds(s.ringing_ms), t.left_queue_at);
        }
        for s in &r.segments {
            assert!(segment_ids.insert(s.segment_id), "segment {} reused", s.segment_id);
            assert_eq!(
                s.ringing_ms + s.talking_ms,
                (s.ended_at - s.started_at).num_milliseconds(),
                "segment {}",
                s.segment_id
            );
            assert_eq!(s.source.number, r.caller_number);
            assert!(s.ended_at <= r.ended_at && s.started_at >= r.arrived_at);
            if s.destination.kind == DnKind::Extension {
                assert!(members.contains(&s.destination.dn.as_str()), "call {} rang non-member", r.call_id);
                agent_busy.entry(s.destination.dn.as_str()).or_default().push((s.started_at, s.ended_at));
                if !s.answered {
                    assert_ne!(s.action, SegmentAction::Answered);
                }
            }
        }
        assert!(r.segments.windows(2).all(|w| w[0].segment_id < w[1].segment_id));
    }
    // An agent's phone carries one call at a time.
    for (agent, mut spans) in agent_busy {
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "agent {agent} overlaps: {:?} and {:?}", w[0], w[1]);
        }
    }
    check_status_log(sim);
}

/// Agent statuses follow the status machine; only an available agent starts ringing; talking
/// follows ringing for the same call.
fn check_status_log(sim: &Simulation) {
    use AgentStatus::*;
    let mut last: BTreeMap<String, (AgentStatus, Option<i32>)> = BTreeMap::new();
    let log = sim.agent_status_log();
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at), "log in time order");
    for change in &log {
        let Some((before, call)) = last.get(&change.agent_dn).copied() else {
            last.insert(change.agent_dn.clone(), (change.status, change.call_id));
            continue;
        };
        let allowed = matches!(
            (before, change.status),
            (LoggedOut, Available)
                | (Available, Ringing | LoggedOut)
                | (Ringing, Talking | Available | LoggedOut)
                | (Talking, WrapUp)
                | (WrapUp, Available | Paused | LoggedOut)
                | (Paused, Available | LoggedOut)
        );
        assert!(allowed, "agent {} went {before:?} -> {:?} at {}", change.agent_dn, change.status, change.at);
        if change.status == Talking {
            assert_eq!(change.call_id, call, "agent {} talks to the call that rang", change.agent_dn);
        }
        assert_eq!(change.call_id.is_some(), matches!(change.status, Ringing | Talking));
        last.insert(change.agent_dn.clone(), (change.status, change.call_id));
    }
    for agent in sim.agent_snapshots() {
        if let Some((status, _)) = last.get(&agent.dn) {
            assert_eq!(*status, agent.status, "snapshot matches the log for {}", agent.dn);
        }
    }
}

/// Everything observable about a run, as JSON, for comparing runs.
pub fn fingerprint(sim: &Simulation) -> serde_json::Value {
    serde_json::json!({
        "now": sim.now(),
        "records": sim.finished_calls(),
        "truths": sim.call_truths(),
        "live": sim.live_calls(),
        "queues": sim.queue_snapshots(),
        "agents": sim.agent_snapshots(),
        "log": sim.agent_status_log(),
    })
}
