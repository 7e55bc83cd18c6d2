//! How domain values are written to and read from SQLite columns: UUIDs as lower-case
//! hyphenated TEXT, instants as fixed-width RFC 3339 UTC TEXT with microseconds (so text order
//! is time order), JSON as TEXT.

use chrono::{DateTime, Utc};
use lineup_domain::Role;
use lineup_store::{CursorValue, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

/// A UUID as stored.
pub(crate) fn id(u: Uuid) -> String {
    u.hyphenated().to_string()
}

/// An instant as stored.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// An instant as it reads back once stored: truncated to the microsecond (as `ts` writes it).
pub(crate) fn stored(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// JSON as stored.
pub(crate) fn json(v: &serde_json::Value) -> String {
    v.to_string()
}

/// Maps any database error to a backend error.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::backend(e)
}

/// Turns a violation of one of `conflicts` (the columns SQLite names in its message, e.g.
/// `users.email`, and what a clash means) into `Conflict(message)`; any other error is a backend
/// error.
pub(crate) fn conflict_or_db(e: sqlx::Error, conflicts: &[(&str, &str)]) -> StoreError {
    if let Some(columns) = unique_violation(&e) {
        if let Some((_, message)) = conflicts.iter().find(|(c, _)| *c == columns) {
            return StoreError::Conflict((*message).to_string());
        }
    }
    db(e)
}

/// The columns of the unique constraint (or primary key) a failed statement violated, as SQLite
/// lists them: `UNIQUE constraint failed: memberships.tenant_id, memberships.user_id`.
fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    let e = e.as_database_error()?;
    if e.kind() != sqlx::error::ErrorKind::UniqueViolation {
        return None;
    }
    e.message().strip_prefix("UNIQUE constraint failed: ")
}

fn corrupt(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("column {col} holds an unreadable value: {e}"))
}

/// Typed column readers for SQLite rows.
pub(crate) trait RowExt {
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn int(&self, col: &str) -> StoreResult<i64>;
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        Uuid::parse_str(&self.text(col)?).map_err(|e| corrupt(col, e))
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.opt_text(col)?.map(|s| Uuid::parse_str(&s).map_err(|e| corrupt(col, e))).transpose()
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        parse_time(col, &self.text(col)?)
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt_text(col)?.map(|s| parse_time(col, &s)).transpose()
    }
    fn json(&self, col: &str) -> StoreResult<serde_json::Value> {
        serde_json::from_str(&self.text(col)?).map_err(|e| corrupt(col, e))
    }
    fn opt_json(&self, col: &str) -> StoreResult<Option<serde_json::Value>> {
        self.opt_text(col)?.map(|s| serde_json::from_str(&s).map_err(|e| corrupt(col, e))).transpose()
    }
    fn flag(&self, col: &str) -> StoreResult<bool> {
        Ok(self.int(col)? != 0)
    }
    fn role(&self, col: &str) -> StoreResult<Role> {
        let value = self.text(col)?;
        Role::parse(&value).ok_or_else(|| corrupt(col, format!("unknown role '{value}'")))
    }
}

impl RowExt for SqliteRow {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(db)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(db)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.try_get(col).map_err(db)
    }
}

fn parse_time(col: &str, s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| corrupt(col, e))
}

/// A cursor value in its stored form, ready to bind.
pub(crate) enum Bound {
    Int(i64),
    Text(String),
}

impl From<&CursorValue> for Bound {
    fn from(v: &CursorValue) -> Self {
        match v {
            CursorValue::Int(i) => Bound::Int(*i),
            CursorValue::Text(s) => Bound::Text(s.clone()),
            CursorValue::Time(t) => Bound::Text(ts(*t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_instants_sort_as_text_in_time_order() {
        let a = DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap();
        let b = DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap();
        let c = DateTime::from_timestamp_micros(1_700_000_001_000_000).unwrap();
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        assert_eq!(ts(a), "2023-11-14T22:13:20.000000Z");
        assert_eq!(parse_time("t", &ts(b)).unwrap(), b);
    }
}
