//! Configuration checks, as a table: one change to a valid document and the path the error
//! must name.

use lineup_pbx_sim::model::SimConfig;
use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "utcOffsetMinutes": 60,
        "queues": [{
            "dn": "800",
            "name": "Sales",
            "strategy": "roundRobin",
            "ringTimeoutSecs": 20,
            "slaSecs": 20,
            "arrivalsPerHour": [10, 20, 30, 40],
            "patience": {"kind": "exponential", "meanSecs": 90},
            "talk": {"kind": "lognormal", "meanSecs": 120, "sdSecs": 60},
            "wrapUp": {"kind": "fixed", "secs": 10}
        }],
        "agents": [{
            "dn": "101",
            "name": "Anna Meyer",
            "queues": ["800"],
            "shift": {"login": "08:00", "logout": "16:30"},
            "breaks": {"probabilityAfterCall": 0.1, "duration": {"kind": "uniform", "minSecs": 60, "maxSecs": 300}},
            "answer": {"delay": {"kind": "fixed", "secs": 3}, "missProbability": 0.05}
        }],
        "callers": {"trunkDn": "10000", "trunkName": "Trunk", "numberPrefix": "+49", "numberDigits": 6, "poolSize": 1000}
    })
}

/// Sets the value at a JSON pointer, creating the last key if its parent exists.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    match doc.pointer_mut(parent).expect("parent exists") {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("index")] = value,
        other => panic!("cannot set {key} in {other}"),
    }
}

#[test]
fn the_base_document_and_the_default_scenario_are_valid() {
    let config = SimConfig::from_json(&base().to_string()).expect("valid");
    assert_eq!(config.agents[0].queues, vec!["800".to_string()]);
    SimConfig::default().validate().expect("default scenario is valid");
}

#[test]
fn optional_fields_take_defaults() {
    let minimal = json!({"queues": [{"dn": "800", "name": "Sales", "arrivalsPerHour": [12]}]});
    let config = SimConfig::from_json(&minimal.to_string()).expect("valid");
    assert_eq!(config.queues[0].ring_timeout_secs, 20);
    assert!(config.agents.is_empty());
}

#[test]
fn the_default_scenario_round_trips_through_json() {
    let config = SimConfig::default();
    let text = serde_json::to_string(&config).expect("serialises");
    assert_eq!(SimConfig::from_json(&text).expect("valid"), config);
}

#[test]
fn each_invalid_setting_is_reported_at_its_path() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/queues", json!([]), "queues"),
        ("/queues/0/dn", json!(""), "queues[0].dn"),
        ("/queues/0/dn", json!("10000"), "queues[0].dn"),
        ("/queues/0/name", json!("  "), "queues[0].name"),
        ("/queues/0/ringTimeoutSecs", json!(0), "queues[0].ringTimeoutSecs"),
        ("/queues/0/arrivalsPerHour", json!([1, 2, 3, 4, 5, 6, 7]), "queues[0].arrivalsPerHour"),
        ("/queues/0/arrivalsPerHour", json!([]), "queues[0].arrivalsPerHour"),
        ("/queues/0/arrivalsPerHour/2", json!(-1), "queues[0].arrivalsPerHour[2]"),
        ("/queues/0/patience", json!({"kind": "uniform", "minSecs": 5, "maxSecs": 1}), "queues[0].patience"),
        ("/queues/0/talk", json!({"kind": "exponential", "meanSecs": 0}), "queues[0].talk"),
        ("/queues/0/wrapUp", json!({"kind": "fixed", "secs": -3}), "queues[0].wrapUp"),
        (
            "/queues/0/overflow",
            json!({"afterSecs": 0, "destinationDn": "899", "destinationName": "VM"}),
            "queues[0].overflow.afterSecs",
        ),
        (
            "/queues/0/overflow",
            json!({"afterSecs": 60, "destinationDn": "8 9", "destinationName": "VM"}),
            "queues[0].overflow.destinationDn",
        ),
        ("/agents/0/dn", json!("800"), "agents[0].dn"),
        ("/agents/0/name", json!(""), "agents[0].name"),
        ("/agents/0/queues/0", json!("801"), "agents[0].queues[0]"),
        ("/agents/0/queues", json!(["800", "800"]), "agents[0].queues[1]"),
        ("/agents/0/shift/login", json!("25:00"), "agents[0].shift.login"),
        ("/agents/0/shift/logout", json!("8:00"), "agents[0].shift.logout"),
        ("/agents/0/shift/logout", json!("08:00"), "agents[0].shift.logout"),
        ("/agents/0/breaks/probabilityAfterCall", json!(1.5), "agents[0].breaks.probabilityAfterCall"),
        (
            "/agents/0/breaks/duration",
            json!({"kind": "lognormal", "meanSecs": 0, "sdSecs": 1}),
            "agents[0].breaks.duration",
        ),
        ("/agents/0/answer/missProbability", json!(-0.1), "agents[0].answer.missProbability"),
        ("/callers/poolSize", json!(0), "callers.poolSize"),
        ("/callers/poolSize", json!(10_000_000), "callers.poolSize"),
        ("/callers/numberDigits", json!(13), "callers.numberDigits"),
        ("/callers/trunkDn", json!("101"), "agents[0].dn"),
        ("/utcOffsetMinutes", json!(900), "utcOffsetMinutes"),
        // Shape errors come from the parser and name the document.
        ("/queues/0/colour", json!("red"), "$"),
        ("/queues/0/strategy", json!("random"), "$"),
        ("/queues/0/talk", json!({"kind": "gamma", "meanSecs": 3}), "$"),
        ("/agents/0/shift", json!({"login": "08:00"}), "$"),
    ];
    for (pointer, value, expected_path) in cases {
        let mut doc = base();
        set(&mut doc, pointer, value.clone());
        let error = SimConfig::from_json(&doc.to_string()).expect_err(&format!("{pointer} = {value} accepted"));
        assert_eq!(error.path, expected_path, "{pointer} = {value}: {error}");
        assert!(!error.message.is_empty());
    }
}

#[test]
fn a_simulation_refuses_an_invalid_configuration() {
    let mut config = SimConfig::default();
    config.agents[3].queues.push("999".into());
    let error = lineup_pbx_sim::model::Simulation::new(config, 1, chrono::DateTime::UNIX_EPOCH).expect_err("invalid");
    assert_eq!(error.to_string(), "agents[3].queues[2]: unknown queue \"999\"");
}
