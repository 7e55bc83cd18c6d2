//! The OpenAPI 3.1 document of the API, built from the handlers' `#[utoipa::path]` annotations.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use lineup_domain::{
    EventKind, Item, ItemHistoryEntry, Lifecycle, Queue, Session, SessionStatus, Template, TemplateStatus, Transition,
};
use utoipa::OpenApi;

use crate::error::{Problem, ProblemResponse};
use crate::extract::{ItemSort, NameSort, Order, SessionSort};
use crate::routes::{self, health, items, queues, sessions, templates};
use crate::sse;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lineup API",
        version = "v1",
        description = "Queues, sessions, items and their live streams. Errors are RFC 9457 problem documents.",
    ),
    paths(
        health::healthz, health::readyz,
        queues::create_queue, queues::list_queues, queues::get_queue, queues::update_queue,
        queues::deactivate_queue,
        sessions::create_session, sessions::list_sessions, sessions::get_session, sessions::update_session,
        sessions::change_lifecycle, sessions::delete_session, sessions::list_session_statuses,
        sessions::update_session_status,
        items::create_item, items::list_items, items::get_item, items::update_item, items::change_item_status,
        items::item_history,
        templates::list_templates, templates::create_template, templates::get_template,
        templates::list_template_statuses, templates::add_template_status,
        sse::session_stream, sse::item_stream,
        serve_openapi,
    ),
    components(
        schemas(
            Problem, Queue, Session, SessionStatus, Lifecycle, Item, ItemHistoryEntry, Template, TemplateStatus,
            Transition, EventKind, sse::ItemStatusChangedEvent, routes::QueuePage, routes::SessionPage,
            routes::ItemPage, routes::TemplatePage, NameSort, SessionSort, ItemSort, Order,
        ),
        responses(ProblemResponse),
    ),
    tags(
        (name = "queues", description = "Permanent queues and their templates"),
        (name = "sessions", description = "Numbered sessions of a queue, their lifecycle and statuses"),
        (name = "items", description = "Items of a session, their status moves and history"),
        (name = "templates", description = "Statuses and status machines sessions are built from"),
        (name = "streams", description = "Server-sent events from the outbox"),
        (name = "health", description = "Probes"),
    ),
)]
struct ApiDoc;

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON (exactly the committed `docs/openapi.json`).
pub fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| openapi().to_pretty_json().expect("the OpenAPI document serializes"))
}

/// This document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
pub async fn serve_openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}
