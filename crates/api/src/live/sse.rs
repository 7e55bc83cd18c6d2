//! The live channels as server-sent events: `event: snapshot|delta`, `id:` the channel's
//! sequence, `data:` the frame JSON. A client resumes with `Last-Event-ID` (or `?since=`).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use lineup_live::ChannelId;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::authorize;
use crate::auth::{need, Authorized, HeaderOrTicket};
use crate::error::{ApiError, ApiResult, ProblemResponse};
use crate::extract::{ApiPath, ApiQuery};
use crate::sse::last_event_id;
use crate::AppState;

/// Query parameters of a live channel stream.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Resume after this sequence of the channel; used only when no `Last-Event-ID` is sent.
    pub since: Option<u64>,
    /// A single-use stream ticket (`POST /api/v1/auth/stream-ticket`), for `EventSource`.
    pub ticket: Option<String>,
}

/// Live state of one queue: a snapshot, then deltas (see `docs/API.md`).
#[utoipa::path(
    get, path = "/api/v1/live/queues/{queueId}", tag = "live",
    security(("bearer" = []), ("streamTicket" = [])),
    params(
        ("queueId" = Uuid, Path, description = "Queue id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this sequence"),
        LiveQuery,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream` of `snapshot` and `delta` events", content_type = "text/event-stream", body = String),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
    )
)]
pub async fn queue_channel(
    State(state): State<AppState>,
    auth: Authorized<need::LiveRead, HeaderOrTicket>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    stream(state, auth, ChannelId::Queue(id), q, &headers).await
}

/// Live overview of every queue of the tenant, with totals.
#[utoipa::path(
    get, path = "/api/v1/live/overview", tag = "live",
    security(("bearer" = []), ("streamTicket" = [])),
    params(
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this sequence"),
        LiveQuery,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream` of `snapshot` and `delta` events", content_type = "text/event-stream", body = String),
        (status = 400, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
    )
)]
pub async fn overview_channel(
    State(state): State<AppState>,
    auth: Authorized<need::LiveRead, HeaderOrTicket>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    stream(state, auth, ChannelId::Overview, q, &headers).await
}

/// Live state of one agent (by extension): state, time in state, calls.
#[utoipa::path(
    get, path = "/api/v1/live/agents/{dn}", tag = "live",
    security(("bearer" = []), ("streamTicket" = [])),
    params(
        ("dn" = String, Path, description = "The agent's extension number"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this sequence"),
        LiveQuery,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream` of `snapshot` and `delta` events", content_type = "text/event-stream", body = String),
        (status = 400, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
    )
)]
pub async fn agent_channel(
    State(state): State<AppState>,
    auth: Authorized<need::LiveRead, HeaderOrTicket>,
    ApiPath(dn): ApiPath<String>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let channel: ChannelId = format!("agent:{dn}").parse().map_err(|e| ApiError::NotFound(format!("{e}")))?;
    stream(state, auth, channel, q, &headers).await
}

/// The sequence to resume after: `Last-Event-ID`, else `since`.
fn resume_since(headers: &HeaderMap, query: Option<u64>) -> ApiResult<Option<u64>> {
    Ok(last_event_id::<u64>(headers, "a sequence number")?.or(query))
}

async fn stream(
    state: AppState,
    auth: Authorized<need::LiveRead, HeaderOrTicket>,
    channel: ChannelId,
    q: LiveQuery,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let since = resume_since(headers, q.since)?;
    let tenant = auth.tenant();
    authorize(&state, tenant, &channel).await?;
    let live = state.live.clone();
    let guard = live.admit(&auth.principal)?;
    live.ready(&state, tenant).await?;
    let subscription = live.hub().subscribe(tenant, &channel, since);
    let keepalive = state.config.sse_keepalive;
    let body =
        futures::stream::unfold((subscription, live, guard), move |(mut subscription, live, guard)| async move {
            let chunk = match tokio::time::timeout(keepalive, subscription.next(live.hub())).await {
                Ok(Some(frame)) => frame.sse.clone(),
                Ok(None) => return None,
                Err(_) => Bytes::from_static(b": keep-alive\n\n"),
            };
            Some((Ok::<_, Infallible>(chunk), (subscription, live, guard)))
        });
    let mut res = Response::new(Body::from_stream(body));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Ask reverse proxies (nginx) not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(res)
}
