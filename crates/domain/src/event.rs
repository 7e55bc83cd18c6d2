//! The events a change emits, written to the outbox in the change's own transaction.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::call::CallRecord;
use crate::{Item, Session};

/// The event names of the session and item streams (and of webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ItemCreated,
    ItemUpdated,
    ItemStatusChanged,
    SessionPaused,
    SessionResumed,
    SessionCompleted,
    /// A 3CX call that is a queue item changed (what Lineup knows of it: agent, times, outcome).
    CallUpdated,
}

impl EventKind {
    /// Every event kind.
    pub const ALL: [EventKind; 7] = [
        EventKind::ItemCreated,
        EventKind::ItemUpdated,
        EventKind::ItemStatusChanged,
        EventKind::SessionPaused,
        EventKind::SessionResumed,
        EventKind::SessionCompleted,
        EventKind::CallUpdated,
    ];

    /// The SSE event name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ItemCreated => "item_created",
            EventKind::ItemUpdated => "item_updated",
            EventKind::ItemStatusChanged => "item_status_changed",
            EventKind::SessionPaused => "session_paused",
            EventKind::SessionResumed => "session_resumed",
            EventKind::SessionCompleted => "session_completed",
            EventKind::CallUpdated => "call_updated",
        }
    }

    /// Parses a stored event name.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An event ready for the outbox: what happened, to which session and item, and its JSON payload
/// (the API shape of the changed object).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub kind: EventKind,
    pub session_id: Uuid,
    pub item_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

impl DomainEvent {
    /// `item_created` / `item_updated`: the payload is the item.
    pub fn item(kind: EventKind, item: &Item) -> Self {
        DomainEvent { kind, session_id: item.session_id, item_id: Some(item.id), payload: to_json(item) }
    }

    /// `item_status_changed`: the item plus the move.
    pub fn item_status_changed(item: &Item, from_status_id: Uuid, changed_by: &str) -> Self {
        let payload = serde_json::json!({
            "item": to_json(item),
            "fromStatusId": from_status_id,
            "toStatusId": item.status_id,
            "changedBy": changed_by,
        });
        DomainEvent { kind: EventKind::ItemStatusChanged, session_id: item.session_id, item_id: Some(item.id), payload }
    }

    /// `session_*`: the payload is the session.
    pub fn session(kind: EventKind, session: &Session) -> Self {
        DomainEvent { kind, session_id: session.id, item_id: None, payload: to_json(session) }
    }
}

impl DomainEvent {
    /// `call_updated`: the call's record as it stands now, with its queue and item (the event
    /// belongs to the item's session and to the item).
    pub fn call_updated(session_id: Uuid, item_id: Uuid, queue_id: Uuid, record: &CallRecord) -> Self {
        let payload = serde_json::json!({
            "queueId": queue_id,
            "itemId": item_id,
            "record": to_json(record),
        });
        DomainEvent { kind: EventKind::CallUpdated, session_id, item_id: Some(item_id), payload }
    }
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("domain types serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.as_str()));
        }
        assert_eq!(EventKind::parse("nope"), None);
    }
}
