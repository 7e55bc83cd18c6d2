//! `/analytics` over HTTP: KPI reports from stored tallies (both backends) — totals, series,
//! agent scope, the previous period; Erlang C staffing — the plan, who may ask; bad input as
//! problems.

use chrono::{DateTime, TimeDelta, Utc};
use lineup_analytics::{CallFact, Outcome, Tally, TallyRules};
use lineup_domain::Role;
use lineup_store::{TallyBucket, TallyRow};
use serde_json::json;
use uuid::Uuid;

use crate::common::{desk, on_both_backends, sqlite_server, TestServer};

on_both_backends!(kpi_reports_read_the_stored_tallies_of_a_period);

const RULES: TallyRules = TallyRules { service_level_secs: 20, short_abandon_secs: 5 };

fn quarter(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(15 * n)
}

fn fact(queue: Uuid, at: DateTime<Utc>, outcome: Outcome, agent: Option<&str>, wait_s: i64) -> CallFact {
    CallFact {
        queue,
        agent: agent.map(str::to_string),
        team: None,
        entered_at: at,
        answered_at: None,
        left_queue_at: None,
        ended_at: None,
        wait_ms: wait_s * 1000,
        talk_ms: if outcome == Outcome::Answered { 120_000 } else { 0 },
        hold_ms: 0,
        wrap_ms: 0,
        outcome,
        transferred: false,
        callback: false,
    }
}

/// Stores one bucket of `facts` (all of `queue` in quarter `n`): the queue row and one per agent.
async fn store_bucket(s: &TestServer, queue: Uuid, n: i64, facts: &[CallFact]) {
    let row = |agent: Option<&str>, facts: Vec<&CallFact>| {
        let tally = Tally::from_facts(RULES, facts);
        TallyRow {
            agent_dn: agent.map(str::to_string),
            offered: tally.offered as i64,
            tally: serde_json::to_value(&tally).unwrap(),
        }
    };
    let mut rows = vec![row(None, facts.iter().collect())];
    for agent in ["101", "102"] {
        let own: Vec<&CallFact> = facts.iter().filter(|f| f.agent.as_deref() == Some(agent)).collect();
        if !own.is_empty() {
            rows.push(row(Some(agent), own));
        }
    }
    let bucket = TallyBucket { queue_id: queue, bucket_start: quarter(n), rows, calls: vec![] };
    s.store.replace_tally_bucket(s.tenant, &bucket, lineup_store::now_micros()).await.unwrap();
}

