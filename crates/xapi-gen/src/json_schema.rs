//! The JSON Schema (draft 2020-12) of an operation's 200 answer, self-contained, for tests that
//! check what the simulator serves against 3CX's document.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::parse::{component_schema, operation, schema_ref_name, success_schema};
use crate::Error;

/// The draft this module writes.
pub const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The JSON Schema of the 200 (or 201) JSON answer of `method path` in the patched document:
/// OpenAPI 3.0's `nullable` becomes a type union, `$ref`s to components become `#/$defs/...`
/// with every schema they reach included, and OpenAPI-only keywords (`x-*`, `example`,
/// `discriminator`, `xml`, `externalDocs`) are dropped.
pub fn response_schema_in(doc: &Value, path: &str, method: &str) -> Result<Value, Error> {
    let op = operation(doc, path, method)?;
    let schema = success_schema(doc, op)?
        .ok_or_else(|| Error::Missing(format!("{} {path}: a JSON success answer", method.to_ascii_uppercase())))?;
    let mut needed = BTreeSet::new();
    let Value::Object(mut root) = convert(schema, &mut needed) else {
        return Err(Error::Unsupported(format!("{path}: the answer schema is not an object")));
    };
    let mut defs = Map::new();
    let mut done = BTreeSet::new();
    while let Some(name) = needed.iter().find(|n| !done.contains(*n)).cloned() {
        done.insert(name.clone());
        let converted = convert(component_schema(doc, &name)?, &mut needed);
        defs.insert(name, converted);
    }
    root.insert("$schema".to_owned(), json!(DRAFT));
    if !defs.is_empty() {
        root.insert("$defs".to_owned(), Value::Object(defs));
    }
    Ok(Value::Object(root))
}

/// One OpenAPI 3.0 schema as JSON Schema 2020-12; component names it references go to `needed`.
fn convert(schema: &Value, needed: &mut BTreeSet<String>) -> Value {
    let Value::Object(object) = schema else { return schema.clone() };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        // OpenAPI 3.0 ignores a reference's siblings.
        return match schema_ref_name(reference) {
            Some(name) => {
                needed.insert(name.to_owned());
                json!({ "$ref": format!("#/$defs/{name}") })
            }
            None => schema.clone(),
        };
    }
    let mut out = Map::new();
    for (key, value) in object {
        let converted = match key.as_str() {
            "nullable" | "example" | "discriminator" | "xml" | "externalDocs" => continue,
            k if k.starts_with("x-") => continue,
            "properties" | "patternProperties" => match value {
                Value::Object(properties) => {
                    Value::Object(properties.iter().map(|(k, v)| (k.clone(), convert(v, needed))).collect())
                }
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" => convert(value, needed),
            "allOf" | "anyOf" | "oneOf" => match value {
                Value::Array(parts) => Value::Array(parts.iter().map(|p| convert(p, needed)).collect()),
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if object.get("nullable").and_then(Value::as_bool) == Some(true) {
        return allow_null(out);
    }
    Value::Object(out)
}

/// `schema` also accepting `null`: added to `type` (and `enum`) when it has one and no
/// `allOf`/`anyOf`/`oneOf` (those would still reject `null`), else as an `anyOf` alternative.
fn allow_null(mut schema: Map<String, Value>) -> Value {
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        if !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
    }
    let composed = ["allOf", "anyOf", "oneOf"].iter().any(|k| schema.contains_key(*k));
    match schema.get("type").cloned().filter(|_| !composed) {
        Some(Value::String(ty)) => {
            schema.insert("type".to_owned(), json!([ty, "null"]));
            Value::Object(schema)
        }
        Some(Value::Array(mut types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
            schema.insert("type".to_owned(), Value::Array(types));
            Value::Object(schema)
        }
        _ => {
            // Keep annotations (title, description) outside; the constraints go into the union.
            let mut outer = Map::new();
            for key in ["title", "description", "default"] {
                if let Some(value) = schema.remove(key) {
                    outer.insert(key.to_owned(), value);
                }
            }
            outer.insert("anyOf".to_owned(), json!([Value::Object(schema), {"type": "null"}]));
            Value::Object(outer)
        }
    }
}
