//! The HTTP handlers 3CX's clients talk to: `POST /connect/token` and every request below
//! `/xapi/v1`, routed by one handler that parses the decoded path (see `route`). Both apply the
//! armed faults: delays first, then failing statuses, then the answer's rows or body.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::answer::{Answer, XapiRequest};
use super::decode::{form_pairs, percent_decode};
use super::error::ODataFailure;
use super::faults::Fault;
use super::state::SimState;
use super::tokens::TokenRequest;

/// The root of the XAPI.
pub const API_ROOT: &str = "/xapi/v1";

/// The content type of 3CX's JSON answers.
const ODATA_JSON: &str = "application/json; odata.metadata=minimal; odata.streaming=true";

/// `POST /connect/token`: the client-credentials form; 200 with a token, 400 with an OAuth2
/// error otherwise.
pub async fn token(State(state): State<Arc<SimState>>, uri: Uri, body: Bytes) -> Response {
    let fault = state.faults().take_named(uri.path());
    if let Some(response) = suffer(fault.as_ref()).await {
        return response;
    }
    let Some(pairs) = std::str::from_utf8(&body).ok().and_then(form_pairs) else {
        return oauth_error("invalid_request", "the body is not a form");
    };
    let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let request = TokenRequest {
        client_id: field("client_id"),
        client_secret: field("client_secret"),
        grant_type: field("grant_type"),
    };
    match state.tokens().issue(&request, Instant::now()) {
        Ok(answer) => {
            let bytes = serde_json::to_vec(&answer).unwrap_or_default();
            json_response(StatusCode::OK, "application/json", bytes, fault.as_ref())
        }
        Err(refusal) => oauth_error(&refusal.error, &refusal.error_description),
    }
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Every request below `/xapi/v1`: faults, the bearer check, routing, the answer.
pub async fn xapi(State(state): State<Arc<SimState>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let Some(path) = percent_decode(uri.path(), false) else {
        return ODataFailure::bad_request("the path is not percent-encoded UTF-8").into_response();
    };
    let fault = state.faults().take(&path);
    if let Some(response) = suffer(fault.as_ref()).await {
        return response;
    }
    if !bearer_accepted(&headers, &state) {
        return ODataFailure::new(StatusCode::UNAUTHORIZED, "missing, unknown or expired access token").into_response();
    }
    let Some(pairs) = form_pairs(uri.query().unwrap_or_default()) else {
        return ODataFailure::bad_request("the query string is not percent-encoded UTF-8").into_response();
    };
    let relative = path.strip_prefix(API_ROOT).unwrap_or(&path);
    let request = match XapiRequest::parse(method.as_str(), relative, &pairs) {
        Ok(request) => request,
        Err(failure) => return failure.into_response(),
    };
    let answer = match tokio::task::spawn_blocking(move || state.answer(&request)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(failure)) => return failure.into_response(),
        Err(error) => return ODataFailure::internal(format!("the simulator failed: {error}")).into_response(),
    };
    let body = render(answer, fault.as_ref());
    json_response(StatusCode::OK, ODATA_JSON, serde_json::to_vec(&body).unwrap_or_default(), fault.as_ref())
}

fn bearer_accepted(headers: &HeaderMap, state: &SimState) -> bool {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            state.tokens().accepts(token.trim(), Instant::now())
        }
        _ => false,
    }
}

/// Waits out a delaying fault; answers a failing one.
async fn suffer(fault: Option<&Fault>) -> Option<Response> {
    let fault = fault?;
    if let Some(delay) = fault.delay() {
        tokio::time::sleep(delay).await;
    }
    let with_retry_after = |status: StatusCode, secs: Option<u64>, message: &str| {
        let mut response = ODataFailure::new(status, message).into_response();
        if let Some(value) = secs.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    };
    match fault {
        Fault::Unauthorized => {
            Some(ODataFailure::new(StatusCode::UNAUTHORIZED, "the access token was revoked").into_response())
        }
        Fault::RateLimited { retry_after_secs } => {
            Some(with_retry_after(StatusCode::TOO_MANY_REQUESTS, Some(*retry_after_secs), "too many requests"))
        }
        Fault::ServerError => Some(ODataFailure::internal("simulated server error").into_response()),
        Fault::Unavailable { retry_after_secs } => {
            Some(with_retry_after(StatusCode::SERVICE_UNAVAILABLE, *retry_after_secs, "simulated outage"))
        }
        _ => None,
    }
}

/// The JSON body of an answer, with a row fault applied to a collection's page.
fn render(answer: Answer, fault: Option<&Fault>) -> Value {
    let context = |fragment: &str| Value::String(format!("{API_ROOT}/$metadata#{fragment}"));
    match answer {
        Answer::Collection { context: fragment, mut rows, count } => {
            match fault {
                Some(Fault::DuplicateRows) => rows = rows.into_iter().flat_map(|r| [r.clone(), r]).collect(),
                Some(Fault::ReorderRows) => rows.reverse(),
                _ => {}
            }
            let mut body = Map::new();
            body.insert("@odata.context".into(), context(&fragment));
            if let Some(count) = count {
                body.insert("@odata.count".into(), Value::from(count));
            }
            body.insert("value".into(), Value::Array(rows));
            Value::Object(body)
        }
        Answer::Entity { context: fragment, body: properties } => {
            let mut body = Map::new();
            body.insert("@odata.context".into(), context(&fragment));
            body.extend(properties);
            Value::Object(body)
        }
        Answer::Action => Value::Object(Map::new()),
    }
}

/// A 200 with `bytes`, cut in half under a truncation fault.
fn json_response(
    status: StatusCode,
    content_type: &'static str,
    mut bytes: Vec<u8>,
    fault: Option<&Fault>,
) -> Response {
    if fault == Some(&Fault::TruncatedJson) {
        bytes.truncate(bytes.len() / 2);
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Anything else: a 404 with an OData error body.
pub async fn not_found(uri: Uri) -> Response {
    ODataFailure::not_found(format!("no resource at '{}'", uri.path())).into_response()
}
