//! OData: the query options of a request (`Query`), literals in paths and filters
//! (`ToODataLiteral`), and one page of a collection (`ODataPage`).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;

use crate::encode::encode_query_value;
pub use crate::filter::{CompareOp, Filter, StringFunction};

/// Sort direction of one `$orderby` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Ascending (`Name asc`).
    Asc,
    /// Descending (`Name desc`).
    Desc,
}

/// Query options of a request (`$filter`, `$select`, `$expand`, `$orderby`, `$top`, `$skip`,
/// `$count`, `$search`), built by chaining:
///
/// ```
/// use lineup_xapi::odata::{Filter, Query, SortOrder};
/// let query = Query::new()
///     .filter(Filter::eq("Status", "Talking"))
///     .select(["Id", "Caller"])
///     .order_by("EstablishedAt", SortOrder::Desc)
///     .top(50);
/// assert_eq!(
///     query.to_query_string(),
///     "$filter=Status%20eq%20'Talking'&$select=Id,Caller&$orderby=EstablishedAt%20desc&$top=50"
/// );
/// ```
///
/// A query made by [`Query::next_link`] instead names a whole `@odata.nextLink` to follow; its
/// other options are ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub(crate) filter: Option<Filter>,
    pub(crate) select: Vec<String>,
    pub(crate) expand: Vec<(String, Query)>,
    pub(crate) order_by: Vec<(String, SortOrder)>,
    pub(crate) top: Option<u32>,
    pub(crate) skip: Option<u32>,
    pub(crate) count: bool,
    pub(crate) search: Option<String>,
    pub(crate) next_link: Option<String>,
}

impl Query {
    /// No options: the server's defaults.
    pub fn new() -> Query {
        Query::default()
    }

    /// A query that follows `link`, an `@odata.nextLink` from a previous page (absolute, or
    /// relative to the XAPI root). The client refuses links to another server.
    pub fn next_link(link: impl Into<String>) -> Query {
        Query { next_link: Some(link.into()), ..Query::default() }
    }

    /// `$filter`; a second call combines both with `and`.
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// `$select`: adds these properties.
    pub fn select<I, S>(mut self, fields: I) -> Query
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select.extend(fields.into_iter().map(Into::into));
        self
    }

    /// `$expand` of a navigation property, without nested options.
    pub fn expand(self, property: impl Into<String>) -> Query {
        self.expand_with(property, Query::new())
    }

    /// `$expand` of a navigation property with nested options (`Agents($select=Name;$top=5)`).
    pub fn expand_with(mut self, property: impl Into<String>, options: Query) -> Query {
        self.expand.push((property.into(), options));
        self
    }

    /// `$orderby`: adds a sort key after those already given.
    pub fn order_by(mut self, field: impl Into<String>, order: SortOrder) -> Query {
        self.order_by.push((field.into(), order));
        self
    }

    /// `$top`: at most this many rows.
    pub fn top(mut self, rows: u32) -> Query {
        self.top = Some(rows);
        self
    }

    /// `$skip`: skip this many rows.
    pub fn skip(mut self, rows: u32) -> Query {
        self.skip = Some(rows);
        self
    }

    /// `$count=true`: ask for `@odata.count`.
    pub fn count(mut self, count: bool) -> Query {
        self.count = count;
        self
    }

    /// `$search`, written as given.
    pub fn search(mut self, terms: impl Into<String>) -> Query {
        self.search = Some(terms.into());
        self
    }

    /// The `@odata.nextLink` this query follows, if it was made by [`Query::next_link`].
    pub fn followed_link(&self) -> Option<&str> {
        self.next_link.as_deref()
    }

    /// The options as `(name, value)` pairs, unencoded, in a fixed order: `$filter`, `$select`,
    /// `$expand`, `$orderby`, `$top`, `$skip`, `$count`, `$search`.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(filter) = &self.filter {
            pairs.push(("$filter", filter.to_string()));
        }
        if !self.select.is_empty() {
            pairs.push(("$select", self.select.join(",")));
        }
        if !self.expand.is_empty() {
            let items: Vec<String> =
                self.expand.iter().map(|(property, options)| expand_item(property, options)).collect();
            pairs.push(("$expand", items.join(",")));
        }
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self
                .order_by
                .iter()
                .map(|(field, order)| match order {
                    SortOrder::Asc => format!("{field} asc"),
                    SortOrder::Desc => format!("{field} desc"),
                })
                .collect();
            pairs.push(("$orderby", keys.join(",")));
        }
        if let Some(top) = self.top {
            pairs.push(("$top", top.to_string()));
        }
        if let Some(skip) = self.skip {
            pairs.push(("$skip", skip.to_string()));
        }
        if self.count {
            pairs.push(("$count", "true".to_owned()));
        }
        if let Some(search) = &self.search {
            pairs.push(("$search", search.clone()));
        }
        pairs
    }

    /// The query string (without `?`): `name=value` pairs joined by `&`, values percent-encoded
    /// (spaces, `&`, `+`, `#`, `%`, `"` and non-ASCII; OData punctuation such as `'`, `(`, `,`,
    /// `$`, `:` stays). Empty when there are no options.
    pub fn to_query_string(&self) -> String {
        let pairs: Vec<String> =
            self.to_pairs().into_iter().map(|(name, value)| format!("{name}={}", encode_query_value(&value))).collect();
        pairs.join("&")
    }
}

