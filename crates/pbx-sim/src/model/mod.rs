//! The pure, seeded, deterministic traffic model of a 3CX call centre: a discrete-event
//! simulation on a virtual clock. No IO, no wall clock, no global randomness: the same
//! configuration, seed, start instant and sequence of calls (`advance_to`, `drop_call`) give
//! the same calls, records and ground truth, however the time is sliced.
//!
//! The server reads it through [`Simulation`]: live calls for `ActiveCalls`, finished call
//! records for `CallHistoryView` / `ReportCallLogData`, queue and agent snapshots for `Queues` /
//! `Users`, and the ground truth (per call and per queue per interval) for analytics tests.

mod agents;
mod arrivals;
mod calls;
mod config;
mod dist;
mod engine;
mod events;
mod routing;
mod scenario;
mod truth;

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use chrono::{DateTime, TimeDelta, Utc};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use agents::{AgentSnapshot, AgentStatus, AgentStatusChange};
pub use arrivals::ArrivalProfile;
pub use calls::{
    CallOutcome, CallRecord, CallType, Direction, DnKind, LiveCall, LiveStatus, Party, Segment, SegmentAction,
};
pub use config::{
    AgentConfig, AnswerConfig, BreakConfig, CallerConfig, ConfigError, OverflowConfig, QueueConfig, RingStrategy,
    ShiftConfig, SimConfig,
};
pub use dist::DurationDist;
pub use truth::{interval_truths, CallTruth, IntervalTruth};

use agents::{shift_covers, Agent, StatusEntry};
use calls::{history_id, Call, CallState};
use config::DAY_MS;
use dist::{stream_rng, Stream};
use events::{Agenda, Event, SimMs};

/// One queue as the server shows it at the current instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueSnapshot {
    /// The queue's DN.
    pub dn: String,
    /// Display name.
    pub name: String,
    /// Ring strategy (see [`RingStrategy::polling_strategy`] for the 3CX name).
    pub strategy: RingStrategy,
    /// Ring timeout per attempt, seconds.
    pub ring_timeout_secs: u32,
    /// SLA threshold, seconds.
    pub sla_secs: u32,
    /// Maximum wait before overflow to voicemail, seconds, if configured.
    pub max_wait_secs: Option<u32>,
    /// Member agents' DNs, in member order.
    pub agent_dns: Vec<String>,
    /// Members currently logged in.
    pub agents_logged_in: u32,
    /// Members currently free to ring.
    pub agents_available: u32,
    /// Ids of calls in the queue (waiting or ringing), in arrival order.
    pub waiting_call_ids: Vec<i32>,
    /// How long the longest-waiting call has waited, ms (0 when none).
    pub longest_wait_ms: i64,
}

/// A queue's mutable state.
#[derive(Debug)]
struct Queue {
    profile: ArrivalProfile,
    arrival_rng: ChaCha8Rng,
    /// Fractional time of the last arrival drawn (the Poisson process's own clock).
    arrival_clock: f64,
    /// Member agents, in configuration order.
    members: Vec<usize>,
    /// Calls in the queue (waiting or ringing), in arrival order.
    waiting: Vec<i32>,
    /// Member position rung last (round robin continues after it).
    last_rung: Option<usize>,
}

/// A running simulation. Time only moves forward, through [`Simulation::advance_to`].
#[derive(Debug)]
pub struct Simulation {
    config: SimConfig,
    seed: u64,
    start: DateTime<Utc>,
    /// Local time of day at simulation time 0, ms since local midnight.
    origin_tod_ms: i64,
    now: SimMs,
    agenda: Agenda,
    queues: Vec<Queue>,
    agents: Vec<Agent>,
    active: BTreeMap<i32, Call>,
    finished: Vec<CallRecord>,
    truths: Vec<CallTruth>,
    status_log: Vec<StatusEntry>,
    next_call_id: i32,
    next_segment_id: i32,
}

