//! Server-sent event streams of a session and of an item, read from the outbox only.
//!
//! A stream reads the events after its cursor in batches and sends them (`event:` the kind,
//! `id:` the outbox sequence, `data:` the JSON payload). When there is nothing to send it waits
//! for the change notifier of this process or for the poll interval (writes of other processes),
//! so it never spins. A client resumes with `Last-Event-ID` (or `?lastEventId=`); without either
//! it gets only events committed after it connected. A stream ends once its session or item is
//! gone (deleted). Streams take the `Authorization` header or a single-use `?ticket=`.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::Stream;
use lineup_domain::{Item, TenantId};
use lineup_store::{EventScope, StoreError, StoredEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{need, Authorized, HeaderOrTicket};
use crate::error::{ApiError, ApiResult, ProblemResponse};
use crate::extract::{ApiPath, ApiQuery};
use crate::AppState;

/// Events read from the outbox per query.
const BATCH: u32 = 200;

/// The stream routes (path parameters are named `id` in the router; see `routes::sessions`).
pub fn routes() -> Router<AppState> {
    Router::new().route("/sessions/{id}/stream", get(session_stream)).route("/items/{id}/stream", get(item_stream))
}

/// Query parameters of a stream.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Resume after this event id; used only when no `Last-Event-ID` header is sent.
    pub last_event_id: Option<i64>,
    /// A single-use stream ticket (`POST /api/v1/auth/stream-ticket`), for clients that cannot
    /// send an `Authorization` header (browsers' `EventSource`).
    pub ticket: Option<String>,
}

/// The data of an `item_status_changed` event. (`item_created` and `item_updated` carry the
/// `Item`; `session_paused`, `session_resumed` and `session_completed` carry the `Session`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemStatusChangedEvent {
    /// The item after the move.
    pub item: Item,
    pub from_status_id: Uuid,
    pub to_status_id: Uuid,
    /// Who made the change.
    pub changed_by: String,
}

/// Streams the events of a session: its items' (`item_created`, `item_updated`,
/// `item_status_changed`) and its own (`session_paused`, `session_resumed`, `session_completed`).
#[utoipa::path(
    get, path = "/api/v1/sessions/{sessionId}/stream", tag = "streams",
    security(("bearer" = []), ("streamTicket" = [])),
    params(
        ("sessionId" = Uuid, Path, description = "Session id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id"),
        StreamQuery,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`", content_type = "text/event-stream", body = String),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn session_stream(
    State(state): State<AppState>,
    auth: Authorized<need::ItemRead, HeaderOrTicket>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    state.store.get_session(auth.tenant(), id).await?;
    let after = resume_after(&state, &headers, q.last_event_id).await?;
    Ok(stream_response(state, auth.tenant(), EventScope::Session(id), after))
}

/// Streams the events of one item (`item_created`, `item_updated`, `item_status_changed`).
#[utoipa::path(
    get, path = "/api/v1/items/{itemId}/stream", tag = "streams",
    security(("bearer" = []), ("streamTicket" = [])),
    params(
        ("itemId" = Uuid, Path, description = "Item id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id"),
        StreamQuery,
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`", content_type = "text/event-stream", body = String),
        (status = 400, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn item_stream(
    State(state): State<AppState>,
    auth: Authorized<need::ItemRead, HeaderOrTicket>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    state.store.get_item(auth.tenant(), id).await?;
    let after = resume_after(&state, &headers, q.last_event_id).await?;
    Ok(stream_response(state, auth.tenant(), EventScope::Item(id), after))
}

/// The sequence to read after: `Last-Event-ID`, else `lastEventId`, else the newest event now.
async fn resume_after(state: &AppState, headers: &HeaderMap, query: Option<i64>) -> ApiResult<i64> {
    if let Some(after) = last_event_id::<i64>(headers, "an event id (an integer)")? {
        return Ok(after);
    }
    match query {
        Some(after) => Ok(after),
        None => Ok(state.store.last_event_seq().await?),
    }
}

/// The `Last-Event-ID` header parsed as `T`, if sent; `invalid-query` (saying it must be
/// `what`) when it does not parse.
pub(crate) fn last_event_id<T: std::str::FromStr>(headers: &HeaderMap, what: &str) -> ApiResult<Option<T>> {
    headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<T>().ok())
                .ok_or_else(|| ApiError::InvalidQuery(format!("the Last-Event-ID header must be {what}")))
        })
        .transpose()
}

fn stream_response(state: AppState, tenant: TenantId, scope: EventScope, after: i64) -> Response {
    let keep_alive = KeepAlive::new().interval(state.config.sse_keepalive).text("keep-alive");
    let mut res = Sse::new(event_stream(state, tenant, scope, after)).keep_alive(keep_alive).into_response();
    // Ask reverse proxies (nginx) not to buffer the stream.
    res.headers_mut().insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    res
}

/// The SSE frame of an outbox event.
pub fn sse_event(e: &StoredEvent) -> Event {
    Event::default().event(e.kind.as_str()).id(e.seq.to_string()).data(e.payload.to_string())
}

fn event_stream(
    state: AppState,
    tenant: TenantId,
    scope: EventScope,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let reader = OutboxReader {
        notified: state.events.subscribe(),
        state,
        tenant,
        scope,
        after,
        pending: VecDeque::new(),
        notifier_open: true,
    };
    futures::stream::unfold(reader, |mut r| async move {
        let event = r.next_event().await?;
        Some((Ok(sse_event(&event)), r))
    })
}

/// Follows the outbox of one scope from a cursor.
struct OutboxReader {
    state: AppState,
    tenant: TenantId,
    scope: EventScope,
    after: i64,
    pending: VecDeque<StoredEvent>,
    notified: watch::Receiver<u64>,
    notifier_open: bool,
}

impl OutboxReader {
    /// The next event after the cursor, waiting as long as needed; `None` when the scope is gone.
    async fn next_event(&mut self) -> Option<StoredEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                self.after = e.seq;
                return Some(e);
            }
            // Mark the current notification seen before reading, so a change committed after
            // the read wakes the wait below.
            self.notified.borrow_and_update();
            let (tenant, store) = (self.tenant, &self.state.store);
            match store.read_events(tenant, self.scope, self.after, BATCH).await {
                Ok(batch) if !batch.is_empty() => {
                    self.pending.extend(batch);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the outbox for a stream failed; retrying"),
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// Waits for a notification or the poll interval. After a quiet interval it checks the scope
    /// still exists; returns false when it does not.
    async fn wait(&mut self) -> bool {
        let poll = self.state.config.sse_poll_interval;
        if self.notifier_open {
            tokio::select! {
                changed = self.notified.changed() => {
                    self.notifier_open = changed.is_ok();
                    return true;
                }
                _ = tokio::time::sleep(poll) => {}
            }
        } else {
            tokio::time::sleep(poll).await;
        }
        self.scope_exists().await
    }

    async fn scope_exists(&self) -> bool {
        let (tenant, store) = (self.tenant, &self.state.store);
        let found = match self.scope {
            EventScope::Session(id) => store.get_session(tenant, id).await.map(drop),
            EventScope::Item(id) => store.get_item(tenant, id).await.map(drop),
        };
        !matches!(found, Err(StoreError::NotFound(_)))
    }
}
