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
//! * every SQS message ever sent comes back visible, including those already
//!   consumed and deleted (at-least-once redelivery on a large scale: the
//!   consumers must find them finished and do nothing), and messages that
//!   SQS's redrive had moved to the leads DLQ go back to their source queue
//!   (a redrive is no `SendMessage`); the deliveries DLQ is rebuilt, since
//!   `deliver` parks dead deliveries there with `SendMessage`.
//!
//! The server is the local stack's patched moto (`leadpipe-local`,
//! `local/src/moto.py`): atomic transactions (without the lock, moto's
//! TransactWriteItems can wipe other threads' writes, which would show up
//! here as losses that are moto's, not Leadpipe's), and neither transactions
//! nor receives that slow down as the table and queues grow.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leadpipe_local::Emulator;
use serde_json::Value;

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
        let emulator = Emulator::start_recording("127.0.0.1", port, Some(recording))?;
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
