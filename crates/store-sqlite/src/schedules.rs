//! [`ScheduleStore`] for [`SqliteStore`]: session schedules and the rotation they drive. Changes
//! run in one write transaction (the single writer serialises rotations); reads use the reader
//! pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::{validate_name, Lifecycle, SessionSchedule, SessionScheduleSpec, StatusMachine, TenantId};
use lineup_store::{DueSchedule, Entity, RotateOutcome, ScheduleStore, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use crate::codec::{db, id, ts, RowExt};
use crate::{queues, sessions, SqliteStore};

const COLUMNS: &str = "queue_id, cron, session_name, last_run_at, created_at, updated_at";

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn put_session_schedule(
        &self,
        tenant: TenantId,
        queue_id: Uuid,
        spec: SessionScheduleSpec,
        now: DateTime<Utc>,
    ) -> StoreResult<SessionSchedule> {
        let now = lineup_store::to_micros(now);
        let mut tx = self.writer.begin().await.map_err(db)?;
        queues::get(&mut *tx, tenant, queue_id).await?;
        sqlx::query(
            "INSERT INTO session_schedules (tenant_id, queue_id, cron, session_name, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (queue_id) DO UPDATE SET cron = excluded.cron, \
             session_name = excluded.session_name, updated_at = excluded.updated_at",
        )
        .bind(id(tenant))
        .bind(id(queue_id))
        .bind(&spec.cron)
        .bind(&spec.session_name)
        .bind(ts(now))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let schedule = fetch(&mut *tx, tenant, queue_id).await?;
        tx.commit().await.map_err(db)?;
        Ok(schedule)
    }

    async fn get_session_schedule(&self, tenant: TenantId, queue_id: Uuid) -> StoreResult<SessionSchedule> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        queues::get(&mut *conn, tenant, queue_id).await?;
        fetch(&mut *conn, tenant, queue_id).await
    }

    async fn delete_session_schedule(&self, tenant: TenantId, queue_id: Uuid) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        queues::get(&mut *tx, tenant, queue_id).await?;
        let done = sqlx::query("DELETE FROM session_schedules WHERE tenant_id = ? AND queue_id = ?")
            .bind(id(tenant))
            .bind(id(queue_id))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(Entity::SessionSchedule));
        }
        tx.commit().await.map_err(db)
    }

    async fn list_due_schedules(&self, now: DateTime<Utc>) -> StoreResult<Vec<DueSchedule>> {
        let rows = sqlx::query(
            "SELECT s.tenant_id, s.queue_id, s.cron, s.session_name, s.last_run_at, s.created_at, s.updated_at \
             FROM session_schedules s JOIN queues q ON q.id = s.queue_id \
             WHERE q.is_active = 1 ORDER BY s.tenant_id, s.queue_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let mut due = Vec::new();
        for row in &rows {
            let schedule = from_row(row)?;
            if schedule.due(now).is_some() {
                due.push(DueSchedule { tenant_id: row.uuid("tenant_id")?, schedule });
            }
        }
        Ok(due)
    }

    async fn rotate_session(
        &self,
        tenant: TenantId,
        queue_id: Uuid,
        due_at: DateTime<Utc>,
        name: String,
        now: DateTime<Utc>,
    ) -> StoreResult<RotateOutcome> {
        let (due_at, now) = (lineup_store::to_micros(due_at), lineup_store::to_micros(now));
        let name = validate_name("name", &name)?;
        let mut tx = self.writer.begin().await.map_err(db)?;
        queues::get(&mut *tx, tenant, queue_id).await?;
        let schedule = fetch(&mut *tx, tenant, queue_id).await?;
        if schedule.last_run_at.is_some_and(|last| last >= due_at) {
            return Ok(RotateOutcome::AlreadyRan);
        }
        let opened = sessions::open(&mut tx, tenant, queue_id, Some(name), now).await?;
        let (mut completed, mut draining) = (Vec::new(), Vec::new());
        for older in older_open_sessions(&mut tx, tenant, queue_id, opened.id).await? {
            let row = sessions::load(&mut *tx, tenant, older).await?;
            if !drained(&mut tx, tenant, older, &row.machine).await? {
                draining.push(older);
                continue;
            }
            let mut session = row.session;
            sessions::move_lifecycle(&mut tx, tenant, &mut session, Lifecycle::Completed, now).await?;
            completed.push(older);
        }
        sqlx::query("UPDATE session_schedules SET last_run_at = ?, updated_at = ? WHERE queue_id = ?")
            .bind(ts(due_at))
            .bind(ts(now))
            .bind(id(queue_id))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(RotateOutcome::Rotated { opened, completed, draining })
    }
}

/// The tenant's schedule of the queue, or `NotFound(SessionSchedule)`.
async fn fetch<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, queue_id: Uuid) -> StoreResult<SessionSchedule> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM session_schedules WHERE tenant_id = ? AND queue_id = ?"))
        .bind(id(tenant))
        .bind(id(queue_id))
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::SessionSchedule))?;
    from_row(&row)
}

/// The queue's live active or paused sessions other than `except`, oldest first.
async fn older_open_sessions(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    queue_id: Uuid,
    except: Uuid,
) -> StoreResult<Vec<Uuid>> {
    let rows = sqlx::query(
        "SELECT id FROM sessions WHERE tenant_id = ? AND queue_id = ? AND status IN ('active', 'paused') \
         AND is_deleted = 0 AND id <> ? ORDER BY session_number",
    )
    .bind(id(tenant))
    .bind(id(queue_id))
    .bind(id(except))
    .fetch_all(conn)
    .await
    .map_err(db)?;
    rows.iter().map(|r| r.uuid("id")).collect()
}

/// True when every item of the session is in a status the machine never leaves.
async fn drained(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    session_id: Uuid,
    machine: &StatusMachine,
) -> StoreResult<bool> {
    let rows = sqlx::query(
        "SELECT DISTINCT st.label FROM items i JOIN session_statuses st ON st.id = i.status_id \
         WHERE i.tenant_id = ? AND i.session_id = ?",
    )
    .bind(id(tenant))
    .bind(id(session_id))
    .fetch_all(conn)
    .await
    .map_err(db)?;
    for row in &rows {
        if !machine.is_terminal(&row.text("label")?) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn from_row(row: &SqliteRow) -> StoreResult<SessionSchedule> {
    Ok(SessionSchedule::new(
        row.uuid("queue_id")?,
        row.text("cron")?,
        row.text("session_name")?,
        row.opt_time("last_run_at")?,
        row.time("created_at")?,
        row.time("updated_at")?,
    ))
}
