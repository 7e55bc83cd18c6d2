//! The call lifecycle machine: what Lineup believes about one 3CX queue call, built from
//! observations that arrive late, twice or out of order.
//!
//! Three sources observe a call: the `ActiveCalls` poller ([`diff_active_calls`] turns two
//! snapshots into observations), and two reconcilers reading 3CX's history
//! ([`history_observation`] for `CallHistoryView` segments, [`call_log_observation`] for
//! `ReportCallLogData` rows). Every [`Observation`] names its call, its source, the PBX time it
//! refers to (always the PBX's clock, never Lineup's) and a stable dedup key for the inbox.
//!
//! [`CallState`] is a join-semilattice: [`CallState::apply`] merges one observation into it with
//! per-field rules that are commutative, associative and idempotent, so any order and any number
//! of repeats of the same observations give the same state. [`CallState::record`] derives the
//! [`CallRecord`] analytics reads and the [`Phase`] the call's queue item should be in; the
//! record is a pure function of the state, so it converges too. The merge rules:
//!
//! | fact | tier | rule |
//! |---|---|---|
//! | caller | both | earliest observed `(time, value)` |
//! | queue DN and entered time | both | earliest `(entered time, DN)`: the first queue entered |
//! | answering agent and answer time | both | earliest `(answer time, DN)`: the first pick-up |
//! | waiting/ringing ([`Phase`] while live) | poller | latest `(time, phase rank, DN)` |
//! | transferred away | poller | earliest `(time, DN)` |
//! | last sign of life | poller | latest time |
//! | ended | both | latest time (the last leg's end) |
//! | left the queue | history | earliest time |
//! | outcome | history | highest rank: Answered > Overflowed > Dropped > Abandoned |
//! | history id | history | smallest (all rows of a call carry the same one) |
//!
//! Two tiers are kept apart and combined only when the record is derived: the poller's
//! *inferred* facts and the reconcilers' *reconciled* facts. Reconciled facts are authoritative:
//! caller and queue come from them when they know them; once they know the outcome, outcome,
//! answer, agent and queue departure all come from them (the poller fills only what they lack).
//! A poller end is provisional: it counts only while no later sign of life contradicts it (a call
//! that reappears in a later snapshot is live again).

mod history;
mod observation;
mod phase;
mod poller;
mod record;
mod state;

pub use history::{
    call_log_observation, duration_ms, history_observation, CallLogRow, DnKind, HistorySegment, SegmentAction,
};
pub use observation::{Observation, ObservationKind, ReconciledCall, Source};
pub use phase::{call_status_machine, call_template, transition_path, Phase};
pub use poller::{callee_dn, diff_active_calls, ActiveCallSnapshot};
pub use record::CallRecord;
pub use state::{apply, fold, CallState};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Identifies one call: the PBX connection it was seen on and the call id 3CX gave it (the
/// `ActiveCalls` `Id`, which history rows carry too). Call ids are unique per PBX connection for
/// the period Lineup tracks a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallKey {
    /// The PBX connection the call belongs to.
    pub connection: Uuid,
    /// 3CX's call id.
    pub call_id: i32,
}

/// How a call's visit to its queue ended. Besides `InProgress`, the variants are ordered by how
/// much they say: a call with any evidence of an answer was answered; failing that, any evidence
/// of going to voicemail or elsewhere makes it overflowed, and so on. Reconciled outcomes merge by
/// this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum CallOutcome {
    /// Still in the queue (waiting or ringing), as far as anyone knows.
    InProgress,
    /// The caller hung up before an agent answered.
    Abandoned,
    /// Dropped through the API before an agent answered.
    Dropped,
    /// Left the queue unanswered for voicemail or another destination.
    Overflowed,
    /// An agent answered.
    Answered,
}

impl CallOutcome {
    /// True once the call has left its queue, answered or not.
    pub fn is_settled(self) -> bool {
        self != CallOutcome::InProgress
    }
}
