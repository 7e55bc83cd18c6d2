//! The overlay: our patches to 3CX's document, applied to the parsed document before anything
//! is generated from it. Each patch says why it exists and, optionally, what it expects to find,
//! so a patch that 3CX's document has made unnecessary fails loudly instead of lingering.

use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// The patches of `xapi-spec/overlay.yaml`, in order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Applied in order.
    #[serde(default)]
    pub patches: Vec<Patch>,
}

/// One change to the document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    /// Why the document is wrong here (required: a patch nobody can explain gets removed).
    pub why: String,
    /// JSON pointer (RFC 6901) of the value to change, e.g.
    /// `/components/schemas/Pbx.CallLogData/properties/CallCost` (`/` in a key is `~1`).
    pub path: String,
    /// What to do.
    pub op: PatchOp,
    /// The value for `set` and `merge`.
    #[serde(default)]
    pub value: Option<Value>,
    /// The value the document must have at `path` before the patch; when it differs (3CX changed
    /// it), generation fails and the patch must be reviewed.
    #[serde(default)]
    pub expect: Option<Value>,
}

/// What a patch does at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchOp {
    /// Put `value` at the path (adding the key if absent; the parent must exist).
    Set,
    /// Merge the object `value` into the object at the path, key by key (shallow).
    Merge,
    /// Delete the key at the path (it must exist).
    Remove,
}

impl Overlay {
    /// Parses the overlay's YAML (`patches: [...]`). An empty text is an empty overlay.
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let overlay: Self =
            serde_norway::from_str(text).map_err(|e| Error::Parse { what: "overlay", message: e.to_string() })?;
        for patch in &overlay.patches {
            if patch.why.trim().is_empty() {
                return Err(overlay_error(patch, "`why` is empty: say why the document is wrong here"));
            }
            if patch.op != PatchOp::Remove && patch.value.is_none() {
                return Err(overlay_error(patch, "`value` is required for set and merge"));
            }
        }
        Ok(overlay)
    }

    /// Applies every patch to `doc`, in order.
    pub fn apply(&self, doc: &mut Value) -> Result<(), Error> {
        self.patches.iter().try_for_each(|patch| patch.apply(doc))
    }
}

impl Patch {
    fn apply(&self, doc: &mut Value) -> Result<(), Error> {
        if let Some(expected) = &self.expect {
            match doc.pointer(&self.path) {
                Some(found) if found == expected => {}
                Some(found) => {
                    return Err(overlay_error(self, &format!("expected {expected} but the document has {found}")));
                }
                None => return Err(overlay_error(self, &format!("expected {expected} but the path is absent"))),
            }
        }
        let (parent_path, key) = split_pointer(&self.path).ok_or_else(|| overlay_error(self, "not a JSON pointer"))?;
        let parent = doc.pointer_mut(parent_path).ok_or_else(|| overlay_error(self, "the parent is absent"))?;
        let Value::Object(parent) = parent else { return Err(overlay_error(self, "the parent is not an object")) };
        let value = self.value.clone().unwrap_or(Value::Null);
        match self.op {
            PatchOp::Set => {
                parent.insert(key, value);
            }
            PatchOp::Merge => {
                let target = parent.get_mut(&key).ok_or_else(|| overlay_error(self, "nothing to merge into"))?;
                let (Value::Object(target), Value::Object(changes)) = (target, value) else {
                    return Err(overlay_error(self, "merge needs an object at the path and as the value"));
                };
                target.extend(changes);
            }
            PatchOp::Remove => {
                parent.remove(&key).ok_or_else(|| overlay_error(self, "nothing to remove"))?;
            }
        }
        Ok(())
    }
}

/// `/a/b~1c` → (`/a`, `b/c`).
fn split_pointer(pointer: &str) -> Option<(&str, String)> {
    let slash = pointer.rfind('/')?;
    let key = pointer[slash + 1..].replace("~1", "/").replace("~0", "~");
    Some((&pointer[..slash], key))
}

fn overlay_error(patch: &Patch, message: &str) -> Error {
    Error::Overlay { path: patch.path.clone(), message: message.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Value {
        json!({"components": {"schemas": {"A": {"properties": {"Cost": {"type": "integer", "format": "decimal"}}}}}})
    }

    #[test]
    fn set_replaces_the_value_when_the_expectation_holds() {
        let overlay = Overlay::from_yaml(
            "patches:\n  - why: costs are decimals\n    path: /components/schemas/A/properties/Cost\n    op: set\n    \
             expect: {type: integer, format: decimal}\n    value: {type: number, format: double}\n",
        )
        .unwrap();
        let mut doc = doc();
        overlay.apply(&mut doc).unwrap();
        assert_eq!(
            doc.pointer("/components/schemas/A/properties/Cost"),
            Some(&json!({"type": "number", "format": "double"}))
        );
    }

    #[test]
    fn a_patch_whose_expectation_no_longer_holds_fails() {
        let overlay = Overlay::from_yaml(
            "patches:\n  - why: w\n    path: /components/schemas/A/properties/Cost\n    op: set\n    \
             expect: {type: string}\n    value: {type: number}\n",
        )
        .unwrap();
        let error = overlay.apply(&mut doc()).unwrap_err();
        assert!(error.to_string().contains("expected"), "{error}");
    }

    #[test]
    fn merge_adds_keys_and_remove_deletes_one() {
        let overlay = Overlay::from_yaml(
            "patches:\n  - {why: w, path: /components/schemas/A/properties/Cost, op: merge, value: {nullable: true}}\n  \
             - {why: w, path: /components/schemas/A/properties/Cost/format, op: remove}\n",
        )
        .unwrap();
        let mut doc = doc();
        overlay.apply(&mut doc).unwrap();
        assert_eq!(
            doc.pointer("/components/schemas/A/properties/Cost"),
            Some(&json!({"type": "integer", "nullable": true}))
        );
    }

    #[test]
    fn a_patch_without_a_reason_is_rejected() {
        let error = Overlay::from_yaml("patches:\n  - {why: ' ', path: /a, op: remove}\n").unwrap_err();
        assert!(error.to_string().contains("why"), "{error}");
    }
}