fn kpi_path(from: i64, to: i64, extra: &str) -> String {
    let (from, to) = (quarter(from).to_rfc3339(), quarter(to).to_rfc3339());
    format!("/api/v1/analytics/kpis?from={}&to={}{extra}", urlencode(&from), urlencode(&to))
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

async fn kpi_reports_read_the_stored_tallies_of_a_period(s: &TestServer) {
    let desk = desk(s).await;
    let queue: Uuid = desk.queue["id"].as_str().unwrap().parse().unwrap();
    // Hour 0: two answered (10 s and 40 s), one short abandon; hour 1: one answered in 5 s.
    let hour0 = [
        fact(queue, quarter(0), Outcome::Answered, Some("101"), 10),
        fact(queue, quarter(0), Outcome::Answered, Some("102"), 40),
        fact(queue, quarter(0), Outcome::Abandoned, None, 2),
    ];
    store_bucket(s, queue, 0, &hour0).await;
    store_bucket(s, queue, 5, &[fact(queue, quarter(5), Outcome::Answered, Some("101"), 5)]).await;

    let q = format!("&queueId={queue}&granularity=hour");
    let report = s.get(&kpi_path(0, 8, &q)).await.expect(200);
    assert_eq!(report["total"]["offered"], json!(4));
    assert_eq!(report["total"]["answered"], json!(3));
    assert_eq!(report["total"]["shortAbandoned"], json!(1));
    let offered: Vec<_> = report["series"].as_array().unwrap().iter().map(|b| b["kpis"]["offered"].clone()).collect();
    assert_eq!(offered, [json!(3), json!(1)], "one bucket per hour, dense");
    // Answered within 20 s over offered: 2 of 4.
    assert_eq!(report["total"]["serviceLevel"], json!(0.5));

    let excluded = s.get(&kpi_path(0, 8, &format!("{q}&excludeShortAbandons=true"))).await.expect(200);
    assert_eq!(excluded["total"]["offered"], json!(3));
    let agent = s.get(&kpi_path(0, 8, &format!("{q}&agent=101"))).await.expect(200);
    assert_eq!(agent["total"]["answered"], json!(2));

    // The next two hours against these two.
    let compared = s.get(&kpi_path(8, 16, &format!("{q}&compare=true"))).await.expect(200);
    assert_eq!(compared["total"]["offered"], json!(0));
    assert_eq!(compared["previous"]["offered"], json!(4));
    assert_eq!(compared["comparison"]["offered"]["absolute"], json!(-4.0));

    s.get(&kpi_path(0, 8, &format!("&queueId={}", Uuid::now_v7()))).await.problem(404, "not-found");
    let unaligned = "/api/v1/analytics/kpis?from=2027-01-15T08%3A07%3A00Z&to=2027-01-15T09%3A00%3A00Z";
    s.get(unaligned).await.problem(400, "invalid-query");
    s.get(&kpi_path(8, 0, "")).await.problem(400, "invalid-query");
    s.as_role(Role::Agent).await.get(&kpi_path(0, 8, "")).await.problem(403, "forbidden");
}

const CLASSIC: &str = "/api/v1/analytics/staffing?callsPerInterval=360&intervalSecs=1800&ahtSecs=240";

#[tokio::test]
async fn staffing_plans_the_agents_a_forecast_needs() {
    let s = sqlite_server().await;
    let plan = s.get(CLASSIC).await.expect(200);
    assert_eq!(plan["trafficErlangs"], json!(48.0));
    assert_eq!(plan["agentsNeeded"], json!(54));
    let levels = plan["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 6);
    let at_54 = levels.iter().find(|l| l["agents"] == 54).unwrap();
    assert!((at_54["serviceLevel"].as_f64().unwrap() - 0.8172).abs() < 5e-4, "{at_54}");
    assert!((at_54["occupancy"].as_f64().unwrap() - 48.0 / 54.0).abs() < 1e-9);

    let capped = s.get(&format!("{CLASSIC}&maxOccupancy=0.85")).await.expect(200);
    assert!(capped["agentsNeeded"].as_u64().unwrap() > 54, "{capped}");
}

#[tokio::test]
async fn staffing_is_for_admins_supervisors_and_analysts() {
    let s = sqlite_server().await;
    for role in [Role::Supervisor, Role::Analyst] {
        s.as_role(role).await.get(CLASSIC).await.expect(200);
    }
    for role in [Role::Agent, Role::Kiosk, Role::Display] {
        s.as_role(role).await.get(CLASSIC).await.problem(403, "forbidden");
    }
}

#[tokio::test]
async fn impossible_forecasts_and_targets_are_invalid_queries() {
    let s = sqlite_server().await;
    let cases = [
        "/api/v1/analytics/staffing?ahtSecs=240",
        "/api/v1/analytics/staffing?callsPerInterval=-5&ahtSecs=240",
        "/api/v1/analytics/staffing?callsPerInterval=10&ahtSecs=0",
        "/api/v1/analytics/staffing?callsPerInterval=10&ahtSecs=240&targetServiceLevel=1",
        "/api/v1/analytics/staffing?callsPerInterval=10&ahtSecs=240&maxOccupancy=1.5",
        "/api/v1/analytics/staffing?callsPerInterval=10&ahtSecs=240&colour=blue",
    ];
    for path in cases {
        let problem = s.get(path).await.problem(400, "invalid-query");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{path}: {problem}");
    }
}
