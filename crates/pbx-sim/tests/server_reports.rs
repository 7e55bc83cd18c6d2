//! Every queue report, read through the real client, agrees with the ground truth of the calls
//! the history shows for the requested period and queues.

mod server_support;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use lineup_pbx_sim::model::{CallOutcome, CallTruth};
use lineup_pbx_sim::server::RunningSim;
use lineup_xapi::generated::*;
use lineup_xapi::{ErrorKind, Query};
use server_support::*;

/// The calls of the first simulated hour the history shows, after 70 minutes.
async fn first_hour(sim: &RunningSim) -> (DateTime<Utc>, DateTime<Utc>, Vec<CallTruth>) {
    let now = advance_minutes(sim, 70).await;
    let (from, to) = (start_instant(), start_instant() + TimeDelta::hours(1));
    let cutoff = now - TimeDelta::seconds(30);
    let truths = sim.state().with_simulation(|s| s.call_truths().to_vec());
    let calls = truths.into_iter().filter(|t| t.ended_at <= cutoff && t.arrived_at >= from && t.arrived_at < to);
    (from, to, calls.collect())
}

fn per_queue(calls: &[CallTruth], keep: impl Fn(&CallTruth) -> bool) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for call in calls.iter().filter(|c| keep(c)) {
        *counts.entry(call.queue_dn.clone()).or_insert(0) += 1;
    }
    counts
}

fn answered(c: &CallTruth) -> bool {
    c.outcome == CallOutcome::Answered
}

#[tokio::test]
async fn queue_totals_agree_with_the_ground_truth() {
    let sim = sim().await;
    let client = client(&sim);
    let (from, to, calls) = first_hour(&sim).await;
    let received = per_queue(&calls, |_| true);
    let answered_by_queue = per_queue(&calls, answered);
    let params = GetQueuePerformanceTotalsParams { period_from: from, period_to: to, ..Default::default() };
    let totals = client.get_queue_performance_totals(&params, &Query::new()).await.expect("totals").value;
    assert_eq!(totals.len(), 5);
    for row in &totals {
        let dn = row.queue_dn.clone().expect("QueueDn");
        let offered = received.get(&dn).copied().unwrap_or(0);
        let answered = answered_by_queue.get(&dn).copied().unwrap_or(0);
        assert_eq!(row.queue_received_count, Some(offered), "{dn}");
        assert_eq!(
            (row.extension_answered_count, row.extension_dropped_count),
            (Some(answered), Some(offered - answered))
        );
    }

    let params = GetQueuePerformanceOverviewParams { period_from: from, period_to: to, ..Default::default() };
    let overview = client.get_queue_performance_overview(&params, &Query::new()).await.expect("overview").value;
    let mut agent_answers: BTreeMap<String, i64> = BTreeMap::new();
    for row in &overview {
        *agent_answers.entry(row.queue_dn.clone().expect("QueueDn")).or_default() +=
            row.extension_answered_count.unwrap_or(0);
    }
    assert_eq!(agent_answers, answered_by_queue, "every answered call was answered by a member");

    let range = |queues: Option<&str>| GetDetailedQueueStatisticsParams {
        queue_dn_str: queues.map(str::to_string),
        start_dt: from,
        end_dt: to,
        wait_interval: None,
    };
    let detailed = client.get_detailed_queue_statistics(&range(None), &Query::new()).await.expect("detailed").value;
    for row in &detailed {
        let dn = row.queue_dn_number.clone().expect("QueueDnNumber");
        assert_eq!(row.calls_count, received.get(&dn).copied().or(Some(0)));
        assert_eq!(row.answered_count, answered_by_queue.get(&dn).copied().or(Some(0)));
    }
    let two = client.get_detailed_queue_statistics(&range(Some("800,801")), &Query::new()).await.expect("two");
    let dns: Vec<_> = two.value.iter().filter_map(|r| r.queue_dn_number.clone()).collect();
    assert_eq!(dns, ["800", "801"]);

    let team = GetTeamQueueGeneralStatisticsParams { start_dt: from, end_dt: to, ..Default::default() };
    let team = client.get_team_queue_general_statistics(&team, &Query::new()).await.expect("team").value;
    let config = sim.state().with_simulation(|s| s.config().clone());
    for row in &team {
        let dn = row.queue_dn_number.clone().expect("QueueDnNumber");
        let members = config.agents.iter().filter(|a| a.queues.contains(&dn)).count();
        assert_eq!(row.agents_in_queue_count, Some(i32::try_from(members).unwrap()));
        assert_eq!(row.received_count, received.get(&dn).copied().or(Some(0)));
    }
    let callbacks = GetQueueCallbacksParams { start_dt: from, end_dt: to, ..Default::default() };
    let callbacks = client.get_queue_callbacks(&callbacks, &Query::new()).await.expect("callbacks").value;
    assert!(callbacks.iter().all(|r| r.callbacks_count == Some(0) && r.fail_callbacks_count == Some(0)));
    let failed = GetQueueFailedCallbacksParams { start_dt: from, end_dt: to, ..Default::default() };
    assert!(client.get_queue_failed_callbacks(&failed, &Query::new()).await.expect("failed").value.is_empty());
}

