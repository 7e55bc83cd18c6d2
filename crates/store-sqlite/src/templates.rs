//! Templates and their statuses.

use lineup_domain::template::{validate_status, StatusSpec};
use lineup_domain::{DomainError, NewTemplate, NewTemplateStatus, StatusMachine, Template, TemplateStatus, TenantId};
use lineup_store::{CursorValue, Entity, Page, PageRequest, SortKey, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};
use uuid::Uuid;

use crate::codec::{db, id, json, ts, RowExt};
use crate::paging::{bind_after, keyset};
use crate::SqliteStore;

const COLUMNS: &str = "id, name, machine, metadata_schema, created_at, updated_at";

pub(crate) async fn create(store: &SqliteStore, tenant: TenantId, new: NewTemplate) -> StoreResult<Template> {
    let spec = new.validate()?;
    let now = lineup_store::now_micros();
    let template_id = Uuid::now_v7();
    let machine = serde_json::to_value(&spec.machine).map_err(StoreError::backend)?;
    let mut tx = store.writer.begin().await.map_err(db)?;
    sqlx::query(
        "INSERT INTO templates (id, tenant_id, name, machine, metadata_schema, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id(template_id))
    .bind(id(tenant))
    .bind(&spec.name)
    .bind(json(&machine))
    .bind(spec.metadata_schema.as_ref().map(json))
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let mut statuses = Vec::with_capacity(spec.statuses.len());
    for s in &spec.statuses {
        statuses.push(insert_status(&mut tx, tenant, template_id, s).await?);
    }
    tx.commit().await.map_err(db)?;
    Ok(Template {
        id: template_id,
        name: spec.name,
        init: spec.machine.init,
        statuses,
        transitions: spec.machine.transitions,
        metadata_schema: spec.metadata_schema,
        created_at: now,
        updated_at: now,
    })
}

async fn insert_status(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    template_id: Uuid,
    s: &StatusSpec,
) -> StoreResult<TemplateStatus> {
    let status_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO template_statuses (id, tenant_id, template_id, label, color, sort_order) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id(status_id))
    .bind(id(tenant))
    .bind(id(template_id))
    .bind(&s.label)
    .bind(&s.color)
    .bind(s.order)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(TemplateStatus { id: status_id, template_id, label: s.label.clone(), color: s.color.clone(), order: s.order })
}

pub(crate) async fn get(pool: &SqlitePool, tenant: TenantId, template_id: Uuid) -> StoreResult<Template> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM templates WHERE tenant_id = ? AND id = ?"))
        .bind(id(tenant))
        .bind(id(template_id))
        .fetch_optional(pool)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Template))?;
    let statuses = statuses(pool, tenant, template_id).await?;
    from_row(&row, statuses)
}

pub(crate) async fn list(pool: &SqlitePool, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Template>> {
    let ks = keyset(page, &[(SortKey::Name, "name"), (SortKey::CreatedAt, "created_at")], "id")?;
    let sql = format!("SELECT {COLUMNS} FROM templates WHERE tenant_id = ?{}{}", ks.condition, ks.order_by);
    let rows = bind_after(sqlx::query(&sql).bind(id(tenant)), &ks.after_binds).fetch_all(pool).await.map_err(db)?;
    let mut templates = Vec::with_capacity(rows.len());
    for row in &rows {
        let statuses = statuses(pool, tenant, row.uuid("id")?).await?;
        templates.push(from_row(row, statuses)?);
    }
    Ok(page.finish(templates, |t| {
        let value = match page.sort {
            SortKey::Name => CursorValue::Text(t.name.clone()),
            _ => CursorValue::Time(t.created_at),
        };
        (value, t.id)
    }))
}

pub(crate) async fn add_status(
    store: &SqliteStore,
    tenant: TenantId,
    template_id: Uuid,
    new: NewTemplateStatus,
) -> StoreResult<TemplateStatus> {
    let mut tx = store.writer.begin().await.map_err(db)?;
    let existing = statuses(&mut *tx, tenant, template_id).await?;
    let exists = sqlx::query("SELECT 1 FROM templates WHERE tenant_id = ? AND id = ?")
        .bind(id(tenant))
        .bind(id(template_id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    if exists.is_none() {
        return Err(StoreError::NotFound(Entity::Template));
    }
    let next_order = existing.iter().map(|s| s.order + 1).max().unwrap_or(0);
    let spec = validate_status(new, next_order)?;
    if existing.iter().any(|s| s.label == spec.label) {
        return Err(DomainError::DuplicateStatusLabel { label: spec.label }.into());
    }
    let status = insert_status(&mut tx, tenant, template_id, &spec).await?;
    sqlx::query("UPDATE templates SET updated_at = ? WHERE id = ?")
        .bind(ts(lineup_store::now_micros()))
        .bind(id(template_id))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(status)
}

/// The template's statuses by order.
pub(crate) async fn statuses<'e>(
    conn: impl SqliteExecutor<'e>,
    tenant: TenantId,
    template_id: Uuid,
) -> StoreResult<Vec<TemplateStatus>> {
    let rows = sqlx::query(
        "SELECT id, label, color, sort_order FROM template_statuses \
         WHERE tenant_id = ? AND template_id = ? ORDER BY sort_order, label",
    )
    .bind(id(tenant))
    .bind(id(template_id))
    .fetch_all(conn)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|r| {
            Ok(TemplateStatus {
                id: r.uuid("id")?,
                template_id,
                label: r.text("label")?,
                color: r.text("color")?,
                order: r.int("sort_order")? as i32,
            })
        })
        .collect()
}

fn from_row(row: &SqliteRow, statuses: Vec<TemplateStatus>) -> StoreResult<Template> {
    let machine: StatusMachine = serde_json::from_value(row.json("machine")?).map_err(StoreError::backend)?;
    Ok(Template {
        id: row.uuid("id")?,
        name: row.text("name")?,
        init: machine.init,
        statuses,
        transitions: machine.transitions,
        metadata_schema: row.opt_json("metadata_schema")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
