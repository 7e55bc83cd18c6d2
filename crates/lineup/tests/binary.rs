//! The `lineup` binary as an operator runs it: `serve`, `migrate` and `demo` as real processes
//! on loopback, over SQLite and PostgreSQL, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn temp_db() -> String {
    let dir = std::env::temp_dir().join(format!("lineup-bin-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}", dir.join("lineup.db").display())
}

fn pg_url() -> String {
    std::env::var("LINEUP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/lineup_test".into())
}

fn lineup(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lineup"));
    cmd.args(args).env_remove("LINEUP_DATABASE_URL").env_remove("LINEUP_LISTEN").env("RUST_LOG", "warn");
    cmd
}

struct Running {
    child: Child,
    base: String,
}

impl Running {
    fn start(cmd: &mut Command, port: u16) -> Running {
        let child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        Running { child, base: format!("http://127.0.0.1:{port}") }
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} never became ready", self.base);
    }

    /// Sends SIGTERM and expects a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(Instant::now() < deadline, "did not shut down after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn post(base: &str, path: &str, body: Value) -> Value {
    let res = reqwest::Client::new().post(format!("{base}/api/v1{path}")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "POST {path}");
    res.json().await.unwrap()
}

async fn get(base: &str, path: &str) -> Value {
    let res = reqwest::get(format!("{base}/api/v1{path}")).await.unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

async fn serve_keeps_data_across_restarts(db: &str) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let first = Running::start(&mut lineup(&["serve", "--database-url", db, "--listen", &listen]), port);
    first.wait_ready().await;
    let health: Value = reqwest::get(format!("{}/healthz", first.base)).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let template = post(&first.base, "/templates", json!({"name": "T", "statuses": [{"label": "Waiting"}]})).await;
    let queue = post(&first.base, "/queues", json!({"name": "Persisted", "templateId": template["id"]})).await;
    first.stop();

    let second = Running::start(&mut lineup(&["serve", "--database-url", db, "--listen", &listen]), port);
    second.wait_ready().await;
    let again = get(&second.base, &format!("/queues/{}", queue["id"].as_str().unwrap())).await;
    assert_eq!(again, queue);
    second.stop();
}

#[tokio::test]
async fn serve_on_sqlite_keeps_data_across_restarts_and_stops_cleanly() {
    serve_keeps_data_across_restarts(&temp_db()).await;
}

#[tokio::test]
async fn serve_on_postgres_keeps_data_across_restarts_and_stops_cleanly() {
    serve_keeps_data_across_restarts(&pg_url()).await;
}

#[test]
fn migrate_applies_migrations_on_both_backends_and_is_idempotent() {
    for db in [temp_db(), pg_url()] {
        for _ in 0..2 {
            let out = lineup(&["migrate", "--database-url", &db]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn an_unsupported_database_url_is_a_clear_error() {
    let out = lineup(&["migrate", "--database-url", "mysql://x/y"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

#[tokio::test]
async fn demo_prints_its_url_and_login_and_generates_traffic() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut running =
        Running::start(lineup(&["demo", "--listen", &listen]).env("LINEUP_DATABASE_URL", temp_db()), port);
    let stdout = running.child.stdout.take().unwrap();
    let banner = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.contains("Login:");
            lines.push(line);
            if done {
                break;
            }
        }
        lines.join("\n")
    });
    running.wait_ready().await;
    let banner = banner.join().unwrap();
    assert!(banner.contains(&format!("http://127.0.0.1:{port}/api/v1/queues")), "{banner}");
    assert!(banner.contains("Login:"), "{banner}");
    let queues = get(&running.base, "/queues").await;
    let names: Vec<&str> = queues["items"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Support line", "Sales line", "Front desk"]);
    // The traffic generator adds an item every two seconds, round-robin over the queues.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut total = 0;
    while Instant::now() < deadline && total < 3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        total = 0;
        for q in queues["items"].as_array().unwrap() {
            let sessions = get(&running.base, &format!("/queues/{}/sessions", q["id"].as_str().unwrap())).await;
            for s in sessions["items"].as_array().unwrap() {
                let items = get(&running.base, &format!("/sessions/{}/items", s["id"].as_str().unwrap())).await;
                total += items["items"].as_array().unwrap().len();
            }
        }
    }
    assert!(total >= 3, "the demo generated {total} items in 20 s");
    running.stop();
}
