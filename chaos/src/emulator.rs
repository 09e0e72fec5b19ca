//! The AWS emulator of the run: moto's server on a fixed port, restartable,
//! with its state carried across a restart by moto's recorder.
//!
//! moto keeps everything in memory. Its recorder (`/moto-api/recorder/…`)
//! logs every request it serves; after a restart the log is uploaded and
//! replayed, which rebuilds the state. Before the upload the log is cut down
//! to the calls that change state (DynamoDB writes, SQS sends and queue
//! settings, secret writes): replaying reads is useless, and replaying
//! `ReceiveMessage` would long-poll and bump receive counts, while a replayed
//! `DeleteMessage` cannot work (its receipt handle died with the old server).
//! What that means for the state, honestly:
//!
//! * DynamoDB comes back as it was (writes replay in the order moto logged
//!   them, which is the order it received them; two conditional writes on
//!   the same item that raced could in principle swap);
//! * SQS comes back with the messages alive at the restart and no other:
//!   the fault proxy keeps a ledger of every message sent and deleted
//!   ([`crate::proxy::Ledger`]), and the replay keeps only the sends of
//!   messages not yet deleted. What it cannot rebuild: a message in flight
//!   comes back visible at once with its receive count at zero (as after a
//!   visibility timeout, one receive earlier), and a message SQS's redrive
//!   had moved to the leads DLQ goes back to its source queue (a redrive is
//!   no `SendMessage`); the deliveries DLQ is rebuilt, since `deliver`
//!   parks dead deliveries there with `SendMessage`. The restart's entry in
//!   the summary says how many sends were replayed and how many were left
//!   out as deleted.
//!
//! The server is the local stack's patched moto (`leadpipe-local`,
//! `local/src/moto.py`): atomic transactions (without the lock, moto's
//! TransactWriteItems can wipe other threads' writes, which would show up
//! here as losses that are moto's, not Leadpipe's), and neither transactions
//! nor receives that slow down as the table and queues grow.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leadpipe_local::Emulator;
use serde_json::{Value, json};

use crate::proxy::Proxy;
use crate::secs;

/// Operations whose replay rebuilds the state.
const STATE_CHANGING: &[&str] = &[
    "DynamoDB_20120810.CreateTable",
    "DynamoDB_20120810.UpdateTable",
    "DynamoDB_20120810.UpdateTimeToLive",
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
    "DynamoDB_20120810.BatchWriteItem",
    "DynamoDB_20120810.TransactWriteItems",
    "AmazonSQS.CreateQueue",
    "AmazonSQS.SetQueueAttributes",
    "AmazonSQS.SendMessage",
    "AmazonSQS.SendMessageBatch",
    "secretsmanager.CreateSecret",
    "secretsmanager.PutSecretValue",
];

/// A running moto server.
pub struct Moto {
    pub port: u16,
    emulator: Emulator,
    http: reqwest::Client,
}

impl Moto {
    /// Starts moto on 127.0.0.1:`port`, its recorder logging to
    /// `recording`. Blocking (about a second).
    pub fn start(port: u16, recording: &Path) -> Result<Self, String> {
        Self::wrap(Emulator::start_recording(
            "127.0.0.1",
            port,
            Some(recording),
        )?)
    }

    /// [`Moto::start`] on a free port (the restart reuses it).
    pub fn start_on_free_port(recording: &Path) -> Result<Self, String> {
        Self::wrap(Emulator::start_on_free_port("127.0.0.1", Some(recording))?)
    }

    fn wrap(emulator: Emulator) -> Result<Self, String> {
        let port = emulator.port;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Moto {
            port,
            emulator,
            http,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn recorder(
        &self,
        method: reqwest::Method,
        action: &str,
        body: Option<String>,
    ) -> Result<String, String> {
        let mut req = self
            .http
            .request(method, format!("{}/moto-api/recorder/{action}", self.url()));
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("recorder {action}: {e}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("recorder {action}: {e}"))?;
        if !status.is_success() {
            return Err(format!("recorder {action}: HTTP {status}: {text}"));
        }
        Ok(text)
    }

    pub async fn start_recording(&self) -> Result<(), String> {
        self.recorder(reqwest::Method::POST, "start-recording", None)
            .await
            .map(|_| ())
    }

    pub async fn download_recording(&self) -> Result<String, String> {
        self.recorder(reqwest::Method::GET, "download-recording", None)
            .await
    }

    pub async fn upload_and_replay(&self, recording: String) -> Result<(), String> {
        self.recorder(reqwest::Method::POST, "upload-recording", Some(recording))
            .await?;
        self.recorder(reqwest::Method::POST, "replay-recording", None)
            .await
            .map(|_| ())
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(mut self) {
        self.emulator.kill();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.emulator.kill();
    }
}

/// What [`state_changing`] kept.
#[derive(Debug, Clone, Default)]
pub struct Filtered {
    pub text: String,
    pub kept: usize,
    pub dropped: usize,
}

/// The lines of a recording whose replay changes state.
pub fn state_changing(recording: &str) -> Filtered {
    let mut out = Filtered::default();
    for line in recording.lines().filter(|l| !l.trim().is_empty()) {
        let target = serde_json::from_str::<Value>(line).ok().and_then(|v| {
            v["headers"].as_object().and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned))
            })
        });
        if target.is_some_and(|t| STATE_CHANGING.contains(&t.as_str())) {
            out.text.push_str(line);
            out.text.push('\n');
            out.kept += 1;
        } else {
            out.dropped += 1;
        }
    }
    out
}

