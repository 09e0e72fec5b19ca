//! The fault proxy between Leadpipe and the AWS emulator.
//!
//! Every AWS call of the local stack goes through here (its
//! `AWS_ENDPOINT_URL` points at the proxy). The operation is read from the
//! `x-amz-target` header (`DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`
//! — aws-sdk-sqs 1.119 speaks SQS's JSON protocol — `secretsmanager.GetSecretValue`)
//! and a configurable share of calls is answered with a fault instead:
//!
//! * before forwarding (nothing applied): a throttling error in the
//!   service's own shape, a `TransactionCanceledException` with a
//!   `TransactionConflict` reason (TransactWriteItems only), an HTTP 500, a
//!   connection reset, or added latency;
//! * after forwarding (the call *was* applied, the answer is lost): a 500 or
//!   a reset — how a real timeout looks to the caller.
//!
//! An outage closes the listening socket (connection refused) and fails the
//! calls on connections that were already open, until it ends.
//!
//! `receive_visibility` optionally adds a `VisibilityTimeout` to every
//! `ReceiveMessage` that has none: the short run scales the queues' 180 s
//! visibility timeout down so that messages held by a killed runner come
//! back within the run (see README "make chaos").

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a forwarded call may wait for the emulator.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(20);

/// Shares of calls (0.0–1.0) that get each fault. Checked in this order,
/// each on the calls the previous ones left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRates {
    pub throttle: f64,
    /// Of TransactWriteItems calls only.
    pub tx_conflict: f64,
    pub error_500: f64,
    pub reset: f64,
    pub after_500: f64,
    pub after_reset: f64,
    pub latency: f64,
    /// Added latency, uniformly in this range (milliseconds).
    pub latency_ms: (u64, u64),
}

impl FaultRates {
    pub const NONE: FaultRates = FaultRates {
        throttle: 0.0,
        tx_conflict: 0.0,
        error_500: 0.0,
        reset: 0.0,
        after_500: 0.0,
        after_reset: 0.0,
        latency: 0.0,
        latency_ms: (0, 0),
    };
}

/// What the proxy did to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Throttle,
    TxConflict,
    Error500,
    Reset,
    After500,
    AfterReset,
    Latency(u64),
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::TxConflict => "transaction_conflict",
            Fault::Error500 => "http_500",
            Fault::Reset => "reset",
            Fault::After500 => "http_500_after_forward",
            Fault::AfterReset => "reset_after_forward",
            Fault::Latency(_) => "latency",
        }
    }
}

struct State {
    upstream: Mutex<String>,
    rates: Mutex<FaultRates>,
    outage: watch::Sender<bool>,
    /// `kind` → count, and `kind service.Operation` → count.
    counts: Mutex<BTreeMap<String, u64>>,
    by_op: Mutex<BTreeMap<String, u64>>,
    forwarded: Mutex<u64>,
    in_flight: Mutex<BTreeMap<String, i64>>,
    refused_in_outage: Mutex<u64>,
    receive_visibility: Option<i64>,
    client: reqwest::Client,
    stopped: AtomicBool,
}

/// A running proxy. Cheap to clone.
#[derive(Clone)]
pub struct Proxy {
    state: Arc<State>,
    pub addr: SocketAddr,
}

type Reply = Result<hyper::Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>>;

impl Proxy {
    /// Binds 127.0.0.1 on a free port and forwards to `upstream`
    /// (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str, receive_visibility: Option<i64>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (outage, _) = watch::channel(false);
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(State {
            upstream: Mutex::new(upstream.trim_end_matches('/').to_owned()),
            rates: Mutex::new(FaultRates::NONE),
            outage,
            counts: Mutex::new(BTreeMap::new()),
            by_op: Mutex::new(BTreeMap::new()),
            forwarded: Mutex::new(0),
            in_flight: Mutex::new(BTreeMap::new()),
            refused_in_outage: Mutex::new(0),
            receive_visibility,
            client,
            stopped: AtomicBool::new(false),
        });
        tokio::spawn(accept_loop(state.clone(), listener, addr));
        Ok(Proxy { state, addr })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_rates(&self, rates: FaultRates) {
        *lock(&self.state.rates) = rates;
    }

    /// Starts or ends an outage: connections refused, open ones failed.
    pub fn set_outage(&self, on: bool) {
        self.state.outage.send_replace(on);
    }

    /// Injected faults by kind, and by kind and operation.
    pub fn counts(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        (
            lock(&self.state.counts).clone(),
            lock(&self.state.by_op).clone(),
        )
    }

    pub fn forwarded(&self) -> u64 {
        *lock(&self.state.forwarded)
    }

