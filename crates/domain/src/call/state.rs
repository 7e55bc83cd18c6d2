//! The call state: a join-semilattice of facts, one lattice per field.
//!
//! Each observation is first turned into the smallest state that holds just its facts, then
//! joined into the state with [`CallState::merge`]. Every field joins by `min` or `max` over a
//! totally ordered value (times, ranks, or `(time, value)` pairs so that ties break on the value),
//! so the join is commutative, associative and idempotent, and so is [`CallState::apply`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CallKey, CallOutcome, Observation, ObservationKind, ReconciledCall};

/// A value with the PBX instant it was true at; ordered by instant, then by value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stamped<T> {
    pub at: DateTime<Utc>,
    pub value: T,
}

impl<T> Stamped<T> {
    fn new(at: DateTime<Utc>, value: T) -> Stamped<T> {
        Stamped { at, value }
    }
}

/// Where a live call is, as far as the poller saw; `Ringing` outranks `Waiting` at equal times.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum Live {
    /// Waiting in the queue, nothing ringing.
    Waiting,
    /// The agent's phone is ringing.
    Ringing(String),
}

/// Facts the poller inferred from `ActiveCalls` snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Inferred {
    /// Earliest `(time, caller)`.
    pub caller: Option<Stamped<String>>,
    /// Earliest `(time, queue DN)`: the first queue entered and when.
    pub queue: Option<Stamped<String>>,
    /// Earliest `(time, agent DN)` of an answer.
    pub answered: Option<Stamped<String>>,
    /// Latest `(time, waiting or ringing)`.
    pub live: Option<Stamped<Live>>,
    /// Earliest `(time, DN)` the call was transferred to.
    pub transferred: Option<Stamped<String>>,
    /// Latest instant the call was seen alive.
    pub last_alive: Option<DateTime<Utc>>,
    /// Latest instant the call was seen gone.
    pub ended_at: Option<DateTime<Utc>>,
}

/// Facts read from 3CX's history; authoritative.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Reconciled {
    /// Smallest history id (all rows of a call share one).
    pub history_id: Option<String>,
    /// Earliest `(time, caller)`.
    pub caller: Option<Stamped<String>>,
    /// Earliest `(entered time, queue DN)`.
    pub queue: Option<Stamped<String>>,
    /// Earliest `(answer time, agent DN)`.
    pub agent: Option<Stamped<String>>,
    /// Earliest answer time.
    pub answered_at: Option<DateTime<Utc>>,
    /// Earliest departure from the queue.
    pub left_queue_at: Option<DateTime<Utc>>,
    /// Latest end of a call-ending segment.
    pub ended_at: Option<DateTime<Utc>>,
    /// Highest-ranked outcome.
    pub outcome: Option<CallOutcome>,
}

/// What Lineup knows about one call. Build it with [`CallState::new`] and [`CallState::apply`] or
/// [`fold`]; read it with [`CallState::record`]. Equal sets of observations give equal states,
/// whatever their order and however often each was applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallState {
    key: CallKey,
    pub(super) inferred: Inferred,
    pub(super) reconciled: Reconciled,
}

fn join_min<T: Ord + Clone>(slot: &mut Option<T>, other: &Option<T>) {
    if let Some(o) = other {
        if slot.as_ref().is_none_or(|s| o < s) {
            *slot = Some(o.clone());
        }
    }
}

fn join_max<T: Ord + Clone>(slot: &mut Option<T>, other: &Option<T>) {
    if let Some(o) = other {
        if slot.as_ref().is_none_or(|s| o > s) {
            *slot = Some(o.clone());
        }
    }
}

impl Inferred {
    fn join(&mut self, other: &Inferred) {
        join_min(&mut self.caller, &other.caller);
        join_min(&mut self.queue, &other.queue);
        join_min(&mut self.answered, &other.answered);
        join_max(&mut self.live, &other.live);
        join_min(&mut self.transferred, &other.transferred);
        join_max(&mut self.last_alive, &other.last_alive);
        join_max(&mut self.ended_at, &other.ended_at);
    }

