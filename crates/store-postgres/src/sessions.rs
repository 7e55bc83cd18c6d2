//! Sessions: numbering per queue, cloning the template, lifecycle and soft deletion.

use chrono::{DateTime, Utc};
use lineup_domain::session::default_session_name;
use lineup_domain::{
    validate_name, DomainError, DomainEvent, Lifecycle, NewSession, Session, SessionPatch, StatusMachine, TenantId,
};
use lineup_store::{CursorValue, Entity, Page, PageRequest, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::paging::{self, ValueKind, CREATED_AT, SESSION_NUMBER};
use crate::rows::{self, col, db, SESSION_COLUMNS};
use crate::{events, queues};

/// A live (not deleted) session with the internal parts the API never shows.
pub(crate) struct SessionRow {
    pub session: Session,
    pub machine: StatusMachine,
    pub metadata_schema: Option<serde_json::Value>,
}

/// Row lock a [`load`] takes on the session.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock {
    None,
    /// For changes of the session row itself (numbers, lifecycle, machine).
    Update,
}

/// Loads a live session of the tenant, optionally locking its row; missing, foreign or deleted
/// is `NotFound(Session)`.
pub(crate) async fn load<'e>(
    conn: impl PgExecutor<'e>,
    tenant: TenantId,
    id: Uuid,
    lock: Lock,
) -> StoreResult<SessionRow> {
    let lock = match lock {
        Lock::None => "",
        Lock::Update => " FOR UPDATE",
    };
    let row = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.tenant_id = $1 AND s.id = $2 AND NOT s.is_deleted{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::Session))?;
    session_row(&row)
}

fn session_row(row: &PgRow) -> StoreResult<SessionRow> {
    Ok(SessionRow {
        session: rows::session(row)?,
        machine: rows::machine(row, "machine")?,
        metadata_schema: col(row, "metadata_schema")?,
    })
}

/// The queue's latest active session (highest number, not deleted), locked for update, if it
/// has one.
pub(crate) async fn latest_active(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
) -> StoreResult<Option<SessionRow>> {
    let row = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.tenant_id = $1 AND s.queue_id = $2 \
         AND s.status = 'active' AND NOT s.is_deleted ORDER BY s.session_number DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(tenant)
    .bind(queue_id)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    row.as_ref().map(session_row).transpose()
}

/// Opens session N+1 of an active queue (see [`open`]).
pub(crate) async fn create(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
    new: NewSession,
) -> StoreResult<Session> {
    let name = new.name.map(|n| validate_name("name", &n)).transpose()?;
    open(conn, tenant, queue_id, name, lineup_store::now_micros()).await
}

/// Opens session N+1 of an active queue inside the caller's transaction, cloning the template's
/// statuses, machine and schema; `name` (already validated) defaults to `Session N`. Opening
/// emits no event. Incrementing `queues.session_seq` locks the queue row until commit, so
/// concurrent openers get gap-free numbers; a refusal rolls the increment back.
pub(crate) async fn open(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
    name: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let queue = sqlx::query(
        "UPDATE queues SET session_seq = session_seq + 1 WHERE tenant_id = $1 AND id = $2 \
         RETURNING session_seq, is_active, template_id",
    )
    .bind(tenant)
    .bind(queue_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::Queue))?;
    if !col::<bool>(&queue, "is_active")? {
        return Err(DomainError::QueueInactive.into());
    }
    let number: i64 = col(&queue, "session_seq")?;
    let template_id: Uuid = col(&queue, "template_id")?;
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
    // The session keeps its own copy of the template's machine and schema.
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, queue_id, name, status, session_number, machine, metadata_schema, \
         started_at, created_at, updated_at) \
         SELECT $1, t.tenant_id, $3, $4, $5, $6, t.machine, t.metadata_schema, $7, $7, $7 \
         FROM templates t WHERE t.tenant_id = $2 AND t.id = $8",
    )
    .bind(session.id)
    .bind(tenant)
    .bind(queue_id)
    .bind(&session.name)
    .bind(session.lifecycle_status.as_str())
    .bind(number)
    .bind(now)
    .bind(template_id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    clone_template_statuses(conn, tenant, session.id, template_id).await?;
    Ok(session)
}

