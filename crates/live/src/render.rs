//! Rendering a tenant's state into channel documents at an instant `now`.
//!
//! Rendering is a pure function of the state and `now`. Time only matters for agent states
//! (wrap-up ends by itself); [`Rendered::valid_until`] says when a document would next change
//! without any input, so the hub knows when to render an unchanged channel again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use lineup_domain::call::{CallKey, Phase};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::channel::ChannelId;
use crate::document::{
    AgentDocument, AgentView, AgentsByState, CallView, OverviewDocument, QueueDocument, QueueSummary, TodayView, Totals,
};
use crate::state::{derive_status, earliest, ActiveCall, AgentStatus, CallActivity, TenantLive, TodayCounts};

/// A channel document and how long it stays right.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The document, free of `null` values.
    pub document: Value,
    /// The instant from which rendering again would give a different document even without
    /// inputs (an agent's wrap-up ending); `None` when only inputs change it.
    pub valid_until: Option<DateTime<Utc>>,
}

impl TenantLive {
    /// Renders `channel` at `now`. Unknown queues and agents render as empty documents (a queue
    /// with no name, inactive; an agent logged out).
    pub fn render(&self, channel: &ChannelId, now: DateTime<Utc>) -> Rendered {
        let mut renderer = Renderer::new(self, now);
        let document = match channel {
            ChannelId::Overview => to_json(&renderer.overview()),
            ChannelId::Queue(queue_id) => to_json(&renderer.queue(*queue_id)),
            ChannelId::Agent(dn) => to_json(&renderer.agent(dn)),
        };
        Rendered { document, valid_until: renderer.valid_until }
    }

    /// The `queue:{queue_id}` document at `now`.
    pub fn queue_document(&self, queue_id: Uuid, now: DateTime<Utc>) -> QueueDocument {
        Renderer::new(self, now).queue(queue_id)
    }

    /// The `overview` document at `now`.
    pub fn overview_document(&self, now: DateTime<Utc>) -> OverviewDocument {
        Renderer::new(self, now).overview()
    }

    /// The `agent:{dn}` document at `now`.
    pub fn agent_document(&self, dn: &str, now: DateTime<Utc>) -> AgentDocument {
        Renderer::new(self, now).agent(dn)
    }
}

/// The text key of a call in documents: `"{connection}:{callId}"`.
pub fn call_key_text(key: &CallKey) -> String {
    format!("{}:{}", key.connection, key.call_id)
}

fn to_json<T: Serialize>(document: &T) -> Value {
    // The documents hold only string-keyed maps, strings, integers and finite fractions, all of
    // which serde_json represents, so this cannot fail.
    serde_json::to_value(document).expect("channel documents always serialise to JSON")
}

/// One rendering pass: the state, the instant, each agent's call activity computed once, and
/// the earliest instant at which an agent state rendered so far changes by itself.
struct Renderer<'a> {
    live: &'a TenantLive,
    now: DateTime<Utc>,
    activity: HashMap<&'a str, CallActivity>,
    valid_until: Option<DateTime<Utc>>,
    threshold_seconds: u64,
}

/// A queue's figures shared by its channel and the overview.
struct QueueFigures {
    calls_waiting: u64,
    oldest_waiting_since: Option<DateTime<Utc>>,
    calls_in_progress: u64,
    agents: BTreeMap<String, AgentView>,
    agents_by_state: AgentsByState,
}

impl<'a> Renderer<'a> {
    fn new(live: &'a TenantLive, now: DateTime<Utc>) -> Renderer<'a> {
        Renderer {
            live,
            now,
            activity: live.call_activity(),
            valid_until: None,
            threshold_seconds: live.config.service_level_threshold.as_secs(),
        }
    }

    fn status(&mut self, dn: &str) -> AgentStatus {
        let activity = self.activity.get(dn).copied().unwrap_or_default();
        let status = derive_status(self.live.agents.get(dn), activity, self.live.config.wrap_up, self.now);
        self.valid_until = earliest(self.valid_until, status.valid_until);
        status
    }

    fn agent_view(&mut self, dn: &str) -> AgentView {
        let status = self.status(dn);
        let name = self.live.agents.get(dn).map_or(dn, |a| a.name(dn)).to_string();
        AgentView { name, state: status.state, since: status.since }
    }

    fn queue_calls(&self, queue_id: Uuid) -> impl Iterator<Item = (&'a CallKey, &'a ActiveCall)> + 'a {
        self.live.active_calls.iter().filter(move |(_, call)| call.queue_id == Some(queue_id))
    }

