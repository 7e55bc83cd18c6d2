//! The one error type of the API and its one conversion to RFC 9457 `application/problem+json`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lineup_domain::DomainError;
use lineup_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{ToResponse, ToSchema};

/// Media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Prefix of every problem `type` URI; the slug follows.
pub const PROBLEM_TYPE_BASE: &str = "https://lineup.dev/problems/";

/// Why a request failed. Each variant maps to one stable problem `type` (see [`ApiError::kind`]).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The store refused or failed; the mapping depends on the store error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The body is not the JSON this route takes.
    #[error("{0}")]
    InvalidBody(String),
    /// The body is larger than the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A query parameter (or `Last-Event-ID`) is malformed or out of range.
    #[error("{0}")]
    InvalidQuery(String),
    /// No such resource (unknown route, malformed id in a path).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    /// A dependency (the database) does not answer.
    #[error("{0}")]
    NotReady(String),
    /// No credential, or one that is malformed, unknown, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// A login with a wrong username or password (or an inactive account: indistinguishable).
    #[error("the username or password is wrong")]
    InvalidCredentials,
    /// The caller's role lacks the permission the route requires.
    #[error("the role '{role}' lacks the permission '{permission}'")]
    Forbidden { role: &'static str, permission: &'static str },
    /// The caller holds as many live subscriptions as it may.
    #[error("{0}")]
    TooManySubscriptions(String),
    /// Too many requests from this caller or address; retry after the given time.
    #[error("too many requests: retry in {} s", retry_after_secs(.0))]
    RateLimited(std::time::Duration),
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Store(StoreError::Domain(e))
    }
}

/// Whole seconds a client waits before retrying (at least 1).
pub fn retry_after_secs(wait: &std::time::Duration) -> u64 {
    let ceil = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ceil.max(1)
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// One stable problem type: slug (end of the `type` URI), HTTP status and title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemKind {
    pub slug: &'static str,
    pub status: u16,
    pub title: &'static str,
}

macro_rules! problem_kinds {
    ($($name:ident = $slug:literal, $status:literal, $title:literal;)*) => {
        impl ProblemKind {
            $(pub const $name: ProblemKind = ProblemKind { slug: $slug, status: $status, title: $title };)*
            /// Every problem type the API answers with.
            pub const ALL: &'static [ProblemKind] = &[$(ProblemKind::$name),*];
        }
    };
}

problem_kinds! {
    NOT_FOUND = "not-found", 404, "Not found";
    METHOD_NOT_ALLOWED = "method-not-allowed", 405, "Method not allowed";
    INVALID_BODY = "invalid-body", 400, "Invalid request body";
    PAYLOAD_TOO_LARGE = "payload-too-large", 413, "Request body too large";
    INVALID_QUERY = "invalid-query", 400, "Invalid query parameters";
    VALIDATION_FAILED = "validation-failed", 422, "Validation failed";
    METADATA_SCHEMA_VIOLATION = "metadata-schema-violation", 422, "Metadata does not match the schema";
    ITEM_SESSION_IMMUTABLE = "item-session-immutable", 422, "An item's session cannot change";
    INVALID_LIFECYCLE_TRANSITION = "invalid-lifecycle-transition", 409, "Lifecycle transition not allowed";
    SESSION_NOT_ACTIVE = "session-not-active", 409, "Session not active";
    INVALID_STATUS_TRANSITION = "invalid-status-transition", 409, "Status transition not allowed";
    DUPLICATE_STATUS_LABEL = "duplicate-status-label", 409, "Duplicate status label";
    QUEUE_INACTIVE = "queue-inactive", 409, "Queue inactive";
    UNAUTHENTICATED = "unauthenticated", 401, "Authentication required";
    INVALID_CREDENTIALS = "invalid-credentials", 401, "Invalid credentials";
    FORBIDDEN = "forbidden", 403, "Forbidden";
    CONFLICT = "conflict", 409, "Conflict";
    RATE_LIMITED = "rate-limited", 429, "Too many requests";
    SUBSCRIPTION_LIMIT = "subscription-limit", 429, "Too many live subscriptions";
    INTERNAL = "internal", 500, "Internal error";
    NOT_READY = "not-ready", 503, "Not ready";
}

impl ProblemKind {
    /// The `type` URI.
    pub fn type_uri(self) -> String {
        format!("{PROBLEM_TYPE_BASE}{}", self.slug)
    }
}

/// An RFC 9457 problem document, with Lineup's extension members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Stable URI naming the problem, `https://lineup.dev/problems/<slug>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Path of the request that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// `validation-failed`: the request field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `metadata-schema-violation`: each violation of the template's JSON Schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
    /// Transition problems: where the session or item is (a lifecycle or a status label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `invalid-lifecycle-transition` and `invalid-status-transition`: where it was asked to go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `invalid-status-transition` by name: the transition asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<String>,
    /// `session-not-active`: the session's lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_status: Option<String>,
    /// `duplicate-status-label`: the label already taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The OpenAPI response every error status refers to.
#[derive(ToResponse)]
#[response(description = "An RFC 9457 problem document", content_type = "application/problem+json")]
#[allow(dead_code)]
pub struct ProblemResponse(Problem);

