//! Items: the entries of a session, numbered per session, bound to it for life, and their
//! status history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{validate_name, DomainError, StatusMachine};

/// An item of a session. `queue_number` is the queue prefix and the item's number in its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: Uuid,
    pub queue_id: Uuid,
    pub session_id: Uuid,
    /// The session status the item is in.
    pub status_id: Uuid,
    /// Like `A-12`: prefix, dash, number within the session (1, 2, 3…).
    pub queue_number: String,
    pub display_name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Formats an item number: `A` and 12 give `A-12`.
pub fn format_queue_number(prefix: &str, number: i64) -> String {
    format!("{prefix}-{number}")
}

/// The request to add an item to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewItem {
    pub display_name: String,
    /// A JSON object; checked against the template's schema when it has one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
    /// Start in this session status instead of the machine's initial one.
    #[serde(default)]
    pub status_id: Option<Uuid>,
}

impl NewItem {
    /// Validates the display name and defaults metadata to `{}`.
    pub fn validate(self) -> Result<(String, serde_json::Value, Option<Uuid>), DomainError> {
        let name = validate_name("displayName", &self.display_name)?;
        Ok((name, self.metadata.unwrap_or_else(|| serde_json::json!({})), self.status_id))
    }
}

/// A change to an item. `session_id` is accepted only to be refused when it differs: an item's
/// session never changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemPatch {
    #[serde(default)]
    pub display_name: Option<String>,
    /// Replaces the metadata object.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<serde_json::Value>,
    /// Must equal the item's session when present.
    #[serde(default)]
    pub session_id: Option<Uuid>,
    /// Must equal the item's queue when present.
    #[serde(default)]
    pub queue_id: Option<Uuid>,
}

impl ItemPatch {
    /// Applies the patch to `item`. Metadata must then be re-checked against the schema by the caller.
    pub fn apply(self, item: &mut Item) -> Result<bool, DomainError> {
        if self.session_id.is_some_and(|s| s != item.session_id) || self.queue_id.is_some_and(|q| q != item.queue_id) {
            return Err(DomainError::ItemSessionImmutable);
        }
        if let Some(name) = self.display_name {
            item.display_name = validate_name("displayName", &name)?;
        }
        let metadata_changed = self.metadata.is_some();
        if let Some(m) = self.metadata {
            if !m.is_object() {
                return Err(DomainError::Invalid { field: "metadata", reason: "must be a JSON object".into() });
            }
            item.metadata = m;
        }
        Ok(metadata_changed)
    }
}

/// The request to move an item: either to a status id or by a named transition (exactly one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusChangeRequest {
    #[serde(default)]
    pub status_id: Option<Uuid>,
    #[serde(default)]
    pub transition: Option<String>,
    /// Who made the change (recorded in the history); defaults to `api`.
    #[serde(default)]
    pub changed_by: Option<String>,
}

/// A session status as the move logic sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRef<'a> {
    pub id: Uuid,
    pub label: &'a str,
}