    /// Calls waiting for the emulator now, by operation.
    pub fn in_flight(&self) -> BTreeMap<String, i64> {
        lock(&self.state.in_flight)
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn failed_in_outage(&self) -> u64 {
        *lock(&self.state.refused_in_outage)
    }

    pub fn stop(&self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.state.outage.send_replace(true);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(state: Arc<State>, listener: TcpListener, addr: SocketAddr) {
    let mut listener = Some(listener);
    let mut outage = state.outage.subscribe();
    loop {
        if state.stopped.load(Ordering::SeqCst) {
            return;
        }
        if *outage.borrow_and_update() {
            // Close the socket: new connections are refused.
            listener = None;
            if outage.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = listener.as_ref() else {
            // Back from an outage: listen on the same port again.
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            continue;
        };
        tokio::select! {
            _ = outage.changed() => {}
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

fn choose(rates: &FaultRates, op: &str) -> Option<Fault> {
    let roll = |p: f64| p > 0.0 && fastrand::f64() < p;
    if roll(rates.throttle) {
        return Some(Fault::Throttle);
    }
    if op == "DynamoDB_20120810.TransactWriteItems" && roll(rates.tx_conflict) {
        return Some(Fault::TxConflict);
    }
    if roll(rates.error_500) {
        return Some(Fault::Error500);
    }
    if roll(rates.reset) {
        return Some(Fault::Reset);
    }
    if roll(rates.after_500) {
        return Some(Fault::After500);
    }
    if roll(rates.after_reset) {
        return Some(Fault::AfterReset);
    }
    if roll(rates.latency) {
        let (lo, hi) = rates.latency_ms;
        return Some(Fault::Latency(fastrand::u64(lo..=hi.max(lo))));
    }
    None
}

fn count(state: &State, fault: Fault, op: &str) {
    *lock(&state.counts)
        .entry(fault.name().to_owned())
        .or_default() += 1;
    *lock(&state.by_op)
        .entry(format!("{} {op}", fault.name()))
        .or_default() += 1;
}

async fn handle(state: Arc<State>, req: hyper::Request<Incoming>) -> Reply {
    if *state.outage.borrow() {
        *lock(&state.refused_in_outage) += 1;
        return Err("emulator outage".into());
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let fault = if op.is_empty() {
        None
    } else {
        choose(&lock(&state.rates), &op)
    };
    if let Some(f) = fault {
        count(&state, f, &op);
    }
    match fault {
        Some(Fault::Throttle) => return Ok(throttle(&op)),
        Some(Fault::TxConflict) => return Ok(tx_conflict(&body)),
        Some(Fault::Error500) => return Ok(internal_error()),
        Some(Fault::Reset) => return Err("injected reset".into()),
        Some(Fault::Latency(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        _ => {}
    }
    let body = match (&state.receive_visibility, op.as_str()) {
        (Some(v), "AmazonSQS.ReceiveMessage") => with_visibility(body, *v),
        _ => body,
    };
    let upstream = lock(&state.upstream).clone();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forward = state
        .client
        .request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            forward = forward.header(name, value);
        }
    }
    *lock(&state.in_flight).entry(op.clone()).or_default() += 1;
    let result = async {
        let resp = forward.body(body).timeout(UPSTREAM_TIMEOUT).send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, bytes))
    }
    .await;
    *lock(&state.in_flight).entry(op.clone()).or_default() -= 1;
    let (status, headers, bytes) = match result {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            // The emulator never answered: a real endpoint does not hang
            // for ever, and the SDK clients have no timeout of their own.
            *lock(&state.counts)
                .entry("emulator_hung_500".to_owned())
                .or_default() += 1;
            return Ok(internal_error());
        }
        Err(e) => return Err(e.into()),
    };
    *lock(&state.forwarded) += 1;
    match fault {
        Some(Fault::After500) => return Ok(internal_error()),
        Some(Fault::AfterReset) => return Err("injected reset after forwarding".into()),
        _ => {}
    }
    let mut out = hyper::Response::new(Full::new(bytes));
    *out.status_mut() = status;
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            out.headers_mut().append(name, value.clone());
        }
    }
    Ok(out)
}

fn with_visibility(body: Bytes, seconds: i64) -> Bytes {
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut m)) if !m.contains_key("VisibilityTimeout") => {
            m.insert("VisibilityTimeout".into(), json!(seconds));
            Bytes::from(Value::Object(m).to_string())
        }
        _ => body,
    }
}

fn json_reply(status: u16, headers: &[(&str, &str)], body: Value) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "chaos-proxy");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// The throttling error of the service that owns `op`.
fn throttle(op: &str) -> hyper::Response<Full<Bytes>> {
    if op.starts_with("DynamoDB_") {
        json_reply(
            400,
            &[],
            json!({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                   "message": "Rate of requests exceeds the allowed throughput. (chaos proxy)"}),
        )
    } else if op.starts_with("AmazonSQS.") {
        // SQS's JSON protocol is query-compatible: the SDK reads the code
        // from x-amzn-query-error.
        json_reply(
            400,
            &[("x-amzn-query-error", "RequestThrottled;Sender")],
            json!({"__type": "com.amazonaws.sqs#RequestThrottled",
                   "message": "Request is throttled. (chaos proxy)"}),
        )
    } else {
        json_reply(
            400,
            &[],
            json!({"__type": "ThrottlingException", "message": "Rate exceeded (chaos proxy)"}),
        )
    }
}

/// A TransactionCanceledException whose reasons name one item as in
/// conflict (one reason per item of the request, as DynamoDB answers).
fn tx_conflict(request: &[u8]) -> hyper::Response<Full<Bytes>> {
    let items = serde_json::from_slice::<Value>(request)
        .ok()
        .and_then(|v| v["TransactItems"].as_array().map(Vec::len))
        .unwrap_or(1)
        .max(1);
    let hit = fastrand::usize(0..items);
    let reasons: Vec<Value> = (0..items)
        .map(|i| {
            if i == hit {
                json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
            } else {
                json!({"Code": "None"})
            }
        })
        .collect();
    let codes: Vec<&str> = (0..items)
        .map(|i| {
            if i == hit {
                "TransactionConflict"
            } else {
                "None"
            }
        })
        .collect();
    json_reply(
        400,
        &[],
        json!({"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
               "message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
               "CancellationReasons": reasons}),
    )
}

fn internal_error() -> hyper::Response<Full<Bytes>> {
    json_reply(
        500,
        &[],
        json!({"__type": "InternalFailure", "message": "injected internal error (chaos proxy)"}),
    )
}
