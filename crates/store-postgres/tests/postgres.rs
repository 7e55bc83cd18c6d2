//! Guarantees of the PostgreSQL backend beyond the conformance suite: the schema's own walls,
//! row-level security on every tenant table (checked on raw connections, below the store), and
//! the commit order of outbox sequence numbers.

use std::sync::Arc;
use std::time::Duration;

use lineup_domain::call::{CallKey, Observation, ObservationKind, Source};
use lineup_domain::{Actor, NewItem, NewSession, QueueMapping, Role, SessionScheduleSpec, StatusChangeRequest};
use lineup_store::conformance::access::{login, new_api_key, new_member, token};
use lineup_store::conformance::fixture;
use lineup_store::conformance::pbx::new_pbx_connection;
use lineup_store::conformance::webhooks::new_webhook;
use lineup_store::{DynStore, EventScope, InboxSource, NewInboxMessage, NewStreamTicket, Store, TallyBucket, TallyRow};
use lineup_store_postgres::PostgresStore;
use uuid::Uuid;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/lineup_test";

async fn postgres_store() -> PostgresStore {
    let url = std::env::var("LINEUP_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let store = PostgresStore::connect(&url, 12).await.expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    store
}

fn item(name: &str) -> NewItem {
    NewItem { display_name: name.into(), metadata: None, status_id: None }
}

#[tokio::test]
async fn the_schema_refuses_moving_an_item_to_another_session() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    let f = fixture(&store).await;
    let other = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap();
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let moved = sqlx::query("UPDATE items SET session_id = $2 WHERE id = $1")
        .bind(it.id)
        .bind(other.id)
        .execute(pg.pool())
        .await
        .unwrap_err();
    assert!(moved.to_string().contains("session cannot be changed"), "{moved}");
    let requeued = sqlx::query("UPDATE items SET queue_id = $2 WHERE id = $1")
        .bind(it.id)
        .bind(Uuid::new_v4())
        .execute(pg.pool())
        .await
        .unwrap_err();
    assert!(requeued.to_string().contains("session cannot be changed"), "{requeued}");
    assert_eq!(store.get_item(f.tenant, it.id).await.unwrap(), it);
}

/// Writers in different sessions commit concurrently while a reader polls `seq > last seen`:
/// if a row ever became visible with a seq below one already seen, the reader would miss it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_resuming_after_the_last_seen_seq_misses_no_event() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    let f = fixture(&store).await;
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let session = store.create_session(f.tenant, f.queue.id, NewSession::default()).await.unwrap().id;
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                store.create_item(f.tenant, session, item(&format!("w{w}-{i}"))).await.unwrap();
            }
        }));
    }
    let poll = |after: i64| {
        sqlx::query_scalar::<_, i64>("SELECT seq FROM outbox WHERE tenant_id = $1 AND seq > $2 ORDER BY seq")
            .bind(f.tenant)
            .bind(after)
            .fetch_all(pg.pool())
    };
    let mut seen = 0usize;
    let mut last = 0i64;
    while writers.iter().any(|w| !w.is_finished()) {
        let new = poll(last).await.unwrap();
        seen += new.len();
        last = new.last().copied().unwrap_or(last);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let rest = poll(last).await.unwrap();
    seen += rest.len();
    let total = poll(0).await.unwrap().len();
    assert_eq!(total, 8 * 25);
    assert_eq!(seen, total, "every event is seen exactly once by a resuming reader");
}

/// Tables without a tenant that the app role must not touch at all (worker leases and outbox
/// cursors serve every tenant's workers and are used as the owner).
const GLOBAL_TABLES: [&str; 4] = ["_sqlx_migrations", "worker_leases", "outbox_cursors", "aggregation_cursors"];

/// Every table of the schema that carries a `tenant_id` column, by name: the tables row-level
/// security must wall off. Read from the catalog, so a new table is checked without being named.
async fn tenant_tables(pg: &PostgresStore) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' \
         ORDER BY 1",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    assert!(tables.len() >= 12, "found only {tables:?}");
    tables
}

/// The tenant tables and the column naming each row's tenant (`tenants` is keyed by `id`).
async fn walled_tables(pg: &PostgresStore) -> Vec<(String, &'static str)> {
    let mut tables: Vec<_> = tenant_tables(pg).await.into_iter().map(|t| (t, "tenant_id")).collect();
    tables.push(("tenants".into(), "id"));
    tables
}

