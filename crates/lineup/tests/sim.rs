//! `lineup sim` as an operator runs it: a real process on loopback that prints where it listens
//! and its credentials, issues a token, lists queues, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn sim_serves_tokens_and_queues_and_stops_on_sigterm() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lineup"))
        .args(["sim", "--listen", &listen, "--seed", "7", "--time-scale", "120", "--client-secret", "test-secret"])
        .env_remove("LINEUP_LISTEN")
        .env_remove("LINEUP_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut banner = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..5 {
        banner.push(lines.next().expect("a banner line").unwrap());
    }
    let base = format!("http://{listen}");
    assert_eq!(banner[0], format!("3CX simulator listening on {base}"));
    assert!(banner.iter().any(|l| l.contains("client id:") && l.contains("lineup-sim")), "{banner:?}");
    assert!(banner.iter().any(|l| l.contains("client secret:") && l.contains("test-secret")), "{banner:?}");

    let http = reqwest::Client::new();
    let form = [("client_id", "lineup-sim"), ("client_secret", "test-secret"), ("grant_type", "client_credentials")];
    let token: Value =
        http.post(format!("{base}/connect/token")).form(&form).send().await.unwrap().json().await.unwrap();
    let token = token["access_token"].as_str().expect("a token").to_string();
    let queues = http.get(format!("{base}/xapi/v1/Queues")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(queues.status(), 200);
    let queues: Value = queues.json().await.unwrap();
    let numbers: Vec<&str> = queues["value"].as_array().unwrap().iter().filter_map(|q| q["Number"].as_str()).collect();
    assert_eq!(numbers, ["800", "801", "802", "803", "804"]);
    let wrong = [("client_id", "lineup-sim"), ("client_secret", "nope"), ("grant_type", "client_credentials")];
    let refused = http.post(format!("{base}/connect/token")).form(&wrong).send().await.unwrap();
    assert_eq!(refused.status(), 400);

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
