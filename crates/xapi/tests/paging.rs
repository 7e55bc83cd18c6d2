//! Paging through `@odata.nextLink` and `$skip`, and the query string and path as they reach
//! the server.

mod common;

use common::{list, ok_page, Pbx};
use futures::StreamExt;
use lineup_xapi::{Filter, ODataPage, Query, SortOrder, XapiClient, XapiError};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

fn rows(ids: std::ops::Range<i32>) -> Vec<Value> {
    ids.map(|id| json!({"Id": id})).collect()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|row| row["Id"].as_i64().unwrap()).collect()
}

fn small_pages(pbx: &Pbx, max_pages: usize) -> XapiClient {
    let mut config = pbx.config();
    config.max_page_size = 2;
    config.max_pages = max_pages;
    XapiClient::new(config).unwrap()
}

#[tokio::test]
async fn pages_advance_skip_until_a_short_page() {
    let pbx = Pbx::start(3600).await;
    let users = || Mock::given(method("GET")).and(path("/xapi/v1/Users")).and(query_param("$top", "2"));
    users().and(query_param_is_missing("$skip")).respond_with(ok_page(rows(0..2))).mount(&pbx.server).await;
    users().and(query_param("$skip", "2")).respond_with(ok_page(rows(2..4))).mount(&pbx.server).await;
    users().and(query_param("$skip", "4")).respond_with(ok_page(rows(4..5))).mount(&pbx.server).await;
    let client = small_pages(&pbx, 10);

    let all =
        client.collect_all(Query::new(), |client, q| async move { list(&client, "/Users", &q).await }).await.unwrap();

    assert_eq!(ids(&all), vec![0, 1, 2, 3, 4]);
    assert_eq!(pbx.requests_to("/xapi/v1/Users").await.len(), 3);
}

#[tokio::test]
async fn pages_follow_next_links_absolute_and_relative() {
    let pbx = Pbx::start(3600).await;
    let users = || Mock::given(method("GET")).and(path("/xapi/v1/Users"));
    let absolute = format!("{}/xapi/v1/Users?$skiptoken=a", pbx.server.uri());
    users()
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": rows(0..1), "@odata.nextLink": absolute})),
        )
        .mount(&pbx.server)
        .await;
    users()
        .and(query_param("$skiptoken", "a"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"value": rows(1..2), "@odata.nextLink": "Users?$skiptoken=b"})),
        )
        .mount(&pbx.server)
        .await;
    users().and(query_param("$skiptoken", "b")).respond_with(ok_page(rows(2..3))).mount(&pbx.server).await;
    let client = small_pages(&pbx, 10);

    let pages: Vec<Result<ODataPage<Value>, XapiError>> =
        client.pages(Query::new(), |client, q| async move { list(&client, "/Users", &q).await }).collect().await;

    let pages: Vec<Vec<i64>> = pages.into_iter().map(|page| ids(&page.unwrap().value)).collect();
    assert_eq!(pages, vec![vec![0], vec![1], vec![2]]);
}

#[tokio::test]
async fn collect_all_fails_past_the_page_cap() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"value": rows(0..1), "@odata.nextLink": "Users?$skiptoken=again"})),
        )
        .mount(&pbx.server)
        .await;
    let client = small_pages(&pbx, 3);

    let error = client
        .collect_all(Query::new(), |client, q| async move { list(&client, "/Users", &q).await })
        .await
        .unwrap_err();

    assert_eq!(error, XapiError::PageCapExceeded { cap: 3 });
    assert_eq!(pbx.requests_to("/xapi/v1/Users").await.len(), 3);
}

#[tokio::test]
async fn next_link_to_another_server_is_refused() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"value": rows(0..1), "@odata.nextLink": "https://evil.example/xapi/v1/Users?$skip=1"}),
        ))
        .mount(&pbx.server)
        .await;
    let client = small_pages(&pbx, 10);

    let error = client
        .collect_all(Query::new(), |client, q| async move { list(&client, "/Users", &q).await })
        .await
        .unwrap_err();

    assert!(matches!(error, XapiError::InvalidRequest { .. }), "{error:?}");
}

#[tokio::test]
async fn query_options_and_function_paths_reach_the_server_encoded() {
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET")).respond_with(ok_page(vec![])).mount(&pbx.server).await;
    let client = pbx.client();
    let query = Query::new()
        .filter(Filter::eq("Name", "O'Brien & Co").and(Filter::starts_with("Number", "+44")))
        .select(["Id", "Name"])
        .order_by("Name", SortOrder::Desc)
        .top(10)
        .count(true);

    list(&client, "/Users", &query).await.unwrap();
    list(
        &client,
        "/ReportCallLogData/Pbx.GetCallLogData(periodFrom=2026-01-01T00:00:00Z,sourceFilter='a b#1')",
        &Query::new(),
    )
    .await
    .unwrap();

    let requests = pbx.server.received_requests().await.unwrap();
    let data: Vec<_> = requests.iter().filter(|request| request.url.path() != "/connect/token").collect();
    let users = &data[0].url;
    let decoded: Vec<(String, String)> = users.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(
        decoded,
        vec![
            ("$filter".into(), "Name eq 'O''Brien & Co' and startswith(Number,'+44')".into()),
            ("$select".into(), "Id,Name".into()),
            ("$orderby".into(), "Name desc".into()),
            ("$top".into(), "10".into()),
            ("$count".into(), "true".into()),
        ]
    );
    assert_eq!(
        users.query(),
        Some("$filter=Name%20eq%20%27O%27%27Brien%20%26%20Co%27%20and%20startswith(Number,%27%2B44%27)&$select=Id,Name&$orderby=Name%20desc&$top=10&$count=true")
    );
    assert_eq!(
        data[1].url.path(),
        "/xapi/v1/ReportCallLogData/Pbx.GetCallLogData(periodFrom=2026-01-01T00:00:00Z,sourceFilter='a%20b%231')"
    );
}
