//! Sessions, their lifecycle and their cloned statuses.

use chrono::{DateTime, Utc};
use lineup_domain::session::default_session_name;
use lineup_domain::{
    validate_name, DomainError, DomainEvent, Lifecycle, NewSession, Session, SessionPatch, SessionStatus,
    SessionStatusPatch, StatusMachine, TenantId,
};
use lineup_store::{CursorValue, Entity, Page, PageRequest, SortKey, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};
use uuid::Uuid;

use crate::codec::{db, id, json, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::{events, queues, templates, SqliteStore};

const COLUMNS: &str =
    "id, queue_id, name, status, session_number, started_at, ended_at, created_at, machine, metadata_schema";

/// A session with the internal parts the API never shows.
pub(crate) struct SessionRow {
    pub session: Session,
    pub machine: StatusMachine,
    pub metadata_schema: Option<serde_json::Value>,
}

pub(crate) async fn create(
    store: &SqliteStore,
    tenant: TenantId,
    queue_id: Uuid,
    new: NewSession,
) -> StoreResult<Session> {
    let name = new.name.as_deref().map(|n| validate_name("name", n)).transpose()?;
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let session = open(&mut tx, tenant, queue_id, name, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(session)
}

/// Opens session N+1 of an active queue inside the caller's write transaction, cloning the
/// template's statuses, machine and schema; `name` (already validated) defaults to
/// `Session N`. Opening a session emits no event.
pub(crate) async fn open(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    queue_id: Uuid,
    name: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let queue = queues::get(&mut *conn, tenant, queue_id).await?;
    if !queue.is_active {
        return Err(DomainError::QueueInactive.into());
    }
    let number_row = sqlx::query("UPDATE queues SET session_seq = session_seq + 1 WHERE id = ? RETURNING session_seq")
        .bind(id(queue_id))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let number = number_row.int("session_seq")?;
    let template = sqlx::query("SELECT machine, metadata_schema FROM templates WHERE id = ?")
        .bind(id(queue.template_id))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let session = Session {
        id: Uuid::now_v7(),
        queue_id,
        name: name.unwrap_or_else(|| default_session_name(number)),
        lifecycle_status: Lifecycle::Active,
        session_number: number,
        started_at: now,
        ended_at: None,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, queue_id, name, status, session_number, machine, metadata_schema, \
         started_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(session.id))
    .bind(id(tenant))
    .bind(id(queue_id))
    .bind(&session.name)
    .bind(number)
    .bind(template.text("machine")?)
    .bind(template.opt_text("metadata_schema")?)
    .bind(ts(now))
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    for s in templates::statuses(&mut *conn, tenant, queue.template_id).await? {
        sqlx::query(
            "INSERT INTO session_statuses (id, tenant_id, session_id, template_status_id, label, color, sort_order) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id(Uuid::now_v7()))
        .bind(id(tenant))
        .bind(id(session.id))
        .bind(id(s.id))
        .bind(&s.label)
        .bind(&s.color)
        .bind(s.order)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(session)
}

/// Loads a live (not deleted) session with its machine and schema.
pub(crate) async fn load<'e>(
    conn: impl SqliteExecutor<'e>,
    tenant: TenantId,
    session_id: Uuid,
) -> StoreResult<SessionRow> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE tenant_id = ? AND id = ? AND is_deleted = 0"))
        .bind(id(tenant))
        .bind(id(session_id))
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Session))?;
    Ok(SessionRow {
        session: from_row(&row)?,
        machine: serde_json::from_value(row.json("machine")?).map_err(StoreError::backend)?,
        metadata_schema: row.opt_json("metadata_schema")?,
    })
}

/// The queue's latest active session (highest number, not deleted), if it has one.
pub(crate) async fn latest_active(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    queue_id: Uuid,
) -> StoreResult<Option<SessionRow>> {
    let found = sqlx::query(
        "SELECT id FROM sessions WHERE tenant_id = ? AND queue_id = ? AND status = 'active' AND is_deleted = 0 \
         ORDER BY session_number DESC LIMIT 1",
    )
    .bind(id(tenant))
    .bind(id(queue_id))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    match found {
        Some(row) => Ok(Some(load(&mut *conn, tenant, row.uuid("id")?).await?)),
        None => Ok(None),
    }
}

pub(crate) async fn get(pool: &SqlitePool, tenant: TenantId, session_id: Uuid) -> StoreResult<Session> {
    Ok(load(pool, tenant, session_id).await?.session)
}

pub(crate) async fn list(
    pool: &SqlitePool,
    tenant: TenantId,
    queue_id: Uuid,
    page: &PageRequest,
) -> StoreResult<Page<Session>> {
    queues::get(pool, tenant, queue_id).await?;
    let ks = keyset(page, &[(SortKey::SessionNumber, "session_number"), (SortKey::CreatedAt, "created_at")], "id")?;
    let sql = format!(
        "SELECT {COLUMNS} FROM sessions WHERE tenant_id = ? AND queue_id = ? AND is_deleted = 0{}{}",
        ks.condition, ks.order_by
    );
    let q = sqlx::query(&sql).bind(id(tenant)).bind(id(queue_id));
    let rows = bind_after(q, &ks.after_binds).fetch_all(pool).await.map_err(db)?;
    let sessions = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(sessions, |s| {
        let value = match page.sort {
            SortKey::SessionNumber => CursorValue::Int(s.session_number),
            _ => CursorValue::Time(s.created_at),
        };
        (value, s.id)
    }))
}

