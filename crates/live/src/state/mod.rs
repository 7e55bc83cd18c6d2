//! The pure live state of one tenant: queues, active calls, agents, open items and today's
//! counters. No tokio, no clock: [`TenantLive::apply`] takes inputs and reports which channels
//! they affect; rendering (see [`crate::render`]) takes `now`.
//!
//! Calls are applied idempotently and order-tolerantly: each call's effect (its place among the
//! active calls, its contribution to today's counters) is kept per [`CallKey`] and replaced by
//! its next update, so a repeated update changes nothing and updates of different calls commute.
//! Updates of one call replace each other in arrival order, except that a record not reconciled
//! with 3CX's history never replaces a reconciled one (reconciled facts are authoritative and the
//! lifecycle machine never un-reconciles a call, so such an update is stale).

mod agent;
mod counters;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use lineup_domain::call::{CallKey, CallOutcome, CallRecord, Phase};
use uuid::Uuid;

pub(crate) use agent::{derive_status, earliest, AgentLive, CallActivity};
pub use agent::{AgentState, AgentStatus};
use counters::Contribution;
pub use counters::{AgentToday, TodayCounts};

use crate::channel::ChannelId;
use crate::config::LiveConfig;
use crate::input::{AgentPresence, CallUpdate, ItemInfo, LiveInput, QueueInfo};

/// The channels an input may have changed. Over-approximates: a listed channel may render the
/// same as before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    everything: bool,
    channels: BTreeSet<ChannelId>,
}

impl Affected {
    /// Nothing changed.
    pub fn none() -> Affected {
        Affected::default()
    }

    /// Every channel of the tenant may have changed.
    pub fn everything() -> Affected {
        Affected { everything: true, channels: BTreeSet::new() }
    }

    /// True when `channel` may have changed.
    pub fn contains(&self, channel: &ChannelId) -> bool {
        self.everything || self.channels.contains(channel)
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.channels.is_empty()
    }

    fn add(&mut self, channel: ChannelId) {
        if !self.everything {
            self.channels.insert(channel);
        }
    }
}

/// A queue as the live state knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueLive {
    /// Display name; empty until a [`LiveInput::Queue`] names a queue first seen elsewhere.
    pub name: String,
    /// False while deactivated.
    pub active: bool,
    /// Open items by id, with their session and status label.
    pub items: HashMap<Uuid, OpenItem>,
    /// Today's counters.
    pub today: TodayCounts,
}

impl QueueLive {
    fn unnamed() -> QueueLive {
        QueueLive { name: String::new(), active: true, items: HashMap::new(), today: TodayCounts::default() }
    }
}

/// An open item of a queue session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenItem {
    /// The item's session.
    pub session_id: Uuid,
    /// Its status label.
    pub status: String,
}

/// A call waiting, ringing or talking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActiveCall {
    /// The Lineup queue it belongs to, when known.
    pub queue_id: Option<Uuid>,
    /// Its latest record.
    pub record: CallRecord,
}

/// True while a call waits, rings or talks and has not ended.
pub(crate) fn is_active(record: &CallRecord) -> bool {
    matches!(record.phase, Phase::Waiting | Phase::Ringing | Phase::Talking) && record.ended_at.is_none()
}

/// The live state of one tenant.
#[derive(Debug, Clone)]
pub struct TenantLive {
    pub(crate) config: LiveConfig,
    pub(crate) day_start: Option<DateTime<Utc>>,
    pub(crate) queues: BTreeMap<Uuid, QueueLive>,
    pub(crate) active_calls: BTreeMap<CallKey, ActiveCall>,
    counted: HashMap<CallKey, Contribution>,
    pub(crate) agents: BTreeMap<String, AgentLive>,
    item_queues: HashMap<Uuid, Uuid>,
    closed_sessions: HashSet<Uuid>,
}

impl TenantLive {
    /// An empty state using `config`'s service-level threshold and wrap-up time. Until a
    /// [`LiveInput::DayStarted`], every call that entered a queue counts for today.
    pub fn new(config: LiveConfig) -> TenantLive {
        TenantLive {
            config,
            day_start: None,
            queues: BTreeMap::new(),
            active_calls: BTreeMap::new(),
            counted: HashMap::new(),
            agents: BTreeMap::new(),
            item_queues: HashMap::new(),
            closed_sessions: HashSet::new(),
        }
    }

    /// Applies one input and returns the channels it may have changed (none when it changed
    /// nothing, e.g. a repeat). The input's tenant field is not looked at.
    pub fn apply(&mut self, input: LiveInput) -> Affected {
        match input {
            LiveInput::Queue { queue, .. } => self.apply_queue(queue),
            LiveInput::Call { call, .. } => self.apply_call(call),
            LiveInput::Item { item, .. } => self.apply_item(item),
            LiveInput::SessionClosed { queue_id, session_id, .. } => self.close_session(queue_id, session_id),
            LiveInput::Agent { agent, .. } => self.apply_presence(agent),
            LiveInput::DayStarted { start } => self.start_day(start),
        }
    }

