//! The generated part of `docs/SECURITY.md`: the role matrix (from `Role::allows`) and what each
//! operation requires (from [`OPERATION_PERMISSIONS`]). A test keeps the committed document equal
//! to this text.

use std::fmt::Write;

use lineup_domain::{Permission, Role};

use crate::openapi::OPERATION_PERMISSIONS;

/// Marks the start of the generated block in `docs/SECURITY.md`.
pub const BEGIN: &str = "<!-- BEGIN GENERATED: role matrix (LINEUP_UPDATE_SNAPSHOTS=1 cargo test -p lineup-api) -->";
/// Marks its end.
pub const END: &str = "<!-- END GENERATED -->";

/// The role matrix and the operation table as Markdown, between [`BEGIN`] and [`END`].
pub fn role_tables() -> String {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n\n### Permissions by role\n\n| permission | what it allows |");
    for role in Role::ALL {
        let _ = write!(out, " {role} |");
    }
    out.push_str("\n|---|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    out.push('\n');
    for permission in Permission::ALL {
        let _ = write!(out, "| `{}` | {} |", permission.as_str(), permission.describe());
        for role in Role::ALL {
            out.push_str(if role.allows(permission) { " ✓ |" } else { " |" });
        }
        out.push('\n');
    }
    out.push_str("\n### What each operation requires\n\n| operation | requires |\n|---|---|\n");
    for (method, path, permission) in OPERATION_PERMISSIONS {
        let needs = match permission {
            Some(p) => format!("`{}`", p.as_str()),
            None => "any valid credential".to_string(),
        };
        let _ = writeln!(out, "| `{} {path}` | {needs} |", method.to_uppercase());
    }
    out.push_str(
        "\nEvery other operation is public: `POST /api/v1/auth/login`, `POST /api/v1/auth/refresh`, \
         `GET /api/v1/openapi.json`, `GET /healthz`, `GET /readyz`, `GET /metrics` (serve it on an internal \
         network only).\n\n",
    );
    out.push_str(END);
    out
}
