//! What the bench feeds the functions: Lambda events, fresh events made by
//! the ingest handler in-process, a webhook receiver, queue draining.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use leadpipe::App;
use serde_json::{Value, json};

pub fn http_event(
    method: &str,
    route: &str,
    path: &str,
    query: &str,
    headers: Value,
    body: Option<String>,
) -> String {
    let mut h = json!({"host": "bench.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https",
                       "user-agent": "leadpipe-bench"});
    for (k, v) in headers.as_object().cloned().unwrap_or_default() {
        h[k] = v;
    }
    let mut ev = json!({
        "version": "2.0", "routeKey": format!("{method} {route}"), "rawPath": path, "rawQueryString": query,
        "headers": h,
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench", "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
            "userAgent": "leadpipe-bench"}, "requestId": "bench", "routeKey": format!("{method} {route}"), "stage": "$default",
            "time": "22/Nov/2026:16:31:25 +0000", "timeEpoch": 0},
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        ev["body"] = json!(b);
    }
    ev.to_string()
}

pub fn sqs_event(body: &Value) -> String {
    json!({"Records": [{"messageId": "00000000-0000-4000-8000-000000000001", "receiptHandle": "bench",
        "body": body.to_string(), "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
        "awsRegion": "us-east-1"}]})
    .to_string()
}

/// A webhook receiver answering `{}` after `delay` ms (0: at once).
pub async fn start_receiver(delay: Arc<AtomicU64>) -> Result<String, String> {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let delay = delay.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let wait = Duration::from_millis(delay.load(Ordering::Relaxed));
                    async move {
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            bytes::Bytes::from_static(b"{}"),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// `n` fresh events, each a new person (`processed{first + i}@…`), so
/// process makes a new lead and fans out its delivery.
pub async fn make_events(
    app: &App,
    key_id: &str,
    token: &str,
    first: usize,
    n: usize,
) -> Result<Vec<String>, String> {
    use futures::StreamExt;
    let results: Vec<Option<String>> = futures::stream::iter(first..first + n)
        .map(|i| async move {
            let body = json!({"email": format!("processed{i}@example.com"), "name": "Bench Lead", "tags": "bench"});
            let req = http::Request::builder()
                .method("POST")
                .uri(format!("/v1/hooks/{key_id}"))
                .header("x-webhook-token", token)
                .header("content-type", "application/json")
                .body(lambda_http::Body::Text(body.to_string()))
                .ok()?;
            let resp = leadpipe::ingest::handle(app, req).await;
            let v: Value = serde_json::from_slice(resp.body().as_ref()).ok()?;
            v["eventId"].as_str().map(str::to_owned)
        })
        .buffered(8)
        .collect()
        .await;
    let ids: Vec<String> = results.into_iter().flatten().collect();
    if ids.len() != n {
        return Err(format!("made {} of {n} events", ids.len()));
    }
    Ok(ids)
}

/// Empties a queue; returns the message bodies.
pub async fn drain(app: &App, queue_url: &str) -> Vec<Value> {
    use leadpipe_local::poller::{Taken, take_all};
    take_all(app, queue_url, Taken::Delete)
        .await
        .unwrap_or_default()
}
