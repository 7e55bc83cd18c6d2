//! Observations: single facts about one call, from one source, at one PBX instant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CallKey, CallOutcome};

/// Where an observation came from. It is provenance (for the inbox and for audits); how an
/// observation merges depends on its kind, not on its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The `ActiveCalls` poller: snapshots diffed into observations.
    Poller,
    /// The reconciler reading `CallHistoryView` segments.
    History,
    /// The reconciler reading `ReportCallLogData` rows.
    CallLog,
}

impl Source {
    /// A short stable name, used in dedup keys: `poller`, `history`, `call-log`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Poller => "poller",
            Source::History => "history",
            Source::CallLog => "call-log",
        }
    }
}

/// What 3CX's history says about a call, as far as the rows read so far tell. Every field is
/// optional because one history segment tells only part of the story; merging the facts of all
/// the segments of a call (which [`super::CallState`] does) gives the whole record. These facts
/// override what the poller inferred.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconciledCall {
    /// 3CX's main call history id.
    pub history_id: Option<String>,
    /// The queue the call entered.
    pub queue_dn: Option<String>,
    /// The caller's number.
    pub caller: Option<String>,
    /// The agent who answered.
    pub agent_dn: Option<String>,
    /// When the call entered the queue.
    pub entered_at: Option<DateTime<Utc>>,
    /// When an agent (or, seen from the queue segment, the queue) picked up.
    pub answered_at: Option<DateTime<Utc>>,
    /// When the call left the queue: answered, abandoned, overflowed or dropped.
    pub left_queue_at: Option<DateTime<Utc>>,
    /// When the call ended altogether (only from segments that end the call).
    pub ended_at: Option<DateTime<Utc>>,
    /// How the queue visit ended; `InProgress` is treated as unknown.
    pub outcome: Option<CallOutcome>,
}

/// One fact about a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ObservationKind {
    /// The poller saw the call (for the first time, or again after it had vanished); `at` is the
    /// snapshot's `ServerNow`, so it is also a sign of life at that instant.
    Appeared {
        /// 3CX `Caller`.
        caller: String,
        /// The DN in 3CX `Callee` when first seen.
        callee: String,
    },
    /// The call was waiting in `queue_dn` at `at` (entering it, or back after a ring attempt).
    EnteredQueue {
        /// The queue's DN.
        queue_dn: String,
    },
    /// `agent_dn`'s phone was ringing for the call from `at`.
    Ringing {
        /// The ringing agent's extension.
        agent_dn: String,
    },
    /// `agent_dn` picked up at `at`.
    Answered {
        /// The answering agent's extension.
        agent_dn: String,
    },
    /// The call moved at `at` from its queue or agent to `to_dn` (voicemail, another queue, an
    /// outside number, or another agent after an answer).
    Transferred {
        /// Where the call went.
        to_dn: String,
    },
    /// The call was gone at `at` (provisional: the poller only knows it vanished between two
    /// snapshots; history corrects the time).
    Ended,
    /// Facts from 3CX's history; authoritative.
    Reconciled(ReconciledCall),
}

impl ObservationKind {
    /// A short stable name of the kind, used in dedup keys.
    pub fn tag(&self) -> &'static str {
        match self {
            ObservationKind::Appeared { .. } => "appeared",
            ObservationKind::EnteredQueue { .. } => "entered-queue",
            ObservationKind::Ringing { .. } => "ringing",
            ObservationKind::Answered { .. } => "answered",
            ObservationKind::Transferred { .. } => "transferred",
            ObservationKind::Ended => "ended",
            ObservationKind::Reconciled(_) => "reconciled",
        }
    }

    /// The DN this fact may put the call in a queue of: the queue entered, the queue 3CX's
    /// records name, or the number dialled (which may be a queue's).
    pub fn queue_dn(&self) -> Option<&str> {
        match self {
            ObservationKind::EnteredQueue { queue_dn } => Some(queue_dn),
            ObservationKind::Appeared { callee, .. } => Some(callee),
            ObservationKind::Reconciled(facts) => facts.queue_dn.as_deref(),
            _ => None,
        }
    }

    fn detail(&self) -> String {
        match self {
            ObservationKind::Appeared { caller, callee } => format!("{caller}>{callee}"),
            ObservationKind::EnteredQueue { queue_dn } => queue_dn.clone(),
            ObservationKind::Ringing { agent_dn } | ObservationKind::Answered { agent_dn } => agent_dn.clone(),
            ObservationKind::Transferred { to_dn } => to_dn.clone(),
            ObservationKind::Ended => String::new(),
            ObservationKind::Reconciled(facts) => serde_json::to_string(facts).unwrap_or_default(),
        }
    }
}

/// One fact about one call, from one source, referring to one PBX instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    /// The call it is about.
    pub call: CallKey,
    /// Who observed it.
    pub source: Source,
    /// The PBX instant the fact refers to (from `ServerNow`, `LastChangeStatus`, `EstablishedAt`
    /// or history times; never Lineup's clock).
    pub at: DateTime<Utc>,
    /// The fact.
    pub kind: ObservationKind,
    /// Stable key for the inbox's uniqueness constraint: the same fact read twice gets the same
    /// key. History rows are keyed by segment, everything else by its content.
    pub dedup_key: String,
}

impl Observation {
    /// An observation keyed by its content: call, source, kind, details and instant.
    pub fn new(call: CallKey, source: Source, at: DateTime<Utc>, kind: ObservationKind) -> Observation {
        let dedup_key = format!(
            "{}/{}/{}/{}/{}/{}",
            call.connection,
            call.call_id,
            source.as_str(),
            kind.tag(),
            kind.detail(),
            at.timestamp_millis()
        );
        Observation { call, source, at, kind, dedup_key }
    }

    /// The same observation under a key of the caller's choosing (e.g. a history segment id).
    pub fn with_dedup_key(mut self, dedup_key: String) -> Observation {
        self.dedup_key = dedup_key;
        self
    }
}
