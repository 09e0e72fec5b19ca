#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `leadpipe` binary against the local stack (`make dev`'s, over real
//! HTTP, on 127.0.0.1): login, keys, a lead found, the CSV export, `tail`
//! showing a new event, and `listen` forwarding a delivery that the
//! `standardwebhooks` crate verifies.

use std::process::Stdio;
use std::time::Duration;

use leadpipe_local::{LocalStack, Options};
use leadpipe_tests::leadpipe_local::bootstrap::SecretOverrides;
use leadpipe_tests::{ScriptedServer, endpoint, unique_stack};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const ADMIN: &str = "adm_cli_test_0123456789abcdef";

struct Env {
    base: String,
    config: std::path::PathBuf,
    demo_key: String,
    demo_token: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn stack() -> Env {
    let endpoint = tokio::task::spawn_blocking(endpoint).await.unwrap();
    let opts = Options {
        addr: "127.0.0.1:0".into(),
        endpoint: Some(endpoint),
        emulator_port: 0,
        stack: unique_stack(),
        secret: SecretOverrides {
            admin_token: Some(ADMIN.into()),
            ..SecretOverrides::default()
        },
        env: Vec::new(),
        state: None,
    };
    let stack = LocalStack::start(opts).await.expect("local stack");
    let (base, demo_key, demo_token) = (
        stack.base_url.clone(),
        stack.demo_key_id.clone(),
        stack.demo_token.clone(),
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(stack.serve(async {
        let _ = rx.await;
    }));
    let dir = std::env::temp_dir().join(format!("leadpipe-cli-{}", unique_stack()));
    Env {
        base,
        config: dir.join("config.json"),
        demo_key,
        demo_token,
        _stop: tx,
    }
}

impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadpipe"));
        c.args(args)
            .env("LEADPIPE_CONFIG", &self.config)
            .env_remove("LEADPIPE_URL")
            .env_remove("LEADPIPE_TOKEN")
            .env_remove("LEADPIPE_WORKSPACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// Runs to the end: exit code, stdout, stderr.
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn json(&self, args: &[&str]) -> Value {
        let (code, out, err) = self.run(args).await;
        assert_eq!(code, 0, "{args:?}: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    async fn login(&self) {
        let mut child = self
            .cmd(&["login", "--url", &self.base, "--token-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{ADMIN}\n").as_bytes())
            .await
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn post_lead(&self, key: &str, token: &str, email: &str) -> String {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/hooks/{key}", self.base))
            .header("X-Webhook-Token", token)
            .header("Origin", "https://www.example.com")
            .json(&json!({"name": "Alex Customer", "email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        body["eventId"].as_str().unwrap().to_owned()
    }
}

fn term(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Reads JSON lines until one satisfies `want` (or the time runs out).
async fn line_where(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    want: impl Fn(&Value) -> bool,
) -> Value {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("output ended");
            let v: Value = serde_json::from_str(&line).unwrap();
            if want(&v) {
                return v;
            }
        }
    })
    .await
    .expect("the line never came")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_keys_leads_export_and_exit_codes() {
    let env = stack().await;

    // Not configured: exit 3, and the message says what to do.
    let (code, _, err) = env.run(&["keys", "list"]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("leadpipe login"), "{err}");

    env.login().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env.config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let status = env.json(&["status", "--json"]).await;
    assert_eq!(status["authorized"], true);

    // A wrong token from the environment wins over the file: exit 3.
    let (code, _, err) = {
        let out = env
            .cmd(&["keys", "list", "--json"])
            .env("LEADPIPE_TOKEN", "adm_wrong")
            .output()
            .await
            .unwrap();
        (
            out.status.code().unwrap(),
            String::new(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, 3);
    let e: Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(e["error"]["code"], "unauthorized");

    // A key, created and listed.
    let key = env
        .json(&[
            "keys",
            "create",
            "--name",
            "Landing",
            "--domain",
            "*.example.com",
            "--tag",
            "cli",
            "--json",
        ])
        .await;
    let (key_id, token) = (
        key["id"].as_str().unwrap().to_owned(),
        key["token"].as_str().unwrap().to_owned(),
    );
    assert!(token.starts_with("wh_"));
    let keys = env.json(&["keys", "list", "--json"]).await;
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == key_id.as_str())
    );
    // The table: no colour off a terminal.
    let (code, table, _) = env.run(&["keys", "list"]).await;
    assert_eq!(code, 0);
    assert!(
        table.starts_with("ID  ") && table.contains(&key_id),
        "{table}"
    );
    assert!(!table.contains('\x1b'));

    // A lead, found by email in another case.
    let event = env.post_lead(&key_id, &token, "cli.lead@example.com").await;
    let mut found = Value::Null;
    for _ in 0..100 {
        let page = env
            .json(&["leads", "list", "--email", "CLI.Lead@example.com", "--json"])
            .await;
        if let Some(l) = page["items"].as_array().and_then(|a| a.first()) {
            found = l.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(found["email"], "cli.lead@example.com", "lead never found");
    assert!(found["tags"].as_array().unwrap().contains(&json!("cli")));
    let shown = env.json(&["events", "show", &event, "--json"]).await;
    assert_eq!(shown["leadId"], found["id"]);

    // The export, to a file.
    let csv = env.config.with_file_name("leads.csv");
    let summary = env
        .json(&[
            "leads",
            "export",
            "--output",
            csv.to_str().unwrap(),
            "--json",
        ])
        .await;
    assert_eq!(summary["leads"], 1);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("id,email,"), "{text}");
    assert!(text.contains("cli.lead@example.com"));

    // Exit codes scripts can trust.
    let (code, _, _) = env
        .run(&["events", "show", "evt_00000000000000000000000000"])
        .await;
    assert_eq!(code, 4, "unknown event");
    let (code, _, err) = env.run(&["events", "show", "not-an-id"]).await;
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = env
        .run(&["keys", "create", "--name", "x", "--domain", "not a domain"])
        .await;
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = env.run(&["no-such-command"]).await;
    assert_eq!(code, 2);

    env.run(&["logout"]).await;
    assert!(!env.config.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_shows_a_new_event() {
    let env = stack().await;
    env.login().await;
    let mut child = env
        .cmd(&["tail", "--json", "--interval", "0.3"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    line_where(&mut lines, |v| v["type"] == "ready").await;
    let event = env
        .post_lead(&env.demo_key, &env.demo_token, "tail@example.com")
        .await;
    let seen = line_where(&mut lines, |v| {
        v["type"] == "event" && v["event"]["id"] == event.as_str()
    })
    .await;
    assert!(seen["event"]["status"].is_string());
    term(&child);
    let status = child.wait().await.unwrap();
    assert!(status.success(), "tail ends cleanly on SIGTERM: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_forwards_a_delivery_that_verifies() {
    let env = stack().await;
    env.login().await;
    let receiver = ScriptedServer::start().await;
    receiver.script("/hooks", &[(200, "{\"ok\":true}")]);
    let target = format!("{}/hooks", receiver.base_url);
    let mut child = env
        .cmd(&[
            "listen",
            "--forward-to",
            &target,
            "--name",
            "laptop",
            "--json",
        ])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = line_where(&mut lines, |v| v["type"] == "ready").await;
    let secret = ready["secret"].as_str().unwrap().to_owned();
    let listener = ready["listenerId"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));

    env.post_lead(&env.demo_key, &env.demo_token, "listen@example.com")
        .await;
    let fwd = line_where(&mut lines, |v| v["type"] == "forward").await;
    assert_eq!(fwd["statusCode"], 200);
    assert_eq!(fwd["eventType"], "lead.created");

    let got = receiver.requests_to("/hooks");
    assert_eq!(got.len(), 1);
    let req = &got[0];
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&req.body, &req.headers)
        .expect("the standardwebhooks crate verifies the forward");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["lead"]["email"], "listen@example.com");
    assert_eq!(req.headers["x-leadpipe-event"], "lead.created");
    assert_eq!(req.headers["x-leadpipe-attempt"], "1");
    let delivery = req.headers["webhook-id"].to_str().unwrap().to_owned();
    let mac = {
        use base64::Engine;
        use hmac::Mac;
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.trim_start_matches("whsec_"))
            .unwrap();
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        m.update(&req.body);
        m.finalize().into_bytes()
    };
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        req.headers["x-leadpipe-signature"].to_str().unwrap(),
        format!("sha256={hex}")
    );

    // The attempt is recorded as the receiver answered it.
    let mut shown = Value::Null;
    for _ in 0..50 {
        shown = env.json(&["deliveries", "show", &delivery, "--json"]).await;
        if shown["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["status"], "delivered");
    assert_eq!(shown["attempts"][0]["statusCode"], 200);

    // Stopping removes the listener.
    term(&child);
    let stopped = line_where(&mut lines, |v| v["type"] == "stopped").await;
    assert_eq!(stopped["listenerId"], listener.as_str());
    assert!(child.wait().await.unwrap().success());
    let (code, _, _) = env.run(&["destinations", "get", &listener]).await;
    assert_eq!(code, 4, "the listener is gone");
}