impl Simulation {
    /// Validates `config` and starts a simulation at `start`: agents whose shift covers the start
    /// are logged in, everyone else is logged out, no call is in progress.
    pub fn new(config: SimConfig, seed: u64, start: DateTime<Utc>) -> Result<Simulation, ConfigError> {
        let compiled = config.compile()?;
        let origin_tod_ms =
            (start.timestamp_millis() + i64::from(config.utc_offset_minutes) * 60_000).rem_euclid(DAY_MS);
        let queues = config
            .queues
            .iter()
            .enumerate()
            .map(|(q, qc)| Queue {
                profile: ArrivalProfile::new(&qc.arrivals_per_hour, origin_tod_ms),
                arrival_rng: stream_rng(seed, Stream::Arrivals, q as u64),
                arrival_clock: 0.0,
                members: (0..config.agents.len()).filter(|a| compiled.agent_queues[*a].contains(&q)).collect(),
                waiting: Vec::new(),
                last_rung: None,
            })
            .collect();
        let agents = compiled
            .agent_queues
            .into_iter()
            .zip(compiled.agent_shifts)
            .enumerate()
            .map(|(a, (queues, shift))| {
                let in_shift = shift.is_none_or(|s| shift_covers(s, origin_tod_ms));
                Agent {
                    answered: vec![0; queues.len()],
                    queues,
                    shift,
                    in_shift,
                    status: if in_shift { AgentStatus::Available } else { AgentStatus::LoggedOut },
                    status_since: 0,
                    epoch: 0,
                    idle_since: 0,
                    current_call: None,
                    rng: stream_rng(seed, Stream::Agent, a as u64),
                }
            })
            .collect();
        let mut sim = Simulation {
            config,
            seed,
            start,
            origin_tod_ms,
            now: 0,
            agenda: Agenda::default(),
            queues,
            agents,
            active: BTreeMap::new(),
            finished: Vec::new(),
            truths: Vec::new(),
            status_log: Vec::new(),
            next_call_id: 1,
            next_segment_id: 1,
        };
        sim.schedule_initial_events();
        Ok(sim)
    }

    /// Processes every event due at or before `t` in time order, then sets the clock to `t`.
    /// Returns the number of events processed; a `t` before the current time changes nothing.
    pub fn advance_to(&mut self, t: DateTime<Utc>) -> usize {
        let target = (t - self.start).num_milliseconds();
        if target < self.now {
            return 0;
        }
        let mut processed = 0;
        while let Some((at, event)) = self.agenda.pop_due(target) {
            self.run_event(at, event);
            processed += 1;
        }
        self.now = target;
        processed
    }

    /// Ends a live call now, as 3CX's `DropCall` does: a call in the queue ends as
    /// [`CallOutcome::Dropped`], a conversation or voicemail ends early (keeping its outcome).
    /// Returns false if no such call is in progress.
    pub fn drop_call(&mut self, call_id: i32) -> bool {
        match self.active.get(&call_id).map(|c| c.state.clone()) {
            None => false,
            Some(CallState::Waiting | CallState::Ringing { .. }) => {
                self.leave_queue_unanswered(call_id, SegmentAction::Dropped, CallOutcome::Dropped);
                self.finish(call_id);
                self.dispatch();
                true
            }
            Some(CallState::Talking { .. }) => {
                self.on_hangup(call_id);
                true
            }
            Some(CallState::VoiceMail { .. }) => {
                self.on_voicemail_end(call_id);
                true
            }
        }
    }

    /// Forgets finished records, ground-truth rows and status-log entries that ended before `t`,
    /// bounding memory in a long-running server. Live state is untouched.
    pub fn forget_before(&mut self, t: DateTime<Utc>) {
        let cut = self.finished.partition_point(|r| r.ended_at < t);
        self.finished.drain(..cut);
        let cut = self.truths.partition_point(|r| r.ended_at < t);
        self.truths.drain(..cut);
        let t_ms = (t - self.start).num_milliseconds();
        let cut = self.status_log.partition_point(|e| e.at < t_ms);
        self.status_log.drain(..cut);
    }

