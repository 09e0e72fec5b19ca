//! The traffic: N leads through `POST /v1/hooks/{keyId}` and signed Meta
//! notifications, paced over the fault window, each retried the way its real
//! sender would: a hooks client resends with the same `Idempotency-Key`
//! (CONTRACT §3: a repeat returns the first answer and creates nothing new;
//! 409 means the first is still in progress), Meta resends the same
//! notification until it gets a 200. 5xx, 429, 409 and no answer at all are
//! retried until the request's deadline; other 4xx are final.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::receivers::lock;

/// What to send and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub run: String,
    pub base_url: String,
    pub key_id: String,
    pub key_token: String,
    pub meta_app_secret: String,
    /// Leads in all (hooks + Meta leadgens).
    pub leads: usize,
    /// Share of the leads sent as Meta leadgens.
    pub meta_share: f64,
    /// Share of hook requests that repeat an earlier lead's email.
    pub duplicate_share: f64,
    /// The sends are spread evenly over this time.
    pub spread: Duration,
    pub concurrency: usize,
    /// A request is given up after this long without a 2xx.
    pub give_up_after: Duration,
    /// Units not yet started this long after the first are not sent (a
    /// load run's duration when the stack cannot keep up with its rate).
    pub stop_after: Option<Duration>,
}

/// One hook request and what became of it.
#[derive(Debug, Clone)]
pub struct HookSend {
    pub seq: usize,
    pub email: String,
    pub duplicate_of: Option<usize>,
    pub event_id: Option<String>,
    pub attempts: u32,
    pub last_answer: String,
    /// When its first attempt left, and when its 2xx came back (the load
    /// run's accept latency; retries included).
    pub first_sent: Option<Instant>,
    pub accepted_at: Option<Instant>,
}

/// One Meta notification (one or more leadgens) and what became of it.
#[derive(Debug, Clone)]
pub struct MetaSend {
    pub leadgen_ids: Vec<String>,
    pub accepted: bool,
    pub attempts: u32,
    pub last_answer: String,
    /// The answer's `duplicates` count on the 200 (leadgens it said it had
    /// seen before).
    pub said_duplicates: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Sent {
    pub hooks: Vec<HookSend>,
    pub metas: Vec<MetaSend>,
    /// Answers by kind (`202`, `500`, `no answer`…) over every attempt.
    pub answers: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Sent {
    pub fn accepted_hooks(&self) -> impl Iterator<Item = &HookSend> {
        self.hooks.iter().filter(|h| h.event_id.is_some())
    }
    pub fn accepted_leadgens(&self) -> impl Iterator<Item = &String> {
        self.metas
            .iter()
            .filter(|m| m.accepted)
            .flat_map(|m| m.leadgen_ids.iter())
    }
}

enum Unit {
    Hook {
        seq: usize,
        duplicate_of: Option<usize>,
    },
    Meta {
        ids: Vec<String>,
    },
}

/// Builds the units: hooks and Meta notifications of 1–4 leadgens, mixed.
fn units(plan: &Plan) -> Vec<Unit> {
    let meta_leads = (plan.leads as f64 * plan.meta_share).round() as usize;
    let hook_leads = plan.leads - meta_leads;
    let mut out = Vec::new();
    for seq in 0..hook_leads {
        let duplicate_of =
            (seq > 10 && fastrand::f64() < plan.duplicate_share).then(|| fastrand::usize(0..seq));
        out.push(Unit::Hook { seq, duplicate_of });
    }
    let mut next = 0usize;
    while next < meta_leads {
        let n = fastrand::usize(1..=4).min(meta_leads - next);
        // Ids past 2^53, as Meta's are.
        let ids = (next..next + n)
            .map(|i| (9_007_199_254_740_993u64 + (i as u64) * 7919).to_string())
            .collect();
        out.push(Unit::Meta { ids });
        next += n;
    }
    fastrand::shuffle(&mut out);
    out
}

pub fn hook_email(run: &str, seq: usize) -> String {
    format!("hook-{seq}-{run}@chaos.example.com")
}

/// Sends everything; returns when every unit is accepted or given up.
pub async fn drive(plan: Plan) -> Sent {
    let started = Instant::now();
    let units = units(&plan);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(plan.concurrency)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    let answers = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let gap = plan.spread.as_secs_f64() / units.len().max(1) as f64;
    let plan = Arc::new(plan);
    let results: Vec<Result<HookSend, MetaSend>> =
        futures::stream::iter(units.into_iter().enumerate())
            .map(|(i, unit)| {
                let (client, plan, answers) = (client.clone(), plan.clone(), answers.clone());
                async move {
                    // Pace: unit i leaves no earlier than i × gap.
                    let at = started + Duration::from_secs_f64(gap * i as f64);
                    tokio::time::sleep_until(at.into()).await;
                    if plan.stop_after.is_some_and(|d| started.elapsed() > d) {
                        return Ok(unsent(&plan, i));
                    }
                    match unit {
                        Unit::Hook { seq, duplicate_of } => {
                            Ok(send_hook(&client, &plan, &answers, seq, duplicate_of).await)
                        }
                        Unit::Meta { ids } => Err(send_meta(&client, &plan, &answers, ids).await),
                    }
                }
            })
            .buffer_unordered(plan.concurrency)
            .collect()
            .await;
    let mut sent = Sent {
        answers: lock(&answers).clone(),
        elapsed: started.elapsed(),
        ..Sent::default()
    };
    for r in results {
        match r {
            Ok(h) => sent.hooks.push(h),
            Err(m) => sent.metas.push(m),
        }
    }
    sent.hooks.sort_by_key(|h| h.seq);
    sent
}

/// A hook never sent (past [`Plan::stop_after`]).
fn unsent(plan: &Plan, seq: usize) -> HookSend {
    HookSend {
        seq,
        email: hook_email(&plan.run, seq),
        duplicate_of: None,
        event_id: None,
        attempts: 0,
        last_answer: "not sent (past the run's duration)".into(),
        first_sent: None,
        accepted_at: None,
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = 250u64.saturating_mul(1 << attempt.min(5)).min(4000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

fn retryable(status: u16) -> bool {
    status >= 500 || status == 429 || status == 409 || status == 408
}

async fn send_hook(
    client: &reqwest::Client,
    plan: &Plan,
    answers: &Mutex<BTreeMap<String, u64>>,
    seq: usize,
    duplicate_of: Option<usize>,
) -> HookSend {
    let email = hook_email(&plan.run, duplicate_of.unwrap_or(seq));
    let body = json!({
        "email": email,
        "name": format!("Chaos Lead{seq}"),
        "tags": ["chaos"],
        "seq": seq.to_string(),
    })
    .to_string();
    let url = format!("{}/v1/hooks/{}", plan.base_url, plan.key_id);
    let idem = format!("{}-hook-{seq}", plan.run);
    let deadline = Instant::now() + plan.give_up_after;
    let mut out = HookSend {
        seq,
        email,
        duplicate_of,
        event_id: None,
        attempts: 0,
        last_answer: String::new(),
        first_sent: None,
        accepted_at: None,
    };
    loop {
        out.attempts += 1;
        out.first_sent.get_or_insert_with(Instant::now);
        let left = deadline.saturating_duration_since(Instant::now());
        let result = client
            .post(&url)
            .timeout(left.clamp(Duration::from_secs(1), Duration::from_secs(10)))
            .header("content-type", "application/json")
            .header("x-webhook-token", &plan.key_token)
            .header("idempotency-key", &idem)
            .body(body.clone())
            .send()
            .await;
        let (answer, retry) = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                if (200..300).contains(&status) {
                    out.accepted_at = Some(Instant::now());
                    out.event_id = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["eventId"].as_str().map(str::to_owned));
                    out.last_answer = format!("{status} {text}");
                    *lock(answers).entry(status.to_string()).or_default() += 1;
                    return out;
                }
                (
                    format!("{status} {}", text.chars().take(200).collect::<String>()),
                    retryable(status),
                )
            }
            Err(e) => (
                format!(
                    "no answer ({})",
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "connection"
                    }
                ),
                true,
            ),
        };
        let kind = answer
            .split(' ')
            .take(if answer.starts_with("no") { 3 } else { 1 })
            .collect::<Vec<_>>()
            .join(" ");
        *lock(answers).entry(kind).or_default() += 1;
        out.last_answer = answer;
        let pause = backoff(out.attempts);
        if !retry || Instant::now() + pause > deadline {
            return out;
        }
        tokio::time::sleep(pause).await;
    }
}

fn meta_body(ids: &[String]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Half the ids as JSON numbers (beyond 2^53), half as strings.
    let changes: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let leadgen_id = match id.parse::<u64>() {
                Ok(n) if i % 2 == 0 => json!(n),
                _ => json!(id),
            };
            json!({"field": "leadgen", "value": {
                "leadgen_id": leadgen_id, "page_id": "112233445566778", "form_id": "998877665544",
                "ad_id": "1200000000000001", "created_time": now}})
        })
        .collect();
    json!({"object": "page", "entry": [{"id": "112233445566778", "time": now, "changes": changes}]})
        .to_string()
}

