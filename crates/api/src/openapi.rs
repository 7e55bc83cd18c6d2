//! The OpenAPI 3.1 document of the API, built from the handlers' `#[utoipa::path]` annotations.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use lineup_domain::Permission;
use lineup_domain::{
    Actor, ActorKind, ApiKey, AuditEntry, EventKind, Item, ItemHistoryEntry, Lifecycle, Member, MemberPatch, NewApiKey,
    NewMember, NewPbxConnection, NewWebhook, PbxConnection, PbxConnectionPatch, PbxQueueMappings, Queue, QueueMapping,
    Role, Session, SessionStatus, Template, TemplateStatus, Tenant, TenantPatch, Transition,
};
use lineup_domain::{DeliveryState, Webhook, WebhookDelivery, WebhookEvent, WebhookPatch};
use lineup_domain::{NewSessionSchedule, SessionSchedule};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::security::{
    ApiKey as ApiKeyScheme, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, ProblemResponse};
use crate::extract::{AuditSort, DeadLetterSort, ItemSort, NameSort, Order, SessionSort};
use crate::routes::{
    self, analytics, api_keys, audit, auth, health, inbox, items, pbx, queues, schedules, sessions, templates, tenant,
    users, webhooks,
};
use crate::{live, sse};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lineup API",
        version = "v1",
        description = "Queues, sessions, items and their live streams. Errors are RFC 9457 problem documents. \
            Every operation needs `Authorization: Bearer <access token or API key>` unless it says otherwise; \
            streams also take a single-use `?ticket=`. The role matrix is in docs/SECURITY.md.",
    ),
    modifiers(&SecuritySchemes, &RequiredPermissions),
    security(("bearer" = [])),
    paths(
        health::healthz, health::readyz, health::metrics,
        auth::login, auth::refresh, auth::logout, auth::stream_ticket, auth::me,
        users::create_user, users::list_users, users::get_user, users::update_user,
        api_keys::create_api_key, api_keys::list_api_keys, api_keys::get_api_key, api_keys::revoke_api_key,
        tenant::get_tenant, tenant::update_tenant,
        audit::list_audit,
        analytics::staffing, analytics::kpis,
        queues::create_queue, queues::list_queues, queues::get_queue, queues::update_queue,
        queues::deactivate_queue,
        schedules::get_session_schedule, schedules::put_session_schedule, schedules::delete_session_schedule,
        sessions::create_session, sessions::list_sessions, sessions::get_session, sessions::update_session,
        sessions::change_lifecycle, sessions::delete_session, sessions::list_session_statuses,
        sessions::update_session_status,
        items::create_item, items::list_items, items::get_item, items::update_item, items::change_item_status,
        items::item_history,
        templates::list_templates, templates::create_template, templates::get_template,
        templates::list_template_statuses, templates::add_template_status,
        pbx::create_pbx_connection, pbx::list_pbx_connections, pbx::get_pbx_connection,
        pbx::update_pbx_connection, pbx::set_queue_mappings, pbx::delete_pbx_connection,
        inbox::inbox_depth, inbox::list_dead_letters, inbox::get_inbox_message, inbox::replay_dead_letter,
        inbox::discard_dead_letter,
        webhooks::create_webhook, webhooks::list_webhooks, webhooks::get_webhook, webhooks::update_webhook,
        webhooks::delete_webhook, webhooks::list_webhook_deliveries, webhooks::redeliver_webhook_delivery,
        sse::session_stream, sse::item_stream,
        live::sse::queue_channel, live::sse::overview_channel, live::sse::agent_channel, live::ws::socket,
        serve_openapi,
    ),
    components(
        schemas(
            Problem, Queue, SessionSchedule, NewSessionSchedule, Session, SessionStatus, Lifecycle, Item, ItemHistoryEntry, Template, TemplateStatus,
            Transition, EventKind, sse::ItemStatusChangedEvent,
            live::LiveFrame, live::LiveFrameKind, live::ws::LiveClientMessage, live::ws::LiveNotice,
            lineup_live::document::QueueDocument, lineup_live::document::CallView, lineup_live::document::AgentView,
            lineup_live::document::AgentsByState, lineup_live::document::TodayView, lineup_live::document::OverviewDocument,
            lineup_live::document::QueueSummary, lineup_live::document::Totals, lineup_live::document::AgentDocument,
            lineup_live::document::AgentTodayView, lineup_live::AgentState, lineup_domain::call::Phase, routes::QueuePage, routes::SessionPage,
            routes::ItemPage, routes::TemplatePage, NameSort, SessionSort, ItemSort, Order,
            Role, Tenant, TenantPatch, Member, NewMember, MemberPatch, ApiKey, NewApiKey, AuditEntry, Actor, ActorKind,
            routes::MemberPage, routes::ApiKeyPage, routes::AuditPage, AuditSort,
            auth::LoginRequest, auth::RefreshRequest, auth::TokenResponse, auth::StreamTicket, auth::Me, auth::MeApiKey,
            api_keys::CreatedApiKey,
            PbxConnection, QueueMapping, NewPbxConnection, PbxConnectionPatch, PbxQueueMappings,
            routes::PbxConnectionPage,
            inbox::InboxMessageView, inbox::InboxMessageSource, inbox::InboxMessageState, inbox::InboxDepthView,
            routes::InboxMessagePage, DeadLetterSort,
            Webhook, NewWebhook, WebhookPatch, WebhookDelivery, DeliveryState, WebhookEvent, routes::WebhookPage,
            routes::WebhookDeliveryPage,
        ),
        responses(ProblemResponse),
    ),
    tags(
        (name = "queues", description = "Permanent queues and their templates"),
        (name = "sessions", description = "Numbered sessions of a queue, their lifecycle and statuses"),
        (name = "items", description = "Items of a session, their status moves and history"),
        (name = "templates", description = "Statuses and status machines sessions are built from"),
        (name = "streams", description = "Server-sent events from the outbox"),
        (name = "live", description = "Live queue, overview and agent channels: snapshots and deltas over SSE and WebSocket"),
        (name = "health", description = "Probes"),
        (name = "auth", description = "Signing in and out, token refresh, stream tickets, the caller"),
        (name = "users", description = "The tenant's users and their roles (admins)"),
        (name = "api-keys", description = "API keys for integrations (admins)"),
        (name = "tenant", description = "The caller's tenant and its settings"),
        (name = "audit", description = "The audit log of administrative changes (admins)"),
        (name = "analytics", description = "Reporting figures and staffing (admins, supervisors, analysts)"),
        (name = "pbx", description = "Connections to the tenant's 3CX and their queue mappings (admins)"),
        (name = "inbox", description = "Records read from the PBX awaiting processing, and dead letters (admins)"),
        (name = "webhooks", description = "Outbound webhooks: signed deliveries of the tenant's events, their log (admins)"),
    ),
)]
struct ApiDoc;

