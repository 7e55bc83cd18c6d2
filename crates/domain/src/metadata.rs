//! Item metadata checked against a template's JSON Schema.

use crate::DomainError;

/// A compiled JSON Schema for item metadata.
pub struct MetadataSchema {
    validator: jsonschema::Validator,
}

impl MetadataSchema {
    /// Compiles a schema; an invalid schema is an `Invalid { field: "metadataSchema" }` error.
    pub fn compile(schema: &serde_json::Value) -> Result<Self, DomainError> {
        jsonschema::validator_for(schema)
            .map(|validator| MetadataSchema { validator })
            .map_err(|e| DomainError::Invalid { field: "metadataSchema", reason: e.to_string() })
    }

    /// Checks `metadata`, listing every violation with its JSON pointer.
    pub fn check(&self, metadata: &serde_json::Value) -> Result<(), DomainError> {
        let errors: Vec<String> = self
            .validator
            .iter_errors(metadata)
            .map(|e| {
                let path = e.instance_path.to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::MetadataSchemaViolation { errors })
        }
    }
}

/// Checks metadata against an optional schema: with no schema every JSON object is accepted.
/// Metadata must always be a JSON object.
pub fn check_metadata(schema: Option<&serde_json::Value>, metadata: &serde_json::Value) -> Result<(), DomainError> {
    if !metadata.is_object() {
        return Err(DomainError::Invalid { field: "metadata", reason: "must be a JSON object".into() });
    }
    match schema {
        Some(s) => MetadataSchema::compile(s)?.check(metadata),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> serde_json::Value {
        json!({
            "type": "object",
            "properties": {"phone": {"type": "string"}, "priority": {"type": "integer", "minimum": 1}},
            "required": ["phone"]
        })
    }

    #[test]
    fn conforming_metadata_passes() {
        assert!(check_metadata(Some(&schema()), &json!({"phone": "+15551234", "priority": 2})).is_ok());
        assert!(check_metadata(None, &json!({"anything": [1, 2]})).is_ok());
    }

    #[test]
    fn every_violation_is_reported() {
        let err = check_metadata(Some(&schema()), &json!({"priority": 0})).unwrap_err();
        match err {
            DomainError::MetadataSchemaViolation { errors } => {
                assert_eq!(errors.len(), 2, "{errors:?}");
                assert!(errors.iter().any(|e| e.contains("phone")));
                assert!(errors.iter().any(|e| e.starts_with("/priority")));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn metadata_must_be_an_object() {
        assert!(matches!(check_metadata(None, &json!([1])), Err(DomainError::Invalid { field: "metadata", .. })));
    }
}
