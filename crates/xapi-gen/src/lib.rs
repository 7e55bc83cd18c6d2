//! `lineup-xapi-gen`: generates `lineup-xapi`'s types and operations from 3CX's XAPI OpenAPI
//! document.
//!
//! Inputs: 3CX's document (never committed; see `xapi-spec/README.md`), our list of operations
//! (`xapi-spec/operations.toml`) and our overlay of fixes to the document (`xapi-spec/overlay.yaml`).
//! Output: the Rust files of `crates/xapi/src/generated/`. [`generate`] is pure and deterministic:
//! the same inputs give the same bytes, whatever the platform or the crate features in the build.
//! The binary `xapi-gen` writes or checks the files; `tests/drift.rs` fails when they drift.
//!
//! This crate must not know Lineup's domain, and the generated code calls only the runtime
//! primitives of `lineup-xapi` (`get_collection`, `get_entity`, `post_action`).

mod emit;
mod emit_operations;
mod emit_types;
mod error;
mod json_schema;
mod layout;
mod model;
mod naming;
mod operations;
mod overlay;
mod parse;
pub mod paths;
mod select;

use serde_json::Value;

pub use emit::{GeneratedFile, GeneratedFiles};
pub use error::Error;
pub use operations::{Operations, SelectedOperation};
pub use overlay::{Overlay, Patch, PatchOp};

/// 3CX's document, parsed and patched with the overlay: what generation and schema extraction
/// read. Parse once and reuse it when asking for many schemas (the document is about 1.2 MB).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    value: Value,
}

impl Document {
    /// Parses the document's YAML and applies `overlay`.
    pub fn parse(spec_text: &str, overlay: &Overlay) -> Result<Self, Error> {
        let mut value = parse::parse_document(spec_text)?;
        overlay.apply(&mut value)?;
        Ok(Self { value })
    }

    /// The patched document as JSON.
    pub fn as_json(&self) -> &Value {
        &self.value
    }

    /// The generated files for `operations`.
    pub fn generate(&self, operations: &Operations) -> Result<GeneratedFiles, Error> {
        let model = select::build_model(&self.value, operations)?;
        Ok(emit::emit(&model))
    }

    /// See [`response_json_schema`].
    pub fn response_json_schema(&self, path: &str, method: &str) -> Result<Value, Error> {
        json_schema::response_schema_in(&self.value, path, method)
    }
}

/// The repository's view of 3CX's document: the file at [`paths::spec_path`] patched with
/// `xapi-spec/overlay.yaml`, or `None` when the document is absent (tests then print that they are
/// skipped and pass). For tests in other crates, e.g. the simulator's schema checks.
pub fn repo_document() -> Result<Option<Document>, Error> {
    let root = paths::repo_root();
    let Ok(spec_text) = std::fs::read_to_string(paths::spec_path(&root)) else { return Ok(None) };
    let overlay_path = paths::overlay_path(&root);
    let overlay_text = std::fs::read_to_string(&overlay_path)
        .map_err(|e| Error::Read { path: overlay_path.display().to_string(), message: e.to_string() })?;
    Document::parse(&spec_text, &Overlay::from_yaml(&overlay_text)?).map(Some)
}

/// The generated files for `operations` from the document `spec_text` patched with `overlay`.
pub fn generate(spec_text: &str, operations: &Operations, overlay: &Overlay) -> Result<GeneratedFiles, Error> {
    Document::parse(spec_text, overlay)?.generate(operations)
}

/// A self-contained JSON Schema (draft 2020-12) of the 200 JSON answer of `method path` (`path`
/// as the document spells it, e.g. `/ActiveCalls`): `nullable` turned into type unions, component
/// references rewritten to `#/$defs/...` with the components they reach included.
pub fn response_json_schema(spec_text: &str, overlay: &Overlay, path: &str, method: &str) -> Result<Value, Error> {
    Document::parse(spec_text, overlay)?.response_json_schema(path, method)
}
