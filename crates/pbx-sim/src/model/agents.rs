//! Agents: their status machine (logged out, available, ringing, talking, wrap-up, paused),
//! shift arithmetic, and the snapshots and status log the server reads.

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::{ShiftTimes, DAY_MS};
use super::events::SimMs;

/// What an agent is doing. An agent rings or talks for at most one call at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AgentStatus {
    /// Outside the shift: not a queue member in service.
    LoggedOut,
    /// Logged in and free: the only status in which a queue call may ring the agent.
    Available,
    /// A queue call is ringing the agent's phone.
    Ringing,
    /// On a call.
    Talking,
    /// After-call work; no call rings.
    WrapUp,
    /// On a break; no call rings.
    Paused,
}

impl AgentStatus {
    /// Whether the agent is logged in to its queues (3CX `Pbx.QueueStatusType`).
    pub fn is_logged_in(self) -> bool {
        self != AgentStatus::LoggedOut
    }

    /// The matching 3CX `Pbx.QueueStatusType` value: "LoggedIn" or "LoggedOut".
    pub fn queue_status(self) -> &'static str {
        if self.is_logged_in() {
            "LoggedIn"
        } else {
            "LoggedOut"
        }
    }

    /// The 3CX presence profile (`Pbx.ProfileType`) shown for the agent: "Away" while paused or
    /// logged out, "Available" otherwise.
    pub fn profile_name(self) -> &'static str {
        match self {
            AgentStatus::Paused | AgentStatus::LoggedOut => "Away",
            _ => "Available",
        }
    }
}

/// One agent as the server shows it at the current instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSnapshot {
    /// The extension DN.
    pub dn: String,
    /// Display name.
    pub name: String,
    /// DNs of the agent's queues.
    pub queues: Vec<String>,
    /// Current status.
    pub status: AgentStatus,
    /// When the current status began.
    pub status_since: DateTime<Utc>,
    /// The call ringing or talking on the agent's phone.
    pub current_call: Option<i32>,
    /// Queue calls answered since the simulation started (all queues).
    pub calls_answered: u32,
}

/// One entry of the agent status log: from `at` the agent is in `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatusChange {
    /// When the status began.
    pub at: DateTime<Utc>,
    /// The agent's DN.
    pub agent_dn: String,
    /// The new status.
    pub status: AgentStatus,
    /// The call, for ringing and talking.
    pub call_id: Option<i32>,
}

/// A status log entry before it is given wall-clock times and names.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StatusEntry {
    pub at: SimMs,
    pub agent: usize,
    pub status: AgentStatus,
    pub call: Option<i32>,
}

/// An agent's mutable state inside the simulation.
#[derive(Debug)]
pub(crate) struct Agent {
    /// Indices of the agent's queues, in configuration order.
    pub queues: Vec<usize>,
    /// Calls answered per queue, parallel to `queues`.
    pub answered: Vec<u32>,
    pub shift: Option<ShiftTimes>,
    pub in_shift: bool,
    pub status: AgentStatus,
    pub status_since: SimMs,
    /// Bumped on every status change; timed agent events carry it to detect staleness.
    pub epoch: u64,
    /// When the agent last became free (after login, wrap-up or a break); a missed ring does
    /// not reset it.
    pub idle_since: SimMs,
    pub current_call: Option<i32>,
    pub rng: ChaCha8Rng,
}

impl Agent {
    /// Calls of queue `queue` this agent has answered.
    pub fn answered_in(&self, queue: usize) -> u32 {
        self.queues.iter().position(|q| *q == queue).map_or(0, |k| self.answered[k])
    }

    /// Counts one more answered call of queue `queue`.
    pub fn count_answer(&mut self, queue: usize) {
        if let Some(k) = self.queues.iter().position(|q| *q == queue) {
            self.answered[k] += 1;
        }
    }
}

/// Whether local time of day `tod_ms` falls inside the shift (login inclusive, logout
/// exclusive; a logout before the login wraps past midnight).
pub(crate) fn shift_covers(shift: ShiftTimes, tod_ms: i64) -> bool {
    if shift.login_ms < shift.logout_ms {
        (shift.login_ms..shift.logout_ms).contains(&tod_ms)
    } else {
        tod_ms >= shift.login_ms || tod_ms < shift.logout_ms
    }
}

/// The first simulation time strictly after `t` whose local time of day is `target_tod_ms`,
/// where `origin_tod_ms` is the local time of day at simulation time 0.
pub(crate) fn next_time_of_day(origin_tod_ms: i64, t: SimMs, target_tod_ms: i64) -> SimMs {
    let tod = (origin_tod_ms + t).rem_euclid(DAY_MS);
    let mut delta = (target_tod_ms - tod).rem_euclid(DAY_MS);
    if delta == 0 {
        delta = DAY_MS;
    }
    t + delta
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn shifts_cover_their_hours_including_overnight() {
        let day = ShiftTimes { login_ms: 8 * HOUR, logout_ms: 16 * HOUR };
        let night = ShiftTimes { login_ms: 22 * HOUR, logout_ms: 6 * HOUR };
        let cases = [
            (day, 8 * HOUR, true),
            (day, 16 * HOUR - 1, true),
            (day, 16 * HOUR, false),
            (day, 7 * HOUR, false),
            (night, 23 * HOUR, true),
            (night, 0, true),
            (night, 6 * HOUR, false),
            (night, 12 * HOUR, false),
        ];
        for (shift, tod, expected) in cases {
            assert_eq!(shift_covers(shift, tod), expected, "{shift:?} at {tod}");
        }
    }

    #[test]
    fn next_time_of_day_is_strictly_later() {
        // Simulation time 0 is 10:00 local.
        let origin = 10 * HOUR;
        let cases = [
            (0, 12 * HOUR, 2 * HOUR),
            (0, 8 * HOUR, 22 * HOUR),
            (0, 10 * HOUR, 24 * HOUR),
            (3 * HOUR, 12 * HOUR, 26 * HOUR),
        ];
        for (t, target, expected) in cases {
            assert_eq!(next_time_of_day(origin, t, target), expected, "from {t} to {target}");
        }
    }
}
