//! [`WebhookStore`] for [`SqliteStore`]: webhooks, their deliveries and the outbox cursors.
//! Every change, claims included, runs on the single writer connection, so two claims never see
//! the same due delivery; reads use the reader pool. The sealed secret is written and erased
//! here, and read only by claims.

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
    PageRequest, SortKey, StoreError, StoreResult, StoredEvent, WebhookStore,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use crate::audit;
use crate::codec::{db, id, json, stored, ts, RowExt};
use crate::events::{stored_event, EVENT_COLUMNS};
use crate::paging::{bind_after, keyset};
use crate::SqliteStore;

/// The columns of the view; never the secret.
const COLUMNS: &str = "id, name, url, event_types, is_enabled, secret_changed_at, created_at, updated_at";

/// The columns of a delivery (table alias `d`).
const DELIVERY_COLUMNS: &str = "d.id, d.tenant_id, d.webhook_id, d.event_seq, d.event_type, d.payload, d.state, \
     d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at";

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, actor: &Actor, tenant: TenantId, spec: WebhookSpec) -> StoreResult<Webhook> {
        create(self, actor, tenant, spec).await
    }
    async fn get_webhook(&self, tenant: TenantId, id: Uuid) -> StoreResult<Webhook> {
        get(&self.reader, tenant, id).await
    }
    async fn list_webhooks(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Webhook>> {
        let ks = keyset(page, &[(SortKey::Name, "name"), (SortKey::CreatedAt, "created_at")], "id")?;
        let sql = format!(
            "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = ? AND deleted_at IS NULL{}{}",
            ks.condition, ks.order_by
        );
        let q = sqlx::query(&sql).bind(id(tenant));
        let rows = bind_after(q, &ks.after_binds).fetch_all(&self.reader).await.map_err(db)?;
        let webhooks = rows.iter().map(webhook).collect::<StoreResult<Vec<_>>>()?;
        Ok(page.finish(webhooks, |w| {
            let value = match page.sort {
                SortKey::Name => CursorValue::Text(w.name.clone()),
                _ => CursorValue::Time(w.created_at),
            };
            (value, w.id)
        }))
    }
    async fn update_webhook(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        change: WebhookChange,
    ) -> StoreResult<Webhook> {
        update(self, actor, tenant, id, change).await
    }
    async fn delete_webhook(&self, actor: &Actor, tenant: TenantId, id: Uuid) -> StoreResult<()> {
        delete(self, actor, tenant, id).await
    }

    async fn read_outbox(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<(TenantId, StoredEvent)>> {
        let rows =
            sqlx::query(&format!("SELECT tenant_id, {EVENT_COLUMNS} FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?"))
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        rows.iter().map(|r| Ok((r.uuid("tenant_id")?, stored_event(r)?))).collect()
    }
    async fn get_outbox_cursor(&self, name: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT last_seq FROM outbox_cursors WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(|r| r.int("last_seq")).transpose()
    }
    async fn advance_outbox_cursor(&self, name: &str, seq: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO outbox_cursors (name, last_seq, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), \
             updated_at = CASE WHEN excluded.last_seq > last_seq THEN excluded.updated_at ELSE updated_at END \
             RETURNING last_seq",
        )
        .bind(name)
        .bind(seq)
        .bind(ts(lineup_store::now_micros()))
        .fetch_one(&self.writer)
        .await
        .map_err(db)?;
        row.int("last_seq")
    }
    async fn webhook_tenants(&self) -> StoreResult<Vec<TenantId>> {
        let rows = sqlx::query(
            "SELECT DISTINCT tenant_id FROM webhooks WHERE is_enabled = 1 AND deleted_at IS NULL ORDER BY tenant_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().map(|r| r.uuid("tenant_id")).collect()
    }

    async fn enqueue_deliveries(&self, tenant: TenantId, event: &StoredEvent) -> StoreResult<u32> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, from_seq FROM webhooks WHERE tenant_id = ? AND deleted_at IS NULL AND is_enabled = 1"
        ))
        .bind(id(tenant))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let body = event_body(tenant, event);
        let now = lineup_store::now_micros();
        let mut created = 0;
        for row in &rows {
            let hook = webhook(row)?;
            if !hook.receives(event.kind) || event.seq <= row.int("from_seq")? {
                continue;
            }
            let inserted = sqlx::query(
                "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_seq, event_type, payload, \
                 next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (webhook_id, event_seq) DO NOTHING",
            )
            .bind(id(Uuid::now_v7()))
            .bind(id(tenant))
            .bind(id(hook.id))
            .bind(event.seq)
            .bind(event.kind.as_str())
            .bind(json(&body))
            .bind(ts(now))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
            created += u32::try_from(inserted).unwrap_or(0);
        }
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn claim_due_deliveries(
        &self,
        scope: DeliveryScope,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let now = stored(now);
        let until = lease_until(now, lease);
        let only_tenant = match scope {
            DeliveryScope::All => "",
            DeliveryScope::Tenant(_) => " AND d.tenant_id = ?",
        };
        let mut tx = self.writer.begin().await.map_err(db)?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND w.is_enabled = 1 AND w.deleted_at IS NULL\
             {only_tenant} ORDER BY d.next_attempt_at, d.id LIMIT ?"
        );
        let mut q = sqlx::query(&sql).bind(ts(now));
        if let DeliveryScope::Tenant(tenant) = scope {
            q = q.bind(id(tenant));
        }
        let rows = q.bind(i64::from(limit)).fetch_all(&mut *tx).await.map_err(db)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut d = delivery(row)?;
            sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?")
                .bind(ts(until))
                .bind(id(d.id))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            d.next_attempt_at = Some(until);
            claimed.push(ClaimedDelivery {
                tenant_id: row.uuid("tenant_id")?,
                delivery: d,
                url: row.text("url")?,
                secret: SealedWebhookSecret { sealed: row.text("secret")? },
            });
        }
        tx.commit().await.map_err(db)?;
        Ok(claimed)
    }

    async fn record_delivery_attempt(
        &self,
        tenant: TenantId,
        delivery_id: Uuid,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
        policy: &InboxRetryPolicy,
    ) -> StoreResult<AttemptRecorded> {
        let now = stored(now);
        let mut tx = self.writer.begin().await.map_err(db)?;
        let row = sqlx::query("SELECT state, attempts FROM webhook_deliveries WHERE tenant_id = ? AND id = ?")
            .bind(id(tenant))
            .bind(id(delivery_id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::WebhookDelivery))?;
        if row.text("state")? != DeliveryState::Pending.as_str() {
            return Ok(AttemptRecorded::NotPending);
        }
        let attempts = count(&row, "attempts")?.saturating_add(1);
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
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_status_code = ?, \
             last_error = ?, delivered_at = ? WHERE id = ?",
        )
        .bind(state.as_str())
        .bind(i64::from(attempts))
        .bind(next.map(ts))
        .bind(status.map(i64::from))
        .bind(error)
        .bind(delivered_at.map(ts))
        .bind(id(delivery_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(recorded)
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        get(&mut *conn, tenant, webhook_id).await?;
        let ks = keyset(page, &[(SortKey::CreatedAt, "d.created_at")], "d.id")?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.tenant_id = ? AND d.webhook_id = ?{}{}",
            ks.condition, ks.order_by
        );
        let q = sqlx::query(&sql).bind(id(tenant)).bind(id(webhook_id));
        let rows = bind_after(q, &ks.after_binds).fetch_all(&mut *conn).await.map_err(db)?;
        let deliveries = rows.iter().map(delivery).collect::<StoreResult<Vec<_>>>()?;
        Ok(page.finish(deliveries, |d| (CursorValue::Time(d.created_at), d.id)))
    }

    async fn get_delivery(&self, tenant: TenantId, delivery_id: Uuid) -> StoreResult<WebhookDelivery> {
        get_delivery(&self.reader, tenant, delivery_id).await
    }

    async fn redeliver(&self, tenant: TenantId, delivery_id: Uuid, now: DateTime<Utc>) -> StoreResult<WebhookDelivery> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        get_delivery(&mut *tx, tenant, delivery_id).await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, delivered_at = NULL \
             WHERE id = ?",
        )
        .bind(ts(stored(now)))
        .bind(id(delivery_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let redelivered = get_delivery(&mut *tx, tenant, delivery_id).await?;
        tx.commit().await.map_err(db)?;
        Ok(redelivered)
    }
}

