//! Reading 3CX's document: YAML text into a JSON value, and the lookups the generator needs.

use serde_json::Value;

use crate::Error;

/// The document's YAML as a JSON value (OpenAPI is JSON-compatible; keys are strings).
pub fn parse_document(text: &str) -> Result<Value, Error> {
    let doc: Value =
        serde_norway::from_str(text).map_err(|e| Error::Parse { what: "the XAPI document", message: e.to_string() })?;
    if doc.get("paths").and_then(Value::as_object).is_none() {
        return Err(Error::Missing("a `paths` object (is this an OpenAPI document?)".to_owned()));
    }
    Ok(doc)
}

/// The component schema name a `$ref` points at (`#/components/schemas/Pbx.Queue` → `Pbx.Queue`).
pub fn schema_ref_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

/// The value a local `$ref` (`#/components/...`) points at.
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Result<&'a Value, Error> {
    let pointer =
        reference.strip_prefix('#').ok_or_else(|| Error::Unsupported(format!("non-local reference {reference}")))?;
    doc.pointer(pointer).ok_or_else(|| Error::Missing(reference.to_owned()))
}

/// `value`, or what it points at when it is a `{"$ref": ...}` (one level, as OpenAPI uses it for
/// responses and parameters).
pub fn deref<'a>(doc: &'a Value, value: &'a Value) -> Result<&'a Value, Error> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(doc, reference),
        None => Ok(value),
    }
}

/// The component schema called `name`.
pub fn component_schema<'a>(doc: &'a Value, name: &str) -> Result<&'a Value, Error> {
    doc.pointer("/components/schemas")
        .and_then(|schemas| schemas.get(name))
        .ok_or_else(|| Error::Missing(format!("schema {name}")))
}

/// The operation object at `path` and `method` (lower case, as the document spells it).
pub fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> Result<&'a Value, Error> {
    doc.get("paths")
        .and_then(|paths| paths.get(path))
        .and_then(|item| item.get(method.to_ascii_lowercase()))
        .ok_or_else(|| Error::Missing(format!("{} {path}", method.to_ascii_uppercase())))
}

/// The JSON schema of the success response (200, else 201) of an operation, if it has a body.
pub fn success_schema<'a>(doc: &'a Value, operation: &'a Value) -> Result<Option<&'a Value>, Error> {
    let Some(responses) = operation.get("responses") else { return Ok(None) };
    let Some(response) = responses.get("200").or_else(|| responses.get("201")) else { return Ok(None) };
    let response = deref(doc, response)?;
    Ok(response.pointer("/content/application~1json/schema"))
}

/// The keys of a JSON object in a fixed order (case-insensitive, then exact), whatever order the
/// JSON map keeps: the output must not depend on serde_json's `preserve_order` feature.
pub fn sorted_keys(object: &serde_json::Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort_by(|a, b| a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()).then_with(|| a.cmp(b)));
    keys
}