#[tokio::test]
async fn agents_in_queue_statistics_split_each_queue_among_its_agents() {
    let sim = sim().await;
    let client = client(&sim);
    let (from, to, calls) = first_hour(&sim).await;
    let params = GetAgentsInQueueStatisticsParams { start_dt: from, end_dt: to, ..Default::default() };
    let rows = client.get_agents_in_queue_statistics(&params, &Query::new()).await.expect("agents").value;
    let mut answered_by_queue: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        *answered_by_queue.entry(row.queue.clone().expect("Queue")).or_default() += row.answered_count.unwrap_or(0);
        let logged_in = lineup_pbx_sim::server::literal::parse_duration(row.logged_in_time.as_deref().unwrap())
            .expect("an ISO duration");
        assert!(logged_in <= TimeDelta::hours(1), "{row:?}");
        assert!((0..=100).contains(&row.answered_percent.unwrap_or(-1)));
    }
    assert_eq!(answered_by_queue, per_queue(&calls, answered));
}

#[tokio::test]
async fn call_lists_hold_the_abandoned_late_and_breaching_calls() {
    let sim = sim().await;
    let client = client(&sim);
    let (from, to, calls) = first_hour(&sim).await;
    let period = GetAbandonedQueueCallsParams { period_from: from, period_to: to, ..Default::default() };
    let abandoned = client.get_abandoned_queue_calls(&period, &Query::new()).await.expect("abandoned").value;
    let mut shown: Vec<String> = abandoned.iter().filter_map(|r| r.call_history_id.clone()).collect();
    let mut expected: Vec<String> =
        calls.iter().filter(|c| c.outcome == CallOutcome::Abandoned).map(|c| c.history_id.clone()).collect();
    shown.sort();
    expected.sort();
    assert_eq!(shown, expected);

    let late = GetQueueAnsweredCallsByWaitTimeParams {
        start_dt: from,
        end_dt: to,
        answer_interval: Some("0:00:20".into()),
        ..Default::default()
    };
    let late = client.get_queue_answered_calls_by_wait_time(&late, &Query::new()).await.expect("late").value;
    assert_eq!(late.len(), calls.iter().filter(|c| answered(c) && c.wait_ms >= 20_000).count());

    let sla = GetSlaStatisticsParams { start_dt: from, end_dt: to, ..Default::default() };
    let sla = client.get_sla_statistics(&sla, &Query::new()).await.expect("sla").value;
    let bad: i64 = sla.iter().filter_map(|r| r.bad_sla_calls_count).sum();
    let expected_bad = calls.iter().filter(|c| c.wait_ms > i64::from(c.sla_secs) * 1000).count();
    assert_eq!(bad, i64::try_from(expected_bad).unwrap());
    let breaches = GetSlaBreachesParams { start_dt: from, end_dt: to, ..Default::default() };
    let breaches = client.get_sla_breaches(&breaches, &Query::new()).await.expect("breaches").value;
    assert_eq!(breaches.len(), expected_bad);
}

#[tokio::test]
async fn charts_have_a_point_per_hour_of_the_day() {
    let sim = sim().await;
    let client = client(&sim);
    let (from, _, calls) = first_hour(&sim).await;
    let params = GetQueueAnsweredUnansweredCallsParams { chart_date: from, ..Default::default() };
    let points = client.get_queue_answered_unanswered_calls(&params, &Query::new()).await.expect("chart").value;
    assert_eq!(points.len(), 24);
    let eight = points.iter().find(|p| p.x_value == Some(from)).expect("the 08:00 point");
    let answered_count = calls.iter().filter(|c| answered(c)).count();
    assert_eq!(eight.y_value1, Some(i32::try_from(answered_count).unwrap()));
    assert_eq!(eight.y_value2, Some(i32::try_from(calls.len() - answered_count).unwrap()));

    let params = GetAverageQueueWaitingTimeParams { chart_date: from, ..Default::default() };
    let points = client.get_average_queue_waiting_time(&params, &Query::new()).await.expect("chart").value;
    let eight = points.iter().find(|p| p.x_value == Some(from)).expect("the 08:00 point");
    let waits: Vec<i64> = calls.iter().filter(|c| answered(c)).map(|c| c.wait_ms).collect();
    let average = (waits.iter().sum::<i64>() as f64 / waits.len() as f64).round() / 1000.0;
    assert_eq!(eight.y_value1, Some(average.round() as i32));
}

#[tokio::test]
async fn an_unreadable_threshold_is_a_bad_request() {
    let sim = sim().await;
    let client = client(&sim);
    let params = GetSlaStatisticsParams { wait_interval: Some("soon".into()), ..Default::default() };
    let error = client.get_sla_statistics(&params, &Query::new()).await.expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::BadRequest);
}
