//! What the analytics aggregator computes, without IO: which stored calls are facts, which
//! 15-minute buckets a batch of changed calls makes dirty, and a bucket's tallies recomputed from
//! the calls that entered it.
//!
//! A bucket is always recomputed from every call in it rather than adjusted, so re-running is
//! harmless and a corrected call lands exactly once: in its new bucket, and out of the bucket its
//! mark names when that one is recomputed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use lineup_analytics::{bucket_start, CallFact, Granularity, Outcome, Tally, TallyRules};
use lineup_domain::call::{CallKey, CallOutcome};
use lineup_domain::TenantId;
use lineup_store::{StoredCall, TallyBucket, TallyMark, TallyRow};
use uuid::Uuid;

/// A queue's 15-minute bucket of a tenant.
pub type BucketKey = (TenantId, Uuid, DateTime<Utc>);

/// The call as an analytics fact: only a reconciled call that entered one of the tenant's queues
/// and left it (answered, abandoned, overflowed, dropped) is one. Hold, wrap-up, transfers and
/// callbacks are not recorded by the ingestion yet and count as zero.
pub fn fact_of(call: &StoredCall) -> Option<CallFact> {
    let record = &call.record;
    if !record.reconciled {
        return None;
    }
    let outcome = match record.outcome {
        CallOutcome::InProgress => return None,
        CallOutcome::Answered => Outcome::Answered,
        CallOutcome::Abandoned => Outcome::Abandoned,
        CallOutcome::Overflowed => Outcome::Overflowed,
        CallOutcome::Dropped => Outcome::Dropped,
    };
    Some(CallFact {
        queue: call.queue_id?,
        agent: record.agent_dn.clone().filter(|_| outcome == Outcome::Answered),
        team: None,
        entered_at: record.entered_at?,
        answered_at: record.answered_at,
        left_queue_at: record.left_queue_at,
        ended_at: record.ended_at,
        wait_ms: record.wait_ms.unwrap_or(0),
        talk_ms: record.talk_ms.unwrap_or(0),
        hold_ms: 0,
        wrap_ms: 0,
        outcome,
        transferred: false,
        callback: false,
    })
}

/// The bucket a fact is counted in.
pub fn bucket_of(fact: &CallFact) -> DateTime<Utc> {
    bucket_start(Granularity::FifteenMinutes, fact.entered_at)
}

/// The buckets to recompute after `changed` calls: each one's current bucket (if it is a fact)
/// and the bucket its mark says it was counted in.
pub fn dirty_buckets(changed: &[StoredCall], marks: &HashMap<(TenantId, CallKey), TallyMark>) -> BTreeSet<BucketKey> {
    let mut dirty = BTreeSet::new();
    for call in changed {
        if let Some(fact) = fact_of(call) {
            dirty.insert((call.tenant_id, fact.queue, bucket_of(&fact)));
        }
        if let Some(mark) = marks.get(&(call.tenant_id, call.record.key)) {
            dirty.insert((call.tenant_id, mark.queue_id, mark.bucket_start));
        }
    }
    dirty
}

/// A bucket recomputed from `calls` (the calls of its queue that entered in its 15 minutes; any
/// other call is ignored): the queue-wide tally, one tally per agent of the calls they answered,
/// and the calls counted.
pub fn recompute_bucket(
    queue_id: Uuid,
    start: DateTime<Utc>,
    calls: &[StoredCall],
    rules: TallyRules,
) -> Result<TallyBucket, serde_json::Error> {
    let counted: Vec<(CallKey, CallFact)> = calls
        .iter()
        .filter_map(|call| fact_of(call).map(|fact| (call.record.key, fact)))
        .filter(|(_, fact)| fact.queue == queue_id && bucket_of(fact) == start)
        .collect();
    let mut rows = Vec::new();
    if !counted.is_empty() {
        let tally = Tally::from_facts(rules, counted.iter().map(|(_, fact)| fact));
        rows.push(row(None, &tally)?);
        let mut by_agent: BTreeMap<&str, Vec<&CallFact>> = BTreeMap::new();
        for (_, fact) in &counted {
            if let Some(agent) = fact.agent.as_deref() {
                by_agent.entry(agent).or_default().push(fact);
            }
        }
        for (agent, facts) in by_agent {
            rows.push(row(Some(agent), &Tally::from_facts(rules, facts))?);
        }
    }
    let calls = counted.into_iter().map(|(key, _)| key).collect();
    Ok(TallyBucket { queue_id, bucket_start: start, rows, calls })
}

