//! The OData query options the simulator answers, applied to a collection of JSON rows as 3CX
//! does: `$filter`, then `$count` (of the filtered rows), `$orderby`, `$skip`, `$top`, and
//! `$select`. `$expand` is left to the route that knows the navigation properties.

pub mod filter;

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// A query option the simulator cannot answer: a 400 with an OData error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// What is wrong with the option.
    pub message: String,
}

impl QueryError {
    /// A refusal with `message`.
    pub fn new(message: impl Into<String>) -> QueryError {
        QueryError { message: message.into() }
    }
}

/// One `$orderby` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// The property sorted by.
    pub property: String,
    /// `desc` rather than `asc`.
    pub descending: bool,
}

/// The parsed query options of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    /// `$filter`.
    pub filter: Option<filter::Expr>,
    /// `$orderby`, most significant key first.
    pub order_by: Vec<OrderBy>,
    /// `$select`.
    pub select: Option<Vec<String>>,
    /// `$expand`, as listed.
    pub expand: Vec<String>,
    /// `$top`.
    pub top: Option<usize>,
    /// `$skip` (0 when absent).
    pub skip: usize,
    /// `$count=true`.
    pub count: bool,
}

impl QueryOptions {
    /// Parses the query string's pairs (already percent-decoded). Unknown `$` options are
    /// refused; other parameters are ignored.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<QueryOptions, QueryError> {
        let mut q = QueryOptions::default();
        for (key, value) in pairs {
            match key {
                "$filter" => q.filter = Some(filter::parse(value)?),
                "$orderby" => q.order_by = parse_order_by(value)?,
                "$select" => q.select = Some(list(value)),
                "$expand" => q.expand = list(value),
                "$top" => q.top = Some(number(key, value)?),
                "$skip" => q.skip = number(key, value)?,
                "$count" => {
                    q.count = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(QueryError::new("$count must be true or false")),
                    }
                }
                "$search" | "$format" => {}
                other if other.starts_with('$') => {
                    return Err(QueryError::new(format!("the query option '{other}' is not supported")))
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// Applies the options to `rows`: the page to return and, when `$count=true`, the number of
    /// rows that matched the filter before paging.
    pub fn apply(&self, rows: Vec<Value>) -> (Vec<Value>, Option<usize>) {
        let mut rows: Vec<Value> = match &self.filter {
            Some(f) => rows.into_iter().filter(|r| filter::matches(f, r)).collect(),
            None => rows,
        };
        let count = self.count.then_some(rows.len());
        if !self.order_by.is_empty() {
            rows.sort_by(|a, b| self.compare(a, b));
        }
        let page = rows.into_iter().skip(self.skip).take(self.top.unwrap_or(usize::MAX));
        let page = match &self.select {
            Some(fields) => page.map(|r| select(r, fields)).collect(),
            None => page.collect(),
        };
        (page, count)
    }

    fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for key in &self.order_by {
            let ordering = compare_json(a.get(&key.property), b.get(&key.property));
            let ordering = if key.descending { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn number(key: &str, value: &str) -> Result<usize, QueryError> {
    value.trim().parse().map_err(|_| QueryError::new(format!("{key} must be a non-negative integer")))
}

fn parse_order_by(value: &str) -> Result<Vec<OrderBy>, QueryError> {
    list(value)
        .into_iter()
        .map(|part| {
            let mut words = part.split_whitespace();
            let property = words.next().unwrap_or_default().to_string();
            let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => return Err(QueryError::new(format!("bad $orderby direction '{other}'"))),
            };
            if words.next().is_some() || property.is_empty() {
                return Err(QueryError::new(format!("bad $orderby '{part}'")));
            }
            Ok(OrderBy { property, descending })
        })
        .collect()
}

/// Nulls (absent values) sort first, as OData does; then numbers, strings, booleans by value.
fn compare_json(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn select(row: Value, fields: &[String]) -> Value {
    match row {
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter(|(k, _)| k.starts_with('@') || fields.iter().any(|f| f == k || f == "*"))
                .collect();
            Value::Object(kept)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Value> {
        vec![
            json!({"Id": 1, "Name": "b", "Wait": 30}),
            json!({"Id": 2, "Name": "a", "Wait": null}),
            json!({"Id": 3, "Name": "c", "Wait": 10}),
            json!({"Id": 4, "Name": "a", "Wait": 20}),
        ]
    }

    fn ids(rows: &[Value]) -> Vec<i64> {
        rows.iter().map(|r| r["Id"].as_i64().unwrap()).collect()
    }

    /// Query pairs, the ids of the expected page, the expected count.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [i64], Option<usize>);

    #[test]
    fn options_apply_in_odata_order() {
        let cases: &[Case] = &[
            (&[], &[1, 2, 3, 4], None),
            (&[("$orderby", "Name asc,Id desc")], &[4, 2, 1, 3], None),
            (&[("$orderby", "Wait desc")], &[1, 4, 3, 2], None),
            (&[("$filter", "Wait ge 20"), ("$count", "true")], &[1, 4], Some(2)),
            (&[("$orderby", "Id"), ("$skip", "1"), ("$top", "2"), ("$count", "true")], &[2, 3], Some(4)),
            (&[("$top", "0")], &[], None),
        ];
        for (pairs, expected, count) in cases {
            let q = QueryOptions::parse(pairs.iter().copied()).unwrap();
            let (page, n) = q.apply(rows());
            assert_eq!((ids(&page).as_slice(), n), (*expected, *count), "{pairs:?}");
        }
    }

    #[test]
    fn select_keeps_only_the_named_properties() {
        let q = QueryOptions::parse([("$select", "Id, Wait"), ("$top", "1")]).unwrap();
        assert_eq!(q.apply(rows()).0, vec![json!({"Id": 1, "Wait": 30})]);
    }

    #[test]
    fn bad_options_are_refused() {
        for pairs in [[("$top", "-1")], [("$count", "yes")], [("$orderby", "Id sideways")], [("$apply", "x")]] {
            assert!(QueryOptions::parse(pairs).is_err(), "{pairs:?}");
        }
    }
}
