//! Templates and their statuses.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lineup_domain::template::{validate_status, StatusSpec};
use lineup_domain::{DomainError, NewTemplate, NewTemplateStatus, StatusMachine, Template, TemplateStatus, TenantId};
use lineup_store::{CursorValue, Entity, Page, PageRequest, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::paging::{self, CREATED_AT, NAME};
use crate::rows::{self, col, db, TEMPLATE_STATUS_COLUMNS};

const COLUMNS: &str = "id, name, machine, metadata_schema, created_at, updated_at";

/// Validates and stores a template with its statuses.
pub(crate) async fn create(conn: &mut PgConnection, tenant: TenantId, new: NewTemplate) -> StoreResult<Template> {
    let spec = new.validate()?;
    let now = lineup_store::now_micros();
    let template_id = Uuid::now_v7();
    let machine = serde_json::to_value(&spec.machine).map_err(StoreError::backend)?;
    sqlx::query(
        "INSERT INTO templates (id, tenant_id, name, machine, metadata_schema, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(template_id)
    .bind(tenant)
    .bind(&spec.name)
    .bind(&machine)
    .bind(&spec.metadata_schema)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let mut statuses = Vec::with_capacity(spec.statuses.len());
    for s in &spec.statuses {
        statuses.push(insert_status(conn, tenant, template_id, s).await?);
    }
    sort_statuses(&mut statuses);
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
    conn: &mut PgConnection,
    tenant: TenantId,
    template_id: Uuid,
    s: &StatusSpec,
) -> StoreResult<TemplateStatus> {
    let status_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO template_statuses (id, tenant_id, template_id, label, color, sort_order) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(status_id)
    .bind(tenant)
    .bind(template_id)
    .bind(&s.label)
    .bind(&s.color)
    .bind(s.order)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(TemplateStatus { id: status_id, template_id, label: s.label.clone(), color: s.color.clone(), order: s.order })
}

/// One template of the tenant with its statuses.
pub(crate) async fn get(conn: &mut PgConnection, tenant: TenantId, template_id: Uuid) -> StoreResult<Template> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM templates WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(template_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Template))?;
    let statuses = statuses(conn, tenant, template_id).await?;
    from_row(&row, statuses)
}

/// A page of the tenant's templates by name or creation time; statuses come in one extra query.
pub(crate) async fn list(conn: &mut PgConnection, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Template>> {
    let sort = paging::column(page, &[NAME, CREATED_AT])?;
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM templates WHERE tenant_id = "));
    qb.push_bind(tenant);
    paging::push_keyset(&mut qb, page, sort, "id")?;
    let rows = qb.build().fetch_all(&mut *conn).await.map_err(db)?;
    let ids = rows.iter().map(|r| col::<Uuid>(r, "id")).collect::<StoreResult<Vec<_>>>()?;
    let status_rows = sqlx::query(&format!(
        "SELECT {TEMPLATE_STATUS_COLUMNS} FROM template_statuses WHERE tenant_id = $1 AND template_id = ANY($2)"
    ))
    .bind(tenant)
    .bind(&ids)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    let mut by_template: HashMap<Uuid, Vec<TemplateStatus>> = HashMap::new();
    for r in &status_rows {
        let s = rows::template_status(r)?;
        by_template.entry(s.template_id).or_default().push(s);
    }
    let mut templates = Vec::with_capacity(rows.len());
    for (row, id) in rows.iter().zip(&ids) {
        let mut statuses = by_template.remove(id).unwrap_or_default();
        sort_statuses(&mut statuses);
        templates.push(from_row(row, statuses)?);
    }
    Ok(page.finish(templates, |t| {
        let value = match sort.kind {
            paging::ValueKind::Text => CursorValue::Text(t.name.clone()),
            _ => CursorValue::Time(t.created_at),
        };
        (value, t.id)
    }))
}

/// Adds a status (after the last one unless an order is given). The template row is locked so
/// the label check and the insert cannot interleave with another add.
pub(crate) async fn add_status(
    conn: &mut PgConnection,
    tenant: TenantId,
    template_id: Uuid,
    new: NewTemplateStatus,
) -> StoreResult<TemplateStatus> {
    let now = lineup_store::now_micros();
    sqlx::query("SELECT id FROM templates WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE")
        .bind(tenant)
        .bind(template_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Template))?;
    let existing = statuses(&mut *conn, tenant, template_id).await?;
    let next_order = existing.iter().map(|s| s.order.saturating_add(1)).max().unwrap_or(0);
    let spec = validate_status(new, next_order)?;
    if existing.iter().any(|s| s.label == spec.label) {
        return Err(DomainError::DuplicateStatusLabel { label: spec.label }.into());
    }
    let status = insert_status(conn, tenant, template_id, &spec).await?;
    touch(conn, template_id, now).await?;
    Ok(status)
}

async fn touch(conn: &mut PgConnection, template_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query("UPDATE templates SET updated_at = $2 WHERE id = $1")
        .bind(template_id)
        .bind(now)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// The template's statuses by (order, label).
pub(crate) async fn statuses<'e>(
    conn: impl PgExecutor<'e>,
    tenant: TenantId,
    template_id: Uuid,
) -> StoreResult<Vec<TemplateStatus>> {
    let rows = sqlx::query(&format!(
        "SELECT {TEMPLATE_STATUS_COLUMNS} FROM template_statuses WHERE tenant_id = $1 AND template_id = $2 \
         ORDER BY sort_order, label COLLATE \"C\""
    ))
    .bind(tenant)
    .bind(template_id)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    rows.iter().map(rows::template_status).collect()
}

/// Orders statuses as the database does: by order, then label in byte order.
fn sort_statuses(statuses: &mut [TemplateStatus]) {
    statuses.sort_by(|a, b| (a.order, a.label.as_bytes()).cmp(&(b.order, b.label.as_bytes())));
}

fn from_row(row: &PgRow, statuses: Vec<TemplateStatus>) -> StoreResult<Template> {
    let machine: StatusMachine = rows::machine(row, "machine")?;
    Ok(Template {
        id: col(row, "id")?,
        name: col(row, "name")?,
        init: machine.init,
        statuses,
        transitions: machine.transitions,
        metadata_schema: col(row, "metadata_schema")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}
