//! What the reckoning reads: the admin API (events, leads, deliveries,
//! and the operator's redrive), and the queues straight from the emulator.

use std::collections::HashMap;
use std::time::Duration;

use leadpipe::App;
use serde_json::{Value, json};

/// The admin API of the stack.
pub struct Admin {
    pub base_url: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Admin {
    pub fn new(base_url: &str, token: &str) -> Self {
        Admin {
            base_url: base_url.to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| format!("{path}: {e}"))?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Every item of a list, page by page (retrying a page a few times).
    pub async fn all(&self, path: &str) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
                None => format!("{path}{sep}limit=200"),
            };
            let mut page = None;
            let mut last = String::new();
            for _ in 0..5 {
                match self.call(reqwest::Method::GET, &url, None).await {
                    Ok((200, v)) => {
                        page = Some(v);
                        break;
                    }
                    Ok((s, v)) => last = format!("{url}: HTTP {s} {v}"),
                    Err(e) => last = e,
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let page = page.ok_or(last)?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["nextCursor"].as_str() {
                Some(c) if !c.is_empty() => {
                    cursor = Some(
                        c.bytes()
                            .map(|b| match b {
                                b'A'..=b'Z'
                                | b'a'..=b'z'
                                | b'0'..=b'9'
                                | b'-'
                                | b'_'
                                | b'.'
                                | b'~' => (b as char).to_string(),
                                _ => format!("%{b:02X}"),
                            })
                            .collect(),
                    )
                }
                _ => return Ok(items),
            }
        }
    }
}

/// Message bodies of a queue, read without deleting them (hidden for the
/// rest of the run).
pub async fn peek_queue(app: &App, url: &str) -> Result<Vec<Value>, String> {
    let sqs = app.queue.client().await;
    let mut out = Vec::new();
    let mut empty = 0;
    let mut failures = 0;
    while empty < 2 {
        let got = match sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(900)
            .send()
            .await
        {
            Ok(r) => r.messages.unwrap_or_default(),
            // A busy emulator: try again a few times.
            Err(_) if failures < 5 => {
                failures += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "ReceiveMessage {url}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                ));
            }
        };
        if got.is_empty() {
            empty += 1;
            continue;
        }
        for m in got {
            out.push(
                m.body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null),
            );
        }
    }
    Ok(out)
}

/// What the queues held at the end.
#[derive(Debug, Default, Clone)]
pub struct Queues {
    pub leads: Vec<Value>,
    pub leads_dlq: Vec<Value>,
    pub deliveries: Vec<Value>,
    pub deliveries_dlq: Vec<Value>,
}

/// The admin API's view, read while the stack runs.
#[derive(Debug, Default)]
pub struct Views {
    pub events: Vec<Value>,
    pub leads: Vec<Value>,
    /// subscription id → its deliveries.
    pub deliveries: HashMap<String, Vec<Value>>,
}

pub async fn read_views(admin: &Admin, subscription_ids: &[String]) -> Result<Views, String> {
    let mut v = Views {
        events: admin.all("/v1/events").await?,
        leads: admin.all("/v1/leads").await?,
        ..Views::default()
    };
    for s in subscription_ids {
        v.deliveries.insert(
            s.clone(),
            admin
                .all(&format!("/v1/deliveries?subscriptionId={s}"))
                .await?,
        );
    }
    Ok(v)
}

/// What the harness did as the operator: dead deliveries retried one by
/// one (`POST /v1/deliveries/{id}/retry`) and the DLQs redriven
/// (`POST /v1/dlq/redrive`).
#[derive(Debug, Default, Clone)]
pub struct Operator {
    /// Deliveries that were dead when the operator acted, by id.
    pub dead_seen: std::collections::HashSet<String>,
    pub retried: u64,
    pub retry_refused: u64,
    pub redrives: u64,
    pub moved_leads: u64,
    pub moved_deliveries: u64,
    pub dropped: u64,
}

