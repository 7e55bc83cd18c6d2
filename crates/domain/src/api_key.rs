//! API keys: credentials for integrations, scoped to one tenant and one role.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Role;
use crate::{validate_name, DomainError};

/// An API key as listed: never its secret, only the prefix that lets a person recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The first characters of the key (`lu_key_` and 8 more).
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Updated at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The request to create an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    /// When the key stops working; never when absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A validated API key ready to store; `hash` is the SHA-256 of the whole secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySpec {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub hash: [u8; 32],
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiKey {
    /// Checks the name and that the expiry lies after `now`.
    pub fn validate(
        &self,
        id: Uuid,
        prefix: String,
        hash: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<ApiKeySpec, DomainError> {
        if self.expires_at.is_some_and(|e| e <= now) {
            return Err(DomainError::Invalid { field: "expiresAt", reason: "must lie in the future".into() });
        }
        Ok(ApiKeySpec {
            id,
            name: validate_name("name", &self.name)?,
            role: self.role,
            prefix,
            hash,
            expires_at: self.expires_at,
        })
    }
}
