//! The operations list (`xapi-spec/operations.toml`): which of the document's operations are
//! generated, under which Rust names, and which extra schemas are generated besides those the
//! operations reach.

use serde::Deserialize;

use crate::Error;

/// The parsed operations list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// Component schemas generated even if no selected operation reaches them
    /// (e.g. `Pbx.ODataErrors.ODataError`).
    #[serde(default)]
    pub extra_schemas: Vec<String>,
    /// The operations, in the order their methods are emitted.
    #[serde(default, rename = "operation")]
    pub operations: Vec<SelectedOperation>,
}

/// One operation to generate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectedOperation {
    /// The path exactly as the document spells it (`/Queues({Id})/Agents`).
    pub path: String,
    /// `get` or `post`.
    pub method: String,
    /// The Rust method name on `XapiClient` (snake_case).
    pub name: String,
}

impl Operations {
    /// Parses the TOML of the operations list and checks the names are usable and unique.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let list: Self =
            toml::from_str(text).map_err(|e| Error::Parse { what: "operations", message: e.to_string() })?;
        let mut names = std::collections::BTreeSet::new();
        for op in &list.operations {
            let valid = op.name.starts_with(|c: char| c.is_ascii_lowercase())
                && op.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(Error::Parse {
                    what: "operations",
                    message: format!("`{}` is not a snake_case name", op.name),
                });
            }
            if !names.insert(op.name.as_str()) {
                return Err(Error::NameClash(format!("two operations are named `{}`", op.name)));
            }
        }
        Ok(list)
    }
}
