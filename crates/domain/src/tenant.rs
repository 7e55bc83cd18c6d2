//! Tenants: the organisations Lineup serves. Every other object belongs to exactly one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{validate_name, DomainError};

/// Largest settings document a tenant may hold, in bytes of JSON.
pub const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// A tenant. `slug` names it in logins and URLs; `settings` is a free JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: uuid::Uuid,
    pub name: String,
    pub slug: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated tenant ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    pub name: String,
    pub slug: String,
    pub settings: serde_json::Value,
}

impl TenantSpec {
    /// Checks name, slug and settings.
    pub fn new(name: &str, slug: &str, settings: Option<serde_json::Value>) -> Result<TenantSpec, DomainError> {
        Ok(TenantSpec {
            name: validate_name("name", name)?,
            slug: validate_slug(slug)?,
            settings: validate_settings(settings.unwrap_or_else(|| serde_json::json!({})))?,
        })
    }
}

/// A change to a tenant; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces the whole settings object.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub settings: Option<serde_json::Value>,
}

impl TenantPatch {
    /// Applies the patch to `tenant`, validating every given field; `tenant` is untouched on error.
    pub fn apply(self, tenant: &mut Tenant) -> Result<(), DomainError> {
        let name = self.name.as_deref().map(|n| validate_name("name", n)).transpose()?;
        let settings = self.settings.map(validate_settings).transpose()?;
        if let Some(name) = name {
            tenant.name = name;
        }
        if let Some(settings) = settings {
            tenant.settings = settings;
        }
        Ok(())
    }
}

/// A slug: 2–63 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn validate_slug(slug: &str) -> Result<String, DomainError> {
    let bad = |reason: &str| Err(DomainError::Invalid { field: "slug", reason: reason.into() });
    let len = slug.len();
    if !(2..=63).contains(&len) {
        return bad("must have 2 to 63 characters");
    }
    if !slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return bad("may hold only lowercase letters, digits and '-'");
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return bad("must start and end with a letter or digit");
    }
    Ok(slug.to_string())
}

fn validate_settings(settings: serde_json::Value) -> Result<serde_json::Value, DomainError> {
    if !settings.is_object() {
        return Err(DomainError::Invalid { field: "settings", reason: "must be a JSON object".into() });
    }
    if settings.to_string().len() > MAX_SETTINGS_BYTES {
        return Err(DomainError::Invalid { field: "settings", reason: "must be at most 64 KiB of JSON".into() });
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        let cases = [
            ("acme", true),
            ("acme-2", true),
            ("a1", true),
            ("a", false),
            ("Acme", false),
            ("-acme", false),
            ("acme-", false),
            ("ac me", false),
            ("acmé", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ];
        for (slug, ok) in cases {
            assert_eq!(validate_slug(slug).is_ok(), ok, "{slug}");
        }
    }

    #[test]
    fn settings_must_be_an_object() {
        assert!(TenantSpec::new("Acme", "acme", Some(serde_json::json!([1]))).is_err());
        assert!(TenantSpec::new("Acme", "acme", Some(serde_json::json!({"tz": "Europe/Berlin"}))).is_ok());
        let big = serde_json::json!({ "x": "y".repeat(MAX_SETTINGS_BYTES) });
        assert!(TenantSpec::new("Acme", "acme", Some(big)).is_err());
    }

    #[test]
    fn a_refused_patch_changes_nothing() {
        let now = chrono::Utc::now();
        let mut t = Tenant {
            id: uuid::Uuid::nil(),
            name: "Acme".into(),
            slug: "acme".into(),
            settings: serde_json::json!({}),
            created_at: now,
            updated_at: now,
        };
        let before = t.clone();
        let patch = TenantPatch { name: Some("New".into()), settings: Some(serde_json::json!("no")) };
        assert!(patch.apply(&mut t).is_err());
        assert_eq!(t, before);
    }
}
