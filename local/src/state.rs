//! What `make dev` keeps between runs (`target/dev/` by default,
//! `LEADPIPE_DEV_STATE` to move it, `off` to keep nothing; `make dev-reset`
//! deletes it): both secrets (so the admin token, the data key that seals
//! the keys' tokens and the Meta secrets stay the same) and every item of
//! the table. Only when `make dev` starts the emulator itself: one given by
//! `AWS_ENDPOINT_URL` keeps its own state.
//!
//! Saved every [`SAVE_EVERY`] while running and once more at Ctrl-C, each
//! time to a new file renamed over the old one (a crash mid-save leaves
//! the previous save). Queue messages are not kept: at start the sweeper
//! queues again the events still `RECEIVED` and the deliveries still
//! pending, as it does on AWS after a lost message. Files are 0600: the
//! secrets file holds the admin token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use serde_json::Value;

use crate::bootstrap::{Stack, StackNames};

/// How often a running stack saves.
pub const SAVE_EVERY: Duration = Duration::from_secs(10);

const SECRETS: &str = "secrets.json";
const TABLE: &str = "table.jsonl";

/// Where the state is kept.
#[derive(Debug, Clone)]
pub struct DevState {
    pub dir: PathBuf,
}

impl DevState {
    /// `LEADPIPE_DEV_STATE` (default `target/dev`); `off` keeps nothing.
    pub fn from_env() -> Option<Self> {
        match std::env::var("LEADPIPE_DEV_STATE") {
            Ok(v) if v.trim() == "off" => None,
            Ok(v) if !v.trim().is_empty() => Some(DevState {
                dir: PathBuf::from(v.trim()),
            }),
            _ => Some(DevState {
                dir: PathBuf::from("target/dev"),
            }),
        }
    }

    /// Whether anything was saved before.
    pub fn exists(&self) -> bool {
        self.dir.join(SECRETS).is_file()
    }

    /// Creates the saved secrets, before the bootstrap reads them.
    pub async fn restore_secrets(&self, sdk: &SdkConfig, names: &StackNames) -> Result<(), String> {
        let path = self.dir.join(SECRETS);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let saved: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON ({e}): run make dev-reset", path.display()))?;
        let sm = aws_sdk_secretsmanager::Client::new(sdk);
        for (name, key) in [
            (names.secret(), "deployment"),
            (names.admin_secret(), "admin"),
        ] {
            let Some(value) = saved.get(key).filter(|v| v.is_object()) else {
                continue;
            };
            sm.create_secret()
                .name(&name)
                .secret_string(value.to_string())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "restore {name}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                    )
                })?;
        }
        Ok(())
    }

    /// Writes the saved items back into the (new, empty) table; how many.
    pub async fn restore_table(&self, sdk: &SdkConfig, table: &str) -> Result<usize, String> {
        let path = self.dir.join(TABLE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(0);
        };
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let mut items = Vec::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let mut value: Value = serde_json::from_str(line).map_err(|e| {
                format!(
                    "{} line {}: {e} (make dev-reset starts clean)",
                    path.display(),
                    n + 1
                )
            })?;
            // The queues start empty: events still RECEIVED are put where
            // the sweeper looks for them whatever its cursor says.
            leadpipe::model::events::restored(&mut value);
            items.push(leadpipe::aws::store::to_item(&value).map_err(|e| e.to_string())?);
        }
        let count = items.len();
        for chunk in items.chunks(25) {
            let mut writes: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build())
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<_, _>>()?;
            while !writes.is_empty() {
                let out = ddb
                    .batch_write_item()
                    .request_items(table, writes)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "restore the table: {}",
                            aws_sdk_dynamodb::error::DisplayErrorContext(e)
                        )
                    })?;
                writes = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
            }
        }
        Ok(count)
    }

    /// Saves both secrets and every item; how many items.
    pub async fn save(&self, sdk: &SdkConfig, stack: &Stack) -> Result<usize, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let sm = aws_sdk_secretsmanager::Client::new(sdk);
        let mut secrets = serde_json::Map::new();
        for (id, key) in [
            (&stack.secret_id, "deployment"),
            (&stack.admin_secret_id, "admin"),
        ] {
            let out = sm
                .get_secret_value()
                .secret_id(id)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "read {id}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                    )
                })?;
            let value: Value = serde_json::from_str(out.secret_string().unwrap_or("null"))
                .map_err(|e| format!("{id} is not JSON: {e}"))?;
            secrets.insert(key.into(), value);
        }
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        let mut lines = String::new();
        let mut count = 0;
        let mut start = None;
        loop {
            let out = ddb
                .scan()
                .table_name(&stack.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| {
                    format!("scan: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))
                })?;
            for item in out.items.unwrap_or_default() {
                let value: Value =
                    leadpipe::aws::store::from_item(item).map_err(|e| e.to_string())?;
                lines.push_str(&value.to_string());
                lines.push('\n');
                count += 1;
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        write_private(&self.dir.join(TABLE), lines.as_bytes())?;
        write_private(
            &self.dir.join(SECRETS),
            Value::Object(secrets).to_string().as_bytes(),
        )?;
        Ok(count)
    }
}

/// Writes `bytes` to a new file readable by its owner only, then renames
/// it over `path`.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