/// Waits until something listens on 127.0.0.1:`port` (or `timeout`).
pub fn wait_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Where the recorder of a run writes.
pub fn recording_path(dir: &Path) -> PathBuf {
    dir.join("moto-recording.jsonl")
}

/// Restarts moto on the same port and replays its recording, the proxy
/// refusing connections meanwhile. Says what happened (and why not, when it
/// could not).
pub async fn restart(
    moto: &mut Option<Moto>,
    port: u16,
    recording: &std::path::Path,
    proxy: &Proxy,
    log: &impl Fn(&str),
) -> Value {
    let began = Instant::now();
    proxy.set_outage(true);
    let Some(old) = moto.take() else {
        proxy.set_outage(false);
        return json!({"done": false, "why": "no emulator to restart"});
    };
    let text = match old.download_recording().await {
        Ok(t) => t,
        Err(e) => {
            // Without the recording a restart would wipe the state: keep
            // the old server and make it an outage only.
            let why = format!(
                "cannot download moto's recording ({e}): an outage of the endpoint instead of a restart"
            );
            log(&why);
            tokio::time::sleep(Duration::from_secs(3)).await;
            *moto = Some(old);
            proxy.set_outage(false);
            return json!({"done": false, "why": why, "outageSeconds": secs(began.elapsed())});
        }
    };
    let filtered = state_changing(&text);
    let _ = tokio::task::spawn_blocking(move || old.kill()).await;
    // The old server answers nothing more: the ledger is final.
    let replay = proxy.ledger(|l| l.filter_replay(&filtered.text));
    // Kept beside the run for whoever checks what the replay left out.
    if let Some(dir) = recording.parent() {
        let _ = std::fs::write(dir.join("moto-recording-before-restart.jsonl"), &text);
        let _ = std::fs::write(dir.join("moto-replay-after-filter.jsonl"), &replay.text);
        let alive = proxy.ledger(|l| l.alive_keys());
        let _ = std::fs::write(
            dir.join("sqs-ledger-at-restart.json"),
            serde_json::to_string_pretty(&alive).unwrap_or_default(),
        );
    }
    let live = proxy.ledger(|l| l.live_by_queue());
    let rec = recording.to_path_buf();
    let fresh = tokio::task::spawn_blocking(move || {
        // The old process may hold the port a moment.
        let mut last = String::new();
        for _ in 0..50 {
            match Moto::start(port, &rec) {
                Ok(m) => return Ok(m),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    })
    .await;
    let fresh = match fresh.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(m) => m,
        Err(e) => {
            let why = format!("moto did not start again: {e}");
            log(&why);
            proxy.set_outage(false);
            return json!({"done": false, "why": why});
        }
    };
    let replay_start = Instant::now();
    let (kept, dropped) = (replay.text.lines().count(), filtered.dropped);
    log(&format!(
        "emulator restarted; replaying {kept} state-changing calls ({dropped} reads/receives/deletes dropped; \
         SQS sends: {} of messages alive replayed, {} of messages already deleted left out)",
        replay.kept_sends, replay.dropped_sends
    ));
    let replayed = fresh.upload_and_replay(replay.text).await;
    let replay_s = secs(replay_start.elapsed());
    let recording_again = fresh.start_recording().await;
    *moto = Some(fresh);
    proxy.set_outage(false);
    let outage = secs(began.elapsed());
    match (replayed, recording_again) {
        (Ok(()), Ok(())) => {
            log(&format!(
                "replay done in {replay_s}s; endpoint back after {outage}s"
            ));
            json!({"done": true, "replayed": kept, "droppedFromReplay": dropped,
                   "sqsSendsReplayed": replay.kept_sends, "sqsSendsOfDeletedMessagesLeftOut": replay.dropped_sends,
                   "messagesAliveByQueue": live, "replaySeconds": replay_s, "outageSeconds": outage})
        }
        (a, b) => {
            let why = format!("replay failed: {:?} / {:?}", a.err(), b.err());
            log(&why);
            json!({"done": false, "why": why, "outageSeconds": outage})
        }
    }
}