impl StatusChangeRequest {
    /// Resolves the target status among the session's statuses and checks the machine allows the
    /// move from `current`. Returns the target status id.
    pub fn resolve(
        &self,
        machine: &StatusMachine,
        current: StatusRef<'_>,
        statuses: &[StatusRef<'_>],
    ) -> Result<Uuid, DomainError> {
        let target = match (&self.status_id, &self.transition) {
            (Some(id), None) => *statuses.iter().find(|s| s.id == *id).ok_or_else(|| DomainError::Invalid {
                field: "statusId",
                reason: "not a status of the item's session".into(),
            })?,
            (None, Some(name)) => {
                let label = machine.fire(name, current.label)?;
                *statuses.iter().find(|s| s.label == label).ok_or_else(|| DomainError::Invalid {
                    field: "transition",
                    reason: format!("target status '{label}' no longer exists in the session"),
                })?
            }
            _ => {
                return Err(DomainError::Invalid {
                    field: "statusId",
                    reason: "give exactly one of statusId and transition".into(),
                })
            }
        };
        machine.check_move(current.label, target.label)?;
        Ok(target.id)
    }

    /// The actor recorded in the history.
    pub fn actor(&self) -> String {
        self.changed_by.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("api").to_string()
    }
}

/// The status a new item starts in: the requested one (which must be one of the session's),
/// else the machine's initial status (the lowest-ordered one when the machine names none).
pub fn start_status(
    machine: &StatusMachine,
    statuses: &[crate::SessionStatus],
    requested: Option<Uuid>,
) -> Result<Uuid, DomainError> {
    if let Some(id) = requested {
        return statuses.iter().find(|s| s.id == id).map(|s| s.id).ok_or_else(|| DomainError::Invalid {
            field: "statusId",
            reason: "not a status of the item's session".into(),
        });
    }
    let ordered: Vec<(i32, String)> = statuses.iter().map(|s| (s.order, s.label.clone())).collect();
    let label = crate::template::initial_label(machine, &ordered);
    statuses
        .iter()
        .find(|s| Some(s.label.as_str()) == label)
        .map(|s| s.id)
        .ok_or_else(|| DomainError::Invalid { field: "statusId", reason: "the session has no initial status".into() })
}

/// One recorded status change of an item: who moved it, from where, to where, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ItemHistoryEntry {
    pub id: Uuid,
    pub item_id: Uuid,
    /// `None` for the entry recording the item's creation.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub from_status_id: Option<Uuid>,
    pub to_status_id: Uuid,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Transition, TransitionFrom};
    use proptest::prelude::*;

    fn ids() -> (Uuid, Uuid, Uuid) {
        (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3))
    }

    fn machine() -> StatusMachine {
        StatusMachine {
            init: None,
            transitions: vec![
                Transition { name: "call".into(), from: TransitionFrom::One("Waiting".into()), to: "Serving".into() },
                Transition { name: "done".into(), from: TransitionFrom::One("Serving".into()), to: "Done".into() },
            ],
        }
    }

    #[test]
    fn status_changes_resolve_by_id_or_by_transition_name() {
        let (w, s, d) = ids();
        let statuses = [
            StatusRef { id: w, label: "Waiting" },
            StatusRef { id: s, label: "Serving" },
            StatusRef { id: d, label: "Done" },
        ];
        let by_id = StatusChangeRequest { status_id: Some(s), ..Default::default() };
        assert_eq!(by_id.resolve(&machine(), statuses[0], &statuses).unwrap(), s);
        let by_name = StatusChangeRequest { transition: Some("call".into()), ..Default::default() };
        assert_eq!(by_name.resolve(&machine(), statuses[0], &statuses).unwrap(), s);
        let skip = StatusChangeRequest { status_id: Some(d), ..Default::default() };
        assert_eq!(
            skip.resolve(&machine(), statuses[0], &statuses).unwrap_err(),
            DomainError::InvalidStatusTransition { from: "Waiting".into(), to: "Done".into() }
        );
        let both = StatusChangeRequest { status_id: Some(s), transition: Some("call".into()), changed_by: None };
        assert!(matches!(both.resolve(&machine(), statuses[0], &statuses), Err(DomainError::Invalid { .. })));
        let foreign = StatusChangeRequest { status_id: Some(Uuid::from_u128(99)), ..Default::default() };
        assert!(matches!(
            foreign.resolve(&machine(), statuses[0], &statuses),
            Err(DomainError::Invalid { field: "statusId", .. })
        ));
    }

    #[test]
    fn an_items_session_cannot_change() {
        let mut item = Item {
            id: Uuid::nil(),
            queue_id: Uuid::from_u128(7),
            session_id: Uuid::from_u128(8),
            status_id: Uuid::nil(),
            queue_number: "A-1".into(),
            display_name: "x".into(),
            metadata: serde_json::json!({}),
            created_at: Utc::now(),
        };
        let same =
            ItemPatch { session_id: Some(Uuid::from_u128(8)), display_name: Some("y".into()), ..Default::default() };
        assert!(same.apply(&mut item).is_ok());
        let other = ItemPatch { session_id: Some(Uuid::from_u128(9)), ..Default::default() };
        assert_eq!(other.apply(&mut item).unwrap_err(), DomainError::ItemSessionImmutable);
        let other_queue = ItemPatch { queue_id: Some(Uuid::from_u128(1)), ..Default::default() };
        assert_eq!(other_queue.apply(&mut item).unwrap_err(), DomainError::ItemSessionImmutable);
        assert_eq!(item.display_name, "y");
    }

    #[test]
    fn actor_defaults_to_api() {
        assert_eq!(StatusChangeRequest::default().actor(), "api");
        assert_eq!(StatusChangeRequest { changed_by: Some(" ann ".into()), ..Default::default() }.actor(), "ann");
    }

    #[test]
    fn new_items_start_in_the_requested_or_the_initial_status() {
        let status = |n: u128, label: &str, order: i32| crate::SessionStatus {
            id: Uuid::from_u128(n),
            session_id: Uuid::nil(),
            label: label.into(),
            color: "#000000".into(),
            order,
        };
        let statuses = [status(1, "Done", 2), status(2, "Waiting", 0), status(3, "Serving", 1)];
        let free = StatusMachine::default();
        assert_eq!(start_status(&free, &statuses, None).unwrap(), Uuid::from_u128(2));
        let init = StatusMachine { init: Some("Serving".into()), transitions: vec![] };
        assert_eq!(start_status(&init, &statuses, None).unwrap(), Uuid::from_u128(3));
        assert_eq!(start_status(&init, &statuses, Some(Uuid::from_u128(1))).unwrap(), Uuid::from_u128(1));
        assert!(matches!(
            start_status(&init, &statuses, Some(Uuid::from_u128(9))),
            Err(DomainError::Invalid { field: "statusId", .. })
        ));
        assert!(start_status(&free, &[], None).is_err());
    }

    proptest! {
        /// Numbers format as prefix-number and parse back; distinct numbers give distinct labels.
        #[test]
        fn queue_numbers_round_trip_and_stay_distinct(prefix in "[A-Z0-9]{1,5}", a in 1i64..1_000_000, b in 1i64..1_000_000) {
            let qa = format_queue_number(&prefix, a);
            let (p, n) = qa.rsplit_once('-').unwrap();
            prop_assert_eq!(p, prefix.as_str());
            prop_assert_eq!(n.parse::<i64>().unwrap(), a);
            prop_assert_eq!(qa == format_queue_number(&prefix, b), a == b);
        }
    }
}