/// Declares the two credentials: a bearer token (access token or API key) and a stream ticket.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An access token (`lu_at_...`, from /auth/login) or an API key (`lu_key_...`)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "streamTicket",
            SecurityScheme::ApiKey(ApiKeyScheme::Query(ApiKeyValue::with_description(
                "ticket",
                "A single-use stream ticket (`lu_st_...`, from /auth/stream-ticket)",
            ))),
        );
    }
}

/// What each operation requires of its caller: the permission its handler's
/// `Authorized<need::...>` names, or `None` for any valid credential. Operations declared
/// `security(())` are public and absent here. [`RequiredPermissions`] writes these into the
/// document (`x-lineup-permission` and the description) and refuses a document where an
/// operation and this table disagree; the HTTP role-matrix test checks every operation answers
/// every role as this table says, so the table cannot drift from the handlers.
pub const OPERATION_PERMISSIONS: &[(&str, &str, Option<Permission>)] = {
    use Permission::*;
    &[
        ("post", "/api/v1/auth/logout", None),
        ("post", "/api/v1/auth/stream-ticket", None),
        ("get", "/api/v1/me", None),
        ("post", "/api/v1/users", Some(UserManage)),
        ("get", "/api/v1/users", Some(UserManage)),
        ("get", "/api/v1/users/{id}", Some(UserManage)),
        ("patch", "/api/v1/users/{id}", Some(UserManage)),
        ("post", "/api/v1/api-keys", Some(ApiKeyManage)),
        ("get", "/api/v1/api-keys", Some(ApiKeyManage)),
        ("get", "/api/v1/api-keys/{id}", Some(ApiKeyManage)),
        ("delete", "/api/v1/api-keys/{id}", Some(ApiKeyManage)),
        ("get", "/api/v1/tenant", Some(TenantRead)),
        ("patch", "/api/v1/tenant", Some(TenantManage)),
        ("get", "/api/v1/audit", Some(AuditRead)),
        ("get", "/api/v1/analytics/staffing", Some(AnalyticsRead)),
        ("get", "/api/v1/analytics/kpis", Some(AnalyticsRead)),
        ("post", "/api/v1/queues", Some(QueueManage)),
        ("get", "/api/v1/queues", Some(QueueRead)),
        ("get", "/api/v1/queues/{id}", Some(QueueRead)),
        ("patch", "/api/v1/queues/{id}", Some(QueueManage)),
        ("delete", "/api/v1/queues/{id}", Some(QueueManage)),
        ("get", "/api/v1/queues/{id}/session-schedule", Some(QueueManage)),
        ("put", "/api/v1/queues/{id}/session-schedule", Some(QueueManage)),
        ("delete", "/api/v1/queues/{id}/session-schedule", Some(QueueManage)),
        ("post", "/api/v1/queues/{queueId}/sessions", Some(SessionManage)),
        ("get", "/api/v1/queues/{queueId}/sessions", Some(SessionRead)),
        ("get", "/api/v1/sessions/{id}", Some(SessionRead)),
        ("patch", "/api/v1/sessions/{id}", Some(SessionManage)),
        ("patch", "/api/v1/sessions/{id}/lifecycle", Some(SessionManage)),
        ("delete", "/api/v1/sessions/{id}", Some(SessionManage)),
        ("get", "/api/v1/sessions/{sessionId}/statuses", Some(SessionRead)),
        ("patch", "/api/v1/session-statuses/{id}", Some(SessionManage)),
        ("post", "/api/v1/sessions/{sessionId}/items", Some(ItemCreate)),
        ("get", "/api/v1/sessions/{sessionId}/items", Some(ItemRead)),
        ("get", "/api/v1/items/{id}", Some(ItemRead)),
        ("patch", "/api/v1/items/{id}", Some(ItemUpdate)),
        ("patch", "/api/v1/items/{id}/status", Some(ItemUpdate)),
        ("get", "/api/v1/items/{id}/history", Some(ItemRead)),
        ("get", "/api/v1/templates", Some(TemplateRead)),
        ("post", "/api/v1/templates", Some(TemplateManage)),
        ("get", "/api/v1/templates/{id}", Some(TemplateRead)),
        ("get", "/api/v1/templates/{id}/statuses", Some(TemplateRead)),
        ("post", "/api/v1/templates/{id}/statuses", Some(TemplateManage)),
        ("get", "/api/v1/sessions/{sessionId}/stream", Some(ItemRead)),
        ("get", "/api/v1/items/{itemId}/stream", Some(ItemRead)),
        ("get", "/api/v1/live/queues/{queueId}", Some(LiveRead)),
        ("get", "/api/v1/live/overview", Some(LiveRead)),
        ("get", "/api/v1/live/agents/{dn}", Some(LiveRead)),
        ("get", "/api/v1/live/ws", Some(LiveRead)),
        ("post", "/api/v1/pbx-connections", Some(PbxManage)),
        ("get", "/api/v1/pbx-connections", Some(PbxManage)),
        ("get", "/api/v1/pbx-connections/{id}", Some(PbxManage)),
        ("patch", "/api/v1/pbx-connections/{id}", Some(PbxManage)),
        ("put", "/api/v1/pbx-connections/{id}/queue-mappings", Some(PbxManage)),
        ("delete", "/api/v1/pbx-connections/{id}", Some(PbxManage)),
        ("get", "/api/v1/inbox/depth", Some(InboxManage)),
        ("get", "/api/v1/inbox/dead-letters", Some(InboxManage)),
        ("get", "/api/v1/inbox/messages/{id}", Some(InboxManage)),
        ("post", "/api/v1/inbox/dead-letters/{id}/replay", Some(InboxManage)),
        ("delete", "/api/v1/inbox/dead-letters/{id}", Some(InboxManage)),
        ("post", "/api/v1/webhooks", Some(WebhookManage)),
        ("get", "/api/v1/webhooks", Some(WebhookManage)),
        ("get", "/api/v1/webhooks/{id}", Some(WebhookManage)),
        ("patch", "/api/v1/webhooks/{id}", Some(WebhookManage)),
        ("delete", "/api/v1/webhooks/{id}", Some(WebhookManage)),
        ("get", "/api/v1/webhooks/{id}/deliveries", Some(WebhookManage)),
        ("post", "/api/v1/webhook-deliveries/{id}/redeliver", Some(WebhookManage)),
    ]
};

