//! History rows into observations: `CallHistoryView` segments and `ReportCallLogData` rows.
//!
//! One row is one segment (leg) of a call and tells part of its story; each becomes one
//! `Reconciled` observation with the facts that leg proves, and the facts of all the legs of a
//! call merge into its full record. Numbering where 3CX's document gives only an integer follows
//! 3CX's call-history numbering as `pbx-sim` reproduces it (see [`DnKind`], [`SegmentAction`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CallKey, CallOutcome, Observation, ObservationKind, ReconciledCall, Source};

/// What a DN is, from a history DN type number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DnKind {
    /// A user's extension (an agent): type 0.
    Extension,
    /// An external line (trunk): type 1.
    ExternalLine,
    /// A call queue: type 4.
    Queue,
    /// A voicemail box: type 5.
    VoiceMail,
    /// Any other type (IVR, ring group, ...).
    Other,
}

impl DnKind {
    /// The kind of a `SrcDnType` / `DstDnType` / `SourceType` / `DestinationType` number.
    pub fn from_dn_type(dn_type: i32) -> DnKind {
        match dn_type {
            0 => DnKind::Extension,
            1 => DnKind::ExternalLine,
            4 => DnKind::Queue,
            5 => DnKind::VoiceMail,
            _ => DnKind::Other,
        }
    }
}

/// How a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SegmentAction {
    /// The destination picked up (on a queue segment: an agent of the queue did). Id 1.
    Answered,
    /// Rang until the ring timeout. Id 2.
    NoAnswer,
    /// The caller hung up first. Id 3.
    Abandoned,
    /// The queue's maximum wait sent the call on (voicemail). Id 4.
    Overflowed,
    /// The caller left a voicemail message. Id 5.
    VoiceMail,
    /// Dropped through the API. Id 6.
    Dropped,
    /// Anything else.
    Other,
}

impl SegmentAction {
    /// The action of a `SegmentActionId` / `ActionType` number.
    pub fn from_action_id(id: i32) -> SegmentAction {
        match id {
            1 => SegmentAction::Answered,
            2 => SegmentAction::NoAnswer,
            3 => SegmentAction::Abandoned,
            4 => SegmentAction::Overflowed,
            5 => SegmentAction::VoiceMail,
            6 => SegmentAction::Dropped,
            _ => SegmentAction::Other,
        }
    }

    /// The action a `CallLogData.Reason` text spells (`"Abandoned"`, `"NoAnswer"`, ...; case and
    /// spaces ignored).
    pub fn from_reason(reason: &str) -> SegmentAction {
        let squashed: String = reason.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
        match squashed.as_str() {
            "answered" => SegmentAction::Answered,
            "noanswer" => SegmentAction::NoAnswer,
            "abandoned" => SegmentAction::Abandoned,
            "overflowed" => SegmentAction::Overflowed,
            "voicemail" => SegmentAction::VoiceMail,
            "dropped" => SegmentAction::Dropped,
            _ => SegmentAction::Other,
        }
    }
}

/// One `Pbx.CallHistoryView` row: the fields the reconciler needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistorySegment {
    /// The call id the segment belongs to (`SrcParticipantId` in `pbx-sim`).
    pub call_id: i32,
    /// `SegmentId`.
    pub segment_id: i32,
    /// `SegmentStartTime`.
    pub segment_start_time: DateTime<Utc>,
    /// `SegmentEndTime`.
    pub segment_end_time: DateTime<Utc>,
    /// `SegmentActionId`.
    pub segment_action_id: i32,
    /// `CallAnswered`.
    pub call_answered: bool,
    /// `CallTime` (the talking time) in ms; see [`duration_ms`].
    pub call_time_ms: i64,
    /// `SrcCallerNumber`.
    pub src_caller_number: Option<String>,
    /// `DstDn`.
    pub dst_dn: String,
    /// `DstDnType`.
    pub dst_dn_type: i32,
}

/// One `Pbx.CallLogData` row: the fields the reconciler needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogRow {
    /// `CallId`.
    pub call_id: i32,
    /// `MainCallHistoryId`.
    pub main_call_history_id: Option<String>,
    /// `CdrId`: unique per row.
    pub cdr_id: String,
    /// `StartTime`.
    pub start_time: DateTime<Utc>,
    /// `SourceCallerId`.
    pub source_caller_id: Option<String>,
    /// `DestinationDn`.
    pub destination_dn: String,
    /// `DestinationType`.
    pub destination_type: Option<i32>,
    /// `ActionType`.
    pub action_type: Option<i32>,
    /// `Reason`, used when `ActionType` is missing or unknown.
    pub reason: Option<String>,
    /// `Answered`.
    pub answered: bool,
    /// `RingingDuration` in ms; see [`duration_ms`].
    pub ringing_ms: i64,
    /// `TalkingDuration` in ms.
    pub talking_ms: i64,
}

/// One leg, whatever the row it came from.
struct Leg<'a> {
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    answered_at: DateTime<Utc>,
    answered: bool,
    action: SegmentAction,
    destination: (&'a str, DnKind),
    caller: Option<&'a str>,
    history_id: Option<&'a str>,
}

