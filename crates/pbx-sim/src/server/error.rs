//! The one error-to-HTTP mapping of the XAPI side: an OData error body
//! `{"error":{"code":..,"message":..}}` with its status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::route::RouteError;
use crate::odata::QueryError;

/// A failed XAPI request, answered with an OData error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// The OData error code.
    pub code: &'static str,
    /// The OData error message.
    pub message: String,
}

impl ODataFailure {
    /// A failure with `status`; the code is the status's reason phrase without spaces.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ODataFailure {
        let code = match status {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
            _ => "InternalServerError",
        };
        ODataFailure { status, code, message: message.into() }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ODataFailure {
        ODataFailure::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ODataFailure {
        ODataFailure::new(StatusCode::NOT_FOUND, message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> ODataFailure {
        ODataFailure::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<RouteError> for ODataFailure {
    fn from(error: RouteError) -> ODataFailure {
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
        ODataFailure::new(status, error.message)
    }
}

impl From<QueryError> for ODataFailure {
    fn from(error: QueryError) -> ODataFailure {
        ODataFailure::bad_request(error.message)
    }
}

impl IntoResponse for ODataFailure {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