/// Stores a webhook that receives the tenant's events after its last one so far, and audits it.
async fn create(store: &SqliteStore, actor: &Actor, tenant: TenantId, spec: WebhookSpec) -> StoreResult<Webhook> {
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
    let mut tx = store.writer.begin().await.map_err(db)?;
    let from_seq = sqlx::query("SELECT coalesce(max(seq), 0) AS seq FROM outbox WHERE tenant_id = ?")
        .bind(id(tenant))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?
        .int("seq")?;
    sqlx::query(
        "INSERT INTO webhooks (id, tenant_id, name, url, secret, secret_changed_at, event_types, is_enabled, \
         from_seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(hook.id))
    .bind(id(tenant))
    .bind(&hook.name)
    .bind(&hook.url)
    .bind(&spec.secret.sealed)
    .bind(ts(now))
    .bind(event_types(&hook.event_types))
    .bind(hook.is_enabled)
    .bind(from_seq)
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::record::<Webhook>(&mut tx, tenant, actor, AuditAction::WebhookCreate, hook.id, None, &hook).await?;
    tx.commit().await.map_err(db)?;
    Ok(hook)
}

/// One live (not deleted) webhook of the tenant.
async fn get<'e>(conn: impl SqliteExecutor<'e>, tenant: TenantId, webhook_id: Uuid) -> StoreResult<Webhook> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE tenant_id = ? AND id = ? AND deleted_at IS NULL"))
            .bind(id(tenant))
            .bind(id(webhook_id))
            .fetch_optional(conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::Webhook))?;
    webhook(&row)
}

