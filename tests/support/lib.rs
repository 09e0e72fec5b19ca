#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Test support: one AWS emulator per test binary (moto's server on a free
//! port, or `AWS_ENDPOINT_URL` when set), and a fresh stack of resources per
//! test so tests run in parallel without seeing each other.

use std::sync::OnceLock;

use aws_config::SdkConfig;
use http::HeaderMap;
use lambda_http::{Body, Request};
use leadpipe::resources::{self, SecretOverrides, Stack, StackNames};
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
    let id = leadpipe::ids::new_id(leadpipe::ids::IdKind::Request);
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
        let endpoint = tokio::task::spawn_blocking(endpoint)
            .await
            .expect("emulator");
        let sdk = leadpipe_local::sdk_config(&endpoint).await;
        let stack = resources::bootstrap(
            &sdk,
            &StackNames::new(unique_stack()),
            SecretOverrides::default(),
        )
        .await
        .expect("bootstrap");
        let mut config = stack.config();
        tweak(&mut config);
        let app = App::new(config, &sdk);
        TestStack {
            admin_token: stack.secret.admin_token.clone(),
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
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut out = Vec::new();
        loop {
            let r = sqs
                .receive_message()
                .queue_url(&self.stack.leads_queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .send()
                .await
                .expect("receive");
            let msgs = r.messages.unwrap_or_default();
            if msgs.is_empty() {
                return out;
            }
            for m in msgs {
                out.push(serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null));
            }
        }
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