    /// The facts of one live observation.
    fn of(at: DateTime<Utc>, kind: &ObservationKind) -> Inferred {
        let alive = Some(at);
        let stamp = |v: &String| Some(Stamped::new(at, v.clone()));
        match kind {
            ObservationKind::Appeared { caller, .. } => {
                Inferred { caller: stamp(caller), last_alive: alive, ..Inferred::default() }
            }
            ObservationKind::EnteredQueue { queue_dn } => Inferred {
                queue: stamp(queue_dn),
                live: Some(Stamped::new(at, Live::Waiting)),
                last_alive: alive,
                ..Inferred::default()
            },
            ObservationKind::Ringing { agent_dn } => Inferred {
                live: Some(Stamped::new(at, Live::Ringing(agent_dn.clone()))),
                last_alive: alive,
                ..Inferred::default()
            },
            ObservationKind::Answered { agent_dn } => {
                Inferred { answered: stamp(agent_dn), last_alive: alive, ..Inferred::default() }
            }
            ObservationKind::Transferred { to_dn } => {
                Inferred { transferred: stamp(to_dn), last_alive: alive, ..Inferred::default() }
            }
            ObservationKind::Ended => Inferred { ended_at: alive, ..Inferred::default() },
            ObservationKind::Reconciled(_) => Inferred::default(),
        }
    }
}

impl Reconciled {
    fn join(&mut self, other: &Reconciled) {
        join_min(&mut self.history_id, &other.history_id);
        join_min(&mut self.caller, &other.caller);
        join_min(&mut self.queue, &other.queue);
        join_min(&mut self.agent, &other.agent);
        join_min(&mut self.answered_at, &other.answered_at);
        join_min(&mut self.left_queue_at, &other.left_queue_at);
        join_max(&mut self.ended_at, &other.ended_at);
        join_max(&mut self.outcome, &other.outcome);
    }

    /// The facts of one reconciled observation made at `at`. A queue counts with its entered
    /// time (or `at`), an agent with its answer time (or `at`); an `InProgress` outcome is no
    /// information.
    fn of(at: DateTime<Utc>, facts: &ReconciledCall) -> Reconciled {
        Reconciled {
            history_id: facts.history_id.clone(),
            caller: facts.caller.clone().map(|c| Stamped::new(at, c)),
            queue: facts.queue_dn.clone().map(|q| Stamped::new(facts.entered_at.unwrap_or(at), q)),
            agent: facts.agent_dn.clone().map(|a| Stamped::new(facts.answered_at.unwrap_or(at), a)),
            answered_at: facts.answered_at,
            left_queue_at: facts.left_queue_at,
            ended_at: facts.ended_at,
            outcome: facts.outcome.filter(|o| o.is_settled()),
        }
    }
}

impl CallState {
    /// The state of a call nothing is known about yet.
    pub fn new(key: CallKey) -> CallState {
        CallState { key, inferred: Inferred::default(), reconciled: Reconciled::default() }
    }

    /// The call this state is about.
    pub fn key(&self) -> CallKey {
        self.key
    }

    /// Merges one observation in. Observations of another call are ignored. Applying the same
    /// observation again changes nothing, and the order observations are applied in does not
    /// matter.
    pub fn apply(&mut self, observation: &Observation) {
        if observation.call != self.key {
            return;
        }
        let mut single = CallState::new(self.key);
        match &observation.kind {
            ObservationKind::Reconciled(facts) => single.reconciled = Reconciled::of(observation.at, facts),
            live => single.inferred = Inferred::of(observation.at, live),
        }
        self.merge(&single);
    }

    /// Joins another state of the same call into this one (the least state holding the facts of
    /// both); a state of another call is ignored. Commutative, associative and idempotent.
    pub fn merge(&mut self, other: &CallState) {
        if other.key != self.key {
            return;
        }
        self.inferred.join(&other.inferred);
        self.reconciled.join(&other.reconciled);
    }
}

/// `state` with `observation` merged in (see [`CallState::apply`]).
pub fn apply(mut state: CallState, observation: &Observation) -> CallState {
    state.apply(observation);
    state
}

/// The state of call `key` holding every observation given (others' observations are ignored).
pub fn fold<'a>(key: CallKey, observations: impl IntoIterator<Item = &'a Observation>) -> CallState {
    observations.into_iter().fold(CallState::new(key), apply)
}