/// One `$expand` item: the property, then its nested options separated by `;` in parentheses.
fn expand_item(property: &str, options: &Query) -> String {
    let nested: Vec<String> = options.to_pairs().into_iter().map(|(name, value)| format!("{name}={value}")).collect();
    if nested.is_empty() {
        property.to_owned()
    } else {
        format!("{property}({})", nested.join(";"))
    }
}

/// One page of an entity collection or a collection-valued function.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ODataPage<T> {
    /// The rows of this page.
    pub value: Vec<T>,
    /// `@odata.count`, when `$count=true` was asked.
    #[serde(rename = "@odata.count", default)]
    pub count: Option<i64>,
    /// `@odata.nextLink`, when the server pages.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// A value written as an OData literal: in a function's parameters in a path
/// (`Pbx.GetCallLogData(periodFrom=2026-01-01T00:00:00Z,sourceFilter='a''b')`) or in `$filter`.
pub trait ToODataLiteral {
    /// The literal: strings in single quotes with `'` doubled, numbers and booleans bare,
    /// instants in ISO 8601 UTC, `null` for `None`.
    fn to_odata_literal(&self) -> String;
}

impl<T: ToODataLiteral + ?Sized> ToODataLiteral for &T {
    fn to_odata_literal(&self) -> String {
        (**self).to_odata_literal()
    }
}

impl ToODataLiteral for str {
    fn to_odata_literal(&self) -> String {
        format!("'{}'", self.replace('\'', "''"))
    }
}

impl ToODataLiteral for String {
    fn to_odata_literal(&self) -> String {
        self.as_str().to_odata_literal()
    }
}

macro_rules! integer_literals {
    ($($ty:ty),*) => {
        $(impl ToODataLiteral for $ty {
            fn to_odata_literal(&self) -> String {
                self.to_string()
            }
        })*
    };
}

integer_literals!(i16, i32, i64, u16, u32, u64);

impl ToODataLiteral for f64 {
    /// Shortest round-trip form; `NaN`, `INF` and `-INF` for the special values.
    fn to_odata_literal(&self) -> String {
        if self.is_nan() {
            "NaN".to_owned()
        } else if self.is_infinite() {
            if *self > 0.0 { "INF" } else { "-INF" }.to_owned()
        } else {
            self.to_string()
        }
    }
}

impl ToODataLiteral for bool {
    fn to_odata_literal(&self) -> String {
        self.to_string()
    }
}

