//! The model as 3CX's XAPI shows it: live calls as `Pbx.ActiveCall`, finished call segments as
//! `Pbx.CallHistoryView` and `Pbx.CallLogData` rows, queues, agents, managers and users. Rows are
//! built from `lineup-xapi`'s generated types, so their field names and types are 3CX's.
//!
//! Numbering the simulator chooses where 3CX's document gives only an integer (consumers can
//! rely on it against the simulator):
//! - DN types ([`dn_type`]): 0 extension, 1 external line, 4 queue, 5 voicemail (3CX's call
//!   history numbering);
//! - segment actions ([`action_id`]): 1 answered, 2 no answer, 3 abandoned, 4 overflowed,
//!   5 voicemail, 6 dropped; `CallLogData.Reason` spells the same action (`"Abandoned"` ...);
//! - `CallHistoryView.SegmentType` is 2 (inbound) and `SrcParticipantId` is the call's id, so
//!   segments group into calls;
//! - ids: queues are numbered from 1 in configuration order, then agents (users), then the trunk
//!   and voicemail boxes, so a DN's id is unique across kinds as in 3CX.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lineup_xapi::generated::types;
use serde_json::Value;

use crate::model::{
    AgentSnapshot, CallRecord, DnKind, LiveCall, Party, QueueSnapshot, Segment, SegmentAction, SimConfig,
};

/// `CallHistoryView.SegmentType` of an inbound call.
pub const SEGMENT_TYPE_INBOUND: i32 = 2;

/// The DN type number of a party (3CX's call-history numbering).
pub fn dn_type(kind: DnKind) -> i32 {
    match kind {
        DnKind::Extension => 0,
        DnKind::ExternalLine => 1,
        DnKind::Queue => 4,
        DnKind::VoiceMail => 5,
    }
}

/// The number the simulator gives a segment action (`SegmentActionId`, `ActionType`).
pub fn action_id(action: SegmentAction) -> i32 {
    match action {
        SegmentAction::Answered => 1,
        SegmentAction::NoAnswer => 2,
        SegmentAction::Abandoned => 3,
        SegmentAction::Overflowed => 4,
        SegmentAction::VoiceMail => 5,
        SegmentAction::Dropped => 6,
    }
}

/// The `CallLogData.Reason` text of a segment action.
pub fn action_reason(action: SegmentAction) -> &'static str {
    match action {
        SegmentAction::Answered => "Answered",
        SegmentAction::NoAnswer => "NoAnswer",
        SegmentAction::Abandoned => "Abandoned",
        SegmentAction::Overflowed => "Overflowed",
        SegmentAction::VoiceMail => "VoiceMail",
        SegmentAction::Dropped => "Dropped",
    }
}

/// A duration of `ms` milliseconds in ISO 8601 as 3CX writes durations: `PT0S`, `PT20S`,
/// `PT1M30.5S`, `PT2H0M5.25S` (milliseconds kept exactly).
pub fn iso_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let (hours, minutes, secs, millis) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = format!("{sign}PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if millis == 0 {
        out.push_str(&format!("{secs}S"));
    } else {
        let fraction = format!("{millis:03}");
        out.push_str(&format!("{secs}.{}S", fraction.trim_end_matches('0')));
    }
    out
}

/// Ids of every DN of a configuration (see the module documentation).
#[derive(Debug, Clone)]
pub struct Directory {
    ids: BTreeMap<String, i32>,
    queue_count: usize,
}

impl Directory {
    /// Numbers the queues, agents, the trunk and the voicemail boxes of `config`.
    pub fn new(config: &SimConfig) -> Directory {
        let mut ids = BTreeMap::new();
        let dns = config
            .queues
            .iter()
            .map(|q| q.dn.clone())
            .chain(config.agents.iter().map(|a| a.dn.clone()))
            .chain(std::iter::once(config.callers.trunk_dn.clone()))
            .chain(config.queues.iter().filter_map(|q| q.overflow.as_ref().map(|o| o.destination_dn.clone())));
        for dn in dns {
            let next = i32::try_from(ids.len() + 1).unwrap_or(i32::MAX);
            ids.entry(dn).or_insert(next);
        }
        Directory { ids, queue_count: config.queues.len() }
    }

    /// The id of `dn` (0 for a DN the configuration does not name).
    pub fn id(&self, dn: &str) -> i32 {
        self.ids.get(dn).copied().unwrap_or(0)
    }

    /// The queue with `id`, as a position in configuration order.
    pub fn queue_index(&self, id: i32) -> Option<usize> {
        usize::try_from(id).ok().filter(|i| (1..=self.queue_count).contains(i)).map(|i| i - 1)
    }
}

/// A value of a generated enum from its wire text (the model names 3CX's values).
fn wire_enum<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(Value::String(text.to_string())).ok()
}

