//! Calls: the live state of a call in progress and the finished record with its segments (the
//! raw material of `ActiveCalls`, `CallHistoryView` and `ReportCallLogData`).
//!
//! Segments of a queue call, all with the external caller as source:
//! - the queue segment: destination the queue, from arrival until the call leaves the queue
//!   (answered by an agent, abandoned, overflowed or dropped); `ringing_ms` is the wait;
//! - one segment per agent a call rang without being picked up (`NoAnswer`, or the action that
//!   cut the ringing short: `Abandoned`, `Overflowed`, `Dropped`); under ring-all, agents still
//!   ringing when a colleague answers leave no segment;
//! - the answered agent segment: from the start of its ringing to the hang-up, with ringing and
//!   talking durations;
//! - for an overflowed call, the voicemail segment while the caller leaves a message.

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::events::SimMs;

/// The kind of a call party's DN (3CX DN types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DnKind {
    /// A user's extension (an agent).
    Extension,
    /// A call queue.
    Queue,
    /// An external line (trunk): the external caller's side of an inbound call.
    ExternalLine,
    /// A voicemail box.
    VoiceMail,
}

/// One end of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    /// The DN (for the external caller: the trunk's DN).
    pub dn: String,
    /// What the DN is.
    pub kind: DnKind,
    /// Display name (for an external caller: the number).
    pub name: String,
    /// Number: the caller's number, or the DN itself for internal parties.
    pub number: String,
}

/// How a segment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SegmentAction {
    /// The destination picked up; on a queue segment: an agent of the queue took the call.
    Answered,
    /// The agent's phone rang until the ring timeout.
    NoAnswer,
    /// The caller hung up before anyone answered.
    Abandoned,
    /// The queue's maximum wait was reached; the call went to voicemail.
    Overflowed,
    /// The caller left a voicemail message.
    VoiceMail,
    /// The call was dropped through the API before anyone answered.
    Dropped,
}

/// Direction of a call; the simulator generates inbound traffic only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// From an external caller into the PBX.
    Inbound,
}

/// The kind of call; the simulator generates external calls into a queue only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallType {
    /// An external caller reaching a call queue.
    InboundQueue,
}

/// One leg of a finished call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    /// Unique, increasing in creation order across all calls.
    pub segment_id: i32,
    /// A CDR id derived from the segment id (UUID-shaped, deterministic).
    pub cdr_id: String,
    /// When the leg began (arrival, or the start of ringing).
    pub started_at: DateTime<Utc>,
    /// When the leg ended.
    pub ended_at: DateTime<Utc>,
    /// The calling party: always the external caller.
    pub source: Party,
    /// The queue, agent or voicemail reached.
    pub destination: Party,
    /// Whether the destination picked up (see [`SegmentAction::Answered`] for queue segments).
    pub answered: bool,
    /// Time spent ringing (for the queue segment: waiting), ms.
    pub ringing_ms: i64,
    /// Time spent talking, ms; zero for unanswered legs.
    pub talking_ms: i64,
    /// How the leg ended.
    pub action: SegmentAction,
    /// Always inbound.
    pub direction: Direction,
    /// Always an inbound queue call.
    pub call_type: CallType,
}

/// How a call ended, exactly one per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallOutcome {
    /// An agent answered (also if the call was later dropped through the API).
    Answered,
    /// The caller hung up while waiting or ringing.
    Abandoned,
    /// The maximum wait sent the call to voicemail.
    Overflowed,
    /// Dropped through the API before anyone answered.
    Dropped,
}

/// A finished call with its segments, in segment-id order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// The id the call had in `ActiveCalls`.
    pub call_id: i32,
    /// The main call history id shared by all segments (UUID-shaped, deterministic).
    pub history_id: String,
    /// The queue the call entered.
    pub queue_dn: String,
    /// The external caller's number.
    pub caller_number: String,
    /// When the call reached the queue.
    pub arrived_at: DateTime<Utc>,
    /// When the last leg ended; records become visible to history queries from this instant.
    pub ended_at: DateTime<Utc>,
    /// How the call ended.
    pub outcome: CallOutcome,
    /// The agent who answered, if any.
    pub agent_dn: Option<String>,
    /// The legs, ordered by segment id.
    pub segments: Vec<Segment>,
}

/// The `ActiveCalls` status of a live call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LiveStatus {
    /// In the queue, no phone ringing (3CX "Routing").
    Routing,
    /// An agent's phone is ringing.
    Ringing,
    /// Connected to an agent or to voicemail.
    Talking,
}

impl LiveStatus {
    /// The 3CX `ActiveCall.Status` text.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveStatus::Routing => "Routing",
            LiveStatus::Ringing => "Ringing",
            LiveStatus::Talking => "Talking",
        }
    }
}

/// A call in progress as `ActiveCalls` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveCall {
    /// Call id: increasing in arrival order, starting at 1.
    pub id: i32,
    /// The main call history id its record will carry.
    pub history_id: String,
    /// The queue the call entered.
    pub queue_dn: String,
    /// The external caller's number (3CX `Caller`).
    pub caller_number: String,
    /// Routing, Ringing or Talking.
    pub status: LiveStatus,
    /// 3CX `Callee`: the queue DN while routing, the (first) ringing agent while ringing, the
    /// agent or voicemail DN while talking.
    pub callee_dn: String,
    /// Display name of the callee.
    pub callee_name: String,
    /// Every agent whose phone is ringing for this call (several under ring-all).
    pub ringing_agent_dns: Vec<String>,
    /// When the status last changed (3CX `LastChangeStatus`).
    pub last_status_change: DateTime<Utc>,
    /// When the PBX took the call into the queue (3CX `EstablishedAt`).
    pub established_at: DateTime<Utc>,
    /// When an agent picked up, if one did.
    pub answered_at: Option<DateTime<Utc>>,
}

/// Where a live call is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallState {
    /// In the queue, nothing ringing.
    Waiting,
    /// Ring attempt in progress: `agents` ring since `since`.
    Ringing { agents: Vec<usize>, since: SimMs },
    /// Connected to `agent`, whose phone started ringing at `ring_started`.
    Talking { agent: usize, ring_started: SimMs, answered_at: SimMs },
    /// Leaving a voicemail since `since`.
    VoiceMail { since: SimMs },
}

/// A call in progress inside the simulation.
#[derive(Debug)]
pub(crate) struct Call {
    pub id: i32,
    pub queue: usize,
    pub caller_number: String,
    pub arrived: SimMs,
    pub patience_ms: SimMs,
    pub state: CallState,
    pub status_since: SimMs,
    /// Ring attempts so far; the current attempt's number tags its timed events.
    pub attempt: u32,
    /// Agents rung without answer in the current round (they are tried again only once every
    /// free member has had a turn).
    pub tried: Vec<usize>,
    /// When the call left the queue (answered, abandoned, overflowed, dropped).
    pub left_queue: Option<SimMs>,
    pub outcome: Option<CallOutcome>,
    pub answered: Option<(SimMs, usize)>,
    pub segments: Vec<Segment>,
    pub rng: ChaCha8Rng,
}

impl Call {
    /// Whether the call is still in the queue (waiting or ringing).
    pub fn is_queued(&self) -> bool {
        matches!(self.state, CallState::Waiting | CallState::Ringing { .. })
    }
}

/// The main call history id for a call id.
pub(crate) fn history_id(call_id: i32) -> String {
    format!("00000000-0000-4000-8000-{:012x}", call_id)
}

/// The CDR id for a segment id.
pub(crate) fn cdr_id(segment_id: i32) -> String {
    format!("00000000-0000-4000-9000-{:012x}", segment_id)
}
