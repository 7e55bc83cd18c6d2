//! Request extractors whose rejections are problems: JSON bodies, ids in paths, query strings,
//! and the list parameters every list shares (turned into a `PageRequest` in one helper).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use lineup_store::{PageRequest, SortKey, SortOrder};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;

/// A JSON request body. Malformed JSON, unknown fields, wrong types, missing fields and a missing
/// or wrong `Content-Type` are all an `invalid-body` problem saying what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state).await.map(|Json(v)| ApiJson(v)).map_err(json_rejection)
    }
}

/// A JSON request body that may also be absent (an empty body means `T::default()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJsonOrDefault<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrDefault<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_content = is_json_content_type(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|e| body_rejection(e.status(), e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiJsonOrDefault(T::default()));
        }
        if !json_content {
            return Err(ApiError::InvalidBody("Expected request with `Content-Type: application/json`".into()));
        }
        Json::<T>::from_bytes(&bytes).map(|Json(v)| ApiJsonOrDefault(v)).map_err(json_rejection)
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    body_rejection(rejection.status(), rejection.body_text())
}

fn body_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("the request body is larger than this server accepts (see `bodyLimitBytes`)".into())
    } else {
        ApiError::InvalidBody(text)
    }
}

/// Path parameters. A value that does not parse (such as a malformed UUID) cannot name an
/// existing resource, so it answers `not-found`.
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|_| ApiError::NotFound("no resource at this path: an id in it is not a UUID".into()))
    }
}

/// Query parameters; anything malformed or unknown is an `invalid-query` problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::InvalidQuery(e.body_text()))
    }
}

/// Sort direction of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

impl From<Order> for SortOrder {
    fn from(o: Order) -> Self {
        match o {
            Order::Asc => SortOrder::Asc,
            Order::Desc => SortOrder::Desc,
        }
    }
}

/// Builds the page request of every list: the one place limits, cursors and sorts are checked.
pub fn page_request(
    limit: Option<u32>,
    cursor: Option<&str>,
    sort: SortKey,
    order: Option<Order>,
) -> Result<PageRequest, ApiError> {
    Ok(PageRequest::new(limit, sort, order.unwrap_or_default().into(), cursor)?)
}

/// Declares a sort-key enum of a list (camelCase on the wire; the first variant is the default).
macro_rules! sort_keys {
    ($(#[$doc:meta])* $name:ident { $default:ident $(, $variant:ident)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub enum $name {
            #[default]
            $default,
            $($variant),*
        }

        impl From<$name> for SortKey {
            fn from(s: $name) -> SortKey {
                match s {
                    $name::$default => SortKey::$default,
                    $($name::$variant => SortKey::$variant),*
                }
            }
        }
    };
}

sort_keys! {
    /// Sort keys of the queue and template lists (default `createdAt`).
    NameSort { CreatedAt, Name }
}
sort_keys! {
    /// Sort keys of the session list (default `sessionNumber`).
    SessionSort { SessionNumber, CreatedAt }
}
sort_keys! {
    /// Sort key of the audit log (its only one: the entry's time).
    AuditSort { CreatedAt }
}
sort_keys! {
    /// Sort key of the dead-letter list (its only one: when the message was enqueued).
    DeadLetterSort { CreatedAt }
}
sort_keys! {
    /// Sort keys of the item list (default `number`, the item's number in its session).
    ItemSort { Number, CreatedAt }
}

/// Declares the query parameters of a list: the shared paging ones plus the list's own.
macro_rules! list_query {
    ($(#[$doc:meta])* $name:ident, $sort:ty { $($(#[$fdoc:meta])* $field:ident: $fty:ty),* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Deserialize, IntoParams)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Page size, 1 to 500 (default 50).
            #[param(minimum = 1, maximum = 500)]
            pub limit: Option<u32>,
            /// The `nextCursor` of the previous page (valid only with the same `sort` and `order`).
            pub cursor: Option<String>,
            /// Sort key.
            pub sort: Option<$sort>,
            /// Sort direction (default `asc`).
            pub order: Option<Order>,
            $($(#[$fdoc])* pub $field: $fty),*
        }

        impl $name {
            /// The page these parameters ask for.
            pub fn page(&self) -> Result<PageRequest, ApiError> {
                page_request(self.limit, self.cursor.as_deref(), self.sort.unwrap_or_default().into(), self.order)
            }
        }
    };
}

list_query! {
    /// Parameters of the queue and template lists.
    NameListQuery, NameSort {}
}
list_query! {
    /// Parameters of the session list.
    SessionListQuery, SessionSort {}
}
list_query! {
    /// Parameters of the item list.
    ItemListQuery, ItemSort {
        /// Only items in this session status (a status id).
        status: Option<Uuid>
    }
}
list_query! {
    /// Parameters of the audit log (default order `desc`: newest first).
    AuditListQuery, AuditSort {}
}
list_query! {
    /// Parameters of the dead-letter list.
    DeadLetterListQuery, DeadLetterSort {}
}