fn row(agent: Option<&str>, tally: &Tally) -> Result<TallyRow, serde_json::Error> {
    Ok(TallyRow {
        agent_dn: agent.map(str::to_string),
        offered: i64::try_from(tally.offered).unwrap_or(i64::MAX),
        tally: serde_json::to_value(tally)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use lineup_domain::call::{CallRecord, Phase};

    use super::*;

    const RULES: TallyRules = TallyRules { service_level_secs: 20, short_abandon_secs: 5 };

    fn at(minute: i64) -> DateTime<Utc> {
        // 1_800_000_000 s is a whole quarter hour (a multiple of 900).
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn call(
        id: i32,
        queue: Option<Uuid>,
        minute: i64,
        outcome: CallOutcome,
        agent: Option<&str>,
        wait_s: i64,
    ) -> StoredCall {
        let key = CallKey { connection: Uuid::from_u128(7), call_id: id };
        let entered = at(minute);
        let record = CallRecord {
            key,
            history_id: Some(format!("h{id}")),
            caller: Some("+4930".into()),
            queue_dn: Some("800".into()),
            agent_dn: agent.map(str::to_string),
            entered_at: Some(entered),
            answered_at: (outcome == CallOutcome::Answered).then(|| entered + TimeDelta::seconds(wait_s)),
            left_queue_at: Some(entered + TimeDelta::seconds(wait_s)),
            ended_at: Some(entered + TimeDelta::seconds(wait_s + 60)),
            wait_ms: Some(wait_s * 1000),
            talk_ms: Some(if outcome == CallOutcome::Answered { 60_000 } else { 0 }),
            outcome,
            phase: Phase::Waiting,
            reconciled: true,
        };
        StoredCall {
            tenant_id: Uuid::from_u128(1),
            record,
            queue_id: queue,
            item_id: None,
            item_note: None,
            revisions: 1,
            created_at: entered,
            updated_at: entered,
        }
    }

    #[test]
    fn only_reconciled_settled_queue_calls_are_facts() {
        let queue = Some(Uuid::from_u128(9));
        assert!(fact_of(&call(1, queue, 0, CallOutcome::Answered, Some("101"), 10)).is_some());
        assert!(fact_of(&call(2, queue, 0, CallOutcome::InProgress, None, 10)).is_none(), "still in the queue");
        assert!(fact_of(&call(3, None, 0, CallOutcome::Abandoned, None, 10)).is_none(), "no mapped queue");
        let mut unreconciled = call(4, queue, 0, CallOutcome::Answered, Some("101"), 10);
        unreconciled.record.reconciled = false;
        assert!(fact_of(&unreconciled).is_none(), "inferences are not history");
        let abandoned = fact_of(&call(5, queue, 0, CallOutcome::Abandoned, Some("102"), 10)).unwrap();
        assert_eq!(abandoned.agent, None, "only an answering agent is the call's agent");
    }

    #[test]
    fn a_bucket_holds_its_queues_calls_of_its_quarter_hour_per_queue_and_agent() {
        let queue = Uuid::from_u128(9);
        let calls = [
            call(1, Some(queue), 1, CallOutcome::Answered, Some("101"), 10),
            call(2, Some(queue), 14, CallOutcome::Answered, Some("102"), 30),
            call(3, Some(queue), 7, CallOutcome::Abandoned, None, 3),
            call(4, Some(queue), 15, CallOutcome::Answered, Some("101"), 5),
            call(5, Some(Uuid::from_u128(8)), 2, CallOutcome::Answered, Some("101"), 5),
        ];
        let bucket = recompute_bucket(queue, at(0), &calls, RULES).unwrap();
        let ids: Vec<i32> = bucket.calls.iter().map(|k| k.call_id).collect();
        assert_eq!(ids, [1, 2, 3], "the next quarter and the other queue are not in it");
        let offered: Vec<(Option<&str>, i64)> =
            bucket.rows.iter().map(|r| (r.agent_dn.as_deref(), r.offered)).collect();
        assert_eq!(offered, [(None, 3), (Some("101"), 1), (Some("102"), 1)]);
        let tally: Tally = serde_json::from_value(bucket.rows[0].tally.clone()).unwrap();
        assert_eq!((tally.answered, tally.abandoned, tally.short_abandoned), (2, 1, 1));
        assert_eq!(tally.answered_within_threshold, 1, "30 s is over the 20 s threshold");
        assert!(recompute_bucket(queue, at(30), &calls, RULES).unwrap().rows.is_empty());
    }

    #[test]
    fn a_corrected_call_dirties_its_new_bucket_and_the_one_it_was_counted_in() {
        let queue = Uuid::from_u128(9);
        let moved = call(1, Some(queue), 20, CallOutcome::Answered, Some("101"), 10);
        let mark = TallyMark { queue_id: queue, bucket_start: at(0) };
        let marks = HashMap::from([((moved.tenant_id, moved.record.key), mark)]);
        let dirty = dirty_buckets(std::slice::from_ref(&moved), &marks);
        let tenant = moved.tenant_id;
        assert_eq!(dirty, BTreeSet::from([(tenant, queue, at(0)), (tenant, queue, at(15))]));
        let mut waiting = moved;
        waiting.record.outcome = CallOutcome::InProgress;
        assert_eq!(dirty_buckets(&[waiting], &HashMap::new()), BTreeSet::new(), "not a fact, never counted");
    }
}
