#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Lambda path (issue 22 §4.9): a function as Lambda runs it — the
//! runtime polling a Runtime API, Leadpipe's log filter at `trace`, the
//! most the Terraform variable allows — logs no part of the raw event.
//! The in-process handler tests (tests/it/logs.rs) never go through
//! `lambda_runtime`, which logs every raw event at `trace`.
//!
//! A binary of its own: the runtime reads its settings from the process
//! environment, set here before any thread starts.

use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use leadpipe_tests::LogCapture;

const SECRET: &str = "adm_lambdapathsecret0123456789abcdef";
const COOKIE: &str = "lp_session=cookiesecret0123456789";
const PII: &str = "alex.private@example.com";

/// A Runtime API that hands out one event and keeps what the function
/// answered (`/2018-06-01/runtime/invocation/...`).
async fn runtime_api(event: String) -> (String, Arc<Mutex<Option<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer: Arc<Mutex<Option<String>>> = Arc::default();
    let served = Arc::new(Mutex::new(false));
    let shared = answer.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (answer, served, event) = (shared.clone(), served.clone(), event.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (answer, served, event) = (answer.clone(), served.clone(), event.clone());
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let mut resp = hyper::Response::new(Full::new(bytes::Bytes::new()));
                        if path.ends_with("/invocation/next") {
                            let first = !std::mem::replace(&mut *served.lock().unwrap(), true);
                            if !first {
                                // One event only: the runtime waits here.
                                std::future::pending::<()>().await;
                            }
                            *resp.body_mut() = Full::new(bytes::Bytes::from(event));
                            let h = resp.headers_mut();
                            h.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
                            h.insert(
                                "lambda-runtime-deadline-ms",
                                "4102444800000".parse().unwrap(),
                            );
                            h.insert(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:admin"
                                    .parse()
                                    .unwrap(),
                            );
                        } else {
                            *answer.lock().unwrap() =
                                Some(String::from_utf8_lossy(&body).into_owned());
                            *resp.status_mut() = http::StatusCode::ACCEPTED;
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
    (addr.to_string(), answer)
}

#[test]
fn the_runtime_logs_no_raw_event_at_trace() {
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/admin-healthz.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap();
    event["headers"]["authorization"] = format!("Bearer {SECRET}").into();
    event["headers"]["cookie"] = COOKIE.into();
    event["rawQueryString"] = format!("email={PII}").into();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr, answer) = rt.block_on(runtime_api(event.to_string()));
    // SAFETY: set before the runtime's (current-thread) work starts; no
    // other thread of this binary reads the environment.
    unsafe {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", &addr);
        std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "admin");
        std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256");
        std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    }
    let logs = LogCapture::start("trace");
    tracing::trace!("trace-level probe");
    let required = leadpipe::config::vars::REQUIRED;
    let config = leadpipe::Config::from_lookup(|k| {
        required
            .contains(&k)
            .then(|| "http://127.0.0.1:9/unused".into())
    })
    .unwrap();
    let sdk = aws_config::SdkConfig::builder().build();
    let app = leadpipe::App::new(config, &sdk);
    rt.block_on(async {
        let run = lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(leadpipe::admin::handle(&app, req).await) }
        }));
        tokio::select! {
            _ = run => {}
            _ = async {
                while answer.lock().unwrap().is_none() {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            } => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => panic!("no answer"),
        }
    });
    let answered = answer.lock().unwrap().clone().unwrap_or_default();
    assert!(answered.contains("statusCode"), "{answered}");
    let text = logs.text();
    // The capture is at trace (Leadpipe's own targets pass).
    assert!(text.contains("trace-level probe"), "{text}");
    for secret in [SECRET, "cookiesecret0123456789", PII, "203.0.113.7"] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
}
