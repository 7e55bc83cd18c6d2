//! The real `lineup-xapi` client reads every generated endpoint from the simulator over loopback:
//! live calls, dropping one, history and call log after the lag, queues with agents and managers,
//! users, every queue report, and paging with `$top`/`$skip`/`$count`.

mod server_support;

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use lineup_pbx_sim::model::{CallOutcome, CallTruth};
use lineup_pbx_sim::server::SimServerConfig;
use lineup_xapi::generated::*;
use lineup_xapi::{ErrorKind, Filter, Query, SortOrder, XapiClient};
use server_support::*;

/// Which calls of the ground truth a call-log request should return.
type Expected = Box<dyn Fn(&&CallTruth) -> bool>;

fn call_log_params(from: DateTime<Utc>, to: DateTime<Utc>) -> GetCallLogDataParams {
    GetCallLogDataParams { period_from: from, period_to: to, ..GetCallLogDataParams::default() }
}

async fn history(client: &XapiClient) -> Vec<CallHistoryView> {
    client
        .collect_all(
            Query::new().order_by("SegmentId", SortOrder::Asc),
            |c, q| async move { c.list_call_history(&q).await },
        )
        .await
        .expect("history")
}

#[tokio::test]
async fn active_calls_show_live_calls_and_drop_call_ends_one() {
    let sim = sim().await;
    let client = client(&sim);
    let now = advance_minutes(&sim, 10).await;
    let live = client.list_active_calls(&Query::new()).await.expect("active calls").value;
    let expected: Vec<i32> = sim.state().with_simulation(|s| s.live_calls().iter().map(|c| c.id).collect());
    assert!(!live.is_empty(), "the morning rush has live calls");
    assert_eq!(live.iter().map(|c| c.id.expect("Id")).collect::<Vec<_>>(), expected);
    for call in &live {
        assert!(["Routing", "Ringing", "Talking"].contains(&call.status.as_deref().unwrap_or_default()), "{call:?}");
        assert_eq!(call.server_now, Some(now));
        assert!(call.callee.as_deref().is_some_and(|c| c.contains(' ')), "Callee is 'DN name': {call:?}");
    }

    let victim = live[0].id.expect("Id");
    client.drop_call(victim).await.expect("the call is dropped");
    let after = client.list_active_calls(&Query::new()).await.expect("active calls").value;
    assert!(after.iter().all(|c| c.id != Some(victim)));
    let error = client.drop_call(victim).await.expect_err("a finished call cannot be dropped");
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn finished_calls_reach_history_and_call_log_only_after_the_lag() {
    let sim = sim_with(SimServerConfig { history_lag: TimeDelta::minutes(5), ..SimServerConfig::for_tests() }).await;
    let client = client(&sim);
    let now = advance_minutes(&sim, 15).await;
    let (finished, visible) = sim.state().with_simulation(|s| {
        let ids = |records: &[lineup_pbx_sim::model::CallRecord]| -> BTreeSet<i32> {
            records.iter().map(|r| r.call_id).collect()
        };
        (ids(s.finished_calls()), ids(s.finished_calls_until(now - TimeDelta::minutes(5))))
    });
    assert!(visible.len() < finished.len(), "some calls ended within the lag");
    assert!(!visible.is_empty());

    let rows = history(&client).await;
    let shown: BTreeSet<i32> = rows.iter().map(|r| r.src_participant_id.expect("SrcParticipantId")).collect();
    assert_eq!(shown, visible);
    let log = client
        .collect_all(Query::new(), |c, q| async move {
            c.get_call_log_data(&call_log_params(start_instant(), now), &q).await
        })
        .await
        .expect("call log");
    let logged: BTreeSet<i32> = log.iter().map(|r| r.call_id.expect("CallId")).collect();
    assert_eq!(logged, visible);
    assert_eq!(log.len(), rows.len(), "one call-log row per segment");

    advance_minutes(&sim, 5).await;
    let later: BTreeSet<i32> = history(&client).await.iter().filter_map(|r| r.src_participant_id).collect();
    assert!(finished.is_subset(&later), "after the lag every call that had ended is shown");
}

#[tokio::test]
async fn the_call_log_filters_by_period_answered_and_destination() {
    let sim = sim().await;
    let client = client(&sim);
    let now = advance_minutes(&sim, 30).await;
    let half = start_instant() + TimeDelta::minutes(15);
    let truths = sim.state().with_simulation(|s| s.call_truths().to_vec());
    let cutoff = now - TimeDelta::seconds(30);
    let visible: Vec<_> = truths.iter().filter(|t| t.ended_at <= cutoff).collect();
    let cases: Vec<(GetCallLogDataParams, Expected)> = vec![
        (call_log_params(start_instant(), half), Box::new(move |t| t.arrived_at < half)),
        (
            GetCallLogDataParams { calls_type: 1, ..call_log_params(start_instant(), now) },
            Box::new(|t| t.outcome == CallOutcome::Answered),
        ),
        (
            GetCallLogDataParams { calls_type: 2, ..call_log_params(start_instant(), now) },
            Box::new(|t| t.outcome != CallOutcome::Answered),
        ),
        (
            GetCallLogDataParams { destination_filter: Some("801".into()), ..call_log_params(start_instant(), now) },
            Box::new(|t| t.queue_dn == "801"),
        ),
    ];
    for (params, expected) in cases {
        let rows = client.get_call_log_data(&params, &Query::new()).await.expect("call log").value;
        let ids: BTreeSet<i32> = rows.iter().filter_map(|r| r.call_id).collect();
        let want: BTreeSet<i32> = visible.iter().filter(|t| expected(t)).map(|t| t.call_id).collect();
        assert_eq!(ids, want, "{params:?}");
    }
}

#[tokio::test]
async fn queues_come_with_agents_and_managers_by_expand_and_navigation() {
    let sim = sim().await;
    let client = client(&sim);
    let queues = client.list_queues(&Query::new().expand("Agents").expand("Managers")).await.expect("queues").value;
    let config = sim.state().with_simulation(|s| s.config().clone());
    assert_eq!(queues.len(), config.queues.len());
    for (queue, qc) in queues.iter().zip(&config.queues) {
        assert_eq!((queue.number.as_deref(), queue.name.as_deref()), (Some(qc.dn.as_str()), Some(qc.name.as_str())));
        let members: Vec<&str> =
            config.agents.iter().filter(|a| a.queues.contains(&qc.dn)).map(|a| a.dn.as_str()).collect();
        let agents: Vec<&str> = queue.agents.iter().flatten().filter_map(|a| a.number.as_deref()).collect();
        assert_eq!(agents, members, "queue {}", qc.dn);
        let managers: Vec<&str> = queue.managers.iter().flatten().filter_map(|m| m.number.as_deref()).collect();
        assert_eq!(managers, members[..1].to_vec());

        let id = queue.id.expect("Id");
        let by_id = client.get_queue(id, &Query::new()).await.expect("by id");
        let by_number = client.get_queue_by_number(&qc.dn, &Query::new()).await.expect("by number");
        assert_eq!((by_id.agents.is_none(), &by_id), (true, &by_number), "no navigation without $expand");
        let navigated = client.list_queue_agents(id, &Query::new()).await.expect("agents").value;
        assert_eq!(Some(navigated), queue.agents);
        let navigated = client.list_queue_managers(id, &Query::new()).await.expect("managers").value;
        assert_eq!(Some(navigated), queue.managers);
    }
    let top = client.get_queue(1, &Query::new().expand_with("Agents", Query::new().top(2).select(["Number"]))).await;
    let agents = top.expect("queue 1").agents.expect("expanded");
    assert_eq!(agents.len(), 2);
    assert!(agents.iter().all(|a| a.number.is_some() && a.name.is_none()), "{agents:?}");
    let missing = client.get_queue(999, &Query::new()).await.expect_err("no such queue");
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn users_are_the_agents_with_their_queue_status() {
    let sim = sim().await;
    let client = client(&sim);
    advance_minutes(&sim, 5).await;
    let users = client.list_users(&Query::new()).await.expect("users").value;
    let agents = sim.state().with_simulation(|s| s.agent_snapshots());
    assert_eq!(users.len(), agents.len());
    for (user, agent) in users.iter().zip(&agents) {
        assert_eq!(user.number.as_deref(), Some(agent.dn.as_str()));
        assert_eq!(user.display_name.as_deref(), Some(agent.name.as_str()));
        assert_eq!(user.queue_status.and_then(|s| s.wire_value()), Some(agent.status.queue_status()));
    }
    let first = &users[0];
    let by_id = client.get_user(first.id.expect("Id"), &Query::new()).await.expect("by id");
    let by_number = client.get_user_by_number("101", &Query::new()).await.expect("by number");
    assert_eq!((&by_id, &by_number), (first, first));
    let logged_in = client
        .list_users(&Query::new().filter(Filter::eq("QueueStatus", "LoggedIn")).count(true))
        .await
        .expect("filtered");
    let expected = agents.iter().filter(|a| a.status.is_logged_in()).count();
    assert_eq!(logged_in.count, Some(i64::try_from(expected).unwrap()));
}

#[tokio::test]
async fn paging_with_top_skip_and_count_reads_every_row_once() {
    let sim = sim().await;
    let client = client(&sim);
    advance_minutes(&sim, 45).await;
    let everything = history(&client).await;
    assert!(everything.len() > 100, "enough rows to page: {}", everything.len());
    let query = Query::new().order_by("SegmentId", SortOrder::Asc).top(37).count(true);
    let pages: Vec<lineup_xapi::ODataPage<CallHistoryView>> =
        client.pages(query, |c, q| async move { c.list_call_history(&q).await }).try_collect().await.expect("pages");
    assert_eq!(pages.len(), everything.len().div_ceil(37) + usize::from(everything.len() % 37 == 0));
    assert!(pages.iter().all(|p| p.count == Some(i64::try_from(everything.len()).unwrap())));
    let paged: Vec<CallHistoryView> = pages.into_iter().flat_map(|p| p.value).collect();
    assert_eq!(paged, everything);
    let skipped = client
        .list_call_history(&Query::new().order_by("SegmentId", SortOrder::Desc).skip(10).top(5))
        .await
        .expect("a page");
    let expected: Vec<CallHistoryView> = everything.iter().rev().skip(10).take(5).cloned().collect();
    assert_eq!(skipped.value, expected);
}
