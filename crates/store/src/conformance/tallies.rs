//! Pre-aggregated call tallies: buckets replaced whole with the marks of their calls, listed by
//! queue, agent scope and period; changed calls read in change order with a cursor.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::assert_not_found;
use super::calls::{answered_call, Line};
use crate::{
    now_micros, AgentScope, ChangedCallCursor, DynStore, Entity, TallyBucket, TallyFilter, TallyMark, TallyRow,
};

fn quarter(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_986_000, 0).unwrap() + TimeDelta::minutes(15 * n)
}

fn row(agent: Option<&str>, offered: i64) -> TallyRow {
    TallyRow { agent_dn: agent.map(str::to_string), offered, tally: json!({"offered": offered, "agent": agent}) }
}

pub async fn tally_buckets_are_replaced_whole_and_listed_by_queue_agent_and_period(store: DynStore) {
    let line = Line::new(&store).await;
    let (tenant, queue) = (line.tenant, line.queue.id);
    let (k1, k2) = (line.key(1), line.key(2));
    let first = TallyBucket {
        queue_id: queue,
        bucket_start: quarter(0),
        rows: vec![row(None, 2), row(Some("101"), 1), row(Some("102"), 1)],
        calls: vec![k1, k2],
    };
    store.replace_tally_bucket(tenant, &first, now_micros()).await.unwrap();
    let later = TallyBucket { queue_id: queue, bucket_start: quarter(1), rows: vec![row(None, 1)], calls: vec![] };
    store.replace_tally_bucket(tenant, &later, now_micros()).await.unwrap();

    let list = |agents: AgentScope, from: i64, to: i64| {
        let filter = TallyFilter { queue_ids: vec![queue], agents, from: quarter(from), to: quarter(to) };
        let store = store.clone();
        async move { store.list_tallies(tenant, &filter).await.unwrap() }
    };
    let queue_rows = list(AgentScope::Queue, 0, 2).await;
    assert_eq!(
        queue_rows.iter().map(|t| (t.bucket_start, t.offered)).collect::<Vec<_>>(),
        [(quarter(0), 2), (quarter(1), 1)]
    );
    assert_eq!(queue_rows[0].tally, json!({"offered": 2, "agent": null}));
    assert!(queue_rows.iter().all(|t| t.agent_dn.is_none() && t.queue_id == queue));
    let agents: Vec<_> = list(AgentScope::AllAgents, 0, 2).await.into_iter().map(|t| t.agent_dn.unwrap()).collect();
    assert_eq!(agents, ["101", "102"]);
    assert_eq!(list(AgentScope::Agent("102".into()), 0, 2).await.len(), 1);
    assert!(list(AgentScope::Agent("999".into()), 0, 2).await.is_empty());
    assert_eq!(list(AgentScope::Queue, 1, 2).await.len(), 1, "the period is [from, to)");
    assert!(list(AgentScope::Queue, 2, 3).await.is_empty());

    // Replacing a bucket replaces every row of it, and a call counted elsewhere moves its mark.
    let replaced = TallyBucket { queue_id: queue, bucket_start: quarter(0), rows: vec![row(None, 1)], calls: vec![k1] };
    store.replace_tally_bucket(tenant, &replaced, now_micros()).await.unwrap();
    assert!(list(AgentScope::AllAgents, 0, 1).await.is_empty());
    assert_eq!(list(AgentScope::Queue, 0, 1).await[0].offered, 1);
    let moved = TallyBucket { queue_id: queue, bucket_start: quarter(1), rows: vec![row(None, 2)], calls: vec![k2] };
    store.replace_tally_bucket(tenant, &moved, now_micros()).await.unwrap();
    let marks = store.tally_marks(tenant, &[k1, k2, line.key(3)]).await.unwrap();
    assert_eq!(marks.len(), 2, "a call never counted has no mark");
    assert_eq!(marks[&k1], TallyMark { queue_id: queue, bucket_start: quarter(0) });
    assert_eq!(marks[&k2], TallyMark { queue_id: queue, bucket_start: quarter(1) });
    let emptied = TallyBucket { queue_id: queue, bucket_start: quarter(1), rows: vec![], calls: vec![] };
    store.replace_tally_bucket(tenant, &emptied, now_micros()).await.unwrap();
    assert!(list(AgentScope::Queue, 1, 2).await.is_empty(), "a bucket without calls has no rows");

    // Another tenant sees nothing and cannot write to this tenant's queue.
    let other = Line::new(&store).await;
    let filter = TallyFilter { queue_ids: vec![], agents: AgentScope::Queue, from: quarter(0), to: quarter(9) };
    assert!(store.list_tallies(other.tenant, &filter).await.unwrap().is_empty());
    assert!(store.tally_marks(other.tenant, &[k1, k2]).await.unwrap().is_empty());
    let err = store.replace_tally_bucket(other.tenant, &first, now_micros()).await.unwrap_err();
    assert_not_found(err, Entity::Queue);
}

pub async fn changed_calls_are_read_in_change_order_after_a_cursor(store: DynStore) {
    let line = Line::new(&store).await;
    line.session().await;
    let start = ChangedCallCursor {
        updated_at: now_micros() - TimeDelta::microseconds(1),
        tenant_id: uuid::Uuid::nil(),
        call: line.key(0),
    };
    let keys = [line.key(1), line.key(2), line.key(3)];
    for key in keys {
        line.apply(key, &answered_call(key)[..2]).await;
    }
    line.apply(keys[0], &answered_call(keys[0])[2..]).await;

    // Page through with a small limit; other tests' calls may be interleaved.
    let mut seen = Vec::new();
    let mut cursor = Some(start);
    loop {
        let page = store.changed_calls(cursor, 2).await.unwrap();
        let Some((last, _)) = page.last() else { break };
        for (at, call) in &page {
            assert!(Some(*at) > cursor, "every call is after the cursor");
            assert_eq!((at.tenant_id, at.call), (call.tenant_id, call.record.key));
            assert_eq!(at.updated_at, call.updated_at);
            if call.tenant_id == line.tenant {
                seen.push(call.record.key.call_id);
            }
        }
        cursor = Some(*last);
    }
    assert_eq!(seen, [2, 3, 1], "in order of their last change, each once");
}

pub async fn the_aggregation_cursor_is_saved_and_never_goes_back(store: DynStore) {
    let line = Line::new(&store).await;
    let name = format!("test-{}", line.tenant);
    assert_eq!(store.aggregation_cursor(&name).await.unwrap(), None);
    let far = |s: i64| DateTime::from_timestamp(4_000_000_000 + s, 0).unwrap();
    let cursor = |s: i64, call_id: i32| ChangedCallCursor {
        updated_at: far(s),
        tenant_id: line.tenant,
        call: line.key(call_id),
    };
    store.save_aggregation_cursor(&name, cursor(10, 5), now_micros()).await.unwrap();
    assert_eq!(store.aggregation_cursor(&name).await.unwrap(), Some(cursor(10, 5)));
    store.save_aggregation_cursor(&name, cursor(10, 4), now_micros()).await.unwrap();
    store.save_aggregation_cursor(&name, cursor(9, 9), now_micros()).await.unwrap();
    assert_eq!(store.aggregation_cursor(&name).await.unwrap(), Some(cursor(10, 5)), "an older cursor is ignored");
    store.save_aggregation_cursor(&name, cursor(10, 6), now_micros()).await.unwrap();
    assert_eq!(store.aggregation_cursor(&name).await.unwrap(), Some(cursor(10, 6)));
}
