//! The typed channel documents, serialised with camelCase keys.
//!
//! Absent facts are omitted, never `null` (deltas are JSON Merge Patches, where `null` means
//! "remove"). Collections are maps keyed by id so a change touches one key. Quantities that grow
//! with time are sent as the instant they started (`oldestWaitingSince`, `since`), so an idle
//! queue renders the same document from one second to the next.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lineup_domain::call::Phase;
use serde::Serialize;
use uuid::Uuid;

use crate::state::{AgentState, AgentToday, TodayCounts};

/// The `queue:{id}` channel: one queue in detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueDocument {
    /// The queue's id.
    pub queue_id: Uuid,
    /// Its name (empty while only known from calls or items).
    pub name: String,
    /// False while deactivated.
    pub active: bool,
    /// Calls in the queue with no phone ringing.
    pub calls_waiting: u64,
    /// When the longest-waiting of those calls entered the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_waiting_since: Option<DateTime<Utc>>,
    /// Calls ringing an agent or talking to one.
    pub calls_in_progress: u64,
    /// The active calls, keyed `"{connection}:{callId}"`.
    pub calls: BTreeMap<String, CallView>,
    /// The agents whose presence lists the queue and those on its active calls, keyed by
    /// extension.
    pub agents: BTreeMap<String, AgentView>,
    /// How many of those agents are in each state.
    pub agents_by_state: AgentsByState,
    /// Open items of the queue's open sessions, counted by status label.
    pub items_by_status: BTreeMap<String, u64>,
    /// Today's counters.
    pub today: TodayView,
}

/// One active call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    /// The caller's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Waiting, ringing or talking.
    pub phase: Phase,
    /// The agent being rung or talking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_dn: Option<String>,
    /// When the call entered its queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entered_at: Option<DateTime<Utc>>,
    /// When an agent answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// The call's queue; only in the agent channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<Uuid>,
}

/// One agent as a queue shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    /// Display name (the extension when no presence names them).
    pub name: String,
    /// Current state.
    pub state: AgentState,
    /// When the state began, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

/// A count of agents per state; every state is present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentsByState {
    /// Agents available.
    pub available: u64,
    /// Agents whose phone rings.
    pub ringing: u64,
    /// Agents on a call.
    pub talking: u64,
    /// Agents wrapping up.
    pub wrap_up: u64,
    /// Agents paused.
    pub paused: u64,
    /// Agents logged out.
    pub logged_out: u64,
}

impl AgentsByState {
    /// Counts one more agent in `state`.
    pub fn count(&mut self, state: AgentState) {
        let slot = match state {
            AgentState::Available => &mut self.available,
            AgentState::Ringing => &mut self.ringing,
            AgentState::Talking => &mut self.talking,
            AgentState::WrapUp => &mut self.wrap_up,
            AgentState::Paused => &mut self.paused,
            AgentState::LoggedOut => &mut self.logged_out,
        };
        *slot += 1;
    }
}

/// Today's counters as sent; see [`TodayCounts`] for their meaning and the service-level
/// formula.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TodayView {
    /// Calls that entered the queue today.
    pub offered: u64,
    /// Of those, answered.
    pub answered: u64,
    /// Of those, abandoned or dropped.
    pub abandoned: u64,
    /// Of those, overflowed.
    pub overflowed: u64,
    /// Answered within `thresholdSeconds`.
    pub answered_within: u64,
    /// `answeredWithin / (answered + abandoned)`, a fraction in 0..=1; omitted while the
    /// denominator is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_level: Option<f64>,
    /// Mean wait of today's answered calls in ms; omitted before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_wait_ms: Option<u64>,
    /// The service-level threshold, in whole seconds.
    pub threshold_seconds: u64,
}

impl TodayView {
    /// The view of `counts` with the service-level threshold in seconds.
    pub fn new(counts: &TodayCounts, threshold_seconds: u64) -> TodayView {
        TodayView {
            offered: counts.offered,
            answered: counts.answered,
            abandoned: counts.abandoned,
            overflowed: counts.overflowed,
            answered_within: counts.answered_within,
            service_level: counts.service_level(),
            average_wait_ms: counts.average_wait_ms(),
            threshold_seconds,
        }
    }
}

/// The `overview` channel: every queue of the tenant in summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OverviewDocument {
    /// The queues, keyed by id.
    pub queues: BTreeMap<Uuid, QueueSummary>,
    /// Figures over all queues.
    pub totals: Totals,
}

/// One queue in the overview.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueSummary {
    /// Its name.
    pub name: String,
    /// False while deactivated.
    pub active: bool,
    /// As in [`QueueDocument::calls_waiting`].
    pub calls_waiting: u64,
    /// As in [`QueueDocument::oldest_waiting_since`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_waiting_since: Option<DateTime<Utc>>,
    /// As in [`QueueDocument::calls_in_progress`].
    pub calls_in_progress: u64,
    /// As in [`QueueDocument::agents_by_state`].
    pub agents_by_state: AgentsByState,
    /// Today's counters.
    pub today: TodayView,
}

/// Figures over all queues of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Calls waiting in any queue.
    pub calls_waiting: u64,
    /// Calls ringing or talking in any queue.
    pub calls_in_progress: u64,
    /// Agents shown by at least one queue, each counted once.
    pub agents_by_state: AgentsByState,
    /// Today's counters summed over the queues (service level and average recomputed from the
    /// sums).
    pub today: TodayView,
}

/// The `agent:{dn}` channel: one agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentDocument {
    /// The agent's extension.
    pub dn: String,
    /// Display name (the extension when no presence names them).
    pub name: String,
    /// Current state.
    pub state: AgentState,
    /// When the state began, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The queues their presence lists, sorted.
    pub queue_ids: Vec<Uuid>,
    /// Their active calls (ringing or talking), keyed `"{connection}:{callId}"`, with queue.
    pub calls: BTreeMap<String, CallView>,
    /// Today's answered calls and talk time.
    pub today: AgentTodayView,
}

/// An agent's day so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentTodayView {
    /// Calls they answered that entered a queue today.
    pub answered: u64,
    /// Talk time of those calls, in ms.
    pub talk_ms: u64,
}

impl From<AgentToday> for AgentTodayView {
    fn from(today: AgentToday) -> Self {
        AgentTodayView { answered: today.answered, talk_ms: today.talk_ms }
    }
}
