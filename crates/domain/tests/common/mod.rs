//! Shared test helpers: instants, observation builders, and a small model of one queue call
//! that yields what 3CX would show of it (`ActiveCalls` snapshots, `CallHistoryView` segments,
//! `CallLogData` rows) together with the record Lineup must end up with.
#![allow(dead_code)]

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use lineup_domain::call::{
    call_log_observation, diff_active_calls, history_observation, ActiveCallSnapshot, CallKey, CallLogRow, CallOutcome,
    CallRecord, HistorySegment, Observation, ObservationKind, Phase, ReconciledCall, Source,
};
use uuid::Uuid;

pub const QUEUE: &str = "800";
pub const OTHER_QUEUE: &str = "801";
pub const VOICEMAIL: &str = "899";
pub const AGENTS: [&str; 3] = ["101", "102", "103"];
pub const CALLER: &str = "+4930123456";

/// The PBX connection of every test call.
pub fn connection() -> Uuid {
    Uuid::from_u128(0x1ead_5eed)
}

/// The key of call `id` on the test connection.
pub fn key_of(id: i32) -> CallKey {
    CallKey { connection: connection(), call_id: id }
}

/// The key of the test call (id 7).
pub fn key() -> CallKey {
    key_of(7)
}

/// `ms` milliseconds after 09:00 on 3 March 2025 (PBX time).
pub fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap() + TimeDelta::milliseconds(ms)
}

/// `secs` seconds after 09:00 on 3 March 2025 (PBX time).
pub fn at(secs: i64) -> DateTime<Utc> {
    at_ms(secs * 1000)
}

pub fn dns(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn queue_dns() -> BTreeSet<String> {
    dns(&[QUEUE, OTHER_QUEUE])
}

pub fn agent_dns() -> BTreeSet<String> {
    dns(&AGENTS)
}

/// A poller observation of the test call at `secs`.
pub fn polled(secs: i64, kind: ObservationKind) -> Observation {
    Observation::new(key(), Source::Poller, at(secs), kind)
}

pub fn appeared(secs: i64, callee: &str) -> Observation {
    polled(secs, ObservationKind::Appeared { caller: CALLER.into(), callee: callee.into() })
}

pub fn entered(secs: i64, queue: &str) -> Observation {
    polled(secs, ObservationKind::EnteredQueue { queue_dn: queue.into() })
}

pub fn ringing(secs: i64, agent: &str) -> Observation {
    polled(secs, ObservationKind::Ringing { agent_dn: agent.into() })
}

pub fn answered(secs: i64, agent: &str) -> Observation {
    polled(secs, ObservationKind::Answered { agent_dn: agent.into() })
}

pub fn transferred(secs: i64, to: &str) -> Observation {
    polled(secs, ObservationKind::Transferred { to_dn: to.into() })
}

pub fn ended(secs: i64) -> Observation {
    polled(secs, ObservationKind::Ended)
}

/// A history observation of the test call at `secs` carrying `facts`.
pub fn reconciled(secs: i64, facts: ReconciledCall) -> Observation {
    Observation::new(key(), Source::History, at(secs), ObservationKind::Reconciled(facts))
}

/// How a modelled call rang before it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Waits in the queue for `ms`.
    Wait(i64),
    /// Rings agent `AGENTS[agent]` for `ms`, unanswered, then goes back to waiting.
    Ring { agent: usize, ms: i64 },
}

/// How a modelled call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Rings `agent` for `ring_ms`, who answers and talks `talk_ms`; optionally then transfers
    /// the caller to `AGENTS[to]`, who talks `ms` more.
    Answered { agent: usize, ring_ms: i64, talk_ms: i64, transfer: Option<(usize, i64)> },
    /// Hangs up after waiting `ms` more.
    AbandonWaiting { ms: i64 },
    /// Hangs up while `agent` has rung for `ms`.
    AbandonRinging { agent: usize, ms: i64 },
    /// Waits `wait_ms` more, then the maximum wait sends it to voicemail for `message_ms`.
    Overflow { wait_ms: i64, message_ms: i64 },
    /// Dropped through the API after `ms` more waiting.
    Dropped { ms: i64 },
}

/// One queue call: arrives at `arrive_ms`, goes through `steps`, then `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub call_id: i32,
    pub arrive_ms: i64,
    pub steps: Vec<Step>,
    pub end: End,
}