/// A transaction on a raw pool connection acting as the app role, scoped to `tenant` when given,
/// exactly as the store's own tenant transactions are.
async fn app_tx(pg: &PostgresStore, tenant: Option<Uuid>) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pg.pool().begin().await.unwrap();
    sqlx::query("SELECT set_config('role', 'lineup_app', true)").execute(&mut *tx).await.unwrap();
    if let Some(tenant) = tenant {
        sqlx::query("SELECT set_config('lineup.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let user: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(user, "lineup_app");
    tx
}

/// A tenant with rows in every tenant table: a queue, a session and an item that moved (with
/// their statuses, history and events), a member with a login session, an API key, a stream
/// ticket, a PBX connection with a queue mapping, an inbox message, a call that became an item, a
/// worker checkpoint, a webhook with a delivery, and audit entries. Returns the tenant and its member's id.
async fn populated_tenant(store: &DynStore) -> (Uuid, Uuid) {
    let f = fixture(store).await;
    new_webhook(store, f.tenant, "Hook").await;
    let it = store.create_item(f.tenant, f.session.id, item("Ann")).await.unwrap();
    let created = store.read_events(f.tenant, EventScope::Item(it.id), 0, 1).await.unwrap().remove(0);
    assert_eq!(store.enqueue_deliveries(f.tenant, &created).await.unwrap(), 1);
    let call = StatusChangeRequest { transition: Some("call".into()), ..Default::default() };
    store.change_item_status(f.tenant, it.id, call).await.unwrap();
    let member = new_member(store, f.tenant, Role::Agent).await;
    let now = lineup_store::now_micros();
    let (_, tokens) = login(store, f.tenant, member.id, now).await;
    let principal = store.resolve_access_token(&tokens.access_hash, now).await.unwrap().unwrap();
    let ticket = NewStreamTicket { hash: token(), expires_at: now + chrono::Duration::minutes(5) };
    store.create_stream_ticket(&principal, ticket).await.unwrap();
    let (key, _) = new_api_key(store, f.tenant, Role::Display).await;
    store.revoke_api_key(&Actor::system("rls test"), f.tenant, key.id, now).await.unwrap();
    let pbx = new_pbx_connection(store, f.tenant, "PBX").await;
    let mapping = QueueMapping { dn: "800".into(), queue_id: f.queue.id };
    store.set_pbx_queue_mappings(&Actor::system("rls test"), f.tenant, pbx.id, vec![mapping]).await.unwrap();
    let agent = lineup_domain::PbxAgent {
        dn: "101".into(),
        name: "Ana".into(),
        queue_dns: vec!["800".into()],
        logged_in: true,
        paused: false,
    };
    store.sync_pbx_agents(f.tenant, pbx.id, &[agent], now).await.unwrap();
    let record = NewInboxMessage {
        connection_id: pbx.id,
        source: InboxSource::Poller,
        call_key: "call-1".into(),
        dedup_key: "rec-1".into(),
        payload: serde_json::json!({}),
        observed_at: now,
    };
    store.enqueue(f.tenant, record).await.unwrap();
    let call = CallKey { connection: pbx.id, call_id: 1 };
    let entered = ObservationKind::EnteredQueue { queue_dn: "800".into() };
    let observation = Observation::new(call, Source::Poller, now, entered);
    let applied = store.apply_call_observations(f.tenant, call, &[observation], None, now).await.unwrap();
    assert!(applied.item_created);
    store.put_checkpoint(f.tenant, pbx.id, "history", &serde_json::json!({"readUpTo": now}), now).await.unwrap();
    let schedule = SessionScheduleSpec::new("0 0 6 * * *", "Day {date}").unwrap();
    store.put_session_schedule(f.tenant, f.queue.id, schedule, now).await.unwrap();
    let row = TallyRow { agent_dn: None, offered: 1, tally: serde_json::json!({"offered": 1}) };
    let bucket = TallyBucket { queue_id: f.queue.id, bucket_start: now, rows: vec![row], calls: vec![call] };
    store.replace_tally_bucket(f.tenant, &bucket, now).await.unwrap();
    (f.tenant, member.id)
}

/// How many rows of `table` the connection sees with `column` = `tenant`.
async fn count(conn: &mut sqlx::PgConnection, table: &str, column: &str, tenant: Uuid) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM \"{table}\" WHERE \"{column}\" = $1"))
        .bind(tenant)
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_sees_only_its_own_tenants_rows_in_every_tenant_table() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    let (a, a_user) = populated_tenant(&store).await;
    let (b, b_user) = populated_tenant(&store).await;
    let mut owner = pg.pool().acquire().await.unwrap();
    for (table, column) in walled_tables(&pg).await {
        assert!(
            count(&mut owner, &table, column, b).await > 0,
            "{table}: populated_tenant must give every tenant table rows, or this test proves nothing for it"
        );
    }
    let mut tx = app_tx(&pg, Some(a)).await;
    for (table, column) in walled_tables(&pg).await {
        assert!(count(&mut tx, &table, column, a).await > 0, "{table}: the tenant sees its own rows");
        assert_eq!(count(&mut tx, &table, column, b).await, 0, "{table}: another tenant's rows are invisible");
        let foreign: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{table}\" WHERE \"{column}\" <> $1"))
            .bind(a)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(foreign, 0, "{table}: no row of any other tenant is visible");
    }
    let users: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users").fetch_all(&mut *tx).await.unwrap();
    assert_eq!(users, [a_user], "accounts are visible only through a membership of the tenant");
    assert!(!users.contains(&b_user));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_cannot_write_rows_of_another_tenant() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    let (a, _) = populated_tenant(&store).await;
    let (b, b_user) = populated_tenant(&store).await;
    for (table, column) in walled_tables(&pg).await {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER' \
             AND (is_identity = 'NO' OR identity_generation = 'BY DEFAULT') ORDER BY ordinal_position",
        )
        .bind(&table)
        .fetch_all(pg.pool())
        .await
        .unwrap();
        let list = columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let values = columns
            .iter()
            .map(|c| if c == column { "$2::uuid".to_string() } else { format!("\"{c}\"") })
            .collect::<Vec<_>>()
            .join(", ");
        // A copy of one of the tenant's own rows, relabelled as the other tenant's.
        let insert = format!(
            "INSERT INTO \"{table}\" ({list}) SELECT {values} FROM \"{table}\" WHERE \"{column}\" = $1 LIMIT 1"
        );
        let mut tx = app_tx(&pg, Some(a)).await;
        let err = sqlx::query(&insert).bind(a).bind(b).execute(&mut *tx).await.unwrap_err();
        assert!(err.to_string().contains("row-level security"), "{table}: inserting B's row: {err}");
        drop(tx);
        let mut tx = app_tx(&pg, Some(a)).await;
        let moved = format!("UPDATE \"{table}\" SET \"{column}\" = $2 WHERE \"{column}\" = $1");
        let err = sqlx::query(&moved).bind(a).bind(b).execute(&mut *tx).await.unwrap_err();
        assert!(err.to_string().contains("row-level security"), "{table}: moving a row to B: {err}");
        drop(tx);
        let mut tx = app_tx(&pg, Some(a)).await;
        let touched = format!("UPDATE \"{table}\" SET \"{column}\" = \"{column}\" WHERE \"{column}\" = $1");
        let updated = sqlx::query(&touched).bind(b).execute(&mut *tx).await.unwrap().rows_affected();
        let deleted = sqlx::query(&format!("DELETE FROM \"{table}\" WHERE \"{column}\" = $1"))
            .bind(b)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!((updated, deleted), (0, 0), "{table}: B's rows cannot be changed or deleted");
    }
    let mut tx = app_tx(&pg, Some(a)).await;
    let renamed = sqlx::query("UPDATE users SET full_name = 'stolen' WHERE id = $1").bind(b_user).execute(&mut *tx);
    assert_eq!(renamed.await.unwrap().rows_affected(), 0, "another tenant's account cannot be changed");
    tx.commit().await.unwrap();
    let mut tx = app_tx(&pg, Some(a)).await;
    let planted = sqlx::query(
        "INSERT INTO users (id, username, email, full_name, password_hash, home_tenant_id, created_at, updated_at) \
         VALUES ($1, $2, $2 || '@example.com', 'Planted', 'x', $3, now(), now())",
    )
    .bind(Uuid::new_v4())
    .bind(format!("planted-{}", Uuid::new_v4().simple()))
    .bind(b)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(planted.to_string().contains("row-level security"), "an account homed in B: {planted}");
    drop(tx);
    let mut owner = pg.pool().acquire().await.unwrap();
    for (table, column) in walled_tables(&pg).await {
        assert!(count(&mut owner, &table, column, b).await > 0, "{table}: B's rows are all still there");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_tenant_set_the_app_role_sees_and_writes_nothing() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    populated_tenant(&store).await;
    let mut tables = walled_tables(&pg).await;
    tables.push(("users".into(), "id"));
    let mut tx = app_tx(&pg, None).await;
    for (table, _) in &tables {
        let n: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM \"{table}\"")).fetch_one(&mut *tx).await.unwrap();
        assert_eq!(n, 0, "{table}: no tenant, no rows");
    }
    let err =
        sqlx::query("INSERT INTO tenants (id, name, slug, created_at, updated_at) VALUES ($1, 'x', $2, now(), now())")
            .bind(Uuid::new_v4())
            .bind(format!("rls-{}", Uuid::new_v4().simple()))
            .execute(&mut *tx)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn every_tenant_table_has_row_level_security_with_a_policy_for_the_app_role() {
    let pg = postgres_store().await;
    let mut tables = tenant_tables(&pg).await;
    tables.extend(["tenants".to_string(), "users".to_string()]);
    for table in &tables {
        let (enabled, policies): (bool, Vec<String>) = sqlx::query_as(
            "SELECT c.relrowsecurity, \
             ARRAY(SELECT p.policyname::text FROM pg_policies p \
                   WHERE p.schemaname = 'public' AND p.tablename = c.relname AND 'lineup_app' = ANY (p.roles)) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname = $1",
        )
        .bind(table)
        .fetch_one(pg.pool())
        .await
        .unwrap();
        assert!(enabled, "{table}: row-level security is not enabled");
        assert!(!policies.is_empty(), "{table}: no policy binds lineup_app");
    }
    // Every other table is global on purpose, and the app role cannot touch it.
    let all: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    for table in all.iter().filter(|t| !tables.contains(t)) {
        assert!(GLOBAL_TABLES.contains(&table.as_str()), "{table} has no tenant_id and no row-level security");
        let usable: bool =
            sqlx::query_scalar("SELECT has_table_privilege('lineup_app', $1, 'SELECT, INSERT, UPDATE, DELETE')")
                .bind(format!("public.\"{table}\""))
                .fetch_one(pg.pool())
                .await
                .unwrap();
        assert!(!usable, "{table}: the app role must not touch it");
    }
    let settable: Vec<String> = sqlx::query_scalar(
        "SELECT sequence_name::text FROM information_schema.sequences WHERE sequence_schema = 'public' \
         AND has_sequence_privilege('lineup_app', format('public.%I', sequence_name), 'UPDATE')",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    assert!(settable.is_empty(), "the app role could setval {settable:?} (and send outbox seq backwards)");
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'lineup_app'")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    assert!(!superuser && !bypass, "the app role must not bypass row-level security");
}

/// Applications to one call merge one after the other on its locked row; another call's
/// application does not wait for that row.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applying_to_a_call_waits_for_its_row_only() {
    let pg = postgres_store().await;
    let store: DynStore = Arc::new(pg.clone());
    let f = fixture(&store).await;
    let pbx = new_pbx_connection(&store, f.tenant, "PBX").await;
    let mapping = QueueMapping { dn: "800".into(), queue_id: f.queue.id };
    store.set_pbx_queue_mappings(&Actor::system("lock test"), f.tenant, pbx.id, vec![mapping]).await.unwrap();
    let now = lineup_store::now_micros();
    let (busy, free) = (CallKey { connection: pbx.id, call_id: 1 }, CallKey { connection: pbx.id, call_id: 2 });
    for key in [busy, free] {
        let entered =
            Observation::new(key, Source::Poller, now, ObservationKind::EnteredQueue { queue_dn: "800".into() });
        store.apply_call_observations(f.tenant, key, &[entered], None, now).await.unwrap();
    }
    let appeared = |key: CallKey| {
        let kind = ObservationKind::Appeared { caller: "+4930123".into(), callee: "800".into() };
        vec![Observation::new(key, Source::Poller, now, kind)]
    };
    let mut holder = pg.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM calls WHERE tenant_id = $1 AND connection_id = $2 AND call_id = 1 FOR UPDATE")
        .bind(f.tenant)
        .bind(pbx.id)
        .execute(&mut *holder)
        .await
        .unwrap();
    let free_observations = appeared(free);
    let other = store.apply_call_observations(f.tenant, free, &free_observations, None, now);
    let other = tokio::time::timeout(Duration::from_secs(5), other).await.expect("another call does not wait");
    assert!(other.unwrap().changed);
    let waiting = {
        let (store, observations) = (store.clone(), appeared(busy));
        tokio::spawn(async move { store.apply_call_observations(f.tenant, busy, &observations, None, now).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the call's own application waits for its row");
    holder.rollback().await.unwrap();
    let applied = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();
    assert!(applied.changed && applied.call.record.caller.is_some());
}
