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
//! The server is moto's `ThreadedMotoServer` with the same lock around table
//! operations as the local stack's emulator (`leadpipe-local`,
//! `local/src/emulator.rs`): without it moto's TransactWriteItems can wipe
//! other threads' writes, which would show up here as losses that are
//! moto's, not Leadpipe's. It also backs a transaction up by the items it
//! touches rather than by copying whole tables (see the script): moto's own
//! way costs O(table size) per TransactWriteItems and makes a 2,000-lead
//! run crawl.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SCRIPT: &str = r#"
import sys, threading
try:
    from moto.server import ThreadedMotoServer
    from moto.dynamodb.models import DynamoDBBackend
except ImportError:
    print("moto is not installed: pip install 'moto[server]'", flush=True)
    sys.exit(3)

_lock = threading.RLock()
def _serialised(name):
    original = getattr(DynamoDBBackend, name)
    def wrapper(self, *args, **kwargs):
        with _lock:
            return original(self, *args, **kwargs)
    setattr(DynamoDBBackend, name, wrapper)

# moto backs a transaction up by deep-copying the whole table once per item
# of the transaction: O(table size) per TransactWriteItems, which crawls once
# the table holds a few thousand items. Under the lock above nothing else
# writes meanwhile, so backing up the items the transaction touches is
# enough: the table copy becomes a no-op and a cancelled transaction puts
# back (or removes) exactly those items.
import copy as _copy
import moto.dynamodb.models as _models
from moto.dynamodb.models.table import Table as _Table
class _NoTableCopy:
    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, _Table) else _copy.deepcopy(x, memo)
_models.copy = _NoTableCopy
_original_tx = DynamoDBBackend.transact_write_items
def _tx(self, transact_items):
    backup = []
    for item in transact_items:
        try:
            op_type, op = next(iter(item.items()))
            name = op["TableName"]
            table = self.get_table(name)
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = self.get_item(name, key)
            backup.append((name, key, current.to_json()["Attributes"] if current else None))
        except Exception:
            pass
    try:
        return _original_tx(self, transact_items)
    except Exception:
        for name, key, attrs in reversed(backup):
            try:
                if attrs is None:
                    if self.get_item(name, key) is not None:
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attrs)
            except Exception:
                pass
        raise
DynamoDBBackend.transact_write_items = _tx

for _name in ("put_item", "get_item", "update_item", "delete_item", "query", "scan",
              "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item"):
    _serialised(_name)

server = ThreadedMotoServer(ip_address=sys.argv[1], port=int(sys.argv[2]), verbose=False)
server.start()
print("ready", flush=True)
sys.stdin.read()
server.stop()
"#;

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
    child: Child,
    http: reqwest::Client,
}

impl Moto {
    /// Starts moto on 127.0.0.1:`port`, its recorder logging to
    /// `recording`. Blocking (about a second).
    pub fn start(port: u16, recording: &Path) -> Result<Self, String> {
        let python = std::env::var("LEADPIPE_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(SCRIPT)
            .arg("127.0.0.1")
            .arg(port.to_string())
            .env("MOTO_RECORDER_FILEPATH", recording)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {python}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout from moto")?;
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|e| format!("moto did not start: {e}"))?;
        if first.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("moto did not start: {:?}", first.trim()));
        }
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Moto { port, child, http })
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
