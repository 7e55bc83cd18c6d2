//! [`WebhookStore`] for [`PostgresStore`]: webhooks, their deliveries and the outbox cursors.
//! Every tenant-scoped call runs in a tenant transaction (row-level security applies); a change
//! locks the webhook row, writes, and audits in the same transaction. The dispatcher's calls that
//! serve every tenant run as the connecting role (see the crate documentation): reading the
//! outbox, the cursors, the list of tenants with webhooks, and claims. A claim is one statement
//! that picks due deliveries with `FOR UPDATE OF d SKIP LOCKED`, so concurrent dispatchers pass
//! over each other's rows, and moves their next attempt to the end of the lease. The sealed
//! secret is written and erased here, and read only by claims.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::webhook::DeliveryState;
use lineup_domain::{
    Actor, AuditAction, EventKind, SealedWebhookSecret, TenantId, Webhook, WebhookChange, WebhookDelivery,
    WebhookEvent, WebhookSpec,
};
use lineup_store::inbox::{lease_until, storable_error};
use lineup_store::webhooks::WEBHOOK_DELETED;
use lineup_store::{
    AttemptOutcome, AttemptRecorded, ClaimedDelivery, CursorValue, DeliveryScope, Entity, InboxRetryPolicy, Page,
    PageRequest, StoreError, StoreResult, StoredEvent, WebhookStore,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::audit;
use crate::events::{stored_event, EVENT_COLUMNS};
use crate::paging::{self, ValueKind, CREATED_AT, NAME};
use crate::rows::{col, db};
use crate::PostgresStore;

/// The columns of the view; never the secret.
const COLUMNS: &str = "id, name, url, event_types, is_enabled, secret_changed_at, created_at, updated_at";

/// The columns of a delivery (table alias `d`).
const DELIVERY_COLUMNS: &str = "d.id, d.tenant_id, d.webhook_id, d.event_seq, d.event_type, d.payload, d.state, \
     d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at";

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook(&self, actor: &Actor, tenant: TenantId, spec: WebhookSpec) -> StoreResult<Webhook> {
        in_tenant!(&self.pool, tenant, create, actor, spec)
    }
    async fn get_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<Webhook> {
        in_tenant!(&self.pool, tenant, get, id, "")
    }
    async fn list_webhooks(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Webhook>> {
        in_tenant!(&self.pool, tenant, list, page)
    }
    async fn update_webhook(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        change: WebhookChange,
    ) -> StoreResult<Webhook> {
        in_tenant!(&self.pool, tenant, update, actor, id, change)
    }
    async fn delete_webhook(&self, actor: &Actor, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        in_tenant!(&self.pool, tenant, delete, actor, id)
    }

    async fn read_outbox(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<(TenantId, StoredEvent)>> {
        let rows =
            sqlx::query(&format!("SELECT tenant_id, {EVENT_COLUMNS} FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2"))
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(|r| Ok((col(r, "tenant_id")?, stored_event(r)?))).collect()
    }
    async fn get_outbox_cursor(&self, name: &str) -> StoreResult<Option<i64>> {
        sqlx::query_scalar("SELECT last_seq FROM outbox_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }
    async fn advance_outbox_cursor(&self, name: &str, seq: i64) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO outbox_cursors (name, last_seq, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET last_seq = GREATEST(outbox_cursors.last_seq, EXCLUDED.last_seq), \
             updated_at = CASE WHEN EXCLUDED.last_seq > outbox_cursors.last_seq THEN EXCLUDED.updated_at \
             ELSE outbox_cursors.updated_at END RETURNING last_seq",
        )
        .bind(name)
        .bind(seq)
        .bind(lineup_store::now_micros())
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }
    async fn webhook_tenants(&self) -> StoreResult<Vec<TenantId>> {
        sqlx::query_scalar(
            "SELECT DISTINCT tenant_id FROM webhooks WHERE is_enabled AND deleted_at IS NULL ORDER BY tenant_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    async fn enqueue_deliveries(&self, tenant: TenantId, event: &StoredEvent) -> StoreResult<u32> {
        in_tenant!(&self.pool, tenant, enqueue, event)
    }

    async fn claim_due_deliveries(
        &self,
        scope: DeliveryScope,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let now = lineup_store::to_micros(now);
        let mut qb = QueryBuilder::<Postgres>::new(
            "WITH picked AS (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.state = 'pending' AND w.is_enabled AND w.deleted_at IS NULL AND d.next_attempt_at <= ",
        );
        qb.push_bind(now);
        if let DeliveryScope::Tenant(tenant) = scope {
            qb.push(" AND d.tenant_id = ").push_bind(tenant);
        }
        qb.push(" ORDER BY d.next_attempt_at, d.id LIMIT ").push_bind(i64::from(limit));
        qb.push(" FOR UPDATE OF d SKIP LOCKED) UPDATE webhook_deliveries d SET next_attempt_at = ");
        qb.push_bind(lease_until(now, lease));
        qb.push(format_args!(
            " FROM picked, webhooks w WHERE d.id = picked.id AND w.id = d.webhook_id \
             RETURNING {DELIVERY_COLUMNS}, w.url, w.secret"
        ));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedDelivery {
                    tenant_id: col(row, "tenant_id")?,
                    delivery: delivery(row)?,
                    url: col(row, "url")?,
                    secret: SealedWebhookSecret { sealed: col(row, "secret")? },
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.delivery.id);
        Ok(claimed)
    }

    async fn record_delivery_attempt(
        &self,
        tenant: TenantId,
        id: Uuid,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
        policy: &InboxRetryPolicy,
    ) -> StoreResult<AttemptRecorded> {
        in_tenant!(&self.pool, tenant, record_attempt, id, outcome, lineup_store::to_micros(now), policy)
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>> {
        in_tenant!(&self.pool, tenant, list_deliveries, webhook_id, page)
    }

    async fn get_delivery(&self, tenant: TenantId, id: Uuid) -> StoreResult<WebhookDelivery> {
        in_tenant!(&self.pool, tenant, get_delivery, id, "")
    }

    async fn redeliver(&self, tenant: TenantId, id: Uuid, now: DateTime<Utc>) -> StoreResult<WebhookDelivery> {
        in_tenant!(&self.pool, tenant, redeliver, id, lineup_store::to_micros(now))
    }
}

/// Stores a webhook that receives the tenant's events after its last one so far, and audits it.
async fn create(conn: &mut PgConnection, tenant: TenantId, actor: &Actor, spec: WebhookSpec) -> StoreResult<Webhook> {
    let now = lineup_store::now_micros();
    let hook = Webhook {
        id: spec.id,
        name: spec.name,
        url: spec.url,
        event_types: spec.event_types,
        is_enabled: spec.is_enabled,
        has_secret: true,
        secret_changed_at: now,
        created_at: now,
        updated_at: now,
    };
    // Every event of the tenant committed after this snapshot has a higher seq (seq follows commit
    // order), so the webhook receives exactly the events committed after it.
    let from_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::bigint FROM outbox WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query(
        "INSERT INTO webhooks (id, tenant_id, name, url, secret, secret_changed_at, event_types, is_enabled, \
         from_seq, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $6, $6)",
    )
    .bind(hook.id)
    .bind(tenant)
    .bind(&hook.name)
    .bind(&hook.url)
    .bind(&spec.secret.sealed)
    .bind(now)
    .bind(event_types(&hook.event_types))
    .bind(hook.is_enabled)
    .bind(from_seq)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit::record::<Webhook>(conn, tenant, actor, AuditAction::WebhookCreate, hook.id, None, &hook).await?;
    Ok(hook)
}

/// One live webhook of the tenant, its row locked with `lock` (e.g. `FOR NO KEY UPDATE`).
async fn get(conn: &mut PgConnection, tenant: TenantId, id: Uuid, lock: &str) -> StoreResult<Webhook> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL {lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::Webhook))?;
    webhook(&row)
}

/// A page of the tenant's live webhooks by name or creation time.
async fn list(conn: &mut PgConnection, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Webhook>> {
    let sort = paging::column(page, &[NAME, CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE deleted_at IS NULL AND tenant_id = "
    ));
    qb.push_bind(tenant);
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let webhooks = rows.iter().map(webhook).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(webhooks, |w| {
        let value = match sort.kind {
            ValueKind::Text => CursorValue::Text(w.name.clone()),
            _ => CursorValue::Time(w.created_at),
        };
        (value, w.id)
    }))
}

/// Applies a validated change to the locked row and audits it; a change that changes nothing
/// writes nothing.
async fn update(
    conn: &mut PgConnection,
    tenant: TenantId,
    actor: &Actor,
    id: Uuid,
    change: WebhookChange,
) -> StoreResult<Webhook> {
    let now = lineup_store::now_micros();
    let before = get(conn, tenant, id, "FOR NO KEY UPDATE").await?;
    let mut after = before.clone();
    if !change.apply(&mut after, now) {
        return Ok(before);
    }
    sqlx::query(
        "UPDATE webhooks SET name = $2, url = $3, secret = COALESCE($4, secret), secret_changed_at = $5, \
         event_types = $6, is_enabled = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(id)
    .bind(&after.name)
    .bind(&after.url)
    .bind(change.secret.as_ref().map(|s| s.sealed.as_str()))
    .bind(after.secret_changed_at)
    .bind(event_types(&after.event_types))
    .bind(after.is_enabled)
    .bind(after.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit::record(conn, tenant, actor, AuditAction::WebhookUpdate, id, Some(&before), &after).await?;
    Ok(after)
}

/// Soft-deletes the locked webhook: erases its sealed secret, fails its pending deliveries,
/// hides it.
async fn delete(conn: &mut PgConnection, tenant: TenantId, actor: &Actor, id: Uuid) -> StoreResult<()> {
    let now = lineup_store::now_micros();
    let before = get(conn, tenant, id, "FOR NO KEY UPDATE").await?;
    let after = before.deleted(now);
    sqlx::query(
        "UPDATE webhooks SET secret = NULL, secret_changed_at = $2, is_enabled = false, updated_at = $2, \
         deleted_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, last_error = $3 \
         WHERE tenant_id = $1 AND webhook_id = $2 AND state = 'pending'",
    )
    .bind(tenant)
    .bind(id)
    .bind(WEBHOOK_DELETED)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit::record(conn, tenant, actor, AuditAction::WebhookDelete, id, Some(&before), &after).await?;
    Ok(())
}

/// Creates the deliveries of one event of the tenant (see `WebhookStore::enqueue_deliveries`).
async fn enqueue(conn: &mut PgConnection, tenant: TenantId, event: &StoredEvent) -> StoreResult<u32> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, from_seq FROM webhooks WHERE tenant_id = $1 AND deleted_at IS NULL AND is_enabled"
    ))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let body = WebhookEvent {
        id: event.seq,
        event_type: event.kind,
        tenant_id: tenant,
        session_id: event.session_id,
        item_id: event.item_id,
        created_at: event.created_at,
        data: event.payload.clone(),
    }
    .to_json();
    let now = lineup_store::now_micros();
    let mut created = 0;
    for row in &rows {
        let hook = webhook(row)?;
        let from_seq: i64 = col(row, "from_seq")?;
        if !hook.receives(event.kind) || event.seq <= from_seq {
            continue;
        }
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_seq, event_type, payload, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (webhook_id, event_seq) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(tenant)
        .bind(hook.id)
        .bind(event.seq)
        .bind(event.kind.as_str())
        .bind(&body)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        created += u32::try_from(inserted).unwrap_or(0);
    }
    Ok(created)
}

/// Records one attempt on a pending delivery (see `WebhookStore::record_delivery_attempt`).
async fn record_attempt(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
    policy: &InboxRetryPolicy,
) -> StoreResult<AttemptRecorded> {
    let row = sqlx::query("SELECT state, attempts FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::WebhookDelivery))?;
    let state: String = col(&row, "state")?;
    if state != DeliveryState::Pending.as_str() {
        return Ok(AttemptRecorded::NotPending);
    }
    let attempts = count(col(&row, "attempts")?)?.saturating_add(1);
    let (state, next, status, error, delivered_at, recorded) = match outcome {
        AttemptOutcome::Delivered { status } => {
            (DeliveryState::Delivered, None, Some(*status), None, Some(now), AttemptRecorded::Delivered)
        }
        AttemptOutcome::Failed { status, error } => match policy.retry_at(attempts, now) {
            Some(at) => (
                DeliveryState::Pending,
                Some(at),
                *status,
                Some(storable_error(error)),
                None,
                AttemptRecorded::RetryScheduled { attempts, next_attempt_at: at },
            ),
            None => (
                DeliveryState::Failed,
                None,
                *status,
                Some(storable_error(error)),
                None,
                AttemptRecorded::Failed { attempts },
            ),
        },
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $2, attempts = $3, next_attempt_at = $4, last_status_code = $5, \
         last_error = $6, delivered_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
    .bind(next)
    .bind(status.map(i32::from))
    .bind(error)
    .bind(delivered_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(recorded)
}

/// A page of one live webhook's deliveries by creation.
async fn list_deliveries(
    conn: &mut PgConnection,
    tenant: TenantId,
    webhook_id: Uuid,
    page: &PageRequest,
) -> StoreResult<Page<WebhookDelivery>> {
    get(conn, tenant, webhook_id, "").await?;
    let sort = paging::column(page, &[CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.tenant_id = "
    ));
    qb.push_bind(tenant).push(" AND d.webhook_id = ").push_bind(webhook_id);
    paging::push_keyset(&mut qb, page, sort, "d.id")?;
    let rows = qb.build().fetch_all(conn).await.map_err(db)?;
    let deliveries = rows.iter().map(delivery).collect::<StoreResult<Vec<_>>>()?;
    Ok(page.finish(deliveries, |d| (CursorValue::Time(d.created_at), d.id)))
}

/// One delivery of the tenant whose webhook is live, its row locked with `lock`.
async fn get_delivery(conn: &mut PgConnection, tenant: TenantId, id: Uuid, lock: &str) -> StoreResult<WebhookDelivery> {
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.tenant_id = $1 AND d.id = $2 AND w.deleted_at IS NULL {lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::WebhookDelivery))?;
    delivery(&row)
}

/// Puts a delivery back in line, due at `now`.
async fn redeliver(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<WebhookDelivery> {
    get_delivery(conn, tenant, id, "FOR UPDATE OF d").await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, delivered_at = NULL \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    get_delivery(conn, tenant, id, "").await
}

/// Event types as stored: their names.
fn event_types(kinds: &[EventKind]) -> Vec<String> {
    kinds.iter().map(|k| k.as_str().to_string()).collect()
}

fn webhook(row: &PgRow) -> StoreResult<Webhook> {
    let names: Vec<String> = col(row, "event_types")?;
    let event_types = names
        .iter()
        .map(|n| {
            EventKind::parse(n).ok_or_else(|| StoreError::Backend(format!("unknown event type '{n}' of a webhook")))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Webhook {
        id: col(row, "id")?,
        name: col(row, "name")?,
        url: col(row, "url")?,
        event_types,
        is_enabled: col(row, "is_enabled")?,
        has_secret: true,
        secret_changed_at: col(row, "secret_changed_at")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn delivery(row: &PgRow) -> StoreResult<WebhookDelivery> {
    let kind: String = col(row, "event_type")?;
    let state: String = col(row, "state")?;
    let status: Option<i32> = col(row, "last_status_code")?;
    Ok(WebhookDelivery {
        id: col(row, "id")?,
        webhook_id: col(row, "webhook_id")?,
        event_id: col(row, "event_seq")?,
        event_type: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown event type '{kind}' of a delivery")))?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Backend(format!("unknown delivery state '{state}'")))?,
        attempts: count(col(row, "attempts")?)?,
        next_attempt_at: col(row, "next_attempt_at")?,
        last_status_code: status
            .map(|s| u16::try_from(s).map_err(|_| StoreError::Backend(format!("last_status_code holds {s}"))))
            .transpose()?,
        last_error: col(row, "last_error")?,
        created_at: col(row, "created_at")?,
        delivered_at: col(row, "delivered_at")?,
        event: col(row, "payload")?,
    })
}

fn count(n: i32) -> StoreResult<u32> {
    u32::try_from(n).map_err(|_| StoreError::Backend(format!("attempts holds {n}")))
}
