//! The ground truth of a simulated hour (`GET /sim/truth`) equals what a client can rebuild
//! from the call log and from the call history: per queue, offered, answered, abandoned,
//! overflowed and dropped calls, answers within the SLA, and total wait and talk times.

mod server_support;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use lineup_pbx_sim::model::{DnKind, SegmentAction};
use lineup_pbx_sim::server::literal::parse_duration;
use lineup_pbx_sim::server::wire::{action_id, dn_type};
use lineup_xapi::generated::{CallHistoryView, CallLogData, GetCallLogDataParams};
use lineup_xapi::{Filter, Query, SortOrder, XapiClient};
use serde_json::Value;
use server_support::*;

/// One queue's hour.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tally {
    offered: u64,
    answered: u64,
    abandoned: u64,
    overflowed: u64,
    dropped: u64,
    answered_within_sla: u64,
    wait_total_ms: i64,
    talk_total_ms: i64,
}

fn ms(duration: Option<&str>) -> i64 {
    parse_duration(duration.expect("a duration")).expect("an ISO duration").num_milliseconds()
}

fn from_truth(truth: &Value, hour: DateTime<Utc>) -> BTreeMap<String, Tally> {
    let start = hour.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let rows = truth["intervals"].as_array().expect("intervals");
    rows.iter()
        .filter(|r| r["intervalStart"] == start.as_str())
        .map(|r| {
            let n = |k: &str| r[k].as_u64().expect("a count");
            let t = Tally {
                offered: n("offered"),
                answered: n("answered"),
                abandoned: n("abandoned"),
                overflowed: n("overflowed"),
                dropped: n("dropped"),
                answered_within_sla: n("answeredWithinSla"),
                wait_total_ms: r["waitTotalMs"].as_i64().expect("ms"),
                talk_total_ms: r["talkTotalMs"].as_i64().expect("ms"),
            };
            (r["queueDn"].as_str().expect("a DN").to_string(), t)
        })
        .collect()
}

/// Counts one call from its queue leg (`answered`, the action, the wait) and its talk time.
fn count(tally: &mut Tally, answered: bool, action: i32, wait_ms: i64, talk_ms: i64, sla_ms: i64) {
    tally.offered += 1;
    tally.wait_total_ms += wait_ms;
    if answered {
        tally.answered += 1;
        tally.talk_total_ms += talk_ms;
        tally.answered_within_sla += u64::from(wait_ms <= sla_ms);
    } else if action == action_id(SegmentAction::Abandoned) {
        tally.abandoned += 1;
    } else if action == action_id(SegmentAction::Overflowed) {
        tally.overflowed += 1;
    } else if action == action_id(SegmentAction::Dropped) {
        tally.dropped += 1;
    }
}

fn from_call_log(rows: &[CallLogData], sla_ms: &BTreeMap<String, i64>) -> BTreeMap<String, Tally> {
    let mut calls: BTreeMap<String, Vec<&CallLogData>> = BTreeMap::new();
    for row in rows {
        calls.entry(row.main_call_history_id.clone().expect("MainCallHistoryId")).or_default().push(row);
    }
    let mut tallies: BTreeMap<String, Tally> = sla_ms.keys().map(|dn| (dn.clone(), Tally::default())).collect();
    for segments in calls.values() {
        let queue = segments.iter().find(|r| r.destination_type == Some(dn_type(DnKind::Queue))).expect("a queue leg");
        let dn = queue.destination_dn.clone().expect("the queue");
        let talk: i64 = segments
            .iter()
            .filter(|r| r.destination_type == Some(dn_type(DnKind::Extension)) && r.answered == Some(true))
            .map(|r| ms(r.talking_duration.as_deref()))
            .sum();
        let tally = tallies.entry(dn.clone()).or_default();
        let (answered, action) = (queue.answered == Some(true), queue.action_type.expect("ActionType"));
        count(tally, answered, action, ms(queue.ringing_duration.as_deref()), talk, sla_ms[&dn]);
    }
    tallies
}