/// The extension naming an operation's required permission (`"authenticated"` for any caller).
pub const PERMISSION_EXTENSION: &str = "x-lineup-permission";

/// Writes [`OPERATION_PERMISSIONS`] into the document.
struct RequiredPermissions;

impl Modify for RequiredPermissions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut seen = 0;
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
                ("put", &mut item.put),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else { continue };
                let public = operation.security.as_ref().is_some_and(|s| s.iter().all(is_empty_requirement));
                let entry = OPERATION_PERMISSIONS.iter().find(|(m, p, _)| *m == method && p == path);
                let Some((_, _, permission)) = entry else {
                    assert!(public, "{method} {path} needs a credential but has no entry in OPERATION_PERMISSIONS");
                    continue;
                };
                assert!(!public, "{method} {path} is public but listed in OPERATION_PERMISSIONS");
                seen += 1;
                let (name, line) = match permission {
                    Some(p) => (p.as_str(), format!("Requires the `{}` permission.", p.as_str())),
                    None => ("authenticated", "Requires any valid credential.".to_string()),
                };
                let description = operation.description.take().unwrap_or_default();
                operation.description =
                    Some(if description.is_empty() { line } else { format!("{description}\n\n{line}") });
                let extensions = operation.extensions.get_or_insert_with(Default::default);
                extensions.merge(ExtensionsBuilder::new().add(PERMISSION_EXTENSION, name).build());
            }
        }
        assert_eq!(seen, OPERATION_PERMISSIONS.len(), "OPERATION_PERMISSIONS names an operation that does not exist");
    }
}

fn is_empty_requirement(requirement: &SecurityRequirement) -> bool {
    requirement == &SecurityRequirement::default()
}

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
    get, path = "/api/v1/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
pub async fn serve_openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}
