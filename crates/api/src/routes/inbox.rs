//! `/inbox`: the tenant's inbox of PBX records, for admins: how deep it is, any message in it,
//! and the dead letters (messages that failed their last attempt) an operator replays or
//! discards.
//!
//! Messages of another tenant are `not-found`. Replaying or discarding a message that is not a
//! dead letter is a `conflict`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use lineup_store::{InboxDepth, InboxMessage, InboxSource, InboxState};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::InboxMessagePage;
use crate::auth::{need, Authorized};
use crate::error::{ApiResult, ProblemResponse};
use crate::extract::{ApiPath, ApiQuery, DeadLetterListQuery};
use crate::AppState;

/// The inbox routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox/depth", get(inbox_depth))
        .route("/inbox/dead-letters", get(list_dead_letters))
        .route("/inbox/dead-letters/{id}", delete(discard_dead_letter))
        .route("/inbox/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/inbox/messages/{id}", get(get_inbox_message))
}

/// Which reader of 3CX a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum InboxMessageSource {
    /// The live poller (active calls, queue state).
    Poller,
    /// The call history reconciler.
    History,
    /// The call log reader.
    CallLog,
}

impl From<InboxSource> for InboxMessageSource {
    fn from(s: InboxSource) -> Self {
        match s {
            InboxSource::Poller => InboxMessageSource::Poller,
            InboxSource::History => InboxMessageSource::History,
            InboxSource::CallLog => InboxMessageSource::CallLog,
        }
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum InboxMessageState {
    /// Waiting to be processed: due at once, or at `notBefore` after a failure.
    Pending,
    /// Taken by a worker until `leasedUntil`.
    InFlight,
    /// Processed.
    Done,
    /// Failed its last attempt: waits to be replayed or discarded.
    Dead,
    /// A dead letter an operator gave up on.
    Discarded,
}

impl From<InboxState> for InboxMessageState {
    fn from(s: InboxState) -> Self {
        match s {
            InboxState::Pending => InboxMessageState::Pending,
            InboxState::InFlight => InboxMessageState::InFlight,
            InboxState::Done => InboxMessageState::Done,
            InboxState::Dead => InboxMessageState::Dead,
            InboxState::Discarded => InboxMessageState::Discarded,
        }
    }
}

/// One record read from a PBX, as the inbox holds it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxMessageView {
    pub id: Uuid,
    /// Inbox order: messages are processed by ascending `seq`; a replay gives a new, higher one.
    pub seq: i64,
    /// The PBX connection the record was read from.
    pub connection_id: Uuid,
    pub source: InboxMessageSource,
    /// The call the record belongs to: one call's messages are processed one at a time, in order.
    pub call_key: String,
    /// Identifies the external record: the same record is never stored twice.
    pub dedup_key: String,
    /// The record as read.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// When the reader saw the record.
    pub observed_at: DateTime<Utc>,
    pub enqueued_at: DateTime<Utc>,
    pub state: InboxMessageState,
    /// Failed attempts since it was enqueued or last replayed.
    pub attempts: u32,
    /// How many times a worker took it, ever.
    pub claims: u32,
    /// A pending message is not processed before this instant.
    #[schema(required = true)]
    pub not_before: Option<DateTime<Utc>>,
    /// The end of the current worker's lease, while in flight.
    #[schema(required = true)]
    pub leased_until: Option<DateTime<Utc>>,
    /// The error of the latest failed attempt.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// When it became done or dead.
    #[schema(required = true)]
    pub settled_at: Option<DateTime<Utc>>,
}

impl From<InboxMessage> for InboxMessageView {
    fn from(m: InboxMessage) -> Self {
        InboxMessageView {
            id: m.id,
            seq: m.seq,
            connection_id: m.connection_id,
            source: m.source.into(),
            call_key: m.call_key,
            dedup_key: m.dedup_key,
            payload: m.payload,
            observed_at: m.observed_at,
            enqueued_at: m.enqueued_at,
            state: m.state.into(),
            attempts: m.attempts,
            claims: m.claims,
            not_before: m.not_before,
            leased_until: m.leased_until,
            last_error: m.last_error,
            settled_at: m.settled_at,
        }
    }
}

/// How many of the tenant's messages are where.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxDepthView {
    /// Waiting to be processed, due or awaiting a retry.
    pub pending: u64,
    /// Taken by a worker.
    pub in_flight: u64,
    /// Dead letters waiting for an operator.
    pub dead: u64,
    /// When the oldest pending message was enqueued: how far behind the inbox is.
    #[schema(required = true)]
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

impl From<InboxDepth> for InboxDepthView {
    fn from(d: InboxDepth) -> Self {
        InboxDepthView {
            pending: d.pending,
            in_flight: d.in_flight,
            dead: d.dead,
            oldest_pending_at: d.oldest_pending_at,
        }
    }
}

/// How many of the tenant's messages are pending, in flight and dead, and how old the oldest
/// pending one is.
#[utoipa::path(
    get, path = "/api/v1/inbox/depth", tag = "inbox",
    responses(
        (status = 200, description = "The tenant's inbox depth", body = InboxDepthView),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn inbox_depth(
    State(state): State<AppState>,
    auth: Authorized<need::InboxManage>,
) -> ApiResult<Json<InboxDepthView>> {
    Ok(Json(state.store.inbox_depth(Some(auth.tenant())).await?.into()))
}

/// Lists the tenant's dead letters, oldest first unless `order=desc` (by when they were
/// enqueued).
#[utoipa::path(
    get, path = "/api/v1/inbox/dead-letters", tag = "inbox",
    params(DeadLetterListQuery),
    responses(
        (status = 200, description = "A page of dead letters", body = InboxMessagePage),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    auth: Authorized<need::InboxManage>,
    ApiQuery(q): ApiQuery<DeadLetterListQuery>,
) -> ApiResult<Json<InboxMessagePage>> {
    let page = state.store.list_dead_letters(auth.tenant(), &q.page()?).await?;
    Ok(Json(InboxMessagePage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Reads one inbox message of the tenant, in any state.
#[utoipa::path(
    get, path = "/api/v1/inbox/messages/{id}", tag = "inbox",
    params(("id" = Uuid, Path, description = "Inbox message id")),
    responses(
        (status = 200, description = "The message", body = InboxMessageView),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
    )
)]
pub async fn get_inbox_message(
    State(state): State<AppState>,
    auth: Authorized<need::InboxManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<InboxMessageView>> {
    Ok(Json(state.store.get_inbox_message(auth.tenant(), id).await?.into()))
}

/// Puts a dead letter back in line: pending, due at once, at the end of the inbox, with no failed
/// attempts (its last error stays until the next attempt).
///
/// 409 `conflict` when the message is not a dead letter.
#[utoipa::path(
    post, path = "/api/v1/inbox/dead-letters/{id}/replay", tag = "inbox",
    params(("id" = Uuid, Path, description = "Inbox message id")),
    responses(
        (status = 200, description = "The message, pending again", body = InboxMessageView),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
    )
)]
pub async fn replay_dead_letter(
    State(state): State<AppState>,
    auth: Authorized<need::InboxManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<InboxMessageView>> {
    let message = state.store.replay_dead_letter(auth.tenant(), id, lineup_store::now_micros()).await?;
    Ok(Json(message.into()))
}

/// Gives up on a dead letter: it is never processed, and the record it holds is still refused if
/// read again. Discarding a discarded message again changes nothing.
///
/// 409 `conflict` when the message is neither dead nor discarded.
#[utoipa::path(
    delete, path = "/api/v1/inbox/dead-letters/{id}", tag = "inbox",
    params(("id" = Uuid, Path, description = "Inbox message id")),
    responses(
        (status = 204, description = "Discarded"),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
    )
)]
pub async fn discard_dead_letter(
    State(state): State<AppState>,
    auth: Authorized<need::InboxManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.store.discard_dead_letter(auth.tenant(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
