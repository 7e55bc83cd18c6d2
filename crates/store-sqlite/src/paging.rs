//! Keyset pagination in SQL: the `WHERE` fragment and `ORDER BY` for a page request.

use lineup_store::{PageRequest, SortKey, SortOrder, StoreError, StoreResult};

use crate::codec::Bound;

/// The SQL pieces of a page: an extra condition (with its binds) and the ordering.
pub(crate) struct Keyset {
    /// ` AND (...)` or empty; binds are `after_binds` in order.
    pub condition: String,
    pub after_binds: Vec<Bound>,
    pub order_by: String,
}

/// Builds the keyset for `page`, where `columns` maps each sort key this list accepts to its
/// column (qualified with `alias.` when needed) and `id_col` is the tie-breaking id column.
pub(crate) fn keyset(page: &PageRequest, columns: &[(SortKey, &str)], id_col: &str) -> StoreResult<Keyset> {
    let col = columns
        .iter()
        .find(|(k, _)| *k == page.sort)
        .map(|(_, c)| *c)
        .ok_or_else(|| StoreError::InvalidPage(format!("this list cannot be sorted by {}", page.sort.as_str())))?;
    let (cmp, dir) = match page.order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    let (condition, after_binds) = match &page.after {
        Some(c) => (
            // A row-value comparison lets SQLite seek the (session_id, number) style indexes;
            // the equivalent OR form makes it scan.
            format!(" AND ({col}, {id_col}) {cmp} (?, ?)"),
            vec![Bound::from(&c.value), Bound::Text(crate::codec::id(c.id))],
        ),
        None => (String::new(), Vec::new()),
    };
    Ok(Keyset {
        condition,
        after_binds,
        order_by: format!(" ORDER BY {col} {dir}, {id_col} {dir} LIMIT {}", page.fetch_limit()),
    })
}

/// Binds the keyset's values to a query.
pub(crate) fn bind_after<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    binds: &'q [Bound],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for b in binds {
        q = match b {
            Bound::Int(i) => q.bind(*i),
            Bound::Text(s) => q.bind(s.as_str()),
        };
    }
    q
}