impl Problem {
    /// A problem of `kind` with `detail` and no extension members.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: kind.type_uri(),
            title: kind.title.to_string(),
            status: kind.status,
            detail: detail.into(),
            instance: None,
            field: None,
            errors: None,
            from: None,
            to: None,
            transition: None,
            lifecycle_status: None,
            label: None,
        }
    }

    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a problem serializes")
    }

    fn render(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, self.to_json()).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        res.extensions_mut().insert(self.clone());
        res
    }
}

impl ApiError {
    /// The problem type of this error.
    pub fn kind(&self) -> ProblemKind {
        match self {
            ApiError::Store(StoreError::NotFound(_)) | ApiError::NotFound(_) => ProblemKind::NOT_FOUND,
            ApiError::Store(StoreError::InvalidPage(_)) | ApiError::InvalidQuery(_) => ProblemKind::INVALID_QUERY,
            ApiError::Store(StoreError::Backend(_)) => ProblemKind::INTERNAL,
            ApiError::Store(StoreError::Domain(e)) => domain_kind(e),
            ApiError::InvalidBody(_) => ProblemKind::INVALID_BODY,
            ApiError::PayloadTooLarge(_) => ProblemKind::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed => ProblemKind::METHOD_NOT_ALLOWED,
            ApiError::NotReady(_) => ProblemKind::NOT_READY,
            ApiError::Store(StoreError::Conflict(_)) => ProblemKind::CONFLICT,
            ApiError::Unauthenticated(_) => ProblemKind::UNAUTHENTICATED,
            ApiError::InvalidCredentials => ProblemKind::INVALID_CREDENTIALS,
            ApiError::Forbidden { .. } => ProblemKind::FORBIDDEN,
            ApiError::RateLimited(_) => ProblemKind::RATE_LIMITED,
            ApiError::TooManySubscriptions(_) => ProblemKind::SUBSCRIPTION_LIMIT,
        }
    }

    /// The problem document of this error (without `instance`, which the router adds).
    pub fn problem(&self) -> Problem {
        let kind = self.kind();
        if let ApiError::Store(StoreError::Backend(msg)) = self {
            tracing::error!(error = %msg, "storage backend failed");
            return Problem::new(kind, "the server could not complete the request; it has been logged");
        }
        let mut p = Problem::new(kind, self.to_string());
        if let ApiError::Store(StoreError::Domain(e)) = self {
            add_domain_members(&mut p, e);
        }
        p
    }
}

fn domain_kind(e: &DomainError) -> ProblemKind {
    match e {
        DomainError::Invalid { .. } => ProblemKind::VALIDATION_FAILED,
        DomainError::InvalidLifecycleTransition { .. } => ProblemKind::INVALID_LIFECYCLE_TRANSITION,
        DomainError::SessionNotActive { .. } => ProblemKind::SESSION_NOT_ACTIVE,
        DomainError::ItemSessionImmutable => ProblemKind::ITEM_SESSION_IMMUTABLE,
        DomainError::InvalidStatusTransition { .. } | DomainError::UnknownTransition { .. } => {
            ProblemKind::INVALID_STATUS_TRANSITION
        }
        DomainError::MetadataSchemaViolation { .. } => ProblemKind::METADATA_SCHEMA_VIOLATION,
        DomainError::DuplicateStatusLabel { .. } => ProblemKind::DUPLICATE_STATUS_LABEL,
        DomainError::QueueInactive => ProblemKind::QUEUE_INACTIVE,
    }
}

fn add_domain_members(p: &mut Problem, e: &DomainError) {
    match e {
        DomainError::Invalid { field, .. } => p.field = Some((*field).to_string()),
        DomainError::InvalidLifecycleTransition { from, to } => {
            p.from = Some(from.to_string());
            p.to = Some(to.to_string());
        }
        DomainError::SessionNotActive { lifecycle } => p.lifecycle_status = Some(lifecycle.to_string()),
        DomainError::InvalidStatusTransition { from, to } => {
            p.from = Some(from.clone());
            p.to = Some(to.clone());
        }
        DomainError::UnknownTransition { name, from } => {
            p.from = Some(from.clone());
            p.transition = Some(name.clone());
        }
        DomainError::MetadataSchemaViolation { errors } => p.errors = Some(errors.clone()),
        DomainError::DuplicateStatusLabel { label } => p.label = Some(label.clone()),
        DomainError::ItemSessionImmutable | DomainError::QueueInactive => {}
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.problem().render();
        match &self {
            ApiError::Unauthenticated(_) | ApiError::InvalidCredentials => {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited(wait) => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
            }
            _ => {}
        }
        res
    }
}

/// Middleware: fills the `instance` member of every problem with the request path.
pub async fn add_problem_instance(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let Some(mut problem) = res.extensions().get::<Problem>().filter(|p| p.instance.is_none()).cloned() else {
        return res;
    };
    problem.instance = Some(path);
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = Body::from(problem.to_json());
    parts.extensions.insert(problem);
    Response::from_parts(parts, body)
}

/// Fallback of unknown routes.
pub async fn route_not_found() -> ApiError {
    ApiError::NotFound("no resource at this path".into())
}

/// Fallback of known routes called with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
