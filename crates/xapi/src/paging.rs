//! The one pagination helper: a stream of pages of any collection operation, following
//! `@odata.nextLink` when the server pages and advancing `$skip` otherwise, capped at
//! `max_pages`.
//!
//! The caller passes the operation as a closure from a client (a cheap clone) and a [`Query`] to
//! one page, typically a generated operation:
//! `client.pages(query, |client, q| async move { client.list_users(&q).await })`.
//! Every page is fetched through that operation (a next link travels in the query, see
//! [`Query::next_link`]), so metrics and errors name it.

use std::future::Future;

use futures::stream::{self, Stream, TryStreamExt};

use crate::client::{XapiClient, XapiError};
use crate::odata::{ODataPage, Query};

struct Pager<F> {
    client: XapiClient,
    fetch: F,
    next: Option<Query>,
    fetched: usize,
    max_pages: usize,
}

impl XapiClient {
    /// The pages of the collection `fetch` reads, starting from `query`.
    ///
    /// `$top` is the page size (the configured `max_page_size` when `query` sets none). After
    /// each page: a `@odata.nextLink` is followed when present; otherwise, unless the pages came
    /// from next links, a full page (as many rows as `$top`) is followed by the same query with
    /// `$skip` advanced by its rows; a short or empty page ends the stream. An error ends the
    /// stream after yielding it. Fetching more than `max_pages` pages yields `PageCapExceeded`.
    pub fn pages<'a, T, F, Fut>(
        &self,
        query: Query,
        fetch: F,
    ) -> impl Stream<Item = Result<ODataPage<T>, XapiError>> + 'a
    where
        T: 'a,
        F: FnMut(XapiClient, Query) -> Fut + 'a,
        Fut: Future<Output = Result<ODataPage<T>, XapiError>> + 'a,
    {
        let config = self.config();
        let mut first = query;
        if first.top.is_none() && first.next_link.is_none() {
            first.top = Some(config.max_page_size);
        }
        let pager = Pager { client: self.clone(), fetch, next: Some(first), fetched: 0, max_pages: config.max_pages };
        stream::unfold(pager, |mut pager| async move {
            let query = pager.next.take()?;
            if pager.fetched >= pager.max_pages {
                return Some((Err(XapiError::PageCapExceeded { cap: pager.max_pages }), pager));
            }
            let result = (pager.fetch)(pager.client.clone(), query.clone()).await;
            pager.fetched += 1;
            if let Ok(page) = &result {
                pager.next = next_query(&query, page);
            }
            Some((result, pager))
        })
    }

    /// All rows of the collection `fetch` reads, through [`XapiClient::pages`]: fails with the
    /// first error, or with `PageCapExceeded` rather than returning a truncated list.
    ///
    /// ```no_run
    /// # async fn example(client: lineup_xapi::XapiClient) -> Result<(), lineup_xapi::XapiError> {
    /// use lineup_xapi::{Filter, Query};
    /// let query = Query::new().filter(Filter::starts_with("Number", "1"));
    /// let users = client.collect_all(query, |client, q| async move { client.list_users(&q).await }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn collect_all<T, F, Fut>(&self, query: Query, fetch: F) -> Result<Vec<T>, XapiError>
    where
        F: FnMut(XapiClient, Query) -> Fut,
        Fut: Future<Output = Result<ODataPage<T>, XapiError>>,
    {
        self.pages(query, fetch)
            .map_ok(|page| stream::iter(page.value.into_iter().map(Ok)))
            .try_flatten()
            .try_collect()
            .await
    }
}

/// The query of the page after `page`, fetched with `query`; `None` when `page` is the last.
fn next_query<T>(query: &Query, page: &ODataPage<T>) -> Option<Query> {
    if let Some(link) = &page.next_link {
        return Some(Query::next_link(link.clone()));
    }
    let rows = u32::try_from(page.value.len()).ok()?;
    let full = query.top.is_some_and(|top| rows >= top);
    if query.next_link.is_some() || rows == 0 || !full {
        return None;
    }
    let mut next = query.clone();
    next.skip = Some(query.skip.unwrap_or(0) + rows);
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(rows: usize, next_link: Option<&str>) -> ODataPage<u32> {
        ODataPage { value: vec![0; rows], count: None, next_link: next_link.map(str::to_owned) }
    }

    #[test]
    fn next_query_follows_links_then_skip() {
        let base = Query::new().top(2);
        let cases: Vec<(Query, ODataPage<u32>, Option<Query>)> = vec![
            (base.clone(), page(2, None), Some(base.clone().skip(2))),
            (base.clone().skip(2), page(2, None), Some(base.clone().skip(4))),
            (base.clone(), page(1, None), None),
            (base.clone(), page(0, None), None),
            (base.clone(), page(1, Some("X?$skiptoken=1")), Some(Query::next_link("X?$skiptoken=1"))),
            (Query::next_link("X?$skiptoken=1"), page(2, None), None),
        ];
        for (query, page, expected) in cases {
            assert_eq!(next_query(&query, &page), expected, "{query:?}");
        }
    }
}