/// Copies the template's statuses into the session, each with a new id.
async fn clone_template_statuses(
    conn: &mut PgConnection,
    tenant: TenantId,
    session_id: Uuid,
    template_id: Uuid,
) -> StoreResult<()> {
    let template_statuses = crate::templates::statuses(&mut *conn, tenant, template_id).await?;
    let ids: Vec<Uuid> = template_statuses.iter().map(|_| Uuid::now_v7()).collect();
    let template_status_ids: Vec<Uuid> = template_statuses.iter().map(|s| s.id).collect();
    let labels: Vec<&str> = template_statuses.iter().map(|s| s.label.as_str()).collect();
    let colors: Vec<&str> = template_statuses.iter().map(|s| s.color.as_str()).collect();
    let orders: Vec<i32> = template_statuses.iter().map(|s| s.order).collect();
    sqlx::query(
        "INSERT INTO session_statuses (id, tenant_id, session_id, template_status_id, label, color, sort_order) \
         SELECT c.id, $1, $2, c.template_status_id, c.label, c.color, c.sort_order \
         FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::integer[]) \
         AS c (id, template_status_id, label, color, sort_order)",
    )
    .bind(tenant)
    .bind(session_id)
    .bind(&ids)
    .bind(&template_status_ids)
    .bind(&labels)
    .bind(&colors)
    .bind(&orders)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// One live session of the tenant.
pub(crate) async fn get(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<Session> {
    Ok(load(conn, tenant, id, Lock::None).await?.session)
}

/// A page of a queue's live sessions by number or creation time; an unknown queue is `NotFound`.
pub(crate) async fn list(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
    page: &PageRequest,
) -> StoreResult<Page<Session>> {
    let sort = paging::column(page, &[SESSION_NUMBER, CREATED_AT])?;
    queues::get(conn, tenant, queue_id).await?;
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.tenant_id = "));
    qb.push_bind(tenant);
    qb.push(" AND s.queue_id = ");
    qb.push_bind(queue_id);
    qb.push(" AND NOT s.is_deleted");
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let sessions = rows.iter().map(rows::session).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(sessions, |s| {
        let value = match sort.kind {
            ValueKind::Int => CursorValue::Int(s.session_number),
            _ => CursorValue::Time(s.created_at),
        };
        (value, s.id)
    }))
}

/// Renames a live session.
pub(crate) async fn update(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    patch: SessionPatch,
) -> StoreResult<Session> {
    let now = lineup_store::now_micros();
    let mut session = load(&mut *conn, tenant, id, Lock::Update).await?.session;
    patch.apply(&mut session)?;
    sqlx::query("UPDATE sessions SET name = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(&session.name)
        .bind(now)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(session)
}

/// Moves the lifecycle of a live session and writes the event the move emits, if any.
pub(crate) async fn change_lifecycle(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    to: Lifecycle,
) -> StoreResult<Session> {
    let now = lineup_store::now_micros();
    let mut session = load(&mut *conn, tenant, id, Lock::Update).await?.session;
    move_lifecycle(conn, tenant, &mut session, to, now).await?;
    Ok(session)
}

/// Moves `session` (loaded and locked in the caller's transaction) to `to`, writing the row and
/// the event the move emits, if any.
pub(crate) async fn move_lifecycle(
    conn: &mut PgConnection,
    tenant: TenantId,
    session: &mut Session,
    to: Lifecycle,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let event = session.change_lifecycle(to, now)?;
    sqlx::query("UPDATE sessions SET status = $2, ended_at = $3, updated_at = $4 WHERE id = $1")
        .bind(session.id)
        .bind(session.lifecycle_status.as_str())
        .bind(session.ended_at)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if let Some(kind) = event {
        events::append(conn, tenant, &DomainEvent::session(kind, session), now).await?;
    }
    Ok(())
}

/// Soft-deletes a live session: it and its items disappear from every read.
pub(crate) async fn delete(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE sessions SET is_deleted = true, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND NOT is_deleted",
    )
    .bind(tenant)
    .bind(id)
    .bind(lineup_store::now_micros())
    .execute(conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::Session));
    }
    Ok(())
}
