//! The example receivers in `examples/receivers/` (Node and Python, each
//! with its ecosystem's Standard Webhooks library) receive a real delivery
//! from the pipeline and verify both signatures; a forged request is
//! refused. Their dependencies are installed from the package registries
//! into a cache (`~/.cache/leadpipe-receivers`) on first use.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use base64::Engine;
use leadpipe_tests::{TestStack, leadpipe};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cache() -> PathBuf {
    std::env::var("LEADPIPE_RECEIVERS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()))
                .join(".cache/leadpipe-receivers")
        })
}

fn have(cmd: &str) -> bool {
    std::process::Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A receiver process and every JSON line it printed.
struct Receiver {
    /// Killed when the receiver is dropped.
    _child: tokio::process::Child,
    lines: Arc<Mutex<Vec<Value>>>,
    port: u16,
}

impl Receiver {
    async fn start(mut cmd: tokio::process::Command, secret: &str) -> Self {
        let mut child = cmd
            .env("LEADPIPE_SECRET", secret)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the receiver starts");
        let stdout = child.stdout.take().expect("piped");
        let lines: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        let kept = lines.clone();
        tokio::spawn(async move {
            let mut port_tx = Some(port_tx);
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(p) = v["listening"].as_u64()
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(p as u16);
                    continue;
                }
                kept.lock().unwrap().push(v);
            }
        });
        let port = tokio::time::timeout(std::time::Duration::from_secs(20), port_rx)
            .await
            .expect("the receiver listens within 20 s")
            .expect("the receiver printed its port");
        Receiver {
            _child: child,
            lines,
            port,
        }
    }

    fn seen(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }
}

/// A delivery from the pipeline verifies; a forged one is refused.
async fn receives_and_verifies(receiver: Receiver, secret: &str) {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let url = format!("http://127.0.0.1:{}/hook", receiver.port);
    let s = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": url, "secret": secret})),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text());
    let (key, token) = t.create_key(json!({"name": "receiver test"})).await;
    t.post_lead(
        &key,
        &token,
        json!({"email": "receiver@example.com", "name": "Rita Receiver"}),
    )
    .await;
    t.process_queue().await;
    t.deliver_queue().await;
    let d = t.admin("GET", "/v1/deliveries", None).await.json();
    assert_eq!(d["items"][0]["status"], "delivered", "{d}");
    // A request with a body changed after signing is refused.
    let forged = reqwest::Client::new()
        .post(&url)
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", leadpipe::rules::clock::now_ms() / 1000)
        .header("webhook-signature", "v1,AAAA")
        .header("x-leadpipe-signature", "sha256=00")
        .body(r#"{"type":"lead.created"}"#)
        .send()
        .await
        .expect("the receiver answers");
    assert_eq!(forged.status().as_u16(), 401);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["verified"], true, "{seen:?}");
    assert_eq!(seen[0]["standard"], true);
    assert_eq!(seen[0]["leadpipe"], true);
    assert_eq!(seen[0]["type"], "lead.created");
    assert!(seen[0]["webhookId"].as_str().unwrap().starts_with("dlv_"));
    assert_eq!(seen[1]["verified"], false);
    drop(receiver);
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    leadpipe::rules::crypto::fill_random(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Copies `files` of an example into `dir`.
fn copy(example: &str, files: &[&str], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in files {
        std::fs::copy(
            repo().join("examples/receivers").join(example).join(f),
            dir.join(f),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn node_receiver_verifies_a_delivery() {
    if !have("node") || !have("npm") {
        eprintln!(
            "\n!!!!!!!! node or npm missing: the Node receiver example is not run !!!!!!!!\n"
        );
        return;
    }
    let dir = cache().join("node");
    copy("node", &["package.json", "server.mjs"], &dir);
    if !dir.join("node_modules/standardwebhooks").exists() {
        run(std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir));
    }
    let secret = new_secret();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("server.mjs").current_dir(&dir);
    receives_and_verifies(Receiver::start(cmd, &secret).await, &secret).await;
}

#[tokio::test]
async fn python_receiver_verifies_a_delivery() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !have(&python) {
        eprintln!("\n!!!!!!!! python3 missing: the Python receiver example is not run !!!!!!!!\n");
        return;
    }
    let dir = cache().join("python");
    copy("python", &["requirements.txt", "receiver.py"], &dir);
    let venv = dir.join("venv");
    let venv_python = venv.join("bin/python");
    if !venv_python.exists() {
        run(std::process::Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv));
    }
    let ready = std::process::Command::new(&venv_python)
        .args(["-c", "import standardwebhooks"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        run(std::process::Command::new(&venv_python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(dir.join("requirements.txt")));
    }
    let secret = new_secret();
    let mut cmd = tokio::process::Command::new(&venv_python);
    cmd.arg("receiver.py").current_dir(&dir);
    receives_and_verifies(Receiver::start(cmd, &secret).await, &secret).await;
}