/// `"800 Sales"`: how 3CX shows a party in `ActiveCalls`.
fn dn_and_name(dn: &str, name: &str) -> String {
    format!("{dn} {name}")
}

/// `"Anna Meyer (101)"`, or just the name when it is the number (an external caller).
fn extended_name(party: &Party) -> String {
    if party.name == party.number {
        party.name.clone()
    } else {
        format!("{} ({})", party.name, party.number)
    }
}

/// A live call as `Pbx.ActiveCall`, with `ServerNow` = `now`.
pub fn active_call(call: &LiveCall, now: DateTime<Utc>) -> types::ActiveCall {
    types::ActiveCall {
        id: Some(call.id),
        caller: Some(call.caller_number.clone()),
        callee: Some(dn_and_name(&call.callee_dn, &call.callee_name)),
        status: Some(call.status.as_str().to_string()),
        last_change_status: Some(call.last_status_change),
        established_at: Some(call.established_at),
        server_now: Some(now),
    }
}

/// The `CallHistoryView` rows of a finished call, one per segment.
pub fn history_rows(record: &CallRecord, directory: &Directory) -> Vec<types::CallHistoryView> {
    record
        .segments
        .iter()
        .map(|s| types::CallHistoryView {
            segment_id: Some(s.segment_id),
            segment_start_time: Some(s.started_at),
            segment_end_time: Some(s.ended_at),
            segment_type: Some(SEGMENT_TYPE_INBOUND),
            segment_action_id: Some(action_id(s.action)),
            call_answered: Some(s.answered),
            call_time: Some(iso_duration(s.talking_ms)),
            src_caller_number: Some(s.source.number.clone()),
            src_display_name: Some(s.source.name.clone()),
            src_dn: Some(s.source.dn.clone()),
            src_dn_type: Some(dn_type(s.source.kind)),
            src_extended_display_name: Some(extended_name(&s.source)),
            src_external: Some(s.source.kind == DnKind::ExternalLine),
            src_internal: Some(s.source.kind != DnKind::ExternalLine),
            src_id: Some(directory.id(&s.source.dn)),
            src_participant_id: Some(record.call_id),
            src_rec_id: None,
            dst_caller_number: Some(s.destination.number.clone()),
            dst_display_name: Some(s.destination.name.clone()),
            dst_dn: Some(s.destination.dn.clone()),
            dst_dn_type: Some(dn_type(s.destination.kind)),
            dst_extended_display_name: Some(extended_name(&s.destination)),
            dst_external: Some(s.destination.kind == DnKind::ExternalLine),
            dst_internal: Some(s.destination.kind != DnKind::ExternalLine),
            dst_id: Some(directory.id(&s.destination.dn)),
            dst_participant_id: Some(s.segment_id),
            dst_rec_id: None,
        })
        .collect()
}

/// The `CallLogData` rows of a finished call, one per segment: the first is the call's main row
/// (`Indent` 0), the others its sub-rows (`Indent` 1, `SubrowDescNumber` 1, 2, ...).
pub fn call_log_rows(record: &CallRecord) -> Vec<types::CallLogData> {
    record.segments.iter().enumerate().map(|(i, s)| call_log_row(record, s, i)).collect()
}

fn call_log_row(record: &CallRecord, s: &Segment, index: usize) -> types::CallLogData {
    let party = |p: &Party| (Some(p.dn.clone()), Some(dn_type(p.kind)), Some(p.number.clone()), Some(p.name.clone()));
    let (source_dn, source_type, source_caller_id, source_display_name) = party(&s.source);
    let (destination_dn, destination_type, destination_caller_id, destination_display_name) = party(&s.destination);
    let (action_dn_dn, action_dn_type, action_dn_caller_id, action_dn_display_name) = party(&s.destination);
    types::CallLogData {
        call_id: Some(record.call_id),
        call_history_id: Some(record.history_id.clone()),
        main_call_history_id: Some(record.history_id.clone()),
        cdr_id: Some(s.cdr_id.clone()),
        segment_id: Some(s.segment_id),
        start_time: Some(s.started_at),
        source_dn,
        source_type,
        source_caller_id,
        source_display_name,
        destination_dn,
        destination_type,
        destination_caller_id,
        destination_display_name,
        action_dn_dn,
        action_dn_type,
        action_dn_caller_id,
        action_dn_display_name,
        action_type: Some(action_id(s.action)),
        answered: Some(s.answered),
        ringing_duration: Some(iso_duration(s.ringing_ms)),
        talking_duration: Some(iso_duration(s.talking_ms)),
        status: Some(if s.answered { "Answered" } else { "Unanswered" }.to_string()),
        reason: Some(action_reason(s.action).to_string()),
        direction: Some("Inbound".to_string()),
        call_type: Some("Inbound".to_string()),
        indent: Some(i32::from(index > 0)),
        subrow_desc_number: Some(i32::try_from(index).unwrap_or(i32::MAX)),
        quality_report: Some(false),
        recordings: Some(Vec::new()),
        call_cost: Some(0.0),
        ..types::CallLogData::default()
    }
}