impl ToODataLiteral for DateTime<Utc> {
    /// A `DateTimeOffset`: `2026-11-23T10:00:00Z`, with fractional seconds only when non-zero.
    fn to_odata_literal(&self) -> String {
        self.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl ToODataLiteral for NaiveDate {
    /// A `Date`: `2026-11-23`.
    fn to_odata_literal(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}

impl ToODataLiteral for uuid::Uuid {
    /// A `Guid`: bare, hyphenated, lower case.
    fn to_odata_literal(&self) -> String {
        self.hyphenated().to_string()
    }
}

impl<T: ToODataLiteral> ToODataLiteral for Option<T> {
    fn to_odata_literal(&self) -> String {
        match self {
            Some(value) => value.to_odata_literal(),
            None => "null".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn literals_are_written_as_odata() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let cases: Vec<(String, &str)> = vec![
            ("plain".to_odata_literal(), "'plain'"),
            ("O'Brien".to_owned().to_odata_literal(), "'O''Brien'"),
            ("''".to_odata_literal(), "''''''"),
            (42_i32.to_odata_literal(), "42"),
            ((-7_i64).to_odata_literal(), "-7"),
            (2.5_f64.to_odata_literal(), "2.5"),
            (f64::NAN.to_odata_literal(), "NaN"),
            (f64::NEG_INFINITY.to_odata_literal(), "-INF"),
            (true.to_odata_literal(), "true"),
            (at.to_odata_literal(), "2026-11-23T10:00:00Z"),
            ((at + chrono::Duration::milliseconds(250)).to_odata_literal(), "2026-11-23T10:00:00.250Z"),
            (NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().to_odata_literal(), "2026-11-23"),
            (uuid::Uuid::nil().to_odata_literal(), "00000000-0000-0000-0000-000000000000"),
            (None::<i32>.to_odata_literal(), "null"),
            (Some("x").to_odata_literal(), "'x'"),
        ];
        for (actual, expected) in cases {
            assert_eq!(actual, expected);
        }
    }

    #[test]
    fn queries_render_to_exact_query_strings() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let cases: Vec<(Query, &str)> = vec![
            (Query::new(), ""),
            (Query::new().top(10).skip(20).count(true), "$top=10&$skip=20&$count=true"),
            (Query::new().filter(Filter::eq("Name", "O'Brien & Sons")), "$filter=Name%20eq%20'O''Brien%20%26%20Sons'"),
            (Query::new().filter(Filter::eq("Number", "+44 20")), "$filter=Number%20eq%20'%2B44%2020'"),
            (Query::new().filter(Filter::eq("Tag", "#1 100%")), "$filter=Tag%20eq%20'%231%20100%25'"),
            (Query::new().filter(Filter::eq("City", "Zürich")), "$filter=City%20eq%20'Z%C3%BCrich'"),
            (
                Query::new().filter(Filter::ge("EstablishedAt", at)).filter(Filter::contains("Caller", "80")),
                "$filter=EstablishedAt%20ge%202026-11-23T10:00:00Z%20and%20contains(Caller,'80')",
            ),
            (
                Query::new().select(["Id", "Name"]).order_by("Name", SortOrder::Asc).order_by("Id", SortOrder::Desc),
                "$select=Id,Name&$orderby=Name%20asc,Id%20desc",
            ),
            (
                Query::new().expand("Groups").expand_with(
                    "Agents",
                    Query::new()
                        .select(["Name", "Number"])
                        .filter(Filter::eq("SkillGroup", "a b"))
                        .top(5)
                        .expand_with("Queue", Query::new().select(["Id"])),
                ),
                "$expand=Groups,Agents($filter=SkillGroup%20eq%20'a%20b';$select=Name,Number;$expand=Queue($select=Id);$top=5)",
            ),
            (Query::new().search("support desk"), "$search=support%20desk"),
        ];
        for (query, expected) in cases {
            assert_eq!(query.to_query_string(), expected);
        }
    }

    #[test]
    fn pages_decode_count_and_next_link() {
        let page: ODataPage<i32> = serde_json::from_str(
            r#"{"@odata.context":"x","@odata.count":3,"@odata.nextLink":"https://pbx/xapi/v1/X?$skip=2","value":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(
            page,
            ODataPage { value: vec![1, 2], count: Some(3), next_link: Some("https://pbx/xapi/v1/X?$skip=2".into()) }
        );
    }
}