    /// The agents a queue shows: those whose presence lists it and those on its active calls.
    fn queue_agents(&self, queue_id: Uuid) -> BTreeSet<&'a str> {
        let listed = self.live.agents.iter().filter(move |(_, agent)| {
            agent.presence.as_ref().is_some_and(|p| p.queue_ids.binary_search(&queue_id).is_ok())
        });
        let on_calls = self.queue_calls(queue_id).filter_map(|(_, call)| call.record.agent_dn.as_deref());
        listed.map(|(dn, _)| dn.as_str()).chain(on_calls).collect()
    }

    fn figures(&mut self, queue_id: Uuid) -> QueueFigures {
        let mut figures = QueueFigures {
            calls_waiting: 0,
            oldest_waiting_since: None,
            calls_in_progress: 0,
            agents: BTreeMap::new(),
            agents_by_state: AgentsByState::default(),
        };
        for (_, call) in self.queue_calls(queue_id) {
            match call.record.phase {
                Phase::Waiting => {
                    figures.calls_waiting += 1;
                    figures.oldest_waiting_since = earliest(figures.oldest_waiting_since, call.record.entered_at);
                }
                _ => figures.calls_in_progress += 1,
            }
        }
        for dn in self.queue_agents(queue_id) {
            let view = self.agent_view(dn);
            figures.agents_by_state.count(view.state);
            figures.agents.insert(dn.to_string(), view);
        }
        figures
    }

    fn today(&self, counts: &TodayCounts) -> TodayView {
        TodayView::new(counts, self.threshold_seconds)
    }

    fn queue(&mut self, queue_id: Uuid) -> QueueDocument {
        let queue = self.live.queues.get(&queue_id);
        let figures = self.figures(queue_id);
        let calls =
            self.queue_calls(queue_id).map(|(key, call)| (call_key_text(key), call_view(call, false))).collect();
        let mut items_by_status = BTreeMap::new();
        for item in queue.iter().flat_map(|q| q.items.values()) {
            *items_by_status.entry(item.status.clone()).or_insert(0) += 1;
        }
        QueueDocument {
            queue_id,
            name: queue.map(|q| q.name.clone()).unwrap_or_default(),
            active: queue.is_some_and(|q| q.active),
            calls_waiting: figures.calls_waiting,
            oldest_waiting_since: figures.oldest_waiting_since,
            calls_in_progress: figures.calls_in_progress,
            calls,
            agents: figures.agents,
            agents_by_state: figures.agents_by_state,
            items_by_status,
            today: self.today(&queue.map(|q| q.today).unwrap_or_default()),
        }
    }

    fn overview(&mut self) -> OverviewDocument {
        let mut queues = BTreeMap::new();
        let mut shown_agents: BTreeMap<String, AgentView> = BTreeMap::new();
        let mut today = TodayCounts::default();
        let (mut calls_waiting, mut calls_in_progress) = (0, 0);
        for (queue_id, queue) in &self.live.queues {
            let figures = self.figures(*queue_id);
            calls_waiting += figures.calls_waiting;
            calls_in_progress += figures.calls_in_progress;
            today.add(&queue.today);
            let summary = QueueSummary {
                name: queue.name.clone(),
                active: queue.active,
                calls_waiting: figures.calls_waiting,
                oldest_waiting_since: figures.oldest_waiting_since,
                calls_in_progress: figures.calls_in_progress,
                agents_by_state: figures.agents_by_state,
                today: self.today(&queue.today),
            };
            queues.insert(*queue_id, summary);
            shown_agents.extend(figures.agents);
        }
        let mut agents_by_state = AgentsByState::default();
        for view in shown_agents.values() {
            agents_by_state.count(view.state);
        }
        let totals = Totals { calls_waiting, calls_in_progress, agents_by_state, today: self.today(&today) };
        OverviewDocument { queues, totals }
    }

    fn agent(&mut self, dn: &str) -> AgentDocument {
        let status = self.status(dn);
        let agent = self.live.agents.get(dn);
        let calls = self
            .live
            .active_calls
            .iter()
            .filter(|(_, call)| call.record.agent_dn.as_deref() == Some(dn))
            .map(|(key, call)| (call_key_text(key), call_view(call, true)))
            .collect();
        AgentDocument {
            dn: dn.to_string(),
            name: agent.map_or(dn, |a| a.name(dn)).to_string(),
            state: status.state,
            since: status.since,
            queue_ids: agent.and_then(|a| a.presence.as_ref()).map(|p| p.queue_ids.clone()).unwrap_or_default(),
            calls,
            today: agent.map(|a| a.today).unwrap_or_default().into(),
        }
    }
}

/// The view of an active call; `with_queue` adds its queue (for the agent channel).
fn call_view(call: &ActiveCall, with_queue: bool) -> CallView {
    let record = &call.record;
    CallView {
        caller: record.caller.clone(),
        phase: record.phase,
        agent_dn: record.agent_dn.clone(),
        entered_at: record.entered_at,
        answered_at: record.answered_at,
        queue_id: if with_queue { call.queue_id } else { None },
    }
}
