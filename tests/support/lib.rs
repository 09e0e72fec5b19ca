#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Test support: one AWS emulator per test binary (moto's server on a free
//! port, or `AWS_ENDPOINT_URL` when set), and a fresh stack of resources per
//! test so tests run in parallel without seeing each other.

use std::sync::OnceLock;

use aws_config::SdkConfig;
use http::HeaderMap;
use lambda_http::{Body, Request};
use leadpipe::aws::resources::{self, SecretOverrides, Stack, StackNames};
use leadpipe::{App, Config};
use serde_json::Value;

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
        let port = leadpipe_local::free_port().map_err(|e| e.to_string())?;
        leadpipe_local::Emulator::start("127.0.0.1", port).map(|e| e.keep_until_exit())
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
        tweak(&mut config);
        let app = App::new(config, &sdk);
        TestStack {
            admin_token: stack.admin_secret.admin_token.clone(),
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
