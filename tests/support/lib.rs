#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Test support: one AWS emulator per test binary (moto's server on a free
//! port, or `AWS_ENDPOINT_URL` when set), and a fresh stack of resources per
//! test so tests run in parallel without seeing each other.

use std::sync::OnceLock;

use aws_config::SdkConfig;
use http::HeaderMap;
use lambda_http::{Body, Request};
use leadpipe::{App, Config};
use leadpipe_local::bootstrap::{self as resources, SecretOverrides, Stack, StackNames};
use serde_json::Value;

pub mod google;
pub mod hubspot;
pub mod meter;
pub mod pipedrive;

/// Captures the tracing output of this thread (JSON lines) while it lives:
/// for the "no secret in any log line" checks.
pub struct LogCapture {
    buf: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct CaptureWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Everything Leadpipe's own filter lets through at `level` (`trace`:
    /// the most a user can ask for).
    pub fn start(level: &str) -> Self {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = CaptureWriter(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(leadpipe::telemetry::filter(level))
            .with_writer(move || writer.clone())
            .finish();
        LogCapture {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().expect("log buffer")).into_owned()
    }
}

pub use leadpipe;
pub use leadpipe_local;

static ENDPOINT: OnceLock<Result<String, String>> = OnceLock::new();

/// The emulator's endpoint, starting it on first use.
pub fn endpoint() -> String {
    let result = ENDPOINT.get_or_init(|| {
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL")
            && !url.is_empty()
        {
            return Ok(url);
        }
        leadpipe_local::Emulator::start_on_free_port("127.0.0.1", None).map(|e| e.keep_until_exit())
    });
    match result {
        Ok(url) => url.clone(),
        Err(e) => panic!("cannot start the AWS emulator: {e}"),
    }
}

/// A unique, valid resource-name prefix.
pub fn unique_stack() -> String {
    let id = leadpipe::rules::ids::new_id(leadpipe::rules::ids::IdKind::Request);
    format!("t{}", &id[id.len() - 12..])
}

/// A fresh stack: its own table, queues and secret in the shared emulator.
pub struct TestStack {
    pub app: App,
    /// The app in the `default` workspace (where the tests' keys live
    /// unless a test makes another workspace).
    pub scope: leadpipe::Scope,
    pub stack: Stack,
    pub sdk: SdkConfig,
    pub admin_token: String,
}

impl TestStack {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh stack whose configuration `tweak` may change.
    pub async fn with_config(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::with_options(SecretOverrides::default(), tweak).await
    }

    /// A fresh stack with chosen secrets and configuration.
    pub async fn with_options(secrets: SecretOverrides, tweak: impl FnOnce(&mut Config)) -> Self {
        let endpoint = tokio::task::spawn_blocking(endpoint)
            .await
            .expect("emulator");
        let sdk = leadpipe_local::sdk_config(&endpoint).await;
        let stack = resources::bootstrap(&sdk, &StackNames::new(unique_stack()), secrets)
            .await
            .expect("bootstrap");
        let mut config = stack.config();
        // Schedules compressed a hundredfold: a subscription written with
        // `maxAttempts` keeps the deployment's back-off to the millisecond
        // (its steps are counted in these units), and the default schedule
        // lasts about 16 minutes instead of 27 hours.
        config.retry_unit = std::time::Duration::from_millis(10);
        // Every attempt through the deliveries queue, so a test steps
        // `process` and `deliver` apart; the first attempt `process` makes
        // itself (the deployments' default) has its own tests
        // (`first_attempt.rs`), and the local stack, the browser tests and
        // `make chaos` run with it.
        config.first_attempt = None;
        tweak(&mut config);
        let app = App::new(config, &sdk);
        TestStack {
            admin_token: stack.admin_secret.admin_token.clone(),
            scope: app.default_scope(),
            app,
            stack,
            sdk,
        }
    }