    /// The start of the current day, if one was given.
    pub fn day_start(&self) -> Option<DateTime<Utc>> {
        self.day_start
    }

    /// Today's counters of a queue (zero for an unknown queue).
    pub fn today(&self, queue_id: Uuid) -> TodayCounts {
        self.queues.get(&queue_id).map(|q| q.today).unwrap_or_default()
    }

    /// Today's answered calls and talk time of an agent (zero for an unknown agent).
    pub fn agent_today(&self, dn: &str) -> AgentToday {
        self.agents.get(dn).map(|a| a.today).unwrap_or_default()
    }

    /// The active (waiting, ringing or talking) calls, by key.
    pub fn active_calls(&self) -> impl Iterator<Item = &CallRecord> {
        self.active_calls.values().map(|c| &c.record)
    }

    /// An agent's state at `now` (see [`AgentState`] for the precedence of states).
    pub fn agent_status(&self, dn: &str, now: DateTime<Utc>) -> AgentStatus {
        let mut activity = CallActivity::default();
        for call in self.active_calls.values().filter(|c| c.record.agent_dn.as_deref() == Some(dn)) {
            activity.note(&call.record);
        }
        derive_status(self.agents.get(dn), activity, self.config.wrap_up, now)
    }

    /// What every agent's active calls say, for agents on at least one active call.
    pub(crate) fn call_activity(&self) -> HashMap<&str, CallActivity> {
        let mut activity: HashMap<&str, CallActivity> = HashMap::new();
        for call in self.active_calls.values() {
            if let Some(dn) = call.record.agent_dn.as_deref() {
                activity.entry(dn).or_default().note(&call.record);
            }
        }
        activity
    }

    /// The queues whose `agents` show `dn`: those their presence lists and those of their
    /// active calls.
    pub(crate) fn queues_showing_agent(&self, dn: &str) -> BTreeSet<Uuid> {
        let listed = self.agents.get(dn).and_then(|a| a.presence.as_ref()).map(|p| p.queue_ids.as_slice());
        let on_calls = self.active_calls.values().filter(|c| c.record.agent_dn.as_deref() == Some(dn));
        listed.unwrap_or_default().iter().copied().chain(on_calls.filter_map(|c| c.queue_id)).collect()
    }

    fn apply_queue(&mut self, info: QueueInfo) -> Affected {
        let queue = self.queues.entry(info.id).or_insert_with(QueueLive::unnamed);
        if queue.name == info.name && queue.active == info.active {
            return Affected::none();
        }
        queue.name = info.name;
        queue.active = info.active;
        let mut affected = Affected::none();
        affected.add(ChannelId::Queue(info.id));
        affected.add(ChannelId::Overview);
        affected
    }

    fn apply_call(&mut self, update: CallUpdate) -> Affected {
        let CallUpdate { queue_id, record, .. } = update;
        let key = record.key;
        let stored_reconciled = self.active_calls.get(&key).map(|c| c.record.reconciled).unwrap_or(false)
            || self.counted.get(&key).is_some_and(|c| c.reconciled);
        if stored_reconciled && !record.reconciled {
            return Affected::none();
        }
        let threshold = self.config.service_level_threshold;
        let contribution = Contribution::of_call(&record, queue_id, self.day_start, threshold);
        let answered_end = record.ended_at.filter(|_| record.outcome == CallOutcome::Answered);
        let active = is_active(&record).then(|| ActiveCall { queue_id, record: record.clone() });
        let agent = record.agent_dn.as_deref().and_then(|dn| self.agents.get(dn));
        let end_known = agent.is_some_and(|a| answered_end.is_none() || a.last_answered_end >= answered_end);
        let agent_unchanged = record.agent_dn.is_none() || end_known;
        if agent_unchanged
            && self.active_calls.get(&key) == active.as_ref()
            && self.counted.get(&key) == contribution.as_ref()
        {
            return Affected::none();
        }

        let mut affected = Affected::none();
        if let Some(old) = self.active_calls.remove(&key) {
            self.touch_call(&mut affected, old.queue_id, old.record.agent_dn.as_deref());
        }
        if let Some(old) = self.counted.remove(&key) {
            self.uncount(&old);
            self.touch_call(&mut affected, old.queue_id, old.agent_dn.as_deref());
        }
        if let Some(queue_id) = queue_id {
            self.queues.entry(queue_id).or_insert_with(QueueLive::unnamed);
        }
        if let Some(dn) = &record.agent_dn {
            let agent = self.agents.entry(dn.clone()).or_default();
            agent.last_answered_end = agent.last_answered_end.max(answered_end);
        }
        if let Some(contribution) = contribution {
            self.count(&contribution);
            self.counted.insert(key, contribution);
        }
        if let Some(active) = active {
            self.active_calls.insert(key, active);
        }
        self.touch_call(&mut affected, queue_id, record.agent_dn.as_deref());
        affected
    }

