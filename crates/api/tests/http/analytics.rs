//! `/analytics`: Erlang C staffing over HTTP — the plan, who may ask, and bad input as problems.
//! (No storage is involved, so SQLite only.)

use lineup_domain::Role;
use serde_json::json;

use crate::common::sqlite_server;

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