    /// Sends a request through the same dispatch as the local server.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Reply {
        let body: Vec<u8> = body.into();
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "leadpipe.test");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req: Request = builder
            .body(if body.is_empty() {
                Body::Empty
            } else {
                Body::Binary(body)
            })
            .expect("request");
        let resp = leadpipe_local::server::dispatch(&self.app, req).await;
        let (parts, body) = resp.into_parts();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.to_vec(),
        }
    }

    /// An admin API call with the admin token and a JSON body.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {}", self.admin_token);
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.call(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await
    }

    /// Creates a key; returns its id and token.
    pub async fn create_key(&self, body: Value) -> (String, String) {
        let r = self.admin("POST", "/v1/keys", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let j = r.json();
        (
            j["id"].as_str().unwrap().to_owned(),
            j["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a subscription to `url` (every event); returns it as
    /// created (its secret in full).
    pub async fn subscribe(&self, url: &str) -> Value {
        let r = self
            .admin(
                "POST",
                "/v1/subscriptions",
                Some(serde_json::json!({"url": url})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }

    /// Posts Meta's notification of one `leadgen_id`, signed with the
    /// stack's app secret, as Meta does.
    pub async fn post_meta_leadgen(&self, leadgen_id: &str) -> Reply {
        let body = format!(
            r#"{{"object":"page","entry":[{{"id":"1","time":1,"changes":[{{"field":"leadgen","value":{{"leadgen_id":"{leadgen_id}","page_id":"1","form_id":"2"}}}}]}}]}}"#
        );
        let secret = self
            .stack
            .secret
            .meta_app_secret
            .clone()
            .expect("the test stack has a Meta app secret");
        let sig = leadpipe::providers::meta::sign(&secret, body.as_bytes());
        self.call(
            "POST",
            "/v1/providers/meta/webhook",
            &[
                ("content-type", "application/json"),
                ("x-hub-signature-256", &sig),
            ],
            body,
        )
        .await
    }

    /// Posts a JSON lead to a key.
    pub async fn hook(&self, key_id: &str, token: &str, body: Value) -> Reply {
        self.call(
            "POST",
            &format!("/v1/hooks/{key_id}"),
            &[
                ("x-webhook-token", token),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        )
        .await
    }

    /// A Meta leadgen's event, `RECEIVED` and never queued: what the
    /// sweeper looks for once its grace is over.
    pub async fn put_unqueued_leadgen(&self, leadgen_id: &str) -> leadpipe::rules::ids::EventId {
        let event = self.leadgen_event(leadgen_id, leadpipe::rules::ids::EventId::generate());
        leadpipe::model::events::put_new(&self.scope, &event)
            .await
            .expect("event");
        event.id
    }

    /// A Meta leadgen event under `id` in the default workspace,
    /// `RECEIVED`, not yet written.
    pub fn leadgen_event(
        &self,
        leadgen_id: &str,
        id: leadpipe::rules::ids::EventId,
    ) -> leadpipe::model::events::EventRecord {
        let leadgen = leadpipe::providers::meta::Leadgen {
            leadgen_id: leadgen_id.into(),
            page_id: None,
            form_id: None,
            ad_id: None,
            created_time: None,
        };
        leadpipe::model::events::EventRecord::from_leadgen(
            self.scope.ws(),
            id,
            leadgen,
            leadpipe::rules::clock::now_rfc3339(),
        )
    }

    /// Every message now on the leads queue (received and left in flight).
    pub async fn drain_leads_queue(&self) -> Vec<Value> {
        let hide = leadpipe_local::poller::Taken::Hide { visibility: 60 };
        leadpipe_local::poller::take_all(&self.app, &self.stack.leads_queue_url, hide)
            .await
            .expect("receive")
    }

    /// Every item of the table, as DynamoDB holds it (for "nothing stored in
    /// clear" checks).
    pub async fn raw_table_dump(&self) -> String {
        let ddb = aws_sdk_dynamodb::Client::new(&self.sdk);
        let out = ddb
            .scan()
            .table_name(&self.stack.table)
            .send()
            .await
            .expect("scan");
        format!("{:?}", out.items.unwrap_or_default())
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The error code of an error envelope.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

impl TestStack {
    /// Runs the leads queue through `process` the way the event source
    /// mapping does, until no message is visible. Returns how many were
    /// received.
    pub async fn process_queue(&self) -> usize {
        let handler = |app: App, event| async move { leadpipe::process::handle(&app, event).await };
        self.drain(&self.stack.leads_queue_url, &handler).await
    }

    /// Runs the deliveries queue through `deliver` until no message is
    /// visible; returns how many were received.
    pub async fn deliver_queue(&self) -> usize {
        let handler = |app: App, event| async move { leadpipe::deliver::handle(&app, event).await };
        self.drain(&self.stack.deliveries_queue_url, &handler).await
    }

    /// `deliver` handling a message for delivery `id` at its last receive
    /// (the next failure would send it to the DLQ).
    pub async fn deliver_at_last_receive(
        &self,
        id: &str,
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
        let max = leadpipe::aws::resources::DELIVERIES_QUEUE.max_receive_count;
        let mut record = SqsMessage::default();
        record.message_id = Some("m-last".into());
        let message = leadpipe::aws::queue::DeliveriesMessage::attempt(self.scope.ws(), id);
        record.body = Some(serde_json::to_string(&message).expect("a message"));
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), (max - 1).to_string());
        let mut event = SqsEvent::default();
        event.records = vec![record];
        leadpipe::deliver::handle(&self.app, event).await
    }

    async fn drain<F, Fut>(&self, queue_url: &str, handler: &F) -> usize
    where
        F: Fn(App, aws_lambda_events::event::sqs::SqsEvent) -> Fut,
        Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
    {
        let mut total = 0;
        loop {
            let n = leadpipe_local::poller::poll_once(&self.app, queue_url, 10, 0, handler)
                .await
                .expect("poll");
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// Posts a lead and returns its event id.
    pub async fn post_lead(&self, key_id: &str, token: &str, body: Value) -> String {
        let r = self.hook(key_id, token, body).await;
        assert_eq!(r.status, 202, "{}", r.text());
        r.json()["eventId"].as_str().unwrap().to_owned()
    }

    /// An event as the admin API shows it.
    pub async fn event(&self, id: &str) -> Value {
        let r = self.admin("GET", &format!("/v1/events/{id}"), None).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Messages now on a queue (received, then left to reappear).
    pub async fn queue_depth(&self, queue_url: &str) -> usize {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let out = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .expect("attributes");
        out.attributes()
            .map(|a| a.values().filter_map(|v| v.parse::<usize>().ok()).sum())
            .unwrap_or(0)
    }
}

/// A scripted HTTP server on loopback: each path answers from its queue of
/// `(status, body)` (the last answer repeats), records every request, and
/// answers 404 for unknown paths. Stands in for the Graph API and, later,
/// for CRM receivers.
#[derive(Clone)]
pub struct ScriptedServer {
    pub base_url: String,
    state: std::sync::Arc<std::sync::Mutex<ServerState>>,
}

#[derive(Default)]
struct ServerState {
    scripts: std::collections::HashMap<String, std::collections::VecDeque<(u16, String)>>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    requests: Vec<Recorded>,
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: std::time::Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ScriptedServer {
    pub async fn start() -> Self {
        use http_body_util::{BodyExt, Full};
        use hyper::service::service_fn;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = std::sync::Arc::new(std::sync::Mutex::new(ServerState::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let path = parts.uri.path().to_owned();
                            let (status, reply, headers) = {
                                let mut s = state.lock().expect("lock");
                                let headers = s.headers.clone();
                                s.requests.push(Recorded {
                                    at: std::time::Instant::now(),
                                    method: parts.method.to_string(),
                                    path: path.clone(),
                                    query: parts.uri.query().unwrap_or("").to_owned(),
                                    headers: parts.headers.clone(),
                                    body,
                                });
                                let (status, reply) = match s.scripts.get_mut(&path) {
                                    Some(q) if q.len() > 1 => q.pop_front().expect("answer"),
                                    Some(q) => q.front().cloned().expect("answer"),
                                    None => (
                                        404,
                                        "{\"error\":{\"message\":\"no such object\"}}".to_owned(),
                                    ),
                                };
                                (status, reply, headers)
                            };
                            // Status 0 scripts a receiver that hangs (past any timeout).
                            if status == 0 {
                                tokio::time::sleep(std::time::Duration::from_secs(15)).await;
                            }
                            let status = if status == 0 { 200 } else { status };
                            let mut resp =
                                hyper::Response::new(Full::new(bytes::Bytes::from(reply)));
                            *resp.status_mut() =
                                http::StatusCode::from_u16(status).expect("status");
                            resp.headers_mut().insert(
                                "content-type",
                                http::HeaderValue::from_static("application/json"),
                            );
                            for (name, value) in headers {
                                resp.headers_mut().insert(name, value);
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ScriptedServer {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    /// Adds a header to every answer from now on.
    pub fn header(&self, name: &'static str, value: &str) {
        let value = http::HeaderValue::from_str(value).expect("header value");
        let mut s = self.state.lock().expect("lock");
        s.headers.push((http::HeaderName::from_static(name), value));
    }

    /// Scripts the answers for `path`, in order (the last one repeats).
    pub fn script(&self, path: &str, answers: &[(u16, &str)]) {
        let mut s = self.state.lock().expect("lock");
        s.scripts.insert(
            path.to_owned(),
            answers.iter().map(|(c, b)| (*c, (*b).to_owned())).collect(),
        );
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("lock").requests.clone()
    }

    /// The requests received on one path.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

/// What a [`FaultProxy`] does to a matching call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers this instead of forwarding: the call never happened.
    Reply { status: u16, body: String },
    /// Forwards the call (it takes effect), then answers this instead of
    /// the real answer — how a timeout after the write looks.
    AfterForward { status: u16, body: String },
    /// As [`Fault::AfterForward`], the answer coming only after `delay`:
    /// the caller hears of the failure late, while others act on the write.
    SlowAfterForward {
        status: u16,
        body: String,
        delay: std::time::Duration,
    },
}

impl Fault {
    /// DynamoDB's throttling error.
    pub fn ddb_throttled() -> Self {
        Fault::Reply {
            status: 400,
            body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#.into(),
        }
    }

    /// A failed condition: the item is not as the write expected.
    pub fn ddb_condition_failed() -> Self {
        Fault::Reply {
            status: 400,
            body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#.into(),
        }
    }

    /// DynamoDB refusing an item outright (too large, invalid).
    pub fn ddb_validation() -> Self {
        Fault::Reply {
            status: 400,
            body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#.into(),
        }
    }

    /// An internal error from the service.
    pub fn server_error() -> Self {
        Fault::Reply {
            status: 500,
            body: r#"{"__type":"InternalFailure","message":"injected"}"#.into(),
        }
    }
}

#[derive(Debug, Clone)]
struct FaultRule {
    /// The `x-amz-target` operation (`TransactWriteItems`, `SendMessageBatch`…).
    operation: String,
    /// Only calls whose body contains this.
    body_contains: Option<String>,
    remaining: usize,
    fault: Fault,
}

/// An HTTP proxy in front of the emulator that injects faults into chosen
/// AWS calls and forwards the rest. Point an `App` at [`FaultProxy::endpoint`].
#[derive(Clone)]
pub struct FaultProxy {
    pub endpoint: String,
    /// Prices the DynamoDB writes passing through while on.
    pub meter: meter::Meter,
    rules: std::sync::Arc<std::sync::Mutex<Vec<FaultRule>>>,
    injected: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// While set, only these operations pass; others are refused as IAM
    /// refuses them (see [`FaultProxy::grant`]).
    granted: Grants,
    denied: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

type Grants = std::sync::Arc<std::sync::Mutex<Option<std::collections::HashSet<String>>>>;

/// The API operations IAM lets `function` call: the actions of
/// `leadpipe::aws::permissions::PERMISSIONS`, batch forms with their
/// single-message actions, transactions with their parts'.
pub fn operations_granted(
    function: leadpipe::http::routes::Function,
) -> std::collections::HashSet<String> {
    let mut ops = std::collections::HashSet::new();
    for (f, _, actions) in leadpipe::aws::permissions::PERMISSIONS {
        if *f != function {
            continue;
        }
        for action in *actions {
            let op = action.rsplit(':').next().unwrap_or(action).to_owned();
            if ["SendMessage", "DeleteMessage", "ChangeMessageVisibility"].contains(&op.as_str()) {
                ops.insert(format!("{op}Batch"));
            }
            if ["PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"].contains(&op.as_str())
            {
                ops.insert("TransactWriteItems".to_owned());
            }
            ops.insert(op);
        }
    }
    ops
}

impl FaultProxy {
    pub async fn start(upstream: String) -> Self {
        use http_body_util::{BodyExt, Full};
        use hyper::service::service_fn;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let rules: std::sync::Arc<std::sync::Mutex<Vec<FaultRule>>> = Default::default();
        let injected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let meter = meter::Meter::default();
        let granted: Grants = Default::default();
        let denied: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let (shared_rules, shared_count, shared_meter) =
            (rules.clone(), injected.clone(), meter.clone());
        let (shared_granted, shared_denied) = (granted.clone(), denied.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (rules, injected, client, upstream, meter) = (
                    shared_rules.clone(),
                    shared_count.clone(),
                    client.clone(),
                    upstream.clone(),
                    shared_meter.clone(),
                );
                let (granted, denied) = (shared_granted.clone(), shared_denied.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (rules, injected, client, upstream, meter) = (
                            rules.clone(),
                            injected.clone(),
                            client.clone(),
                            upstream.clone(),
                            meter.clone(),
                        );
                        let (granted, denied) = (granted.clone(), denied.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let target = parts
                                .headers
                                .get("x-amz-target")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let operation = target.rsplit('.').next().unwrap_or("").to_owned();
                            let fault = {
                                let text = String::from_utf8_lossy(&body);
                                let mut rules = rules.lock().expect("lock");
                                rules
                                    .iter_mut()
                                    .find(|r| {
                                        r.remaining > 0
                                            && r.operation == operation
                                            && r.body_contains
                                                .as_deref()
                                                .is_none_or(|b| text.contains(b))
                                    })
                                    .map(|r| {
                                        r.remaining -= 1;
                                        r.fault.clone()
                                    })
                            };
                            if fault.is_some() {
                                injected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            let canned = |status: u16, body: String| {
                                let mut resp =
                                    hyper::Response::new(Full::new(bytes::Bytes::from(body)));
                                *resp.status_mut() =
                                    http::StatusCode::from_u16(status).expect("status");
                                resp.headers_mut().insert(
                                    "content-type",
                                    http::HeaderValue::from_static("application/x-amz-json-1.0"),
                                );
                                resp
                            };
                            if let Some(Fault::Reply { status, body }) = fault {
                                return Ok::<_, std::convert::Infallible>(canned(status, body));
                            }
                            let refused = granted
                                .lock()
                                .expect("lock")
                                .as_ref()
                                .is_some_and(|ops| !ops.contains(&operation));
                            if refused {
                                denied.lock().expect("lock").push(target.clone());
                                return Ok(canned(
                                    400,
                                    format!(
                                        "{{\"__type\":\"AccessDeniedException\",\"message\":\"not granted: {target}\"}}"
                                    ),
                                ));
                            }
                            // Metered: one write at a time, its items read
                            // before and after.
                            let metered = if meter.is_on() {
                                meter::write_operation(&operation)
                            } else {
                                None
                            };
                            let _serial = match metered {
                                Some(_) => Some(meter.serial.clone().lock_owned().await),
                                None => None,
                            };
                            let keys = match metered {
                                Some(_) => serde_json::from_slice::<Value>(&body)
                                    .map(|v| meter::touched(&operation, &v))
                                    .unwrap_or_default(),
                                None => Vec::new(),
                            };
                            let befores =
                                meter::read_items(&client, &upstream, &parts.headers, &keys).await;
                            let uri = format!(
                                "{upstream}{}",
                                parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.as_str())
                                    .unwrap_or("/")
                            );
                            let mut forward = client.request(parts.method.clone(), uri);
                            for (name, value) in &parts.headers {
                                if name != http::header::HOST
                                    && name != http::header::CONTENT_LENGTH
                                {
                                    forward = forward.header(name, value);
                                }
                            }
                            let answer = match forward.body(body).send().await {
                                Ok(a) => a,
                                Err(e) => {
                                    return Ok(canned(502, format!("{{\"message\":\"{e}\"}}")));
                                }
                            };
                            match fault {
                                Some(Fault::AfterForward { status, body }) => {
                                    return Ok(canned(status, body));
                                }
                                Some(Fault::SlowAfterForward {
                                    status,
                                    body,
                                    delay,
                                }) => {
                                    tokio::time::sleep(delay).await;
                                    return Ok(canned(status, body));
                                }
                                _ => {}
                            }
                            let status = answer.status().as_u16();
                            let headers = answer.headers().clone();
                            let bytes = answer.bytes().await.unwrap_or_default();
                            if let Some(transactional) = metered {
                                let afters =
                                    meter::read_items(&client, &upstream, &parts.headers, &keys)
                                        .await;
                                meter.record(
                                    &operation,
                                    transactional,
                                    status == 200,
                                    befores.into_iter().zip(afters).collect(),
                                );
                            }
                            let mut resp = hyper::Response::new(Full::new(bytes));
                            *resp.status_mut() =
                                http::StatusCode::from_u16(status).expect("status");
                            for (name, value) in &headers {
                                if name != http::header::TRANSFER_ENCODING
                                    && name != http::header::CONTENT_LENGTH
                                {
                                    resp.headers_mut().insert(name, value.clone());
                                }
                            }
                            Ok(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            endpoint: format!("http://{addr}"),
            meter,
            rules,
            injected,
            granted,
            denied,
        }
    }

    /// From now on, refuses every call `function`'s IAM role could not
    /// make (AccessDeniedException, as AWS answers), and records it.
    pub fn grant(&self, function: leadpipe::http::routes::Function) {
        *self.granted.lock().expect("lock") = Some(operations_granted(function));
    }

    /// Every call allowed again; the calls refused so far.
    pub fn ungrant(&self) -> Vec<String> {
        *self.granted.lock().expect("lock") = None;
        std::mem::take(&mut *self.denied.lock().expect("lock"))
    }

    /// The next `times` calls of `operation` (whose body contains
    /// `body_contains`, when given) get `fault`.
    pub fn inject(&self, operation: &str, body_contains: Option<&str>, times: usize, fault: Fault) {
        self.rules.lock().expect("lock").push(FaultRule {
            operation: operation.to_owned(),
            body_contains: body_contains.map(str::to_owned),
            remaining: times,
            fault,
        });
    }

    /// Drops every rule not yet used up.
    pub fn clear(&self) {
        self.rules.lock().expect("lock").clear();
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> usize {
        self.injected.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl TestStack {
    /// A fresh stack whose `App` talks to the emulator through a
    /// [`FaultProxy`] (resources are created directly).
    pub async fn behind_proxy(
        secrets: SecretOverrides,
        tweak: impl FnOnce(&mut Config),
    ) -> (Self, FaultProxy) {
        let mut stack = Self::with_options(secrets, tweak).await;
        let upstream = tokio::task::spawn_blocking(endpoint)
            .await
            .expect("emulator");
        let proxy = FaultProxy::start(upstream).await;
        let sdk = leadpipe_local::sdk_config(&proxy.endpoint).await;
        stack.app = App::new(stack.app.config.clone(), &sdk);
        stack.scope = stack.app.default_scope();
        (stack, proxy)
    }
}