/// The facts one leg proves. A queue leg: the queue, entry and departure, and how the visit
/// ended; an agent leg: the answer, or an abandon/drop/overflow that cut its ringing short; a
/// voicemail leg: an overflow. Legs that end the call give the end.
fn leg_facts(leg: &Leg<'_>) -> ReconciledCall {
    let (dn, kind) = leg.destination;
    let mut facts = ReconciledCall {
        history_id: leg.history_id.map(str::to_string),
        caller: leg.caller.filter(|c| !c.is_empty()).map(str::to_string),
        ..ReconciledCall::default()
    };
    let ended = Some(leg.ended_at);
    let unanswered = |facts: &mut ReconciledCall| match leg.action {
        SegmentAction::Abandoned => (facts.outcome, facts.ended_at) = (Some(CallOutcome::Abandoned), ended),
        SegmentAction::Dropped => (facts.outcome, facts.ended_at) = (Some(CallOutcome::Dropped), ended),
        SegmentAction::Overflowed | SegmentAction::VoiceMail => facts.outcome = Some(CallOutcome::Overflowed),
        _ => {}
    };
    match kind {
        DnKind::Queue => {
            facts.queue_dn = Some(dn.to_string());
            facts.entered_at = Some(leg.started_at);
            facts.left_queue_at = ended;
            if leg.answered || leg.action == SegmentAction::Answered {
                (facts.outcome, facts.answered_at) = (Some(CallOutcome::Answered), ended);
            } else {
                unanswered(&mut facts);
            }
        }
        DnKind::Extension if leg.answered => {
            facts.agent_dn = Some(dn.to_string());
            facts.answered_at = Some(leg.answered_at);
            (facts.outcome, facts.ended_at) = (Some(CallOutcome::Answered), ended);
        }
        DnKind::Extension => unanswered(&mut facts),
        DnKind::VoiceMail => (facts.outcome, facts.ended_at) = (Some(CallOutcome::Overflowed), ended),
        DnKind::ExternalLine | DnKind::Other => facts.ended_at = ended,
    }
    facts
}

/// The observation a `CallHistoryView` segment of PBX `connection` amounts to: at its start,
/// keyed by its segment id.
pub fn history_observation(connection: Uuid, segment: &HistorySegment) -> Observation {
    let call = CallKey { connection, call_id: segment.call_id };
    let leg = Leg {
        started_at: segment.segment_start_time,
        ended_at: segment.segment_end_time,
        answered_at: segment.segment_end_time - TimeDelta::milliseconds(segment.call_time_ms),
        answered: segment.call_answered,
        action: SegmentAction::from_action_id(segment.segment_action_id),
        destination: (&segment.dst_dn, DnKind::from_dn_type(segment.dst_dn_type)),
        caller: segment.src_caller_number.as_deref(),
        history_id: None,
    };
    let kind = ObservationKind::Reconciled(leg_facts(&leg));
    let key = format!("{connection}/{}/history/{}", segment.call_id, segment.segment_id);
    Observation::new(call, Source::History, segment.segment_start_time, kind).with_dedup_key(key)
}

/// The observation a `ReportCallLogData` row of PBX `connection` amounts to: at its start, keyed
/// by its CDR id. The leg ends `RingingDuration + TalkingDuration` after its start.
pub fn call_log_observation(connection: Uuid, row: &CallLogRow) -> Observation {
    let call = CallKey { connection, call_id: row.call_id };
    let answered_at = row.start_time + TimeDelta::milliseconds(row.ringing_ms);
    let action = match row.action_type.map(SegmentAction::from_action_id) {
        Some(action) if action != SegmentAction::Other => action,
        _ => row.reason.as_deref().map_or(SegmentAction::Other, SegmentAction::from_reason),
    };
    let leg = Leg {
        started_at: row.start_time,
        ended_at: answered_at + TimeDelta::milliseconds(row.talking_ms),
        answered_at,
        answered: row.answered,
        action,
        destination: (&row.destination_dn, row.destination_type.map_or(DnKind::Other, DnKind::from_dn_type)),
        caller: row.source_caller_id.as_deref(),
        history_id: row.main_call_history_id.as_deref(),
    };
    let kind = ObservationKind::Reconciled(leg_facts(&leg));
    let key = format!("{connection}/{}/call-log/{}", row.call_id, row.cdr_id);
    Observation::new(call, Source::CallLog, row.start_time, kind).with_dedup_key(key)
}

/// Milliseconds in an ISO 8601 duration as 3CX writes them (`PT20S`, `PT1M30.5S`, `P1DT2H`,
/// `-PT1.5S`); digits past the millisecond are dropped. `None` for anything else.
pub fn duration_ms(text: &str) -> Option<i64> {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let mut rest = rest.strip_prefix('P')?;
    let (mut total, mut in_time, mut any) = (0i64, false, false);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('T') {
            if in_time {
                return None;
            }
            (in_time, rest) = (true, after);
            continue;
        }
        let end = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (number, unit) = (&rest[..end], rest[end..].chars().next()?);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let whole: i64 = whole.parse().ok()?;
        let unit_ms = match (in_time, unit) {
            (false, 'D') => 86_400_000,
            (true, 'H') => 3_600_000,
            (true, 'M') => 60_000,
            (true, 'S') => 1000,
            _ => return None,
        };
        if !fraction.is_empty() && (unit != 'S' || !fraction.chars().all(|c| c.is_ascii_digit())) {
            return None;
        }
        let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
        total = total.checked_add(whole.checked_mul(unit_ms)?)?.checked_add(millis)?;
        (any, rest) = (true, &rest[end + 1..]);
    }
    any.then_some(sign * total)
}
