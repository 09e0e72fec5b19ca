//! Webhook receivers (the subscriptions' targets), and the switchable HTTP
//! endpoint they share with the Graph stand-in.
//!
//! An [`Endpoint`] listens on a fixed 127.0.0.1 port and can be switched
//! between healthy, refusing connections (the socket closed), answering 503
//! with `Retry-After`, and doing the work at once but answering only after
//! a delay past the sender's 10 s timeout. A [`Receiver`] records every request by its `webhook-id`:
//! the body it carried (one webhook-id with two different bodies is an
//! error), whether its Standard Webhooks signature verifies with the
//! subscription's secret (refused 401 when not), whether the receiver acted
//! on it (a 2xx, in time or too late for the sender), and every request for
//! a webhook-id it had already acted on (a duplicate, in every mode); and
//! which webhook-ids carried the same news (lead, type, changes): more
//! than one is a duplicate too.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How an endpoint behaves now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Healthy,
    /// The listening socket is closed: connection refused.
    Refused,
    /// 503 with `Retry-After: seconds`.
    Unavailable {
        retry_after: u64,
    },
    /// The answer comes after `seconds` (past the caller's timeout).
    Slow {
        seconds: u64,
    },
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Healthy => "healthy",
            Mode::Refused => "refused",
            Mode::Unavailable { .. } => "unavailable_503",
            Mode::Slow { .. } => "slow",
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A request as the endpoint's handler sees it.
pub struct Request {
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

pub type Answer = (u16, Vec<(String, String)>, Bytes);
type Handler =
    Arc<dyn Fn(Request, Mode) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// A switchable HTTP endpoint on 127.0.0.1.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Requests met in each mode (`refused` counts nothing: no request).
    pub(crate) by_mode: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Endpoint {
    /// Listens on a free port; `handler` answers requests in healthy mode
    /// (the others are answered here).
    pub async fn start(handler: Handler) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(Mode::Healthy);
        let ep = Endpoint {
            addr,
            mode,
            by_mode: Arc::new(Mutex::new(BTreeMap::new())),
        };
        tokio::spawn(accept_loop(ep.clone(), listener, handler));
        Ok(ep)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.by_mode).clone()
    }
}