impl Operator {
    /// One round: every dead delivery is noted; every other one (and any
    /// seen dead in an earlier round) retried by id, the rest (and the
    /// leads DLQ) moved back by a redrive. Returns how many were dead.
    pub async fn act(&mut self, admin: &Admin) -> Result<usize, String> {
        let dead = admin.all("/v1/deliveries?status=dead").await?;
        let mut by_id = false;
        for d in &dead {
            let Some(id) = d["id"].as_str() else { continue };
            // Dead again, or not moved by the last redrive (no message in
            // the DLQ): retried by id this time.
            let seen_before = !self.dead_seen.insert(id.to_owned());
            by_id = !by_id;
            if by_id || seen_before {
                match admin
                    .call(
                        reqwest::Method::POST,
                        &format!("/v1/deliveries/{id}/retry"),
                        None,
                    )
                    .await?
                {
                    (202, _) => self.retried += 1,
                    _ => self.retry_refused += 1,
                }
            }
        }
        let (status, moved) = admin
            .call(reqwest::Method::POST, "/v1/dlq/redrive", None)
            .await?;
        if status != 200 {
            return Err(format!("POST /v1/dlq/redrive answered {status}: {moved}"));
        }
        self.redrives += 1;
        self.moved_leads += moved["moved"]["leads"].as_u64().unwrap_or(0);
        self.moved_deliveries += moved["moved"]["deliveries"].as_u64().unwrap_or(0);
        self.dropped += moved["dropped"].as_u64().unwrap_or(0);
        Ok(dead.len())
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({"deadSeen": self.dead_seen.len(), "retriedById": self.retried,
            "retryRefused": self.retry_refused, "redrives": self.redrives,
            "movedLeads": self.moved_leads, "movedDeliveries": self.moved_deliveries,
            "droppedByRedrive": self.dropped})
    }
}

/// A webhook key named `name`: its id and its token.
pub async fn create_key(admin: &Admin, name: &str) -> Result<(String, String), String> {
    let (status, key) = admin
        .call(
            reqwest::Method::POST,
            "/v1/keys",
            Some(json!({"name": name})),
        )
        .await?;
    match (key["id"].as_str(), key["token"].as_str()) {
        (Some(id), Some(token)) => Ok((id.to_owned(), token.to_owned())),
        _ => Err(format!("POST /v1/keys answered {status}: {key}")),
    }
}

/// A webhook key and one subscription per receiver, through the admin
/// API: crm-a with an exponential schedule it outlasts (`maxAttempts`),
/// crm-b with a `retrySchedule` shorter than its long outage.
pub async fn setup(
    admin: &Admin,
    run_id: &str,
    receivers: &[crate::receivers::Receiver],
    cfg: &crate::Config,
) -> Result<(String, String, Vec<(String, crate::receivers::Receiver)>), String> {
    let (key_id, key_token) = create_key(admin, &format!("chaos {run_id}")).await?;
    let mut subscriptions = Vec::new();
    for (i, r) in receivers.iter().enumerate() {
        // crm-a: an exponential schedule it outlasts; crm-b: a schedule
        // shorter than its long outage.
        let retry = if i == 0 {
            json!({"maxAttempts": cfg.max_attempts})
        } else {
            json!({"retrySchedule": cfg.dying_schedule})
        };
        let mut body = json!({"url": format!("{}/hooks/{}", r.endpoint.url(), r.name), "events": ["*"],
                              "enabled": true});
        if let (Some(b), Some(extra)) = (body.as_object_mut(), retry.as_object()) {
            b.extend(extra.clone());
        }
        let (status, sub) = admin
            .call(reqwest::Method::POST, "/v1/subscriptions", Some(body))
            .await?;
        let (Some(id), Some(secret)) = (sub["id"].as_str(), sub["secret"].as_str()) else {
            return Err(format!("POST /v1/subscriptions answered {status}: {sub}"));
        };
        r.set_secret(secret);
        subscriptions.push((id.to_owned(), r.clone()));
    }
    Ok((key_id, key_token, subscriptions))
}
