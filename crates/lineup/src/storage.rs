//! Opens the store a database URL names: SQLite for `sqlite:` URLs, PostgreSQL for `postgres:`.

use std::sync::Arc;

use anyhow::bail;
use lineup_store::DynStore;
use lineup_store_postgres::PostgresStore;
use lineup_store_sqlite::SqliteStore;

/// Opens (not migrates) the store for `url`.
pub async fn open(url: &str) -> anyhow::Result<DynStore> {
    open_with(url, 16).await
}

/// Opens the store with at most `max_connections` PostgreSQL connections.
pub async fn open_with(url: &str, max_connections: u32) -> anyhow::Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url, max_connections).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        bail!("unsupported database URL '{}': use sqlite://… or postgres://…", redact(url))
    }
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://a.db"), "sqlite://a.db");
    }
}
