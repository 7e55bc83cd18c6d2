//! The call record analytics reads, derived from a [`CallState`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::{Inferred, Live, Reconciled, Stamped};
use super::{CallKey, CallOutcome, CallState, Phase};

/// One call as Lineup currently understands it. A pure function of the [`CallState`], so it
/// converges with it; once `reconciled` is true it matches 3CX's history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// PBX connection and 3CX call id.
    pub key: CallKey,
    /// 3CX's main call history id, once a reconciler has read it.
    pub history_id: Option<String>,
    /// The caller's number.
    pub caller: Option<String>,
    /// The queue the call entered; `None` until the call is known to have entered one (such a
    /// call is no queue item yet).
    pub queue_dn: Option<String>,
    /// The agent who answered; while the call is ringing, the agent being rung.
    pub agent_dn: Option<String>,
    /// When the call entered the queue.
    pub entered_at: Option<DateTime<Utc>>,
    /// When an agent picked up.
    pub answered_at: Option<DateTime<Utc>>,
    /// When the call left the queue (answered, abandoned, overflowed, dropped).
    pub left_queue_at: Option<DateTime<Utc>>,
    /// When the call ended altogether.
    pub ended_at: Option<DateTime<Utc>>,
    /// `left_queue_at - entered_at` in ms (never negative); `None` while waiting.
    pub wait_ms: Option<i64>,
    /// `ended_at - answered_at` in ms for answered calls once ended, 0 for calls that left the
    /// queue unanswered, `None` while unknown.
    pub talk_ms: Option<i64>,
    /// How the queue visit ended.
    pub outcome: CallOutcome,
    /// The status the call's queue item should be in.
    pub phase: Phase,
    /// True once 3CX's history has told the outcome; the record no longer rests on inferences.
    pub reconciled: bool,
}

/// How the call left its queue, from one tier of facts.
struct Settlement {
    outcome: CallOutcome,
    answered_at: Option<DateTime<Utc>>,
    agent_dn: Option<String>,
    left_queue_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
}

/// The poller's end, unless a later sign of life contradicts it.
fn inferred_end(p: &Inferred) -> Option<DateTime<Utc>> {
    p.ended_at.filter(|end| p.last_alive.is_none_or(|alive| *end >= alive))
}

/// What the poller's facts alone say: an answer makes it answered, a transfer away overflowed, a
/// disappearance abandoned.
fn inferred_settlement(p: &Inferred) -> Settlement {
    let ended_at = inferred_end(p);
    let (outcome, left_queue_at) = if let Some(a) = &p.answered {
        (CallOutcome::Answered, Some(a.at))
    } else if let Some(t) = &p.transferred {
        (CallOutcome::Overflowed, Some(t.at))
    } else if let Some(end) = ended_at {
        (CallOutcome::Abandoned, Some(end))
    } else {
        (CallOutcome::InProgress, None)
    };
    Settlement {
        outcome,
        answered_at: p.answered.as_ref().map(|a| a.at),
        agent_dn: p.answered.as_ref().map(|a| a.value.clone()),
        left_queue_at,
        ended_at,
    }
}

/// History's outcome with history's details, the poller filling only what history lacks.
fn reconciled_settlement(r: &Reconciled, outcome: CallOutcome, inferred: Settlement) -> Settlement {
    let answered = outcome == CallOutcome::Answered;
    let answered_at =
        if answered { r.answered_at.or(r.agent.as_ref().map(|a| a.at)).or(inferred.answered_at) } else { None };
    let agent_dn = if answered { r.agent.as_ref().map(|a| a.value.clone()).or(inferred.agent_dn) } else { None };
    let inferred_left = if inferred.outcome.is_settled() { inferred.left_queue_at } else { None };
    Settlement {
        outcome,
        answered_at,
        agent_dn,
        left_queue_at: r.left_queue_at.or(answered_at).or(inferred_left),
        ended_at: r.ended_at.or(inferred.ended_at),
    }
}

fn millis_between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    Some((to? - from?).num_milliseconds().max(0))
}

impl CallState {
    /// The record this state amounts to (see [`CallRecord`] and the merge rules in the module
    /// documentation of [`super`]).
    pub fn record(&self) -> CallRecord {
        let (p, r) = (&self.inferred, &self.reconciled);
        let inferred = inferred_settlement(p);
        let settlement = match r.outcome {
            Some(outcome) => reconciled_settlement(r, outcome, inferred),
            None => inferred,
        };
        let queue = r.queue.as_ref().or(p.queue.as_ref());
        let entered_at = queue.map(|q| q.at);
        let answered_at = settlement.answered_at;
        let (phase, agent_dn) = match settlement.outcome {
            CallOutcome::InProgress => match &p.live {
                Some(Stamped { value: Live::Ringing(agent), .. }) => (Phase::Ringing, Some(agent.clone())),
                _ => (Phase::Waiting, None),
            },
            CallOutcome::Answered => {
                let phase = if settlement.ended_at.is_some() { Phase::Completed } else { Phase::Talking };
                (phase, settlement.agent_dn.clone())
            }
            _ => (Phase::Abandoned, None),
        };
        let talk_ms = match settlement.outcome {
            CallOutcome::InProgress => None,
            CallOutcome::Answered => millis_between(answered_at, settlement.ended_at),
            _ => Some(0),
        };
        CallRecord {
            key: self.key(),
            history_id: r.history_id.clone(),
            caller: r.caller.as_ref().or(p.caller.as_ref()).map(|c| c.value.clone()),
            queue_dn: queue.map(|q| q.value.clone()),
            agent_dn,
            entered_at,
            answered_at,
            left_queue_at: settlement.left_queue_at,
            ended_at: settlement.ended_at,
            wait_ms: millis_between(entered_at, settlement.left_queue_at),
            talk_ms,
            outcome: settlement.outcome,
            phase,
            reconciled: r.outcome.is_some(),
        }
    }

    /// The status the call's queue item should be in (the record's phase).
    pub fn phase(&self) -> Phase {
        self.record().phase
    }
}
