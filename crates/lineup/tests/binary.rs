//! The `lineup` binary as an operator runs it: `serve`, `migrate`, `admin` and `demo` as real
//! processes on loopback, over SQLite and PostgreSQL, stopped with SIGTERM.

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

async fn post(base: &str, token: &str, path: &str, body: Value) -> Value {
    let res = reqwest::Client::new().post(format!("{base}/api/v1{path}")).bearer_auth(token).json(&body).send();
    let res = res.await.unwrap();
    assert_eq!(res.status(), 201, "POST {path}");
    res.json().await.unwrap()
}

async fn get(base: &str, token: &str, path: &str) -> Value {
    let res = reqwest::Client::new().get(format!("{base}/api/v1{path}")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

/// Runs `lineup admin ...` on `db`; returns its standard output, failing on a non-zero exit.
fn admin(db: &str, args: &[&str]) -> String {
    let out = lineup(&[&["admin", "--database-url", db], args].concat()).output().unwrap();
    assert!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Creates a tenant with a fresh slug and an admin API key in it with the `admin` commands;
/// returns the key's secret.
fn tenant_with_admin_key(db: &str) -> String {
    let slug = format!("bin-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let created = admin(db, &["create-tenant", "--name", "Binary test", "--slug", &slug]);
    assert!(created.contains(&format!("tenant {slug} created")), "{created}");
    let key = admin(db, &["create-api-key", "--tenant", &slug, "--name", "ops", "--role", "admin"]);
    let secret = key.lines().last().unwrap().trim().to_string();
    assert!(secret.starts_with("lu_key_"), "{key}");
    secret
}

async fn serve_keeps_data_across_restarts(db: &str) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let first = Running::start(&mut lineup(&["serve", "--database-url", db, "--listen", &listen]), port);
    first.wait_ready().await;
    let token = tenant_with_admin_key(db);
    let health: Value = reqwest::get(format!("{}/healthz", first.base)).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let template =
        post(&first.base, &token, "/templates", json!({"name": "T", "statuses": [{"label": "Waiting"}]})).await;
    let queue = post(&first.base, &token, "/queues", json!({"name": "Persisted", "templateId": template["id"]})).await;
    first.stop();

    let second = Running::start(&mut lineup(&["serve", "--database-url", db, "--listen", &listen]), port);
    second.wait_ready().await;
    let again = get(&second.base, &token, &format!("/queues/{}", queue["id"].as_str().unwrap())).await;
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
    // Hands over the banner up to its login line, then keeps draining stdout: a closed pipe
    // would make the demo's next print fail.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.is_some() {
                let done = line.contains("Login:");
                lines.push(line);
                if done {
                    let _ = tx.take().unwrap().send(lines.join("\n"));
                }
            }
        }
    });
    running.wait_ready().await;
    let banner = rx.recv_timeout(Duration::from_secs(30)).expect("the demo prints its banner");
    assert!(banner.contains(&format!("http://127.0.0.1:{port}/api/v1/queues")), "{banner}");
    let password = banner.lines().find_map(|l| l.split("Login:").nth(1)).unwrap();
    let password = password.split_whitespace().nth(2).expect("Login: admin / <password>").to_string();
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", running.base))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "the printed login works");
    let login: Value = login.json().await.unwrap();
    let token = login["accessToken"].as_str().unwrap().to_string();
    assert_eq!(login["role"], "admin");
    let queues = get(&running.base, &token, "/queues").await;
    let names: Vec<&str> = queues["items"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Front desk", "Sales", "Support", "Billing", "Technical", "VIP"], "walk-in + the simulator's");
    // The demo's 3CX is connected and polled (how many calls arrive depends on the hour: the
    // simulator runs in real time with a daily traffic profile).
    let polled = async {
        for _ in 0..100 {
            let ready: Value = reqwest::get(format!("{}/readyz", running.base)).await.unwrap().json().await.unwrap();
            let workers = ready["workers"].as_array().cloned().unwrap_or_default();
            let poller = workers.iter().find(|w| w["name"].as_str().is_some_and(|n| n.starts_with("poller:")));
            if poller.is_some_and(|p| !p["lastSuccessAt"].is_null()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    };
    assert!(polled.await, "the demo polls its simulated 3CX");
    let metrics = reqwest::get(format!("{}/metrics", running.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("lineup_polls_total"), "{metrics}");
    // The walk-in traffic generator adds an item every two seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut total = 0;
    while Instant::now() < deadline && total < 3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        total = 0;
        for q in queues["items"].as_array().unwrap() {
            let sessions = get(&running.base, &token, &format!("/queues/{}/sessions", q["id"].as_str().unwrap())).await;
            for s in sessions["items"].as_array().unwrap() {
                let items = get(&running.base, &token, &format!("/sessions/{}/items", s["id"].as_str().unwrap())).await;
                total += items["items"].as_array().unwrap().len();
            }
        }
    }
    assert!(total >= 3, "the demo generated {total} items in 20 s");
    running.stop();
}

#[tokio::test]
async fn admin_commands_set_up_a_tenant_whose_users_and_keys_work() {
    let db = temp_db();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let out = admin(&db, &["create-tenant", "--name", "Acme", "--slug", "acme"]);
    assert!(out.contains("tenant acme created"), "{out}");
    let mut dup = lineup(&["admin", "--database-url", &db, "create-tenant", "--name", "Acme", "--slug", "acme"]);
    let dup = dup.output().unwrap();
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("slug is already taken"));
    // A generated password is printed once.
    let out = admin(
        &db,
        &[
            "create-user",
            "--tenant",
            "acme",
            "--username",
            "sam",
            "--email",
            "sam@acme.test",
            "--full-name",
            "Sam",
            "--role",
            "supervisor",
        ],
    );
    let password = out.rsplit("password: ").next().unwrap().trim().to_string();
    assert!(out.contains("user sam created in acme as supervisor") && password.len() >= 10, "{out}");
    let mut no_tenant = lineup(&[
        "admin",
        "--database-url",
        &db,
        "create-api-key",
        "--tenant",
        "nope",
        "--name",
        "k",
        "--role",
        "admin",
    ]);
    let no_tenant = no_tenant.output().unwrap();
    assert!(!no_tenant.status.success());
    assert!(String::from_utf8_lossy(&no_tenant.stderr).contains("no tenant with slug 'nope'"));
    let key = admin(&db, &["create-api-key", "--tenant", "acme", "--name", "CRM", "--role", "analyst"]);
    let key = key.lines().last().unwrap().trim().to_string();
    let secret = lineup(&["admin", "generate-secret-key", "--id", "k2"]).output().unwrap();
    assert!(String::from_utf8_lossy(&secret.stdout).starts_with("k2:"));

    let running = Running::start(&mut lineup(&["serve", "--database-url", &db, "--listen", &listen]), port);
    running.wait_ready().await;
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/v1/auth/login", running.base))
        .json(&json!({"username": "sam", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    let me = get(&running.base, login["accessToken"].as_str().unwrap(), "/me").await;
    assert_eq!((me["role"].as_str(), me["tenant"]["slug"].as_str()), (Some("supervisor"), Some("acme")));
    let me = get(&running.base, &key, "/me").await;
    assert_eq!((me["role"].as_str(), me["apiKey"]["name"].as_str()), (Some("analyst"), Some("CRM")));
    // An analyst key reads but does not manage.
    let refused = client.post(format!("{}/api/v1/queues", running.base)).bearer_auth(&key).json(&json!({})).send();
    assert_eq!(refused.await.unwrap().status(), 403);
    running.stop();
}