    /// The current virtual time.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(self.now)
    }

    /// The instant the simulation started.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The seed every random stream derives from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The (validated) configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Calls in progress, by increasing id.
    pub fn live_calls(&self) -> Vec<LiveCall> {
        self.active.values().map(|call| self.live_call(call)).collect()
    }

    /// Finished calls in the order they ended (so `ended_at` never decreases).
    pub fn finished_calls(&self) -> &[CallRecord] {
        &self.finished
    }

    /// Finished calls that ended at or before `t`: what a PBX whose history lags shows.
    pub fn finished_calls_until(&self, t: DateTime<Utc>) -> &[CallRecord] {
        &self.finished[..self.finished.partition_point(|r| r.ended_at <= t)]
    }

    /// Ground truth of every finished call, in the order they ended.
    pub fn call_truths(&self) -> &[CallTruth] {
        &self.truths
    }

    /// Ground truth per queue (configuration order) per interval of `interval_secs` (aligned to
    /// the Unix epoch), from the start to now, counting finished calls by arrival.
    pub fn interval_truths(&self, interval_secs: NonZeroU32) -> Vec<IntervalTruth> {
        let dns: Vec<&str> = self.config.queues.iter().map(|q| q.dn.as_str()).collect();
        interval_truths(&self.truths, &dns, self.start, self.now(), interval_secs)
    }

    /// Every queue at the current instant, in configuration order.
    pub fn queue_snapshots(&self) -> Vec<QueueSnapshot> {
        self.queues
            .iter()
            .zip(&self.config.queues)
            .map(|(queue, qc)| QueueSnapshot {
                dn: qc.dn.clone(),
                name: qc.name.clone(),
                strategy: qc.strategy,
                ring_timeout_secs: qc.ring_timeout_secs,
                sla_secs: qc.sla_secs,
                max_wait_secs: qc.overflow.as_ref().map(|o| o.after_secs),
                agent_dns: queue.members.iter().map(|a| self.config.agents[*a].dn.clone()).collect(),
                agents_logged_in: count(queue.members.iter().filter(|a| self.agents[**a].status.is_logged_in())),
                agents_available: count(
                    queue.members.iter().filter(|a| self.agents[**a].status == AgentStatus::Available),
                ),
                waiting_call_ids: queue.waiting.clone(),
                longest_wait_ms: queue
                    .waiting
                    .first()
                    .and_then(|id| self.active.get(id))
                    .map_or(0, |c| self.now - c.arrived),
            })
            .collect()
    }

    /// Every agent at the current instant, in configuration order.
    pub fn agent_snapshots(&self) -> Vec<AgentSnapshot> {
        self.agents
            .iter()
            .zip(&self.config.agents)
            .map(|(agent, ac)| AgentSnapshot {
                dn: ac.dn.clone(),
                name: ac.name.clone(),
                queues: agent.queues.iter().map(|q| self.config.queues[*q].dn.clone()).collect(),
                status: agent.status,
                status_since: self.at(agent.status_since),
                current_call: agent.current_call,
                calls_answered: agent.answered.iter().sum(),
            })
            .collect()
    }

    /// Every agent status change so far (initial statuses at the start included), in time order.
    pub fn agent_status_log(&self) -> Vec<AgentStatusChange> {
        self.status_log
            .iter()
            .map(|e| AgentStatusChange {
                at: self.at(e.at),
                agent_dn: self.config.agents[e.agent].dn.clone(),
                status: e.status,
                call_id: e.call,
            })
            .collect()
    }

    /// Simulation time `ms` as an instant.
    fn at(&self, ms: SimMs) -> DateTime<Utc> {
        self.start + TimeDelta::milliseconds(ms)
    }

    fn live_call(&self, call: &Call) -> LiveCall {
        let qc = &self.config.queues[call.queue];
        let agent = |a: usize| &self.config.agents[a];
        let (status, callee_dn, callee_name, ringing, answered_at) = match &call.state {
            CallState::Waiting => (LiveStatus::Routing, qc.dn.clone(), qc.name.clone(), Vec::new(), None),
            CallState::Ringing { agents, .. } => {
                let first = agents.first().map(|a| agent(*a));
                (
                    LiveStatus::Ringing,
                    first.map_or_else(|| qc.dn.clone(), |a| a.dn.clone()),
                    first.map_or_else(|| qc.name.clone(), |a| a.name.clone()),
                    agents.iter().map(|a| agent(*a).dn.clone()).collect(),
                    None,
                )
            }
            CallState::Talking { agent: a, answered_at, .. } => {
                (LiveStatus::Talking, agent(*a).dn.clone(), agent(*a).name.clone(), Vec::new(), Some(*answered_at))
            }
            CallState::VoiceMail { .. } => {
                let (dn, name) = qc.overflow.as_ref().map_or_else(
                    || (qc.dn.clone(), qc.name.clone()),
                    |o| (o.destination_dn.clone(), o.destination_name.clone()),
                );
                (LiveStatus::Talking, dn, name, Vec::new(), None)
            }
        };
        LiveCall {
            id: call.id,
            history_id: history_id(call.id),
            queue_dn: qc.dn.clone(),
            caller_number: call.caller_number.clone(),
            status,
            callee_dn,
            callee_name,
            ringing_agent_dns: ringing,
            last_status_change: self.at(call.status_since),
            established_at: self.at(call.arrived),
            answered_at: answered_at.map(|t| self.at(t)),
        }
    }

    fn schedule_initial_events(&mut self) {
        for a in 0..self.agents.len() {
            self.log_status(a);
            if let Some(shift) = self.agents[a].shift {
                let (target, event) = if self.agents[a].in_shift {
                    (shift.logout_ms, Event::ShiftEnd { agent: a })
                } else {
                    (shift.login_ms, Event::ShiftStart { agent: a })
                };
                self.agenda.schedule(agents::next_time_of_day(self.origin_tod_ms, 0, target), event);
            }
        }
        for q in 0..self.queues.len() {
            self.schedule_next_arrival(q);
        }
    }
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

/// A ground-truth export: every finished call and the per-queue per-interval totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundTruth {
    /// The finished calls, in the order they ended.
    pub calls: Vec<CallTruth>,
    /// Per queue per interval totals.
    pub intervals: Vec<IntervalTruth>,
}

impl Simulation {
    /// The ground truth so far, with intervals of `interval_secs`, ready to serialise.
    pub fn ground_truth(&self, interval_secs: NonZeroU32) -> GroundTruth {
        GroundTruth { calls: self.truths.clone(), intervals: self.interval_truths(interval_secs) }
    }
}