pub fn meta_signature(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn send_meta(
    client: &reqwest::Client,
    plan: &Plan,
    answers: &Mutex<BTreeMap<String, u64>>,
    ids: Vec<String>,
) -> MetaSend {
    let body = meta_body(&ids);
    let signature = meta_signature(&plan.meta_app_secret, body.as_bytes());
    let url = format!("{}/v1/providers/meta/webhook", plan.base_url);
    let deadline = Instant::now() + plan.give_up_after;
    let mut out = MetaSend {
        leadgen_ids: ids,
        accepted: false,
        attempts: 0,
        last_answer: String::new(),
        said_duplicates: 0,
    };
    loop {
        out.attempts += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let result = client
            .post(&url)
            .timeout(left.clamp(Duration::from_secs(1), Duration::from_secs(10)))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signature)
            .body(body.clone())
            .send()
            .await;
        let (answer, retry) = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                if status == 200 {
                    out.accepted = true;
                    out.said_duplicates = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["duplicates"].as_u64())
                        .unwrap_or(0);
                    out.last_answer = format!("{status} {text}");
                    *lock(answers).entry("meta 200".into()).or_default() += 1;
                    return out;
                }
                (
                    format!("{status} {}", text.chars().take(200).collect::<String>()),
                    retryable(status) || status >= 400,
                )
            }
            Err(e) => (
                format!(
                    "no answer ({})",
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "connection"
                    }
                ),
                true,
            ),
        };
        let kind = answer
            .split(' ')
            .take(if answer.starts_with("no") { 3 } else { 1 })
            .collect::<Vec<_>>()
            .join(" ");
        *lock(answers).entry(format!("meta {kind}")).or_default() += 1;
        out.last_answer = answer;
        // Meta retries every non-200 answer.
        let pause = backoff(out.attempts);
        if !retry || Instant::now() + pause > deadline {
            return out;
        }
        tokio::time::sleep(pause).await;
    }
}
