//! The REST handlers, one module per resource. A handler parses, calls the store, bumps the
//! notifier after a committed change, and maps the result; nothing else.

pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod health;
pub mod inbox;
pub mod items;
pub mod pbx;
pub mod queues;
pub mod schedules;
pub mod sessions;
pub mod templates;
pub mod tenant;
pub mod users;
pub mod webhooks;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lineup_domain::{
    ApiKey, AuditEntry, Item, Member, PbxConnection, Queue, Session, Template, Webhook, WebhookDelivery,
};
use serde::Serialize;
use utoipa::ToSchema;

/// Prefix of every v1 route.
pub const V1: &str = "/api/v1";

/// `201 Created` with the new object and, when it has its own URL, a `Location` header.
pub(crate) fn created<T: Serialize>(location: Option<String>, body: T) -> Response {
    match location {
        Some(url) => (StatusCode::CREATED, [(header::LOCATION, url)], Json(body)).into_response(),
        None => (StatusCode::CREATED, Json(body)).into_response(),
    }
}

/// Declares the OpenAPI shape of one page of a list (the wire form of `lineup_store::Page<T>`).
macro_rules! page_schema {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// The rows of this page, in the requested order.
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
        }
    };
}

page_schema! {
    /// A page of queues.
    QueuePage, Queue
}
page_schema! {
    /// A page of sessions.
    SessionPage, Session
}
page_schema! {
    /// A page of items.
    ItemPage, Item
}
page_schema! {
    /// A page of templates.
    TemplatePage, Template
}
page_schema! {
    /// A page of users.
    MemberPage, Member
}
page_schema! {
    /// A page of API keys.
    ApiKeyPage, ApiKey
}
page_schema! {
    /// A page of audit entries.
    AuditPage, AuditEntry
}
page_schema! {
    /// A page of PBX connections.
    PbxConnectionPage, PbxConnection
}
page_schema! {
    /// A page of inbox messages.
    InboxMessagePage, inbox::InboxMessageView
}
page_schema! {
    /// A page of webhooks.
    WebhookPage, Webhook
}
page_schema! {
    /// A page of a webhook's deliveries.
    WebhookDeliveryPage, WebhookDelivery
}
