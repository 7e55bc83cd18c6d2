//! [`ScheduleStore`] for [`PostgresStore`]: session schedules and the rotation they drive. Every
//! tenant-scoped call runs in a tenant transaction (row-level security applies); a rotation locks
//! the schedule row first, so concurrent schedulers on several nodes rotate once per instant.
//! Only `list_due_schedules`, which serves the scheduler across tenants, runs as the connecting
//! role (see the crate documentation).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::{validate_name, Lifecycle, SessionSchedule, SessionScheduleSpec, TenantId};
use lineup_store::{DueSchedule, Entity, RotateOutcome, ScheduleStore, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::rows::{col, db};
use crate::sessions::{self, Lock};
use crate::{queues, PostgresStore};

const COLUMNS: &str = "queue_id, cron, session_name, last_run_at, created_at, updated_at";

#[async_trait]
impl ScheduleStore for PostgresStore {
    async fn put_session_schedule(
        &self,
        tenant: TenantId,
        queue_id: Uuid,
        spec: SessionScheduleSpec,
        now: DateTime<Utc>,
    ) -> StoreResult<SessionSchedule> {
        in_tenant!(&self.pool, tenant, put, queue_id, spec, lineup_store::to_micros(now))
    }
    async fn get_session_schedule(&self, tenant: TenantId, queue_id: Uuid) -> StoreResult<SessionSchedule> {
        in_tenant!(&self.pool, tenant, get, queue_id)
    }
    async fn delete_session_schedule(&self, tenant: TenantId, queue_id: Uuid) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, delete, queue_id)
    }
    async fn list_due_schedules(&self, now: DateTime<Utc>) -> StoreResult<Vec<DueSchedule>> {
        list_due(&self.pool, now).await
    }
    async fn rotate_session(
        &self,
        tenant: TenantId,
        queue_id: Uuid,
        due_at: DateTime<Utc>,
        name: String,
        now: DateTime<Utc>,
    ) -> StoreResult<RotateOutcome> {
        let name = validate_name("name", &name)?;
        let (due_at, now) = (lineup_store::to_micros(due_at), lineup_store::to_micros(now));
        in_tenant!(&self.pool, tenant, rotate, queue_id, due_at, name, now)
    }
}

/// Creates or replaces the schedule of one of the tenant's queues.
async fn put(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
    spec: SessionScheduleSpec,
    now: DateTime<Utc>,
) -> StoreResult<SessionSchedule> {
    queues::get(&mut *conn, tenant, queue_id).await?;
    let row = sqlx::query(&format!(
        "INSERT INTO session_schedules (tenant_id, queue_id, cron, session_name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (queue_id) DO UPDATE SET cron = excluded.cron, \
         session_name = excluded.session_name, updated_at = excluded.updated_at RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(queue_id)
    .bind(&spec.cron)
    .bind(&spec.session_name)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(db)?;
    from_row(&row)
}

async fn get(conn: &mut PgConnection, tenant: TenantId, queue_id: Uuid) -> StoreResult<SessionSchedule> {
    queues::get(&mut *conn, tenant, queue_id).await?;
    fetch(conn, tenant, queue_id, "").await
}

/// The tenant's schedule of the queue with its row locked by `lock`, or `NotFound(SessionSchedule)`.
async fn fetch(conn: &mut PgConnection, tenant: TenantId, queue_id: Uuid, lock: &str) -> StoreResult<SessionSchedule> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM session_schedules WHERE tenant_id = $1 AND queue_id = $2{lock}"))
            .bind(tenant)
            .bind(queue_id)
            .fetch_optional(conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::SessionSchedule))?;
    from_row(&row)
}

async fn delete(conn: &mut PgConnection, tenant: TenantId, queue_id: Uuid) -> StoreResult<()> {
    queues::get(&mut *conn, tenant, queue_id).await?;
    let done = sqlx::query("DELETE FROM session_schedules WHERE tenant_id = $1 AND queue_id = $2")
        .bind(tenant)
        .bind(queue_id)
        .execute(conn)
        .await
        .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::SessionSchedule));
    }
    Ok(())
}

/// Every tenant's due schedules of active queues (as the owner role: it crosses tenants).
async fn list_due(pool: &PgPool, now: DateTime<Utc>) -> StoreResult<Vec<DueSchedule>> {
    let rows = sqlx::query(
        "SELECT s.tenant_id, s.queue_id, s.cron, s.session_name, s.last_run_at, s.created_at, s.updated_at \
         FROM session_schedules s JOIN queues q ON q.id = s.queue_id \
         WHERE q.is_active ORDER BY s.tenant_id, s.queue_id",
    )
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let mut due = Vec::new();
    for row in &rows {
        let schedule = from_row(row)?;
        if schedule.due(now).is_some() {
            due.push(DueSchedule { tenant_id: col(row, "tenant_id")?, schedule });
        }
    }
    Ok(due)
}

/// See [`ScheduleStore::rotate_session`]; the schedule row stays locked until commit.
async fn rotate(
    conn: &mut PgConnection,
    tenant: TenantId,
    queue_id: Uuid,
    due_at: DateTime<Utc>,
    name: String,
    now: DateTime<Utc>,
) -> StoreResult<RotateOutcome> {
    queues::get(&mut *conn, tenant, queue_id).await?;
    let schedule = fetch(&mut *conn, tenant, queue_id, " FOR UPDATE").await?;
    if schedule.last_run_at.is_some_and(|last| last >= due_at) {
        return Ok(RotateOutcome::AlreadyRan);
    }
    let opened = sessions::open(&mut *conn, tenant, queue_id, Some(name), now).await?;
    let older: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM sessions WHERE tenant_id = $1 AND queue_id = $2 AND status IN ('active', 'paused') \
         AND NOT is_deleted AND id <> $3 ORDER BY session_number",
    )
    .bind(tenant)
    .bind(queue_id)
    .bind(opened.id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let (mut completed, mut draining) = (Vec::new(), Vec::new());
    for session_id in older {
        let row = sessions::load(&mut *conn, tenant, session_id, Lock::Update).await?;
        let labels: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT st.label FROM items i JOIN session_statuses st ON st.id = i.status_id \
             WHERE i.tenant_id = $1 AND i.session_id = $2",
        )
        .bind(tenant)
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        if !labels.iter().all(|l| row.machine.is_terminal(l)) {
            draining.push(session_id);
            continue;
        }
        let mut session = row.session;
        sessions::move_lifecycle(&mut *conn, tenant, &mut session, Lifecycle::Completed, now).await?;
        completed.push(session_id);
    }
    sqlx::query(
        "UPDATE session_schedules SET last_run_at = $3, updated_at = $4 WHERE tenant_id = $1 AND queue_id = $2",
    )
    .bind(tenant)
    .bind(queue_id)
    .bind(due_at)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(RotateOutcome::Rotated { opened, completed, draining })
}

fn from_row(row: &PgRow) -> StoreResult<SessionSchedule> {
    Ok(SessionSchedule::new(
        col(row, "queue_id")?,
        col(row, "cron")?,
        col(row, "session_name")?,
        col(row, "last_run_at")?,
        col(row, "created_at")?,
        col(row, "updated_at")?,
    ))
}