/// Applies a validated change and audits it; a change that changes nothing writes nothing.
async fn update(
    store: &SqliteStore,
    actor: &Actor,
    tenant: TenantId,
    webhook_id: Uuid,
    change: WebhookChange,
) -> StoreResult<Webhook> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let before = get(&mut *tx, tenant, webhook_id).await?;
    let mut after = before.clone();
    if !change.apply(&mut after, now) {
        return Ok(before);
    }
    sqlx::query(
        "UPDATE webhooks SET name = ?, url = ?, secret = COALESCE(?, secret), secret_changed_at = ?, \
         event_types = ?, is_enabled = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&after.name)
    .bind(&after.url)
    .bind(change.secret.as_ref().map(|s| s.sealed.as_str()))
    .bind(ts(after.secret_changed_at))
    .bind(event_types(&after.event_types))
    .bind(after.is_enabled)
    .bind(ts(after.updated_at))
    .bind(id(webhook_id))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::record(&mut tx, tenant, actor, AuditAction::WebhookUpdate, webhook_id, Some(&before), &after).await?;
    tx.commit().await.map_err(db)?;
    Ok(after)
}

/// Soft-deletes the webhook: erases its sealed secret, fails its pending deliveries, hides it.
async fn delete(store: &SqliteStore, actor: &Actor, tenant: TenantId, webhook_id: Uuid) -> StoreResult<()> {
    let now = lineup_store::now_micros();
    let mut tx = store.writer.begin().await.map_err(db)?;
    let before = get(&mut *tx, tenant, webhook_id).await?;
    let after = before.deleted(now);
    sqlx::query(
        "UPDATE webhooks SET secret = NULL, secret_changed_at = ?, is_enabled = 0, updated_at = ?, deleted_at = ? \
         WHERE id = ?",
    )
    .bind(ts(now))
    .bind(ts(now))
    .bind(ts(now))
    .bind(id(webhook_id))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    fail_pending(&mut tx, tenant, webhook_id).await?;
    audit::record(&mut tx, tenant, actor, AuditAction::WebhookDelete, webhook_id, Some(&before), &after).await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// Fails the pending deliveries of a deleted webhook.
async fn fail_pending(conn: &mut SqliteConnection, tenant: TenantId, webhook_id: Uuid) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'failed', next_attempt_at = NULL, last_error = ? \
         WHERE tenant_id = ? AND webhook_id = ? AND state = 'pending'",
    )
    .bind(WEBHOOK_DELETED)
    .bind(id(tenant))
    .bind(id(webhook_id))
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// One delivery of the tenant whose webhook is live.
async fn get_delivery<'e>(
    conn: impl SqliteExecutor<'e>,
    tenant: TenantId,
    delivery_id: Uuid,
) -> StoreResult<WebhookDelivery> {
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.tenant_id = ? AND d.id = ? AND w.deleted_at IS NULL"
    ))
    .bind(id(tenant))
    .bind(id(delivery_id))
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .ok_or(StoreError::NotFound(Entity::WebhookDelivery))?;
    delivery(&row)
}

/// The body every delivery of `event` POSTs.
fn event_body(tenant: TenantId, event: &StoredEvent) -> serde_json::Value {
    WebhookEvent {
        id: event.seq,
        event_type: event.kind,
        tenant_id: tenant,
        session_id: event.session_id,
        item_id: event.item_id,
        created_at: event.created_at,
        data: event.payload.clone(),
    }
    .to_json()
}

/// Event types as stored: a JSON array of their names.
fn event_types(kinds: &[EventKind]) -> String {
    serde_json::Value::from(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()).to_string()
}

fn webhook(row: &SqliteRow) -> StoreResult<Webhook> {
    let names: Vec<String> = serde_json::from_value(row.json("event_types")?).map_err(StoreError::backend)?;
    let event_types = names
        .iter()
        .map(|n| {
            EventKind::parse(n).ok_or_else(|| StoreError::Backend(format!("unknown event type '{n}' of a webhook")))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Webhook {
        id: row.uuid("id")?,
        name: row.text("name")?,
        url: row.text("url")?,
        event_types,
        is_enabled: row.flag("is_enabled")?,
        has_secret: true,
        secret_changed_at: row.time("secret_changed_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn delivery(row: &SqliteRow) -> StoreResult<WebhookDelivery> {
    let kind = row.text("event_type")?;
    let state = row.text("state")?;
    let status: Option<i64> = row.try_get("last_status_code").map_err(db)?;
    Ok(WebhookDelivery {
        id: row.uuid("id")?,
        webhook_id: row.uuid("webhook_id")?,
        event_id: row.int("event_seq")?,
        event_type: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown event type '{kind}' of a delivery")))?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Backend(format!("unknown delivery state '{state}'")))?,
        attempts: count(row, "attempts")?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        last_status_code: status
            .map(|s| u16::try_from(s).map_err(|_| StoreError::Backend(format!("last_status_code holds {s}"))))
            .transpose()?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
        delivered_at: row.opt_time("delivered_at")?,
        event: row.json("payload")?,
    })
}

fn count(row: &SqliteRow, col: &str) -> StoreResult<u32> {
    let n = row.int(col)?;
    u32::try_from(n).map_err(|_| StoreError::Backend(format!("{col} holds {n}")))
}
