//! Keyset pagination: one request type, one page type and an opaque cursor for every list.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoreError;

/// Largest page a list returns.
pub const MAX_LIMIT: u32 = 500;
/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u32 = 50;

/// A column a list can be sorted by (each list accepts a subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    CreatedAt,
    Name,
    SessionNumber,
    Number,
}

impl SortKey {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "createdAt",
            SortKey::Name => "name",
            SortKey::SessionNumber => "sessionNumber",
            SortKey::Number => "number",
        }
    }

    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<SortKey> {
        [SortKey::CreatedAt, SortKey::Name, SortKey::SessionNumber, SortKey::Number]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

/// The sort key value of the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CursorValue {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// Where the next page starts: after the row with this sort value and id, in this sort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub sort: SortKey,
    pub order: SortOrder,
    pub value: CursorValue,
    pub id: Uuid,
}

impl Cursor {
    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serializes"))
    }

    /// Parses a client's cursor string.
    pub fn decode(s: &str) -> Result<Cursor, StoreError> {
        let bytes =
            URL_SAFE_NO_PAD.decode(s).map_err(|_| StoreError::InvalidPage("not a cursor of this API".into()))?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidPage("not a cursor of this API".into()))
    }
}

/// One page request: size, sort and where to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub sort: SortKey,
    pub order: SortOrder,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Builds a request, clamping nothing: a limit outside 1..=MAX_LIMIT or a cursor issued for
    /// another sort is an error.
    pub fn new(limit: Option<u32>, sort: SortKey, order: SortOrder, cursor: Option<&str>) -> Result<Self, StoreError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(StoreError::InvalidPage(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let after = cursor.map(Cursor::decode).transpose()?;
        if let Some(c) = &after {
            if c.sort != sort || c.order != order {
                return Err(StoreError::InvalidPage("the cursor belongs to another sort order".into()));
            }
            let value_fits = matches!(
                (sort, &c.value),
                (SortKey::Name, CursorValue::Text(_))
                    | (SortKey::CreatedAt, CursorValue::Time(_))
                    | (SortKey::Number | SortKey::SessionNumber, CursorValue::Int(_))
            );
            if !value_fits {
                return Err(StoreError::InvalidPage("not a cursor of this API".into()));
            }
        }
        Ok(PageRequest { limit, sort, order, after })
    }

    /// The first page in this sort with the default size.
    pub fn first(sort: SortKey, order: SortOrder) -> Self {
        PageRequest { limit: DEFAULT_LIMIT, sort, order, after: None }
    }

    /// Builds the page from up to `limit + 1` fetched rows: the extra row only tells that a next
    /// page exists. `key` gives a row's sort value and id.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> (CursorValue, Uuid)) -> Page<T> {
        let more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| {
                let (value, id) = key(r);
                Cursor { sort: self.sort, order: self.order, value, id }.encode()
            })
        } else {
            None
        };
        Page { items: rows, next_cursor }
    }

    /// Rows to fetch: one more than the page size.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            sort: SortKey::Number,
            order: SortOrder::Desc,
            value: CursorValue::Int(7),
            id: Uuid::from_u128(5),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("not-base64!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"{}")).is_err());
    }

    #[test]
    fn a_cursor_from_another_sort_or_a_bad_limit_is_refused() {
        let c = Cursor { sort: SortKey::Number, order: SortOrder::Asc, value: CursorValue::Int(7), id: Uuid::nil() }
            .encode();
        assert!(PageRequest::new(None, SortKey::CreatedAt, SortOrder::Asc, Some(&c)).is_err());
        assert!(PageRequest::new(None, SortKey::Number, SortOrder::Desc, Some(&c)).is_err());
        assert!(PageRequest::new(None, SortKey::Number, SortOrder::Asc, Some(&c)).is_ok());
        assert!(PageRequest::new(Some(0), SortKey::Number, SortOrder::Asc, None).is_err());
        assert!(PageRequest::new(Some(MAX_LIMIT + 1), SortKey::Number, SortOrder::Asc, None).is_err());
        let forged = Cursor {
            sort: SortKey::Number,
            order: SortOrder::Asc,
            value: CursorValue::Text("x".into()),
            id: Uuid::nil(),
        };
        assert!(PageRequest::new(None, SortKey::Number, SortOrder::Asc, Some(&forged.encode())).is_err());
    }

    #[test]
    fn finish_emits_a_cursor_only_when_more_rows_exist() {
        let req = PageRequest { limit: 2, sort: SortKey::Number, order: SortOrder::Asc, after: None };
        let key = |n: &i64| (CursorValue::Int(*n), Uuid::from_u128(*n as u128));
        let page = req.finish(vec![1, 2, 3], key);
        assert_eq!(page.items, vec![1, 2]);
        let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.value, CursorValue::Int(2));
        assert_eq!(req.finish(vec![1, 2], key).next_cursor, None);
    }
}
