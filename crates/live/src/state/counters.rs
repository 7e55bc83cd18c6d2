//! Today's counters and each call's contribution to them.
//!
//! A call's contribution is computed from its latest record and kept per call, so a newer record
//! replaces it (subtract the old, add the new) and a repeated one changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lineup_domain::call::{CallOutcome, CallRecord};
use uuid::Uuid;

/// Today's counters of a queue (or of several queues summed): sums over the calls that entered
/// today.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TodayCounts {
    /// Calls that entered the queue.
    pub offered: u64,
    /// Calls an agent answered.
    pub answered: u64,
    /// Calls the caller abandoned or that were dropped before an answer.
    pub abandoned: u64,
    /// Calls that left the queue unanswered for voicemail or elsewhere.
    pub overflowed: u64,
    /// Answered calls whose wait was at most the service-level threshold.
    pub answered_within: u64,
    /// Total wait of the answered calls whose wait is known, in ms.
    pub answered_wait_ms: u64,
    /// How many answered calls have a known wait.
    pub answered_waits: u64,
}

impl TodayCounts {
    /// The counts one call contributes: one offered call, plus one of its outcome.
    pub(crate) fn of_call(record: &CallRecord, threshold: Duration) -> TodayCounts {
        let wait_ms = record.wait_ms.map(|ms| u64::try_from(ms).unwrap_or(0));
        let answered = record.outcome == CallOutcome::Answered;
        let threshold_ms = u64::try_from(threshold.as_millis()).unwrap_or(u64::MAX);
        TodayCounts {
            offered: 1,
            answered: u64::from(answered),
            abandoned: u64::from(matches!(record.outcome, CallOutcome::Abandoned | CallOutcome::Dropped)),
            overflowed: u64::from(record.outcome == CallOutcome::Overflowed),
            answered_within: u64::from(answered && wait_ms.is_some_and(|ms| ms <= threshold_ms)),
            answered_wait_ms: if answered { wait_ms.unwrap_or(0) } else { 0 },
            answered_waits: u64::from(answered && wait_ms.is_some()),
        }
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &TodayCounts) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.overflowed += other.overflowed;
        self.answered_within += other.answered_within;
        self.answered_wait_ms += other.answered_wait_ms;
        self.answered_waits += other.answered_waits;
    }

    /// Takes back counts added earlier (saturating at zero).
    pub(crate) fn remove(&mut self, other: &TodayCounts) {
        self.offered = self.offered.saturating_sub(other.offered);
        self.answered = self.answered.saturating_sub(other.answered);
        self.abandoned = self.abandoned.saturating_sub(other.abandoned);
        self.overflowed = self.overflowed.saturating_sub(other.overflowed);
        self.answered_within = self.answered_within.saturating_sub(other.answered_within);
        self.answered_wait_ms = self.answered_wait_ms.saturating_sub(other.answered_wait_ms);
        self.answered_waits = self.answered_waits.saturating_sub(other.answered_waits);
    }

    /// The service level as a fraction in `0..=1`:
    ///
    /// `serviceLevel = answeredWithin / (answered + abandoned)`
    ///
    /// where `abandoned` includes dropped calls and overflowed calls count in neither term.
    /// `None` when no call was answered or abandoned yet (the denominator is 0).
    pub fn service_level(&self) -> Option<f64> {
        let handled = self.answered + self.abandoned;
        (handled > 0).then(|| self.answered_within as f64 / handled as f64)
    }

    /// The mean wait of today's answered calls in ms (rounded down); `None` before the first.
    pub fn average_wait_ms(&self) -> Option<u64> {
        (self.answered_waits > 0).then(|| self.answered_wait_ms / self.answered_waits)
    }
}

/// What an agent did today: the calls they answered and how long they talked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentToday {
    /// Calls the agent answered.
    pub answered: u64,
    /// Total talk time of those calls that ended, in ms.
    pub talk_ms: u64,
}

impl AgentToday {
    /// Adds `other` to these counts.
    pub(crate) fn add(&mut self, other: &AgentToday) {
        self.answered += other.answered;
        self.talk_ms += other.talk_ms;
    }

    /// Takes back counts added earlier (saturating at zero).
    pub(crate) fn remove(&mut self, other: &AgentToday) {
        self.answered = self.answered.saturating_sub(other.answered);
        self.talk_ms = self.talk_ms.saturating_sub(other.talk_ms);
    }
}

/// One call's share of today's counters, as last applied: to its queue's [`TodayCounts`] and,
/// when answered, to its agent's [`AgentToday`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contribution {
    /// The queue the counts went to, if the call belongs to one.
    pub queue_id: Option<Uuid>,
    /// The answering agent the agent counts went to.
    pub agent_dn: Option<String>,
    /// When the call entered its queue; it stops counting when a later day starts.
    pub entered_at: DateTime<Utc>,
    /// The queue counts.
    pub counts: TodayCounts,
    /// The agent counts.
    pub agent: AgentToday,
    /// Whether the record it came from was reconciled with 3CX's history.
    pub reconciled: bool,
}

impl Contribution {
    /// The contribution of a call, or `None` when it does not count today: it has not entered a
    /// queue, or it entered before `day_start` (with no day start known, every call counts).
    pub(crate) fn of_call(
        record: &CallRecord,
        queue_id: Option<Uuid>,
        day_start: Option<DateTime<Utc>>,
        threshold: Duration,
    ) -> Option<Contribution> {
        let entered_at = record.entered_at?;
        if day_start.is_some_and(|start| entered_at < start) {
            return None;
        }
        let answered = record.outcome == CallOutcome::Answered && record.agent_dn.is_some();
        let talk_ms = record.talk_ms.map_or(0, |ms| u64::try_from(ms).unwrap_or(0));
        Some(Contribution {
            queue_id,
            agent_dn: record.agent_dn.clone().filter(|_| answered),
            entered_at,
            counts: TodayCounts::of_call(record, threshold),
            agent: AgentToday { answered: u64::from(answered), talk_ms: if answered { talk_ms } else { 0 } },
            reconciled: record.reconciled,
        })
    }
}