async fn accept_loop(ep: Endpoint, listener: TcpListener, handler: Handler) {
    let mut listener = Some(listener);
    let mut mode = ep.mode.subscribe();
    loop {
        if *mode.borrow_and_update() == Mode::Refused {
            listener = None;
            *lock(&ep.by_mode)
                .entry("refused_periods".into())
                .or_default() += 1;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = listener.as_ref() else {
            match TcpListener::bind(ep.addr).await {
                Ok(l) => listener = Some(l),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            continue;
        };
        tokio::select! {
            _ = mode.changed() => {}
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let ep = ep.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve(ep.clone(), handler.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn serve(
    ep: Endpoint,
    handler: Handler,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let mode = ep.mode();
    *lock(&ep.by_mode).entry(mode.name().into()).or_default() += 1;
    if mode == Mode::Refused {
        // A connection accepted just before the switch: cut it.
        return Err("refused".into());
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let request = Request {
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or("/".into(), |p| p.as_str().to_owned()),
        headers: parts.headers,
        body,
    };
    let (status, headers, body) = match mode {
        Mode::Unavailable { retry_after } => (
            503,
            vec![("retry-after".to_owned(), retry_after.to_string())],
            Bytes::from_static(b"{\"error\":\"down for maintenance (chaos)\"}"),
        ),
        // The work is done at once, the answer comes late: the sender has
        // timed out (and may have hung up) by then.
        Mode::Slow { seconds } => {
            let answer = handler(request, mode).await;
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            answer
        }
        _ => handler(request, mode).await,
    };
    let mut resp = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    Ok(resp.body(Full::new(body))?)
}

/// What a receiver saw of one webhook-id.
#[derive(Debug, Clone)]
pub struct Seen {
    pub body_sha: [u8; 32],
    pub lead_id: Option<String>,
    /// The lead's address, as the body carries it.
    pub email: Option<String>,
    pub event_type: Option<String>,
    /// What makes two bodies of one lead and type one piece of news (the
    /// `changes` of a `lead.updated`): two webhook-ids for the same news
    /// are a duplicate.
    pub news: String,
    pub requests: u32,
    /// Requests the receiver acted on: answered 2xx in time, or answered
    /// after the sender's timeout (the work was done all the same).
    pub processed: u32,
    pub processed_in_time: u32,
    pub other_bodies: u32,
    /// When each processing happened, and whether its answer was slow.
    pub processed_at: Vec<(Instant, bool)>,
}

/// A request for a webhook-id the receiver had already acted on.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub webhook_id: String,
    pub lead_id: Option<String>,
    /// Every earlier processing of it was answered too late for the sender.
    pub after_slow_only: bool,
    /// The last earlier processing, and this one.
    pub previous: Instant,
    pub at: Instant,
}

#[derive(Default)]
struct Book {
    seen: HashMap<String, Seen>,
    duplicates: Vec<Duplicate>,
    no_id: u64,
    bad_signature: u64,
    random_500: u64,
}

/// A webhook receiver.
#[derive(Clone)]
pub struct Receiver {
    pub name: String,
    pub endpoint: Endpoint,
    book: Arc<Mutex<Book>>,
    secret: Arc<Mutex<Option<Vec<u8>>>>,
}

/// A receiver's record at the end.
#[derive(Debug, Clone, Default)]
pub struct ReceiverReport {
    pub requests: u64,
    pub distinct_ids: usize,
    /// Webhook-ids acted on at least once.
    pub received_ids: usize,
    /// Requests for a webhook-id already acted on, in any mode.
    pub duplicates: Vec<Duplicate>,
    /// (lead, event type, news) acted on under more than one webhook-id:
    /// the extra ids.
    pub extra_ids: Vec<String>,
    pub conflicting_bodies: u64,
    pub bad_signatures: u64,
    pub missing_id: u64,
    pub random_500: u64,
    pub slow_processed: u64,
    /// lead id → webhook-ids of its `lead.created` acted on.
    pub received_leads: HashMap<String, Vec<String>>,
}

impl Receiver {
    /// Starts a receiver that answers 500 to a `error_share` of requests
    /// even when healthy.
    pub async fn start(name: &str, error_share: f64) -> std::io::Result<Self> {
        let book = Arc::new(Mutex::new(Book::default()));
        let secret: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
        let (b, s) = (book.clone(), secret.clone());
        let handler: Handler = Arc::new(move |req, mode| {
            let (b, s) = (b.clone(), s.clone());
            Box::pin(async move { receive(&b, &s, req, mode, error_share) })
        });
        let endpoint = Endpoint::start(handler).await?;
        Ok(Receiver {
            name: name.to_owned(),
            endpoint,
            book,
            secret,
        })
    }

    /// The subscription's `whsec_…` secret, to verify signatures.
    pub fn set_secret(&self, whsec: &str) {
        let key = whsec
            .strip_prefix("whsec_")
            .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok());
        *lock(&self.secret) = key;
    }

    /// Every webhook-id acted on: its lead's address, its type and when
    /// each copy arrived (the load run's end-to-end latency).
    pub fn arrivals(&self) -> Vec<Seen> {
        let book = lock(&self.book);
        book.seen.values().cloned().collect()
    }

    pub fn report(&self) -> ReceiverReport {
        let book = lock(&self.book);
        let mut r = ReceiverReport {
            distinct_ids: book.seen.len(),
            bad_signatures: book.bad_signature,
            missing_id: book.no_id,
            random_500: book.random_500,
            duplicates: book.duplicates.clone(),
            ..ReceiverReport::default()
        };
        let mut by_news: HashMap<(String, String, String), Vec<&String>> = HashMap::new();
        for (id, s) in &book.seen {
            r.requests += u64::from(s.requests);
            r.conflicting_bodies += u64::from(s.other_bodies);
            r.slow_processed += s.processed_at.iter().filter(|(_, slow)| *slow).count() as u64;
            if s.processed == 0 {
                continue;
            }
            r.received_ids += 1;
            if let (Some(lead), Some(kind)) = (&s.lead_id, &s.event_type) {
                by_news
                    .entry((lead.clone(), kind.clone(), s.news.clone()))
                    .or_default()
                    .push(id);
                if kind == "lead.created" {
                    r.received_leads
                        .entry(lead.clone())
                        .or_default()
                        .push(id.clone());
                }
            }
        }
        for mut ids in by_news.into_values().filter(|v| v.len() > 1) {
            ids.sort();
            r.extra_ids.extend(ids.into_iter().skip(1).cloned());
        }
        r
    }
}

fn receive(
    book: &Mutex<Book>,
    secret: &Mutex<Option<Vec<u8>>>,
    req: Request,
    mode: Mode,
    error_share: f64,
) -> Answer {
    let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok());
    let Some(id) = header("webhook-id").map(str::to_owned) else {
        lock(book).no_id += 1;
        return (
            400,
            vec![],
            Bytes::from_static(b"{\"error\":\"no webhook-id\"}"),
        );
    };
    let signed = match (
        &*lock(secret),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) {
        (Some(key), Some(ts), Some(sig)) => verify(key, &id, ts, &req.body, sig),
        _ => false,
    };
    let sha: [u8; 32] = Sha256::digest(&req.body).into();
    let parsed = serde_json::from_slice::<Value>(&req.body).ok();
    let field = |f: &dyn Fn(&Value) -> Option<String>| parsed.as_ref().and_then(f);
    let lead_id = field(&|v| v["lead"]["id"].as_str().map(str::to_owned));
    let event_type = field(&|v| v["type"].as_str().map(str::to_owned));
    let news = field(&|v| v.get("changes").map(Value::to_string)).unwrap_or_default();
    // A bad signature is refused (401): the receiver does not act on it.
    // A random 500 is refused before any work. Healthy and slow answers
    // both act on the request: a slow one's 200 comes after the sender's
    // timeout, so the sender sends it again — a duplicate all the same.
    let fail = mode == Mode::Healthy && error_share > 0.0 && fastrand::f64() < error_share;
    let mut book = lock(book);
    if !signed {
        book.bad_signature += 1;
    }
    if fail {
        book.random_500 += 1;
    }
    let entry = book.seen.entry(id.clone()).or_insert_with(|| Seen {
        body_sha: sha,
        lead_id: lead_id.clone(),
        email: field(&|v| v["lead"]["email"].as_str().map(str::to_owned)),
        event_type,
        news,
        requests: 0,
        processed: 0,
        processed_in_time: 0,
        other_bodies: 0,
        processed_at: Vec::new(),
    });
    entry.requests += 1;
    if entry.body_sha != sha {
        entry.other_bodies += 1;
    }
    if !signed {
        return (
            401,
            vec![],
            Bytes::from_static(b"{\"error\":\"bad signature\"}"),
        );
    }
    if fail {
        return (
            500,
            vec![],
            Bytes::from_static(b"{\"error\":\"random failure (chaos)\"}"),
        );
    }
    let slow = matches!(mode, Mode::Slow { .. });
    let now = Instant::now();
    let duplicate = entry.processed_at.last().map(|(prev, _)| Duplicate {
        webhook_id: id,
        lead_id,
        after_slow_only: entry.processed_in_time == 0,
        previous: *prev,
        at: now,
    });
    entry.processed += 1;
    if !slow {
        entry.processed_in_time += 1;
    }
    entry.processed_at.push((now, slow));
    if let Some(d) = duplicate {
        book.duplicates.push(d);
    }
    (200, vec![], Bytes::from_static(b"{\"ok\":true}"))
}

/// Standard Webhooks: `v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`,
/// several space-separated.
fn verify(key: &[u8], id: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

#[cfg(test)]
#[path = "receivers_tests.rs"]
mod tests;
