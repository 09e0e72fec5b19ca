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
//! * lost answers aimed at conditional writes (a `ConditionExpression` on
//!   PutItem/UpdateItem/DeleteItem, or TransactWriteItems): the write is
//!   applied and the caller sees a 500; for a share of them the SDK's own
//!   retries of the same request fail too (before forwarding), so the
//!   error reaches Leadpipe's code with the write in place instead of the
//!   SDK's retry meeting the write as a failed condition. Counted by
//!   operation and item kind ([`Proxy::conditional`]).
//!
//! The proxy also keeps the SQS ledger ([`ledger`]): which messages are
//! alive, so an emulator restart replays only those.
//!
//! An outage closes the listening socket (connection refused) and fails the
//! calls on connections that were already open, until it ends.
//!
//! `receive_visibility` optionally adds a `VisibilityTimeout` to every
//! `ReceiveMessage` that has none: the short run scales the queues' 180 s
//! visibility timeout down so that messages held by a killed runner come
//! back within the run (see README "make chaos").

mod faults;
mod ledger;
mod replies;

pub use faults::FaultRates;
pub use ledger::{Ledger, Replay};

use faults::{Fault, choose};

use std::collections::{BTreeMap, HashMap};
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
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use replies::{internal_error, throttle, tx_conflict};
use tokio::sync::watch;

/// How long a forwarded call may wait for the emulator.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(20);

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
    ledger: Mutex<Ledger>,
    /// Request digest → how many more tries of it fail (the SDK's retries
    /// of a surfaced lost answer).
    sticky: Mutex<HashMap<[u8; 32], u32>>,
    /// "fault-kind operation item-kind" → count, for conditional writes.
    conditional: Mutex<BTreeMap<String, u64>>,
    /// Conditional writes forwarded, by operation and item kind.
    conditional_seen: Mutex<BTreeMap<String, u64>>,
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
            ledger: Mutex::new(Ledger::default()),
            sticky: Mutex::new(HashMap::new()),
            conditional: Mutex::new(BTreeMap::new()),
            conditional_seen: Mutex::new(BTreeMap::new()),
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

    /// Faults on conditional writes by kind, operation and item kind; and
    /// the conditional writes forwarded by operation and item kind.
    pub fn conditional(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        (
            lock(&self.state.conditional).clone(),
            lock(&self.state.conditional_seen).clone(),
        )
    }

    /// Runs `f` on the SQS ledger.
    pub fn ledger<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut lock(&self.state.ledger))
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
    let digest: [u8; 32] = Sha256::digest(&body).into();
    // A retry of a surfaced lost answer: fails before forwarding.
    let retry_fails = {
        let mut sticky = lock(&state.sticky);
        match sticky.get_mut(&digest) {
            Some(n) if *n > 0 => {
                *n -= 1;
                if *n == 0 {
                    sticky.remove(&digest);
                }
                true
            }
            _ => false,
        }
    };
    if retry_fails {
        *lock(&state.counts)
            .entry("sdk_retry_of_lost_answer_failed".to_owned())
            .or_default() += 1;
        return Ok(internal_error());
    }
    let conditional = ledger::conditional_write(&op, &body);
    let fault = if op.is_empty() {
        None
    } else {
        choose(&lock(&state.rates), &op, conditional.is_some())
    };
    if let Some(f) = fault {
        count(&state, f, &op);
        if let (Fault::LostConditional { .. }, Some(kind)) = (f, &conditional) {
            *lock(&state.conditional)
                .entry(format!("{} {kind}", f.name()))
                .or_default() += 1;
        }
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
    let sent_body = body.clone();
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
    // Counted down when the call ends or its caller goes (hyper drops the
    // future of a request whose connection closed).
    let _in_flight = InFlight::new(&state, &op);
    let result = async {
        let resp = forward.body(body).timeout(UPSTREAM_TIMEOUT).send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, bytes))
    }
    .await;
    drop(_in_flight);
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
    if let Some(kind) = &conditional {
        *lock(&state.conditional_seen)
            .entry(kind.clone())
            .or_default() += 1;
    }
    if status.is_success() && op.starts_with("AmazonSQS.") {
        lock(&state.ledger).record(&op, &sent_body, &bytes);
    }
    match fault {
        Some(Fault::LostConditional { surfaced }) => {
            if surfaced {
                // The SDK tries twice more (3 attempts in all).
                lock(&state.sticky).insert(digest, 2);
            }
            return Ok(internal_error());
        }
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

/// One call waiting for the emulator.
struct InFlight<'a> {
    state: &'a State,
    op: String,
}

impl<'a> InFlight<'a> {
    fn new(state: &'a State, op: &str) -> Self {
        *lock(&state.in_flight).entry(op.to_owned()).or_default() += 1;
        InFlight {
            state,
            op: op.to_owned(),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        *lock(&self.state.in_flight)
            .entry(self.op.clone())
            .or_default() -= 1;
    }
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