fn from_history(rows: &[CallHistoryView], sla_ms: &BTreeMap<String, i64>) -> BTreeMap<String, Tally> {
    let mut talk: BTreeMap<i32, i64> = BTreeMap::new();
    for row in
        rows.iter().filter(|r| r.dst_dn_type == Some(dn_type(DnKind::Extension)) && r.call_answered == Some(true))
    {
        *talk.entry(row.src_participant_id.expect("the call")).or_default() += ms(row.call_time.as_deref());
    }
    let mut tallies: BTreeMap<String, Tally> = sla_ms.keys().map(|dn| (dn.clone(), Tally::default())).collect();
    for queue in rows.iter().filter(|r| r.dst_dn_type == Some(dn_type(DnKind::Queue))) {
        let dn = queue.dst_dn.clone().expect("the queue");
        let wait = (queue.segment_end_time.expect("end") - queue.segment_start_time.expect("start")).num_milliseconds();
        let call_talk = talk.get(&queue.src_participant_id.expect("the call")).copied().unwrap_or(0);
        let answered = queue.call_answered == Some(true);
        let action = queue.segment_action_id.expect("SegmentActionId");
        count(tallies.entry(dn.clone()).or_default(), answered, action, wait, call_talk, sla_ms[&dn]);
    }
    tallies
}

async fn sla_by_queue(client: &XapiClient) -> BTreeMap<String, i64> {
    let queues = client.list_queues(&Query::new()).await.expect("queues").value;
    queues.into_iter().map(|q| (q.number.expect("Number"), i64::from(q.sla_time.expect("SLATime")) * 1000)).collect()
}

#[tokio::test]
async fn call_log_and_history_totals_equal_the_ground_truth_of_an_hour() {
    let sim = sim().await;
    let client = client(&sim);
    let hour = start_instant();
    let mut dropped = false;
    for _ in 0..50 {
        advance_minutes(&sim, 1).await;
        let live = client.list_active_calls(&Query::new()).await.expect("live").value;
        if let Some(waiting) = live.iter().find(|c| c.status.as_deref() != Some("Talking")) {
            client.drop_call(waiting.id.expect("Id")).await.expect("dropped");
            dropped = true;
            break;
        }
    }
    assert!(dropped, "a call was waiting at some minute of the hour");
    advance_minutes(&sim, 150).await;
    let earliest_live = sim.state().with_simulation(|s| s.live_calls().iter().map(|c| c.established_at).min());
    assert!(earliest_live.is_none_or(|t| t >= hour + TimeDelta::hours(1)), "every call of the hour has ended");

    let truth = from_truth(&admin_get(&sim, "/truth?intervalSecs=3600").await, hour);
    assert!(truth.values().map(|t| t.offered).sum::<u64>() > 100, "a busy hour: {truth:?}");
    assert_eq!(truth.values().map(|t| t.dropped).sum::<u64>(), 1);
    let sla = sla_by_queue(&client).await;

    let params =
        GetCallLogDataParams { period_from: hour, period_to: hour + TimeDelta::hours(1), ..Default::default() };
    let log = client
        .collect_all(Query::new().top(250), |c, q| {
            let params = params.clone();
            async move { c.get_call_log_data(&params, &q).await }
        })
        .await
        .expect("the call log");
    assert_eq!(from_call_log(&log, &sla), truth, "call log");

    let ids: Vec<i32> = log.iter().filter_map(|r| r.call_id).collect();
    let (first, last) = (*ids.iter().min().expect("calls"), *ids.iter().max().expect("calls"));
    let query = Query::new()
        .filter(Filter::ge("SrcParticipantId", first).and(Filter::le("SrcParticipantId", last)))
        .order_by("SegmentId", SortOrder::Asc)
        .top(250);
    let history =
        client.collect_all(query, |c, q| async move { c.list_call_history(&q).await }).await.expect("the history");
    assert_eq!(from_history(&history, &sla), truth, "history");
}
