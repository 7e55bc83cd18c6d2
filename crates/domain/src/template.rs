//! Templates: the ordered statuses and the status machine a queue's sessions are built from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{validate_name, DomainError, MetadataSchema, StatusMachine, Transition};

/// A status of a template: label (its name in the machine), display color, position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TemplateStatus {
    pub id: Uuid,
    pub template_id: Uuid,
    pub label: String,
    /// CSS hex color, `#rrggbb`.
    pub color: String,
    pub order: i32,
}

/// A template: what every session of a queue using it starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: Uuid,
    pub name: String,
    /// Label of the status new items start in (the lowest-ordered status when absent).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub init: Option<String>,
    /// Statuses sorted by `order`.
    pub statuses: Vec<TemplateStatus>,
    /// Allowed transitions; empty means every move is allowed.
    pub transitions: Vec<Transition>,
    /// Optional JSON Schema every item's metadata must satisfy.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>, required = true))]
    pub metadata_schema: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Template {
    /// The template's status machine.
    pub fn machine(&self) -> StatusMachine {
        StatusMachine { init: self.init.clone(), transitions: self.transitions.clone() }
    }
}

/// A status to add to a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTemplateStatus {
    pub label: String,
    /// `#rrggbb`; defaults to a neutral grey.
    #[serde(default)]
    pub color: Option<String>,
    /// Position; defaults to after the last status.
    #[serde(default)]
    pub order: Option<i32>,
}

/// The request to create a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTemplate {
    pub name: String,
    pub statuses: Vec<NewTemplateStatus>,
    #[serde(default)]
    pub init: Option<String>,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata_schema: Option<serde_json::Value>,
}

/// Default color of a status created without one.
pub const DEFAULT_COLOR: &str = "#9e9e9e";

/// Validates a `#rrggbb` color and returns it lower-cased.
pub fn validate_color(color: &str) -> Result<String, DomainError> {
    let ok = color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(color.to_ascii_lowercase())
    } else {
        Err(DomainError::Invalid { field: "color", reason: format!("'{color}' is not a #rrggbb color") })
    }
}

/// A validated status ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSpec {
    pub label: String,
    pub color: String,
    pub order: i32,
}

/// A validated template ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    pub name: String,
    pub statuses: Vec<StatusSpec>,
    pub machine: StatusMachine,
    pub metadata_schema: Option<serde_json::Value>,
}

impl NewTemplate {
    /// Checks names, colors, unique labels, the machine and the metadata schema; fills defaults.
    pub fn validate(self) -> Result<TemplateSpec, DomainError> {
        let name = validate_name("name", &self.name)?;
        if self.statuses.is_empty() {
            return Err(DomainError::Invalid {
                field: "statuses",
                reason: "a template needs at least one status".into(),
            });
        }
        let mut statuses: Vec<StatusSpec> = Vec::with_capacity(self.statuses.len());
        for (i, s) in self.statuses.into_iter().enumerate() {
            let spec = validate_status(s, i as i32)?;
            if statuses.iter().any(|o| o.label == spec.label) {
                return Err(DomainError::DuplicateStatusLabel { label: spec.label });
            }
            statuses.push(spec);
        }
        statuses.sort_by(|a, b| (a.order, &a.label).cmp(&(b.order, &b.label)));
        let machine = StatusMachine { init: self.init, transitions: self.transitions };
        let labels: Vec<&str> = statuses.iter().map(|s| s.label.as_str()).collect();
        machine.validate(&labels)?;
        if let Some(schema) = &self.metadata_schema {
            MetadataSchema::compile(schema)?;
        }
        Ok(TemplateSpec { name, statuses, machine, metadata_schema: self.metadata_schema })
    }
}

/// Validates one status; `default_order` is used when the request gives none.
pub fn validate_status(s: NewTemplateStatus, default_order: i32) -> Result<StatusSpec, DomainError> {
    let label = validate_name("label", &s.label)?;
    if label == "*" {
        return Err(DomainError::Invalid { field: "label", reason: "'*' is reserved for 'any status'".into() });
    }
    let color = validate_color(s.color.as_deref().unwrap_or(DEFAULT_COLOR))?;
    Ok(StatusSpec { label, color, order: s.order.unwrap_or(default_order) })
}

/// Picks the label new items start in: the machine's `init`, else the lowest-ordered status.
pub fn initial_label<'a>(machine: &'a StatusMachine, ordered_labels: &'a [(i32, String)]) -> Option<&'a str> {
    machine.init.as_deref().or_else(|| ordered_labels.iter().min_by_key(|(o, _)| *o).map(|(_, l)| l.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(label: &str) -> NewTemplateStatus {
        NewTemplateStatus { label: label.into(), color: None, order: None }
    }

    #[test]
    fn statuses_get_default_color_and_order() {
        let spec = NewTemplate {
            name: " Front desk ".into(),
            statuses: vec![status("Waiting"), status("Done")],
            init: None,
            transitions: vec![],
            metadata_schema: None,
        }
        .validate()
        .unwrap();
        assert_eq!(spec.name, "Front desk");
        assert_eq!(spec.statuses[0], StatusSpec { label: "Waiting".into(), color: DEFAULT_COLOR.into(), order: 0 });
        assert_eq!(spec.statuses[1].order, 1);
    }

    #[test]
    fn duplicate_labels_empty_lists_and_bad_colors_are_refused() {
        let dup = NewTemplate {
            name: "x".into(),
            statuses: vec![status("A"), status("A")],
            init: None,
            transitions: vec![],
            metadata_schema: None,
        };
        assert_eq!(dup.validate().unwrap_err(), DomainError::DuplicateStatusLabel { label: "A".into() });
        let empty =
            NewTemplate { name: "x".into(), statuses: vec![], init: None, transitions: vec![], metadata_schema: None };
        assert!(empty.validate().is_err());
        for bad in ["red", "#12345", "#12345g", "123456#"] {
            assert!(validate_color(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_color("#AABBCC").unwrap(), "#aabbcc");
    }

    #[test]
    fn an_invalid_metadata_schema_is_refused() {
        let t = NewTemplate {
            name: "x".into(),
            statuses: vec![status("A")],
            init: None,
            transitions: vec![],
            metadata_schema: Some(serde_json::json!({"type": 12})),
        };
        assert!(matches!(t.validate(), Err(DomainError::Invalid { field: "metadataSchema", .. })));
    }

    #[test]
    fn initial_label_prefers_init_then_lowest_order() {
        let labels = vec![(2, "B".to_string()), (1, "A".to_string())];
        assert_eq!(initial_label(&StatusMachine::default(), &labels), Some("A"));
        let m = StatusMachine { init: Some("B".into()), transitions: vec![] };
        assert_eq!(initial_label(&m, &labels), Some("B"));
    }
}
