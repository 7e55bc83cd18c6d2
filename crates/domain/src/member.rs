//! Users and their membership of a tenant: who can sign in, with which role.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Role;
use crate::{validate_name, DomainError};

/// A user as one tenant sees them: the account plus the membership's role and active flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The user's id.
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    /// False when the user is deactivated (in this tenant or as an account): they cannot sign in.
    pub is_active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The request to create a user in the caller's tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewMember {
    /// 3–64 characters of `a-z 0-9 . _ -` (upper case is folded to lower case).
    pub username: String,
    pub email: String,
    pub full_name: String,
    /// At least 10 characters; stored only as an argon2id hash.
    pub password: String,
    pub role: Role,
}

/// A change to a member; absent fields stay as they are. A new password, a new role or a
/// deactivation signs the user out everywhere in the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberPatch {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Sets a new password.
    #[serde(default)]
    pub password: Option<String>,
}

/// A validated new member; the password is already hashed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
    pub role: Role,
}

/// A validated change to a member; `password_hash` is set when the password changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChange {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub password_hash: Option<String>,
}

impl MemberChange {
    /// Applies the change to `member` (the password is not part of the view).
    pub fn apply(&self, member: &mut Member) {
        if let Some(email) = &self.email {
            member.email = email.clone();
        }
        if let Some(full_name) = &self.full_name {
            member.full_name = full_name.clone();
        }
        if let Some(role) = self.role {
            member.role = role;
        }
        if let Some(active) = self.is_active {
            member.is_active = active;
        }
    }

    /// Whether the change must end the user's open login sessions: a new password, another
    /// role, or a deactivation.
    pub fn ends_sessions(&self, before: &Member) -> bool {
        self.password_hash.is_some() || self.role.is_some_and(|r| r != before.role) || self.is_active == Some(false)
    }
}

/// Normalises and checks a username: trimmed, lower-cased, 3–64 characters of `a-z 0-9 . _ -`.
pub fn validate_username(username: &str) -> Result<String, DomainError> {
    let u = username.trim().to_lowercase();
    let bad = |reason: &str| Err(DomainError::Invalid { field: "username", reason: reason.into() });
    if !(3..=64).contains(&u.len()) {
        return bad("must have 3 to 64 characters");
    }
    if !u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("may hold only letters, digits, '.', '_' and '-'");
    }
    Ok(u)
}

/// Normalises and checks an email address: trimmed, lower-cased, one `@` with text on both
/// sides, a dot in the domain, no spaces, at most 254 characters.
pub fn validate_email(email: &str) -> Result<String, DomainError> {
    let e = email.trim().to_lowercase();
    let bad = || Err(DomainError::Invalid { field: "email", reason: "must be an email address".into() });
    if e.len() > 254 || e.chars().any(char::is_whitespace) {
        return bad();
    }
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(e)
        }
        _ => bad(),
    }
}

impl NewMember {
    /// Checks the fields other than the password (whose policy and hashing belong to the
    /// caller) and returns the spec with `password_hash` and `id` filled in.
    pub fn validate(&self, id: Uuid, password_hash: String) -> Result<MemberSpec, DomainError> {
        Ok(MemberSpec {
            id,
            username: validate_username(&self.username)?,
            email: validate_email(&self.email)?,
            full_name: validate_name("fullName", &self.full_name)?,
            password_hash,
            role: self.role,
        })
    }
}

impl MemberPatch {
    /// Checks the given fields; `password_hash` is the hash of `password` when one was given.
    pub fn validate(&self, password_hash: Option<String>) -> Result<MemberChange, DomainError> {
        Ok(MemberChange {
            email: self.email.as_deref().map(validate_email).transpose()?,
            full_name: self.full_name.as_deref().map(|n| validate_name("fullName", n)).transpose()?,
            role: self.role,
            is_active: self.is_active,
            password_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_folded_and_checked() {
        let cases = [
            ("alice", Some("alice")),
            ("  Alice.Smith ", Some("alice.smith")),
            ("a_b-c", Some("a_b-c")),
            ("ab", None),
            ("al ice", None),
            ("alice@x", None),
            ("ålice", None),
        ];
        for (input, expected) in cases {
            assert_eq!(validate_username(input).ok().as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn emails_are_folded_and_checked() {
        let cases = [
            ("Alice@Example.com", Some("alice@example.com")),
            ("a@b.co", Some("a@b.co")),
            ("alice", None),
            ("@example.com", None),
            ("alice@", None),
            ("alice@localhost", None),
            ("a@b@c.com", None),
            ("a b@c.com", None),
            ("a@.com", None),
        ];
        for (input, expected) in cases {
            assert_eq!(validate_email(input).ok().as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn password_role_and_deactivation_end_sessions_but_a_rename_does_not() {
        let now = chrono::Utc::now();
        let m = Member {
            id: Uuid::nil(),
            username: "alice".into(),
            email: "a@b.co".into(),
            full_name: "Alice".into(),
            role: Role::Agent,
            is_active: true,
            last_login_at: None,
            created_at: now,
            updated_at: now,
        };
        let rename = MemberChange { full_name: Some("Al".into()), ..Default::default() };
        assert!(!rename.ends_sessions(&m));
        let same_role = MemberChange { role: Some(Role::Agent), ..Default::default() };
        assert!(!same_role.ends_sessions(&m));
        assert!(MemberChange { role: Some(Role::Admin), ..Default::default() }.ends_sessions(&m));
        assert!(MemberChange { is_active: Some(false), ..Default::default() }.ends_sessions(&m));
        assert!(MemberChange { password_hash: Some("h".into()), ..Default::default() }.ends_sessions(&m));
    }
}
