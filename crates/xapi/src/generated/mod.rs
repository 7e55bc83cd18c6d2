//! Generated from 3CX's XAPI OpenAPI document by `lineup-xapi-gen`: the types (`types`) and the
//! operations on `XapiClient` with a table of them (`operations`).
//!
//! Do not edit: change `xapi-spec/operations.toml` or `xapi-spec/overlay.yaml` and run
//! `cargo run -p lineup-xapi-gen` (see `xapi-spec/README.md`). A test fails when these files differ
//! from what the generator makes of the document.

// The generator writes these files formatted; rustfmt leaves them alone so a rustfmt release can
// never make them differ from the generator's output.
#[rustfmt::skip]
pub mod operations;
#[rustfmt::skip]
pub mod types;

pub use operations::*;
pub use types::*;