    /// Marks what a call shows in: its queue, the overview, its agent and the queues showing
    /// that agent.
    fn touch_call(&self, affected: &mut Affected, queue_id: Option<Uuid>, agent_dn: Option<&str>) {
        affected.add(ChannelId::Overview);
        if let Some(queue_id) = queue_id {
            affected.add(ChannelId::Queue(queue_id));
        }
        if let Some(dn) = agent_dn {
            affected.add(ChannelId::Agent(dn.to_string()));
            for queue_id in self.queues_showing_agent(dn) {
                affected.add(ChannelId::Queue(queue_id));
            }
        }
    }

    fn count(&mut self, contribution: &Contribution) {
        if let Some(queue) = contribution.queue_id.and_then(|id| self.queues.get_mut(&id)) {
            queue.today.add(&contribution.counts);
        }
        if let Some(agent) = contribution.agent_dn.as_ref().and_then(|dn| self.agents.get_mut(dn)) {
            agent.today.add(&contribution.agent);
        }
    }

    fn uncount(&mut self, contribution: &Contribution) {
        if let Some(queue) = contribution.queue_id.and_then(|id| self.queues.get_mut(&id)) {
            queue.today.remove(&contribution.counts);
        }
        if let Some(agent) = contribution.agent_dn.as_ref().and_then(|dn| self.agents.get_mut(dn)) {
            agent.today.remove(&contribution.agent);
        }
    }

    fn apply_item(&mut self, item: ItemInfo) -> Affected {
        let counts = item.open && !self.closed_sessions.contains(&item.session_id);
        let open = OpenItem { session_id: item.session_id, status: item.status };
        let previous_queue = self.item_queues.get(&item.id).copied();
        let previous = previous_queue.and_then(|q| self.queues.get(&q)).and_then(|q| q.items.get(&item.id));
        let unchanged = if counts {
            previous_queue == Some(item.queue_id) && previous == Some(&open)
        } else {
            previous_queue.is_none()
        };
        if unchanged {
            return Affected::none();
        }
        let mut affected = Affected::none();
        if let Some(queue_id) = previous_queue {
            self.item_queues.remove(&item.id);
            if let Some(queue) = self.queues.get_mut(&queue_id) {
                queue.items.remove(&item.id);
            }
            affected.add(ChannelId::Queue(queue_id));
        }
        if counts {
            self.queues.entry(item.queue_id).or_insert_with(QueueLive::unnamed).items.insert(item.id, open);
            self.item_queues.insert(item.id, item.queue_id);
            affected.add(ChannelId::Queue(item.queue_id));
        }
        affected
    }

    fn close_session(&mut self, queue_id: Uuid, session_id: Uuid) -> Affected {
        self.closed_sessions.insert(session_id);
        let Some(queue) = self.queues.get_mut(&queue_id) else {
            return Affected::none();
        };
        let closed: Vec<Uuid> =
            queue.items.iter().filter(|(_, item)| item.session_id == session_id).map(|(id, _)| *id).collect();
        if closed.is_empty() {
            return Affected::none();
        }
        for id in &closed {
            queue.items.remove(id);
            self.item_queues.remove(id);
        }
        let mut affected = Affected::none();
        affected.add(ChannelId::Queue(queue_id));
        affected
    }

    fn apply_presence(&mut self, mut presence: AgentPresence) -> Affected {
        presence.queue_ids.sort();
        presence.queue_ids.dedup();
        let dn = presence.dn.clone();
        if self.agents.get(&dn).and_then(|a| a.presence.as_ref()) == Some(&presence) {
            return Affected::none();
        }
        let mut affected = Affected::none();
        let before = self.queues_showing_agent(&dn);
        self.agents.entry(dn.clone()).or_default().presence = Some(presence);
        for queue_id in before.into_iter().chain(self.queues_showing_agent(&dn)) {
            affected.add(ChannelId::Queue(queue_id));
        }
        affected.add(ChannelId::Agent(dn));
        affected.add(ChannelId::Overview);
        affected
    }

    /// Starts a new day at `start`: calls that entered before it stop counting. A start earlier
    /// than the current one is a stale repeat and is ignored.
    fn start_day(&mut self, start: DateTime<Utc>) -> Affected {
        if self.day_start.is_some_and(|current| start < current) {
            return Affected::none();
        }
        self.day_start = Some(start);
        self.counted.retain(|_, c| c.entered_at >= start);
        for queue in self.queues.values_mut() {
            queue.today = TodayCounts::default();
        }
        for agent in self.agents.values_mut() {
            agent.today = AgentToday::default();
        }
        let counted: Vec<Contribution> = self.counted.values().cloned().collect();
        for contribution in &counted {
            self.count(contribution);
        }
        Affected::everything()
    }
}
