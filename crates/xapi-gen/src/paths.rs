//! Where the inputs and outputs live in the repository. The only module that reads the
//! environment; `generate` itself never touches files.

use std::path::{Path, PathBuf};

/// The environment variable that overrides the path of 3CX's document.
pub const SPEC_ENV: &str = "LINEUP_XAPI_SPEC";

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// 3CX's document: `$LINEUP_XAPI_SPEC` if set, else `../shared/xapi-spec/swagger.yaml` from the
/// repository root.
pub fn spec_path(root: &Path) -> PathBuf {
    match std::env::var_os(SPEC_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => root.join("../shared/xapi-spec/swagger.yaml"),
    }
}

/// `xapi-spec/operations.toml`.
pub fn operations_path(root: &Path) -> PathBuf {
    root.join("xapi-spec/operations.toml")
}

/// `xapi-spec/overlay.yaml`.
pub fn overlay_path(root: &Path) -> PathBuf {
    root.join("xapi-spec/overlay.yaml")
}

/// `crates/xapi/src/generated`, where the generated files are committed.
pub fn generated_dir(root: &Path) -> PathBuf {
    root.join("crates/xapi/src/generated")
}
