//! Putting the generated files together.

use crate::emit_operations::emit_operations;
use crate::emit_types::emit_types;
use crate::select::Model;

/// One generated file: its path relative to `crates/xapi/src/generated/` and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path, `/`-separated (`types.rs`).
    pub path: String,
    /// The whole text.
    pub contents: String,
}

/// Every generated file, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFiles {
    /// `mod.rs`, `operations.rs`, `types.rs`.
    pub files: Vec<GeneratedFile>,
}

impl GeneratedFiles {
    /// The file at `path`, if generated.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.iter().find(|f| f.path == path).map(|f| f.contents.as_str())
    }
}

const MOD_RS: &str = "\
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
";

/// The files of `model`.
pub fn emit(model: &Model) -> GeneratedFiles {
    let file = |path: &str, contents: String| GeneratedFile { path: path.to_owned(), contents };
    GeneratedFiles {
        files: vec![
            file("mod.rs", MOD_RS.to_owned()),
            file("operations.rs", emit_operations(model)),
            file("types.rs", emit_types(model)),
        ],
    }
}
