//! The facts the hub is fed. Each names its tenant; the pure state ignores that field (the hub
//! routes inputs to their tenant's state).

use chrono::{DateTime, Utc};
use lineup_domain::call::CallRecord;
use lineup_domain::TenantId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change to the live state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum LiveInput {
    /// A queue exists / was renamed / (de)activated. Unknown queues are created on first sight.
    Queue {
        /// The queue's tenant.
        tenant: TenantId,
        /// The queue as it is now.
        queue: QueueInfo,
    },
    /// A call changed (payload of the outbox event `call_updated`).
    Call {
        /// The call's tenant.
        tenant: TenantId,
        /// The call as it is now.
        call: CallUpdate,
    },
    /// An item of a queue's open session is in status `status` now; `open == false` when its
    /// session closed and it must no longer count.
    Item {
        /// The item's tenant.
        tenant: TenantId,
        /// The item as it is now.
        item: ItemInfo,
    },
    /// A session of the queue was completed/archived/deleted: its items stop counting.
    SessionClosed {
        /// The session's tenant.
        tenant: TenantId,
        /// The session's queue.
        queue_id: Uuid,
        /// The closed session.
        session_id: Uuid,
    },
    /// An agent's presence as the PBX reports it.
    Agent {
        /// The agent's tenant.
        tenant: TenantId,
        /// The agent's presence now.
        agent: AgentPresence,
    },
    /// A new day began at `start`: today's counters restart (calls that entered before `start`
    /// no longer count). Applies to every tenant.
    DayStarted {
        /// The first instant of the new day.
        start: DateTime<Utc>,
    },
}

impl LiveInput {
    /// The tenant this input is about; `None` for inputs about every tenant (`DayStarted`).
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            LiveInput::Queue { tenant, .. }
            | LiveInput::Call { tenant, .. }
            | LiveInput::Item { tenant, .. }
            | LiveInput::SessionClosed { tenant, .. }
            | LiveInput::Agent { tenant, .. } => Some(*tenant),
            LiveInput::DayStarted { .. } => None,
        }
    }
}

/// A queue's identity and whether it takes calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueInfo {
    /// The queue's id.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
    /// False while the queue is deactivated.
    pub active: bool,
}

/// A call as the lifecycle machine currently understands it, with the Lineup queue and item it
/// belongs to when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallUpdate {
    /// The Lineup queue the call's PBX queue maps to.
    pub queue_id: Option<Uuid>,
    /// The queue item tracking the call.
    pub item_id: Option<Uuid>,
    /// The call's record.
    pub record: CallRecord,
}

/// An item of a queue session and its current status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemInfo {
    /// The item's id.
    pub id: Uuid,
    /// Its queue.
    pub queue_id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// The label of its current status.
    pub status: String,
    /// False once its session is closed: it no longer counts.
    pub open: bool,
}

/// An agent's presence as the PBX reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentPresence {
    /// The agent's extension number.
    pub dn: String,
    /// The agent's display name.
    pub name: String,
    /// The Lineup queues the agent is a member of.
    pub queue_ids: Vec<Uuid>,
    /// True while logged in to their queues.
    pub logged_in: bool,
    /// True while paused (logged in but taking no calls).
    pub paused: bool,
    /// When this presence (login, logout, pause) began.
    pub since: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inputs_use_a_kind_tag_and_camel_case_fields() {
        let input = LiveInput::SessionClosed {
            tenant: Uuid::from_u128(1),
            queue_id: Uuid::from_u128(2),
            session_id: Uuid::from_u128(3),
        };
        let wire = json!({
            "kind": "sessionClosed",
            "tenant": "00000000-0000-0000-0000-000000000001",
            "queueId": "00000000-0000-0000-0000-000000000002",
            "sessionId": "00000000-0000-0000-0000-000000000003",
        });
        assert_eq!(serde_json::to_value(&input).ok(), Some(wire.clone()));
        assert_eq!(serde_json::from_value::<LiveInput>(wire).ok(), Some(input));
    }
}