/// A queue as `Pbx.Queue` (without its navigation properties).
pub fn queue(snapshot: &QueueSnapshot, directory: &Directory) -> types::Queue {
    let secs = |s: u32| Some(i32::try_from(s).unwrap_or(i32::MAX));
    types::Queue {
        id: Some(directory.id(&snapshot.dn)),
        number: Some(snapshot.dn.clone()),
        name: Some(snapshot.name.clone()),
        polling_strategy: wire_enum(snapshot.strategy.polling_strategy()),
        ring_timeout: secs(snapshot.ring_timeout_secs),
        sla_time: secs(snapshot.sla_secs),
        master_timeout: snapshot.max_wait_secs.and_then(secs),
        max_wait_strategy_enabled: Some(snapshot.max_wait_secs.is_some()),
        is_registered: Some(true),
        agent_availability_mode: Some(false),
        announce_queue_position: Some(false),
        priority_queue: Some(false),
        ..types::Queue::default()
    }
}

/// The queue's agents as `Pbx.QueueAgent` rows, in member order.
pub fn queue_agents(
    snapshot: &QueueSnapshot,
    agents: &[AgentSnapshot],
    directory: &Directory,
) -> Vec<types::QueueAgent> {
    members(snapshot, agents)
        .map(|a| types::QueueAgent {
            id: Some(directory.id(&a.dn)),
            name: Some(a.name.clone()),
            number: Some(a.dn.clone()),
            skill_group: None,
            tags: Some(Vec::new()),
        })
        .collect()
}

/// The queue's managers as `Pbx.QueueManager` rows: the simulator makes a queue's first member
/// its manager.
pub fn queue_managers(
    snapshot: &QueueSnapshot,
    agents: &[AgentSnapshot],
    directory: &Directory,
) -> Vec<types::QueueManager> {
    members(snapshot, agents)
        .take(1)
        .map(|a| types::QueueManager {
            id: Some(directory.id(&a.dn)),
            name: Some(a.name.clone()),
            number: Some(a.dn.clone()),
            tags: Some(Vec::new()),
        })
        .collect()
}

fn members<'a>(snapshot: &'a QueueSnapshot, agents: &'a [AgentSnapshot]) -> impl Iterator<Item = &'a AgentSnapshot> {
    snapshot.agent_dns.iter().filter_map(move |dn| agents.iter().find(|a| &a.dn == dn))
}

/// An agent as `Pbx.User`: queue status and presence profile follow the agent's status.
pub fn user(agent: &AgentSnapshot, directory: &Directory) -> types::User {
    let (first, last) = agent.name.split_once(' ').unwrap_or((agent.name.as_str(), ""));
    types::User {
        id: Some(directory.id(&agent.dn)),
        number: Some(agent.dn.clone()),
        first_name: Some(first.to_string()),
        last_name: Some(last.to_string()),
        display_name: Some(agent.name.clone()),
        email_address: Some(format!("{}@pbx-sim.invalid", agent.dn)),
        queue_status: wire_enum(agent.status.queue_status()),
        current_profile_name: Some(agent.status.profile_name().to_string()),
        is_registered: Some(agent.status.is_logged_in()),
        enabled: Some(true),
        internal: Some(false),
        ..types::User::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_iso_8601_with_exact_milliseconds() {
        let cases = [
            (0, "PT0S"),
            (20_000, "PT20S"),
            (90_500, "PT1M30.5S"),
            (60_250, "PT1M0.25S"),
            (7_205_125, "PT2H0M5.125S"),
            (1, "PT0.001S"),
            (-1500, "-PT1.5S"),
        ];
        for (ms, text) in cases {
            assert_eq!(iso_duration(ms), text);
            assert_eq!(
                super::super::literal::parse_duration(text.trim_start_matches('-')).map(|d| d.num_milliseconds()),
                Some(ms.abs())
            );
        }
    }

    #[test]
    fn ids_are_unique_across_kinds_in_configuration_order() {
        let config = SimConfig::default();
        let dir = Directory::new(&config);
        assert_eq!(dir.id(&config.queues[0].dn), 1);
        assert_eq!(dir.id(&config.agents[0].dn), i32::try_from(config.queues.len()).unwrap() + 1);
        assert_eq!(dir.queue_index(1), Some(0));
        assert_eq!(dir.queue_index(i32::try_from(config.queues.len()).unwrap() + 1), None);
        assert_eq!(dir.id("nobody"), 0);
    }
}
