//! Row → domain mapping: the one place that knows column names and how stored values decode.

use std::str::FromStr;

use lineup_domain::{
    Item, ItemHistoryEntry, Lifecycle, Queue, Role, Session, SessionStatus, StatusMachine, TemplateStatus,
};
use lineup_store::{StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

/// Wraps a database error as a backend error, logging it.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    tracing::warn!(error = %e, "postgres store error");
    StoreError::backend(e)
}

/// Reads one column, turning a decode failure into a backend error.
pub(crate) fn col<'r, T>(row: &'r PgRow, name: &str) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(name).map_err(db)
}

/// Columns of a queue, in the order [`queue`] reads them.
pub(crate) const QUEUE_COLUMNS: &str = "id, name, template_id, prefix, is_active, created_at, updated_at";

pub(crate) fn queue(row: &PgRow) -> StoreResult<Queue> {
    Ok(Queue {
        id: col(row, "id")?,
        name: col(row, "name")?,
        template_id: col(row, "template_id")?,
        prefix: col(row, "prefix")?,
        is_active: col(row, "is_active")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

/// Columns of a session (table alias `s`), including the internal machine and schema.
pub(crate) const SESSION_COLUMNS: &str = "s.id, s.queue_id, s.name, s.status, s.session_number, s.started_at, \
     s.ended_at, s.created_at, s.machine, s.metadata_schema";

pub(crate) fn session(row: &PgRow) -> StoreResult<Session> {
    let status: String = col(row, "status")?;
    Ok(Session {
        id: col(row, "id")?,
        queue_id: col(row, "queue_id")?,
        name: col(row, "name")?,
        lifecycle_status: Lifecycle::from_str(&status).map_err(StoreError::backend)?,
        session_number: col(row, "session_number")?,
        started_at: col(row, "started_at")?,
        ended_at: col(row, "ended_at")?,
        created_at: col(row, "created_at")?,
    })
}

/// Decodes a stored status machine (a `jsonb` column).
pub(crate) fn machine(row: &PgRow, name: &str) -> StoreResult<StatusMachine> {
    serde_json::from_value(col(row, name)?).map_err(StoreError::backend)
}

/// Columns of a session status, ordered as [`session_status`] reads them.
pub(crate) const SESSION_STATUS_COLUMNS: &str = "ss.id, ss.session_id, ss.label, ss.color, ss.sort_order";

pub(crate) fn session_status(row: &PgRow) -> StoreResult<SessionStatus> {
    Ok(SessionStatus {
        id: col(row, "id")?,
        session_id: col(row, "session_id")?,
        label: col(row, "label")?,
        color: col(row, "color")?,
        order: col(row, "sort_order")?,
    })
}

/// Columns of a template status.
pub(crate) const TEMPLATE_STATUS_COLUMNS: &str = "id, template_id, label, color, sort_order";

pub(crate) fn template_status(row: &PgRow) -> StoreResult<TemplateStatus> {
    Ok(TemplateStatus {
        id: col(row, "id")?,
        template_id: col(row, "template_id")?,
        label: col(row, "label")?,
        color: col(row, "color")?,
        order: col(row, "sort_order")?,
    })
}

/// Columns of an item (table alias `i`); `name` is the API's `displayName`.
pub(crate) const ITEM_COLUMNS: &str =
    "i.id, i.queue_id, i.session_id, i.status_id, i.number, i.queue_number, i.name, i.metadata, i.created_at";

pub(crate) fn item(row: &PgRow) -> StoreResult<Item> {
    Ok(Item {
        id: col(row, "id")?,
        queue_id: col(row, "queue_id")?,
        session_id: col(row, "session_id")?,
        status_id: col(row, "status_id")?,
        queue_number: col(row, "queue_number")?,
        display_name: col(row, "name")?,
        metadata: col(row, "metadata")?,
        created_at: col(row, "created_at")?,
    })
}

/// Columns of a history entry (table alias `h`).
pub(crate) const HISTORY_COLUMNS: &str =
    "h.id, h.item_id, h.from_status_id, h.to_status_id, h.changed_by, h.changed_at";

pub(crate) fn history_entry(row: &PgRow) -> StoreResult<ItemHistoryEntry> {
    Ok(ItemHistoryEntry {
        id: col(row, "id")?,
        item_id: col(row, "item_id")?,
        from_status_id: col(row, "from_status_id")?,
        to_status_id: col(row, "to_status_id")?,
        changed_by: col(row, "changed_by")?,
        changed_at: col(row, "changed_at")?,
    })
}

/// Decodes a stored role.
pub(crate) fn role(row: &PgRow, name: &str) -> StoreResult<Role> {
    let value: String = col(row, name)?;
    Role::parse(&value).ok_or_else(|| StoreError::Backend(format!("unknown role '{value}' in column {name}")))
}

/// The unique constraint a failed statement violated, if that is why it failed.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    let e = e.as_database_error()?;
    if e.kind() == sqlx::error::ErrorKind::UniqueViolation {
        e.constraint().map(str::to_string)
    } else {
        None
    }
}

/// Turns a violation of one of `conflicts` (constraint name, message) into `Conflict(message)`;
/// any other error is a backend error.
pub(crate) fn conflict_or_db(e: sqlx::Error, conflicts: &[(&str, &str)]) -> StoreError {
    if let Some(constraint) = unique_violation(&e) {
        if let Some((_, message)) = conflicts.iter().find(|(c, _)| *c == constraint) {
            return StoreError::Conflict((*message).to_string());
        }
    }
    db(e)
}