/// What `ActiveCalls` shows from `from` on: status and callee DN.
#[derive(Debug, Clone)]
struct Interval {
    from: i64,
    status: &'static str,
    callee: String,
}

/// A segment in the simulator's shape.
#[derive(Debug, Clone)]
struct Leg {
    start: i64,
    end: i64,
    dst: String,
    dst_type: i32,
    answered: bool,
    ringing: i64,
    talking: i64,
    action: i32,
}

const ANSWERED: i32 = 1;
const NO_ANSWER: i32 = 2;
const ABANDONED: i32 = 3;
const OVERFLOWED: i32 = 4;
const VOICEMAIL_LEFT: i32 = 5;
const DROPPED: i32 = 6;

/// Everything 3CX would show of a scripted call, and its true record.
#[derive(Debug, Clone)]
pub struct Played {
    pub script: Script,
    intervals: Vec<Interval>,
    legs: Vec<Leg>,
    pub ended_ms: i64,
    pub truth: CallRecord,
}

impl Script {
    /// Plays the script out.
    pub fn play(&self) -> Played {
        let arrive = self.arrive_ms;
        let queue = |from| Interval { from, status: "Routing", callee: QUEUE.into() };
        let mut intervals = vec![queue(arrive)];
        let mut legs = Vec::new();
        let mut t = arrive;
        let agent_leg = |start: i64, end: i64, agent: usize, action: i32| Leg {
            start,
            end,
            dst: AGENTS[agent].into(),
            dst_type: 0,
            answered: false,
            ringing: end - start,
            talking: 0,
            action,
        };
        for step in &self.steps {
            match *step {
                Step::Wait(ms) => t += ms,
                Step::Ring { agent, ms } => {
                    intervals.push(Interval { from: t, status: "Ringing", callee: AGENTS[agent].into() });
                    legs.push(agent_leg(t, t + ms, agent, NO_ANSWER));
                    t += ms;
                    intervals.push(queue(t));
                }
            }
        }
        let queue_leg = |end: i64, answered: bool, action: i32| Leg {
            start: arrive,
            end,
            dst: QUEUE.into(),
            dst_type: 4,
            answered,
            ringing: end - arrive,
            talking: 0,
            action,
        };
        let (outcome, agent, answered_at, left, ended) = match self.end {
            End::Answered { agent, ring_ms, talk_ms, transfer } => {
                intervals.push(Interval { from: t, status: "Ringing", callee: AGENTS[agent].into() });
                let answer = t + ring_ms;
                intervals.push(Interval { from: answer, status: "Talking", callee: AGENTS[agent].into() });
                legs.push(queue_leg(answer, true, ANSWERED));
                let mut end = answer + talk_ms;
                let mut first = agent_leg(t, end, agent, ANSWERED);
                (first.answered, first.ringing, first.talking) = (true, ring_ms, talk_ms);
                legs.push(first);
                if let Some((to, ms)) = transfer {
                    intervals.push(Interval { from: end, status: "Talking", callee: AGENTS[to].into() });
                    let mut second = agent_leg(end, end + ms, to, ANSWERED);
                    (second.answered, second.ringing, second.talking) = (true, 0, ms);
                    legs.push(second);
                    end += ms;
                }
                (CallOutcome::Answered, Some(AGENTS[agent].to_string()), Some(answer), answer, end)
            }
            End::AbandonWaiting { ms } => {
                legs.push(queue_leg(t + ms, false, ABANDONED));
                (CallOutcome::Abandoned, None, None, t + ms, t + ms)
            }
            End::AbandonRinging { agent, ms } => {
                intervals.push(Interval { from: t, status: "Ringing", callee: AGENTS[agent].into() });
                legs.push(agent_leg(t, t + ms, agent, ABANDONED));
                legs.push(queue_leg(t + ms, false, ABANDONED));
                (CallOutcome::Abandoned, None, None, t + ms, t + ms)
            }
            End::Overflow { wait_ms, message_ms } => {
                let overflow = t + wait_ms;
                intervals.push(Interval { from: overflow, status: "Talking", callee: VOICEMAIL.into() });
                legs.push(queue_leg(overflow, false, OVERFLOWED));
                let end = overflow + message_ms;
                legs.push(Leg {
                    start: overflow,
                    end,
                    dst: VOICEMAIL.into(),
                    dst_type: 5,
                    answered: true,
                    ringing: 0,
                    talking: message_ms,
                    action: VOICEMAIL_LEFT,
                });
                (CallOutcome::Overflowed, None, None, overflow, end)
            }
            End::Dropped { ms } => {
                legs.push(queue_leg(t + ms, false, DROPPED));
                (CallOutcome::Dropped, None, None, t + ms, t + ms)
            }
        };
        let answered = outcome == CallOutcome::Answered;
        let truth = CallRecord {
            key: key_of(self.call_id),
            history_id: Some(history_id(self.call_id)),
            caller: Some(CALLER.into()),
            queue_dn: Some(QUEUE.into()),
            agent_dn: agent,
            entered_at: Some(at_ms(arrive)),
            answered_at: answered_at.map(at_ms),
            left_queue_at: Some(at_ms(left)),
            ended_at: Some(at_ms(ended)),
            wait_ms: Some(left - arrive),
            talk_ms: Some(answered_at.map_or(0, |a| ended - a)),
            outcome,
            phase: if answered { Phase::Completed } else { Phase::Abandoned },
            reconciled: true,
        };
        Played { script: self.clone(), intervals, legs, ended_ms: ended, truth }
    }
}

