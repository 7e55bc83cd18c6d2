//! Queues: permanent dashboards whose work is organised in numbered sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{validate_name, DomainError};

/// A queue. `prefix` starts every item number of the queue (`A` in `A-12`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    pub id: Uuid,
    pub name: String,
    pub template_id: Uuid,
    pub prefix: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The request to create a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewQueue {
    pub name: String,
    pub template_id: Uuid,
    /// 1–5 letters or digits; defaults to the first letter of the name.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// A change to a queue; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueuePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    /// Reactivates (`true`) or deactivates (`false`) the queue.
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// A validated queue ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub template_id: Uuid,
    pub prefix: String,
}

/// The prefix a queue gets when none is given: the first letter or digit of its name, upper-cased.
pub fn default_prefix(name: &str) -> String {
    name.chars()
        .find(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase().to_string())
        .unwrap_or_else(|| "Q".to_string())
}

/// Validates a prefix: 1–5 ASCII letters or digits, stored upper-cased.
pub fn validate_prefix(prefix: &str) -> Result<String, DomainError> {
    let p = prefix.trim();
    if p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(DomainError::Invalid { field: "prefix", reason: "must be 1 to 5 letters or digits".into() });
    }
    Ok(p.to_ascii_uppercase())
}

impl NewQueue {
    /// Validates the name and prefix, filling the default prefix.
    pub fn validate(self) -> Result<QueueSpec, DomainError> {
        let name = validate_name("name", &self.name)?;
        let prefix = match self.prefix {
            Some(p) => validate_prefix(&p)?,
            None => default_prefix(&name),
        };
        Ok(QueueSpec { name, template_id: self.template_id, prefix })
    }
}

impl QueuePatch {
    /// Applies the patch to a queue, validating every changed field.
    pub fn apply(self, queue: &mut Queue, now: DateTime<Utc>) -> Result<(), DomainError> {
        if let Some(name) = self.name {
            queue.name = validate_name("name", &name)?;
        }
        if let Some(prefix) = self.prefix {
            queue.prefix = validate_prefix(&prefix)?;
        }
        if let Some(active) = self.is_active {
            queue.is_active = active;
        }
        queue.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefix_is_first_alphanumeric_upper_cased() {
        for (name, want) in [("billing", "B"), ("  #2nd line", "2"), ("***", "Q")] {
            assert_eq!(default_prefix(name), want, "{name}");
        }
    }

    #[test]
    fn prefixes_are_checked() {
        assert_eq!(validate_prefix("ab").unwrap(), "AB");
        for bad in ["", "ABCDEF", "A-B", "é"] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }
}
