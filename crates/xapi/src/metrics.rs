//! Metrics through the `metrics` facade (the application installs the recorder and exporter).
//! Every HTTP attempt counts, so retries are visible; `operation` is the generated operation's
//! name (`ActiveCalls.ListActiveCall`), `kind` an [`ErrorKind`](crate::error::ErrorKind) label.

use std::time::Duration;

use crate::error::XapiError;

/// Counter of HTTP attempts, by `operation`.
pub const REQUESTS_TOTAL: &str = "xapi_requests_total";
/// Counter of failed attempts (and calls refused by the open breaker), by `operation` and `kind`.
pub const ERRORS_TOTAL: &str = "xapi_errors_total";
/// Histogram of attempt durations in seconds, by `operation`.
pub const REQUEST_DURATION_SECONDS: &str = "xapi_request_duration_seconds";
/// Counter of retries scheduled, by `operation`.
pub const RETRIES_TOTAL: &str = "xapi_retries_total";
/// Counter of token requests, by `outcome` (`ok` or an error kind).
pub const TOKEN_REQUESTS_TOTAL: &str = "xapi_token_requests_total";
/// Counter of circuit breaker transitions, by the state entered (`to`).
pub const BREAKER_TRANSITIONS_TOTAL: &str = "xapi_breaker_transitions_total";

/// Registers the descriptions and units of the metrics above with the installed recorder; call
/// once after installing it (optional: recording works without it).
pub fn describe() {
    metrics::describe_counter!(REQUESTS_TOTAL, "XAPI HTTP attempts, by operation");
    metrics::describe_counter!(ERRORS_TOTAL, "Failed XAPI attempts, by operation and error kind");
    metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Duration of XAPI HTTP attempts, by operation"
    );
    metrics::describe_counter!(RETRIES_TOTAL, "XAPI retries scheduled, by operation");
    metrics::describe_counter!(TOKEN_REQUESTS_TOTAL, "OAuth2 token requests to the PBX, by outcome");
    metrics::describe_counter!(BREAKER_TRANSITIONS_TOTAL, "XAPI circuit breaker transitions, by new state");
}

/// Records one HTTP attempt of `operation` that took `elapsed` and ended with `result`.
pub(crate) fn record_attempt<T>(operation: &'static str, elapsed: Duration, result: &Result<T, XapiError>) {
    metrics::counter!(REQUESTS_TOTAL, "operation" => operation).increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "operation" => operation).record(elapsed.as_secs_f64());
    if let Err(error) = result {
        record_error(operation, error);
    }
}

/// Records an error of `operation` that did not come from an HTTP attempt (an open breaker).
pub(crate) fn record_error(operation: &'static str, error: &XapiError) {
    metrics::counter!(ERRORS_TOTAL, "operation" => operation, "kind" => error.kind().as_str()).increment(1);
}

/// Records a retry of `operation`.
pub(crate) fn record_retry(operation: &'static str) {
    metrics::counter!(RETRIES_TOTAL, "operation" => operation).increment(1);
}

/// Records a token request and its outcome.
pub(crate) fn record_token_request<T>(result: &Result<T, XapiError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(error) => error.kind().as_str(),
    };
    metrics::counter!(TOKEN_REQUESTS_TOTAL, "outcome" => outcome).increment(1);
}

/// Records a breaker transition into state `to`.
pub(crate) fn record_breaker_transition(to: &'static str) {
    metrics::counter!(BREAKER_TRANSITIONS_TOTAL, "to" => to).increment(1);
}