pub(crate) async fn update(
    store: &SqliteStore,
    tenant: TenantId,
    session_id: Uuid,
    patch: SessionPatch,
) -> StoreResult<Session> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let mut session = load(&mut *tx, tenant, session_id).await?.session;
    patch.apply(&mut session)?;
    sqlx::query("UPDATE sessions SET name = ?, updated_at = ? WHERE id = ?")
        .bind(&session.name)
        .bind(ts(lineup_store::now_micros()))
        .bind(id(session_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(session)
}

pub(crate) async fn change_lifecycle(
    store: &SqliteStore,
    tenant: TenantId,
    session_id: Uuid,
    to: Lifecycle,
) -> StoreResult<Session> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let mut session = load(&mut *tx, tenant, session_id).await?.session;
    move_lifecycle(&mut tx, tenant, &mut session, to, now).await?;
    tx.commit().await.map_err(db)?;
    Ok(session)
}

/// Moves `session` (loaded in the caller's transaction) to `to`, writing the row and the event
/// the move emits, if any.
pub(crate) async fn move_lifecycle(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    session: &mut Session,
    to: Lifecycle,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let event = session.change_lifecycle(to, now)?;
    sqlx::query("UPDATE sessions SET status = ?, ended_at = ?, updated_at = ? WHERE id = ?")
        .bind(session.lifecycle_status.as_str())
        .bind(session.ended_at.map(ts))
        .bind(ts(now))
        .bind(id(session.id))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if let Some(kind) = event {
        events::append(conn, tenant, &DomainEvent::session(kind, session), now).await?;
    }
    Ok(())
}

pub(crate) async fn delete(store: &SqliteStore, tenant: TenantId, session_id: Uuid) -> StoreResult<()> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    load(&mut *tx, tenant, session_id).await?;
    sqlx::query("UPDATE sessions SET is_deleted = 1, updated_at = ? WHERE id = ?")
        .bind(ts(lineup_store::now_micros()))
        .bind(id(session_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)
}

pub(crate) async fn list_statuses(
    pool: &SqlitePool,
    tenant: TenantId,
    session_id: Uuid,
) -> StoreResult<Vec<SessionStatus>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    load(&mut *conn, tenant, session_id).await?;
    statuses(&mut conn, tenant, session_id).await
}

/// The session's statuses by order.
pub(crate) async fn statuses(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    session_id: Uuid,
) -> StoreResult<Vec<SessionStatus>> {
    let rows = sqlx::query(
        "SELECT id, session_id, label, color, sort_order FROM session_statuses \
         WHERE tenant_id = ? AND session_id = ? ORDER BY sort_order, label",
    )
    .bind(id(tenant))
    .bind(id(session_id))
    .fetch_all(conn)
    .await
    .map_err(db)?;
    rows.iter().map(status_from_row).collect()
}

pub(crate) async fn update_status(
    store: &SqliteStore,
    tenant: TenantId,
    status_id: Uuid,
    patch: SessionStatusPatch,
) -> StoreResult<SessionStatus> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let row = sqlx::query(
        "SELECT st.id, st.session_id, st.label, st.color, st.sort_order FROM session_statuses st \
         JOIN sessions s ON s.id = st.session_id \
         WHERE st.tenant_id = ? AND st.id = ? AND s.is_deleted = 0",
    )
    .bind(id(tenant))
    .bind(id(status_id))
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::SessionStatus))?;
    let mut status = status_from_row(&row)?;
    let siblings = statuses(&mut tx, tenant, status.session_id).await?;
    let others: Vec<&str> = siblings.iter().filter(|s| s.id != status_id).map(|s| s.label.as_str()).collect();
    if let Some(old) = patch.apply(&mut status, &others)? {
        let mut session = load(&mut *tx, tenant, status.session_id).await?;
        session.machine.rename_status(&old, &status.label);
        let machine = serde_json::to_value(&session.machine).map_err(StoreError::backend)?;
        sqlx::query("UPDATE sessions SET machine = ? WHERE id = ?")
            .bind(json(&machine))
            .bind(id(status.session_id))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    sqlx::query("UPDATE session_statuses SET label = ?, color = ?, sort_order = ? WHERE id = ?")
        .bind(&status.label)
        .bind(&status.color)
        .bind(status.order)
        .bind(id(status_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(status)
}

fn from_row(row: &SqliteRow) -> StoreResult<Session> {
    Ok(Session {
        id: row.uuid("id")?,
        queue_id: row.uuid("queue_id")?,
        name: row.text("name")?,
        lifecycle_status: row.text("status")?.parse()?,
        session_number: row.int("session_number")?,
        started_at: row.time("started_at")?,
        ended_at: row.opt_time("ended_at")?,
        created_at: row.time("created_at")?,
    })
}

fn status_from_row(row: &SqliteRow) -> StoreResult<SessionStatus> {
    Ok(SessionStatus {
        id: row.uuid("id")?,
        session_id: row.uuid("session_id")?,
        label: row.text("label")?,
        color: row.text("color")?,
        order: row.int("sort_order")? as i32,
    })
}
