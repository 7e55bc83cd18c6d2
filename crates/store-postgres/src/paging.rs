//! Keyset pagination in SQL: the one way every list turns a [`PageRequest`] into its cursor
//! condition, `ORDER BY` and `LIMIT`.

use lineup_store::{CursorValue, PageRequest, SortKey, SortOrder, StoreError, StoreResult};
use sqlx::{Postgres, QueryBuilder};

/// The kind of value a sort column holds, so a cursor of another kind is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Int,
    Text,
    Time,
}

/// How a list sorts by one key: the SQL expression (ties broken by `id`) and its value kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SortColumn {
    pub key: SortKey,
    pub expr: &'static str,
    pub kind: ValueKind,
}

/// Names sort in byte order (as in SQLite), whatever the database's collation.
pub(crate) const NAME: SortColumn =
    SortColumn { key: SortKey::Name, expr: "name COLLATE \"C\"", kind: ValueKind::Text };
pub(crate) const CREATED_AT: SortColumn =
    SortColumn { key: SortKey::CreatedAt, expr: "created_at", kind: ValueKind::Time };
pub(crate) const SESSION_NUMBER: SortColumn =
    SortColumn { key: SortKey::SessionNumber, expr: "session_number", kind: ValueKind::Int };
pub(crate) const NUMBER: SortColumn = SortColumn { key: SortKey::Number, expr: "number", kind: ValueKind::Int };

/// The column of `page.sort` among those a list accepts; any other key is `InvalidPage`.
pub(crate) fn column(page: &PageRequest, accepted: &[SortColumn]) -> StoreResult<SortColumn> {
    accepted.iter().copied().find(|c| c.key == page.sort).ok_or_else(|| {
        let names: Vec<&str> = accepted.iter().map(|c| c.key.as_str()).collect();
        StoreError::InvalidPage(format!("this list sorts by {} only", names.join(" or ")))
    })
}

/// Appends ` AND <after the cursor> ORDER BY <column>, <id> LIMIT <limit + 1>` to a query that
/// ends with its `WHERE` conditions; `id` is the tie-breaking id column (qualified when the query
/// joins). The cursor condition is the row-value comparison `(col, id) > (v, id0)` ascending (`<`
/// descending), which PostgreSQL turns into one index range on `(tenant_id, col, id)`; text values
/// are compared in byte order (`COLLATE "C"`) like the column.
pub(crate) fn push_keyset(
    qb: &mut QueryBuilder<'_, Postgres>,
    page: &PageRequest,
    col: SortColumn,
    id: &str,
) -> StoreResult<()> {
    let (cmp, dir) = match page.order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    if let Some(after) = &page.after {
        let kind = match after.value {
            CursorValue::Int(_) => ValueKind::Int,
            CursorValue::Text(_) => ValueKind::Text,
            CursorValue::Time(_) => ValueKind::Time,
        };
        if after.sort != page.sort || after.order != page.order || kind != col.kind {
            return Err(StoreError::InvalidPage("the cursor belongs to another sort order".into()));
        }
        qb.push(format_args!(" AND ({}, {id}) {cmp} (", col.expr));
        match &after.value {
            CursorValue::Int(n) => qb.push_bind(*n),
            CursorValue::Text(s) => qb.push_bind(s.clone()).push(" COLLATE \"C\""),
            CursorValue::Time(t) => qb.push_bind(*t),
        };
        qb.push(", ");
        qb.push_bind(after.id);
        qb.push(")");
    }
    qb.push(format_args!(" ORDER BY {} {dir}, {id} {dir} LIMIT ", col.expr));
    qb.push_bind(page.fetch_limit());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lineup_store::Cursor;
    use uuid::Uuid;

    fn sql(page: &PageRequest, col: SortColumn) -> StoreResult<String> {
        let mut qb = QueryBuilder::new("SELECT id FROM t WHERE tenant_id = ");
        qb.push_bind(Uuid::nil());
        push_keyset(&mut qb, page, col, "id")?;
        Ok(qb.into_sql())
    }

    #[test]
    fn keyset_conditions_follow_the_sort_direction() {
        let first = PageRequest::first(SortKey::Number, SortOrder::Asc);
        assert_eq!(
            sql(&first, NUMBER).unwrap(),
            "SELECT id FROM t WHERE tenant_id = $1 ORDER BY number ASC, id ASC LIMIT $2"
        );
        let cursor = Cursor {
            sort: SortKey::Name,
            order: SortOrder::Desc,
            value: CursorValue::Text("b".into()),
            id: Uuid::nil(),
        };
        let next = PageRequest { after: Some(cursor), ..PageRequest::first(SortKey::Name, SortOrder::Desc) };
        assert_eq!(
            sql(&next, NAME).unwrap(),
            "SELECT id FROM t WHERE tenant_id = $1 AND (name COLLATE \"C\", id) < ($2 COLLATE \"C\", $3) \
             ORDER BY name COLLATE \"C\" DESC, id DESC LIMIT $4"
        );
    }

    #[test]
    fn a_cursor_value_of_the_wrong_kind_is_refused() {
        let cursor = Cursor {
            sort: SortKey::Number,
            order: SortOrder::Asc,
            value: CursorValue::Text("x".into()),
            id: Uuid::nil(),
        };
        let page = PageRequest { after: Some(cursor), ..PageRequest::first(SortKey::Number, SortOrder::Asc) };
        assert!(matches!(sql(&page, NUMBER), Err(StoreError::InvalidPage(_))));
        let unknown = PageRequest::first(SortKey::Number, SortOrder::Asc);
        assert!(matches!(column(&unknown, &[NAME, CREATED_AT]), Err(StoreError::InvalidPage(_))));
    }
}
