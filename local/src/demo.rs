//! `make dev DEMO=1` (`LEADPIPE_DEMO=1`): two stand-ins on 127.0.0.1 so
//! the README's Meta and delivery walkthroughs run without writing code.
//!
//! * A Graph API stand-in, as Meta documents `GET /{leadgen-id}?access_token
//!   =…&fields=…`: `{"id", "created_time", "field_data": [{"name",
//!   "values"}], "form_id", "ad_id", "campaign_id", "platform"}`, a
//!   lead derived from its id (`demo-7` → `demo-7@meta.example.com`); 400
//!   without an `access_token`, as the Graph API answers.
//! * A sample receiver, subscribed to every event at start: it checks each
//!   delivery's Standard Webhooks signature with the subscription's
//!   secret and prints one line per delivery (`verified` or `NOT verified`).
//!
//! The banner prints a ready, signed Meta notification for `demo-1`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

/// The running stand-ins.
#[derive(Clone)]
pub struct Demo {
    pub graph_url: String,
    pub receiver_url: String,
    /// The subscription's signing secret, once it exists.
    pub secret: Arc<Mutex<Option<String>>>,
    /// Deliveries received whose signature verified.
    pub verified: Arc<std::sync::atomic::AtomicUsize>,
}

/// The Graph answer for one lead id.
pub fn graph_lead(leadgen_id: &str) -> serde_json::Value {
    json!({
        "id": leadgen_id,
        "created_time": "2026-01-01T10:00:00+0000",
        "field_data": [
            {"name": "email", "values": [format!("{leadgen_id}@meta.example.com")]},
            {"name": "full_name", "values": ["Meta Demo"]},
            {"name": "phone_number", "values": ["+14155550177"]}
        ],
        "form_id": "demo-form",
        "ad_id": "demo-ad",
        "campaign_id": "demo-campaign",
        "platform": "fb"
    })
}

/// A notification of `leadgen_id` as Meta posts it (the body to sign).
pub fn notification(leadgen_id: &str) -> String {
    format!(
        r#"{{"object":"page","entry":[{{"id":"1","time":1,"changes":[{{"field":"leadgen","value":{{"leadgen_id":"{leadgen_id}","page_id":"1","form_id":"demo-form"}}}}]}}]}}"#
    )
}

fn answer(status: u16, body: String) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn graph(req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let id = req.uri().path().trim_start_matches('/').to_owned();
    let token = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .any(|p| p.starts_with("access_token=") && p.len() > "access_token=".len());
    Ok(if !token {
        answer(
            400,
            json!({"error": {"message": "An access token is required to request this resource.", "type": "OAuthException", "code": 104}})
                .to_string(),
        )
    } else {
        answer(200, graph_lead(&id).to_string())
    })
}

async fn receive(
    secret: Arc<Mutex<Option<String>>>,
    verified_count: Arc<std::sync::atomic::AtomicUsize>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, ts, sig) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let key = secret.lock().map(|s| s.clone()).unwrap_or(None);
    let verified = key.is_some_and(|k| {
        ts.parse()
            .is_ok_and(|t| leadpipe::rules::signing::verify(&k, &id, t, &body, &sig))
    });
    let kind: String = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if verified {
        verified_count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    println!(
        "sample receiver: {kind} {id} — signature {}",
        if verified { "verified" } else { "NOT verified" }
    );
    Ok(answer(200, json!({"received": true}).to_string()))
}

async fn serve<F, Fut>(listener: TcpListener, handler: F)
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<hyper::Response<Full<Bytes>>, Infallible>> + Send,
{
    while let Ok((stream, _)) = listener.accept().await {
        let handler = handler.clone();
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handler))
                .await;
        });
    }
}

/// Where the stand-ins listen: `LEADPIPE_DEMO_RECEIVER_ADDR`
/// (`127.0.0.1:3001`) and `LEADPIPE_DEMO_GRAPH_ADDR` (`127.0.0.1:3002`);
/// fixed, so a kept subscription to the receiver stays right.
fn addr(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Starts both stand-ins where the environment says.
pub async fn start() -> Result<Demo, String> {
    start_on(
        addr("LEADPIPE_DEMO_GRAPH_ADDR", "127.0.0.1:3002"),
        addr("LEADPIPE_DEMO_RECEIVER_ADDR", "127.0.0.1:3001"),
    )
    .await
}

/// Starts both stand-ins on these addresses (`127.0.0.1:0`: any port).
pub async fn start_on(graph_addr: String, receiver_addr: String) -> Result<Demo, String> {
    let bind = |a: String| async move {
        TcpListener::bind(&a)
            .await
            .map_err(|e| format!("the demo cannot listen on {a}: {e} (set LEADPIPE_DEMO_RECEIVER_ADDR or LEADPIPE_DEMO_GRAPH_ADDR)"))
    };
    let g = bind(graph_addr).await?;
    let r = bind(receiver_addr).await?;
    let demo = Demo {
        graph_url: format!("http://{}", g.local_addr().map_err(|e| e.to_string())?),
        receiver_url: format!(
            "http://{}/hooks",
            r.local_addr().map_err(|e| e.to_string())?
        ),
        secret: Arc::new(Mutex::new(None)),
        verified: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    };
    tokio::spawn(serve(g, graph));
    let (secret, verified) = (demo.secret.clone(), demo.verified.clone());
    tokio::spawn(serve(r, move |req| {
        receive(secret.clone(), verified.clone(), req)
    }));
    Ok(demo)
}

/// Subscribes the sample receiver to every event (replacing a kept
/// subscription to it, whose secret the receiver no longer knows).
pub async fn subscribe(app: &leadpipe::App, demo: &Demo) -> Result<String, String> {
    use leadpipe::model::subscriptions::{self, SubChanges};
    let scope = &app.default_scope();
    let page = leadpipe::aws::pagination::PageRequest {
        limit: leadpipe::aws::pagination::MAX_LIMIT,
        cursor: None,
    };
    let err = |e: leadpipe::error::DataError| format!("demo subscription: {e:?}");
    for s in subscriptions::list(scope, &page).await.map_err(err)?.items {
        if s.url == demo.receiver_url {
            subscriptions::delete(scope, s.id.as_str())
                .await
                .map_err(err)?;
        }
    }
    let secret = leadpipe::rules::signing::new_secret();
    let changes = SubChanges {
        url: Some(demo.receiver_url.clone()),
        events: Some(vec!["*".into()]),
        secret: Some(secret.clone()),
        enabled: Some(true),
        ..SubChanges::default()
    };
    let (sub, _) = subscriptions::create(scope, changes).await.map_err(err)?;
    if let Ok(mut s) = demo.secret.lock() {
        *s = Some(secret);
    }
    Ok(sub.id.to_string())
}

/// What the banner adds: the stand-ins and a signed Meta notification.
pub fn banner(demo: &Demo, base: &str, app_secret: &str, sub_id: &str) -> String {
    let body = notification("demo-1");
    let sig = leadpipe::providers::meta::sign(app_secret, body.as_bytes());
    format!(
        "Demo (DEMO=1): the Graph API stand-in at {graph}, the sample receiver at {recv}\n\
         (destination {sub_id}: every delivery is printed here, its signature checked).\n\
         A Meta lead, signed as Meta signs it (the lead comes from the stand-in):\n\n\
         \x20 curl -i -X POST {base}/v1/providers/meta/webhook \\\n\
         \x20   -H 'Content-Type: application/json' -H 'X-Hub-Signature-256: {sig}' \\\n\
         \x20   -d '{body}'\n",
        graph = demo.graph_url,
        recv = demo.receiver_url,
    )
}
