//! Item changes the call path makes, staged in memory and written set-based: new items (numbered
//! from the session's counter, read once and written back once), status moves (one `UPDATE … FROM
//! VALUES` for all items), history rows (one multi-row insert). The rules are the ones the item
//! API applies (`items.rs`): an active session, metadata the schema accepts, the machine's start
//! status, numbering per session; only the IO is batched.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lineup_domain::item::start_status;
use lineup_domain::metadata::check_metadata;
use lineup_domain::{format_queue_number, DomainEvent, EventKind, Item, SessionStatus, TenantId};
use lineup_store::StoreResult;
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::codec::{db, id, json, ts, RowExt};
use crate::items::ValidItem;
use crate::sessions::SessionRow;

/// One history row to insert.
struct HistoryRow {
    item_id: Uuid,
    from: Option<Uuid>,
    to: Uuid,
    actor: String,
    at: DateTime<Utc>,
}

/// Staged item changes; see the [module docs](self).
#[derive(Default)]
pub(crate) struct ItemWrites {
    /// Sessions' item counters as the transaction left them, with the queue's prefix.
    counters: HashMap<Uuid, (i64, String)>,
    /// Sessions whose counter moved.
    counted: Vec<Uuid>,
    /// New items with their number, in the order they were made.
    inserted: Vec<(Item, i64)>,
    /// Stored items moved, with the time of their last move.
    moved: Vec<(Uuid, Uuid, DateTime<Utc>)>,
    history: Vec<HistoryRow>,
}

impl ItemWrites {
    /// Stages a new item in `session` (which must be active) with the session's next number and
    /// a first history entry by `created_by`; returns the item and its `item_created` event.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        session: &SessionRow,
        statuses: &[SessionStatus],
        (name, metadata, requested_status): ValidItem,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<(Item, DomainEvent)> {
        let session_id = session.session.id;
        session.session.ensure_active()?;
        check_metadata(session.metadata_schema.as_ref(), &metadata)?;
        let status_id = start_status(&session.machine, statuses, requested_status)?;
        let number = self.next_number(conn, tenant, session_id).await?;
        let prefix = &self.counters[&session_id].1;
        let item = Item {
            id: Uuid::now_v7(),
            queue_id: session.session.queue_id,
            session_id,
            status_id,
            queue_number: format_queue_number(prefix, number),
            display_name: name,
            metadata,
            created_at: now,
        };
        self.history.push(HistoryRow {
            item_id: item.id,
            from: None,
            to: status_id,
            actor: created_by.into(),
            at: now,
        });
        self.inserted.push((item.clone(), number));
        let event = DomainEvent::item(EventKind::ItemCreated, &item);
        Ok((item, event))
    }

    /// Stages `item`'s move to status `to` by `actor`; returns the `item_status_changed` event.
    pub fn move_to(&mut self, item: &mut Item, to: Uuid, actor: &str, now: DateTime<Utc>) -> DomainEvent {
        let from = item.status_id;
        item.status_id = to;
        match self.inserted.iter_mut().find(|(staged, _)| staged.id == item.id) {
            Some((staged, _)) => staged.status_id = to,
            None => match self.moved.iter_mut().find(|(moved, _, _)| *moved == item.id) {
                Some(moved) => (moved.1, moved.2) = (to, now),
                None => self.moved.push((item.id, to, now)),
            },
        }
        self.history.push(HistoryRow { item_id: item.id, from: Some(from), to, actor: actor.into(), at: now });
        DomainEvent::item_status_changed(item, from, actor)
    }

    /// The session's next item number (its counter read once per transaction).
    async fn next_number(
        &mut self,
        conn: &mut SqliteConnection,
        tenant: TenantId,
        session_id: Uuid,
    ) -> StoreResult<i64> {
        let counter = match self.counters.entry(session_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(unknown) => {
                let row = sqlx::query(
                    "SELECT s.item_seq, q.prefix FROM sessions s JOIN queues q ON q.id = s.queue_id \
                     WHERE s.tenant_id = ? AND s.id = ?",
                )
                .bind(id(tenant))
                .bind(id(session_id))
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
                unknown.insert((row.int("item_seq")?, row.text("prefix")?))
            }
        };
        counter.0 += 1;
        if !self.counted.contains(&session_id) {
            self.counted.push(session_id);
        }
        Ok(counter.0)
    }

    /// Writes everything staged and empties the stage (the counters stay read).
    pub async fn flush(&mut self, conn: &mut SqliteConnection, tenant: TenantId) -> StoreResult<()> {
        for session_id in std::mem::take(&mut self.counted) {
            sqlx::query("UPDATE sessions SET item_seq = ? WHERE id = ?")
                .bind(self.counters[&session_id].0)
                .bind(id(session_id))
                .execute(&mut *conn)
                .await
                .map_err(db)?;
        }
        for chunk in std::mem::take(&mut self.inserted).chunks(250) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO items (id, tenant_id, queue_id, session_id, status_id, number, queue_number, name, \
                 metadata, created_at, updated_at) VALUES {rows}"
            );
            let mut query = sqlx::query(&sql);
            for (item, number) in chunk {
                query = query
                    .bind(id(item.id))
                    .bind(id(tenant))
                    .bind(id(item.queue_id))
                    .bind(id(item.session_id))
                    .bind(id(item.status_id))
                    .bind(*number)
                    .bind(item.queue_number.clone())
                    .bind(item.display_name.clone())
                    .bind(json(&item.metadata))
                    .bind(ts(item.created_at))
                    .bind(ts(item.created_at));
            }
            query.execute(&mut *conn).await.map_err(db)?;
        }
        for chunk in std::mem::take(&mut self.moved).chunks(300) {
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "UPDATE items SET status_id = v.column2, updated_at = v.column3 FROM (VALUES {rows}) AS v \
                 WHERE items.id = v.column1"
            );
            let mut query = sqlx::query(&sql);
            for (item_id, status_id, at) in chunk {
                query = query.bind(id(*item_id)).bind(id(*status_id)).bind(ts(*at));
            }
            query.execute(&mut *conn).await.map_err(db)?;
        }
        for chunk in std::mem::take(&mut self.history).chunks(300) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO item_status_history (id, tenant_id, item_id, from_status_id, to_status_id, changed_by, \
                 changed_at) VALUES {rows}"
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(id(Uuid::now_v7()))
                    .bind(id(tenant))
                    .bind(id(row.item_id))
                    .bind(row.from.map(id))
                    .bind(id(row.to))
                    .bind(row.actor.clone())
                    .bind(ts(row.at));
            }
            query.execute(&mut *conn).await.map_err(db)?;
        }
        Ok(())
    }
}
