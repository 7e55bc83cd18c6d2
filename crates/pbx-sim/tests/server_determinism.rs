//! Two simulators with the same seed, advanced and acted on the same way, answer every generated
//! operation with identical bytes; another seed answers differently.

mod server_support;

use chrono::TimeDelta;
use lineup_pbx_sim::server::{RunningSim, SimServerConfig};
use lineup_xapi::generated::OPERATIONS;
use server_support::*;

/// Advances in uneven steps, drops the first live call half-way, and reads every GET operation.
async fn bodies(sim: &RunningSim) -> Vec<(String, Vec<u8>)> {
    let client = client(sim);
    for minutes in [3, 17, 1] {
        advance_minutes(sim, minutes).await;
    }
    let live = client.list_active_calls(&lineup_xapi::Query::new()).await.expect("live calls").value;
    client.drop_call(live[0].id.expect("Id")).await.expect("dropped");
    sim.advance(TimeDelta::milliseconds(61_500)).await;
    advance_minutes(sim, 50).await;

    let token = token(sim).await;
    let (from, to) = (start_instant(), start_instant() + TimeDelta::hours(1));
    let mut out = Vec::new();
    for op in OPERATIONS.iter().filter(|op| op.method == "GET") {
        let (id, number) = key_for(op.path, sim);
        let path = fill_template(op.path, (id, &number), from, to);
        for query in ["", "?$count=true&$orderby=Id%20desc&$top=7&$skip=2"] {
            let (status, body) = get_raw(sim, &token, &format!("{path}{query}")).await;
            assert_eq!(status, 200, "{path}{query}");
            out.push((format!("{path}{query}"), body));
        }
    }
    out
}

#[tokio::test]
async fn the_same_seed_and_steps_give_identical_answers() {
    let (a, b) = (sim().await, sim().await);
    let (first, second) = (bodies(&a).await, bodies(&b).await);
    for ((path, x), (_, y)) in first.iter().zip(&second) {
        assert!(x == y, "{path} differs:\n{}\n{}", String::from_utf8_lossy(x), String::from_utf8_lossy(y));
    }
    assert_eq!(first.len(), second.len());

    let other = sim_with(SimServerConfig { seed: 2, ..SimServerConfig::for_tests() }).await;
    let third = bodies(&other).await;
    let history = |all: &[(String, Vec<u8>)]| all.iter().find(|(p, _)| p == "/CallHistoryView").map(|(_, b)| b.clone());
    assert_ne!(history(&first), history(&third), "another seed, other traffic");
}