pub fn history_id(call_id: i32) -> String {
    format!("00000000-0000-4000-8000-{call_id:012x}")
}

impl Played {
    /// The call's `ActiveCalls` row at `ms`, if it is in progress then.
    pub fn snapshot_at(&self, ms: i64) -> Option<ActiveCallSnapshot> {
        if ms < self.script.arrive_ms || ms >= self.ended_ms {
            return None;
        }
        let now = self.intervals.iter().rev().find(|i| i.from <= ms)?;
        Some(ActiveCallSnapshot {
            id: self.script.call_id,
            caller: CALLER.into(),
            callee: format!("{} Someone", now.callee),
            status: now.status.into(),
            last_change_status: at_ms(now.from),
            established_at: at_ms(self.script.arrive_ms),
        })
    }

    /// The poller's observations when it polls at each of `polls` (ms, increasing), starting
    /// from an empty snapshot.
    pub fn poller_observations(&self, polls: &[i64]) -> Vec<Observation> {
        let mut previous = Vec::new();
        let mut out = Vec::new();
        for &p in polls {
            let current: Vec<_> = self.snapshot_at(p).into_iter().collect();
            out.extend(diff_active_calls(connection(), &previous, &current, at_ms(p), &queue_dns(), &agent_dns()));
            previous = current;
        }
        out
    }

    /// The call's `CallHistoryView` rows.
    pub fn history_segments(&self) -> Vec<HistorySegment> {
        self.legs
            .iter()
            .enumerate()
            .map(|(i, l)| HistorySegment {
                call_id: self.script.call_id,
                segment_id: 1000 + i32::try_from(i).unwrap(),
                segment_start_time: at_ms(l.start),
                segment_end_time: at_ms(l.end),
                segment_action_id: l.action,
                call_answered: l.answered,
                call_time_ms: l.talking,
                src_caller_number: Some(CALLER.into()),
                dst_dn: l.dst.clone(),
                dst_dn_type: l.dst_type,
            })
            .collect()
    }

    /// The call's `CallLogData` rows.
    pub fn call_log_rows(&self) -> Vec<CallLogRow> {
        let reasons = ["", "Answered", "NoAnswer", "Abandoned", "Overflowed", "VoiceMail", "Dropped"];
        self.legs
            .iter()
            .enumerate()
            .map(|(i, l)| CallLogRow {
                call_id: self.script.call_id,
                main_call_history_id: Some(history_id(self.script.call_id)),
                cdr_id: format!("cdr-{}-{i}", self.script.call_id),
                start_time: at_ms(l.start),
                source_caller_id: Some(CALLER.into()),
                destination_dn: l.dst.clone(),
                destination_type: Some(l.dst_type),
                // Every other row spells its action only in `Reason`.
                action_type: (i % 2 == 0).then_some(l.action),
                reason: Some(reasons[usize::try_from(l.action).unwrap()].into()),
                answered: l.answered,
                ringing_ms: l.ringing,
                talking_ms: l.talking,
            })
            .collect()
    }

    pub fn history_observations(&self) -> Vec<Observation> {
        self.history_segments().iter().map(|s| history_observation(connection(), s)).collect()
    }

    pub fn call_log_observations(&self) -> Vec<Observation> {
        self.call_log_rows().iter().map(|r| call_log_observation(connection(), r)).collect()
    }
}
