//! A typed client of 3CX's XAPI (`/xapi/v1`, OData over JSON).
//!
//! `generated` holds the types and operations generated from 3CX's OpenAPI document by
//! `lineup-xapi-gen` (never edited by hand; regenerate with `cargo run -p lineup-xapi-gen`). The
//! rest is the runtime the generated operations call: the OAuth2 client-credentials token cache
//! (`auth`), the OData query builder and literals (`odata`, `filter`), URL encoding (`encode`),
//! typed errors (`error`), retries (`policy`) and the circuit breaker (`breaker`), metrics
//! (`metrics`), pagination (`paging`), and the HTTP client that ties them together (`client`).
//!
//! This crate must not know Lineup's domain or storage: it speaks 3CX only.

mod auth;
pub mod breaker;
pub mod client;
pub mod clock;
pub mod config;
pub mod encode;
pub mod error;
pub mod filter;
pub mod generated;
pub mod metrics;
pub mod odata;
mod paging;
pub mod policy;

pub use breaker::{BreakerConfig, BreakerState};
pub use client::{decode_body, XapiClient, XapiError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Secret, XapiConfig};
pub use error::{ErrorKind, ODataErrorDetail};
pub use odata::{Filter, ODataPage, Query, SortOrder, ToODataLiteral};
pub use policy::RetryPolicy;
