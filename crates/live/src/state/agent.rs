//! Agent states: derived at render time from presence, the agent's active calls and the end of
//! their last answered call.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::call::{CallRecord, Phase};
use serde::{Deserialize, Serialize};

use super::counters::AgentToday;
use crate::input::AgentPresence;

/// What an agent is doing, in order of precedence.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AgentState {
    /// Logged in, not paused, free to take a call.
    Available,
    /// A queue call rings their phone.
    Ringing,
    /// On an answered queue call.
    Talking,
    /// Their last answered call ended less than [`crate::LiveConfig::wrap_up`] ago.
    WrapUp,
    /// Logged in but paused.
    Paused,
    /// Not logged in to their queues.
    LoggedOut,
}

/// An agent's state at one instant, when it began and when it will change by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentStatus {
    /// The state.
    pub state: AgentState,
    /// When the state began, as well as Lineup knows; `None` when nothing tells.
    pub since: Option<DateTime<Utc>>,
    /// When the state ends unless an input changes it first (the end of wrap-up); `None` when
    /// only an input can change it.
    pub valid_until: Option<DateTime<Utc>>,
}

/// What Lineup knows about one agent besides their calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AgentLive {
    /// The PBX's presence; `None` for an agent only seen as a call's agent, who counts as logged
    /// in and not paused.
    pub presence: Option<AgentPresence>,
    /// When the last call they answered ended (the latest seen).
    pub last_answered_end: Option<DateTime<Utc>>,
    /// Today's answered calls and talk time.
    pub today: AgentToday,
}

impl AgentLive {
    /// The agent's display name: the presence's, else the extension.
    pub fn name<'a>(&'a self, dn: &'a str) -> &'a str {
        self.presence.as_ref().map_or(dn, |p| p.name.as_str())
    }
}

/// What an agent's active calls say: whether their phone rings or they talk, and since when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CallActivity {
    /// A call in phase ringing has them as agent.
    pub ringing: bool,
    /// The earliest time one of those calls entered its queue.
    pub ringing_since: Option<DateTime<Utc>>,
    /// A call in phase talking has them as agent.
    pub talking: bool,
    /// The earliest answer time of those calls (else their queue departure or entry).
    pub talking_since: Option<DateTime<Utc>>,
}

impl CallActivity {
    /// Takes one active call of the agent into account.
    pub fn note(&mut self, record: &CallRecord) {
        match record.phase {
            Phase::Ringing => {
                self.ringing = true;
                self.ringing_since = earliest(self.ringing_since, record.entered_at);
            }
            Phase::Talking => {
                self.talking = true;
                let began = record.answered_at.or(record.left_queue_at).or(record.entered_at);
                self.talking_since = earliest(self.talking_since, began);
            }
            _ => {}
        }
    }
}

/// The agent's state at `now`, by precedence: logged out if not logged in; else ringing, talking
/// (from their active calls); else wrap-up while `now` is less than `wrap_up` after their last
/// answered call ended; else paused; else available. An unknown agent (`None`) is logged out.
///
/// `since` is the best time known: presence time for logged out; for ringing the latest of the
/// call's queue entry, presence time and the end of the last answered call (the phone cannot
/// ring before any of them); the answer time for talking; the call's end for wrap-up; and for paused
/// and available the later of presence time and the end of the last wrap-up.
pub(crate) fn derive_status(
    agent: Option<&AgentLive>,
    activity: CallActivity,
    wrap_up: Duration,
    now: DateTime<Utc>,
) -> AgentStatus {
    let Some(agent) = agent else {
        return AgentStatus { state: AgentState::LoggedOut, since: None, valid_until: None };
    };
    let presence = agent.presence.as_ref();
    let presence_since = presence.map(|p| p.since);
    let status = |state, since| AgentStatus { state, since, valid_until: None };
    if presence.is_some_and(|p| !p.logged_in) {
        return status(AgentState::LoggedOut, presence_since);
    }
    let wrap_up_end = agent.last_answered_end.map(|end| (end, plus(end, wrap_up)));
    let idle_since = latest(presence_since, wrap_up_end.map(|(_, until)| until));
    if activity.ringing {
        let free_since = latest(presence_since, agent.last_answered_end);
        return status(AgentState::Ringing, latest(activity.ringing_since, free_since));
    }
    if activity.talking {
        return status(AgentState::Talking, activity.talking_since.or(presence_since));
    }
    if let Some((end, until)) = wrap_up_end.filter(|(_, until)| now < *until) {
        return AgentStatus { state: AgentState::WrapUp, since: Some(end), valid_until: Some(until) };
    }
    if presence.is_some_and(|p| p.paused) {
        return status(AgentState::Paused, idle_since);
    }
    status(AgentState::Available, idle_since)
}

/// `at + duration`, saturating at the latest representable instant.
pub(crate) fn plus(at: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration).ok().and_then(|d| at.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The earlier of two optional instants; a missing one does not count.
pub(crate) fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The later of two optional instants; a missing one does not count.
pub(crate) fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
