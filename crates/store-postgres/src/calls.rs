//! [`CallStore`] for [`PostgresStore`]: calls, worker checkpoints and worker leases.
//!
//! Applying observations ([`crate::call_apply`]) is one tenant transaction (row-level security
//! applies). It settles the inbox leases first, so a lost lease stops its message before
//! anything of it is written. Then it locks the calls' rows (`SELECT … FOR UPDATE`, or inserts
//! the row when a call is new and locks that; a batch locks all its calls in one statement and
//! inserts its new ones in one more), so concurrent applications to one call merge one after
//! the other and none is lost, while different calls never wait for each other's rows. Placing
//! and moving the item use the same functions as the item and session methods, and take their
//! locks in the same order: the queue row (`FOR NO KEY UPDATE`, only to open a session, so
//! concurrent first calls open one), the session row, the item row. What applying reads is read
//! once per transaction ([`crate::call_lookups`]); the changed calls are written after the
//! merges, and the outbox rows last, under the outbox lock.
//!
//! Checkpoints run in tenant transactions too. Leases have no tenant: they serve every tenant's
//! workers and run as the connecting role, like inbox claims; `lineup_app` has no privilege on
//! `worker_leases` (migrations/postgres/0005_calls.sql).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::call::{CallKey, CallState, Observation};
use lineup_domain::TenantId;
use lineup_store::calls::apply;
use lineup_store::inbox::lease_until;
use lineup_store::{
    to_micros, AppliedCall, BatchApplied, CallFilter, CallStore, CursorValue, Entity, InboxApplication, InboxLease,
    Page, PageRequest, StoreError, StoreResult, StoredCall, WorkerLease,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::call_apply::{apply_batch, apply_call};
use crate::paging::{self, CREATED_AT};
use crate::rows::{col, db};
use crate::{tenant_tx, PostgresStore};

/// The columns [`call_row`] reads.
pub(crate) const COLUMNS: &str = "id, state, queue_id, item_id, item_note, revisions, created_at, updated_at";

/// A call row as the calls modules work on it: the state and what surrounds it.
#[derive(Clone)]
pub(crate) struct CallRow {
    pub(crate) id: Uuid,
    pub(crate) state: CallState,
    pub(crate) queue_id: Option<Uuid>,
    pub(crate) item_id: Option<Uuid>,
    pub(crate) item_note: Option<String>,
    pub(crate) revisions: i64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl CallRow {
    /// A call not stored yet, first observed `now`.
    pub(crate) fn new(key: CallKey, now: DateTime<Utc>) -> CallRow {
        CallRow {
            id: Uuid::now_v7(),
            state: CallState::new(key),
            queue_id: None,
            item_id: None,
            item_note: None,
            revisions: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The call as the store's API shows it.
    pub(crate) fn stored(&self, tenant: TenantId) -> StoredCall {
        StoredCall {
            tenant_id: tenant,
            record: self.state.record(),
            queue_id: self.queue_id,
            item_id: self.item_id,
            item_note: self.item_note.clone(),
            revisions: self.revisions,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[async_trait]
impl CallStore for PostgresStore {
    async fn apply_call_observations(
        &self,
        tenant: TenantId,
        key: CallKey,
        observations: &[Observation],
        lease: Option<&InboxLease>,
        now: DateTime<Utc>,
    ) -> StoreResult<AppliedCall> {
        apply::check(tenant, key, observations, lease)?;
        apply_call(self, tenant, key, observations, lease, to_micros(now)).await
    }

    async fn apply_inbox_batch(
        &self,
        tenant: TenantId,
        messages: &[InboxApplication],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<BatchApplied>> {
        apply_batch(self, tenant, messages, to_micros(now)).await
    }

    async fn call_queues(&self, tenant: TenantId, keys: &[CallKey]) -> StoreResult<HashMap<CallKey, Uuid>> {
        let connections: Vec<Uuid> = keys.iter().map(|k| k.connection).collect();
        let calls: Vec<i32> = keys.iter().map(|k| k.call_id).collect();
        let mut tx = tenant_tx(&self.pool, tenant).await?;
        let rows = sqlx::query(
            "SELECT c.connection_id, c.call_id, c.queue_id FROM calls c \
             JOIN UNNEST($2::uuid[], $3::int4[]) AS k (connection_id, call_id) \
             ON k.connection_id = c.connection_id AND k.call_id = c.call_id \
             WHERE c.tenant_id = $1 AND c.queue_id IS NOT NULL",
        )
        .bind(tenant)
        .bind(&connections)
        .bind(&calls)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        rows.iter()
            .map(|row| {
                let key = CallKey { connection: col(row, "connection_id")?, call_id: col(row, "call_id")? };
                Ok((key, col(row, "queue_id")?))
            })
            .collect()
    }

    async fn get_call(&self, tenant: TenantId, key: CallKey) -> StoreResult<StoredCall> {
        in_tenant!(&self.pool, tenant, get, key)
    }

    async fn list_calls(
        &self,
        tenant: TenantId,
        filter: &CallFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StoredCall>> {
        in_tenant!(&self.pool, tenant, list, filter, page)
    }

    async fn get_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        in_tenant!(&self.pool, tenant, get_checkpoint, connection_id, name)
    }

    async fn put_checkpoint(
        &self,
        tenant: TenantId,
        connection_id: Uuid,
        name: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, put_checkpoint, connection_id, name, value, to_micros(now))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> StoreResult<Option<WorkerLease>> {
        // One statement: taken when new, expired or already the holder's; the epoch grows when
        // the holder changes. Concurrent acquirers serialise on the row (or the unique name).
        let row = sqlx::query(
            "INSERT INTO worker_leases (name, holder, expires_at, epoch) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, \
             epoch = worker_leases.epoch + CASE WHEN worker_leases.holder = EXCLUDED.holder THEN 0 ELSE 1 END \
             WHERE worker_leases.expires_at <= $4 OR worker_leases.holder = EXCLUDED.holder \
             RETURNING name, holder, expires_at, epoch",
        )
        .bind(name)
        .bind(holder)
        .bind(lease_until(now, ttl))
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(lease_from_row).transpose()
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        // The row stays, expired long ago, so the epoch never goes back.
        sqlx::query("UPDATE worker_leases SET expires_at = $3 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .bind(DateTime::<Utc>::UNIX_EPOCH)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db)
    }

    async fn list_leases(&self) -> StoreResult<Vec<WorkerLease>> {
        let rows = sqlx::query("SELECT name, holder, expires_at, epoch FROM worker_leases ORDER BY name COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(lease_from_row).collect()
    }
}

/// A call state as stored (`jsonb`).
pub(crate) fn state_json(state: &CallState) -> StoreResult<serde_json::Value> {
    serde_json::to_value(state).map_err(StoreError::backend)
}

/// The tenant's call `key`, if stored; with `lock`, its row is locked for update.
pub(crate) async fn find(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: CallKey,
    lock: bool,
) -> StoreResult<Option<CallRow>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM calls WHERE tenant_id = $1 AND connection_id = $2 AND call_id = $3{lock}"
    ))
    .bind(tenant)
    .bind(key.connection)
    .bind(key.call_id)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    row.as_ref().map(call_row).transpose()
}

async fn get(conn: &mut PgConnection, tenant: TenantId, key: CallKey) -> StoreResult<StoredCall> {
    let row = find(conn, tenant, key, false).await?.ok_or(StoreError::NotFound(Entity::Call))?;
    Ok(row.stored(tenant))
}

/// A page of the tenant's calls by first observation, filtered.
async fn list(
    conn: &mut PgConnection,
    tenant: TenantId,
    filter: &CallFilter,
    page: &PageRequest,
) -> StoreResult<Page<StoredCall>> {
    let sort = paging::column(page, &[CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM calls WHERE tenant_id = "));
    qb.push_bind(tenant);
    if let Some(connection_id) = filter.connection_id {
        qb.push(" AND connection_id = ").push_bind(connection_id);
    }
    if let Some(queue_id) = filter.queue_id {
        qb.push(" AND queue_id = ").push_bind(queue_id);
    }
    if let Some(outcome) = filter.outcome {
        qb.push(" AND outcome = ").push_bind(apply::outcome_name(outcome));
    }
    if let Some(reconciled) = filter.reconciled {
        qb.push(" AND reconciled = ").push_bind(reconciled);
    }
    if let Some(from) = filter.entered_from {
        qb.push(" AND entered_at >= ").push_bind(from);
    }
    if let Some(to) = filter.entered_to {
        qb.push(" AND entered_at < ").push_bind(to);
    }
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let calls = rows.iter().map(call_row).collect::<StoreResult<Vec<_>>>()?;
    let page = page.finish(calls, |c| (CursorValue::Time(c.created_at), c.id));
    Ok(Page { items: page.items.iter().map(|c| c.stored(tenant)).collect(), next_cursor: page.next_cursor })
}

async fn get_checkpoint(
    conn: &mut PgConnection,
    tenant: TenantId,
    connection_id: Uuid,
    name: &str,
) -> StoreResult<Option<serde_json::Value>> {
    sqlx::query_scalar("SELECT value FROM worker_checkpoints WHERE tenant_id = $1 AND connection_id = $2 AND name = $3")
        .bind(tenant)
        .bind(connection_id)
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

async fn put_checkpoint(
    conn: &mut PgConnection,
    tenant: TenantId,
    connection_id: Uuid,
    name: &str,
    value: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO worker_checkpoints (tenant_id, connection_id, name, value, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, connection_id, name) \
         DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
    )
    .bind(tenant)
    .bind(connection_id)
    .bind(name)
    .bind(value)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(db)
}

/// A row of [`COLUMNS`] as a [`CallRow`].
pub(crate) fn call_row(row: &PgRow) -> StoreResult<CallRow> {
    Ok(CallRow {
        id: col(row, "id")?,
        state: serde_json::from_value(col(row, "state")?).map_err(StoreError::backend)?,
        queue_id: col(row, "queue_id")?,
        item_id: col(row, "item_id")?,
        item_note: col(row, "item_note")?,
        revisions: col(row, "revisions")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn lease_from_row(row: &PgRow) -> StoreResult<WorkerLease> {
    Ok(WorkerLease {
        name: col(row, "name")?,
        holder: col(row, "holder")?,
        expires_at: col(row, "expires_at")?,
        epoch: col(row, "epoch")?,
    })
}
