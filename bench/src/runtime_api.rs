//! A local Lambda Runtime API: the real protocol a function's runtime
//! client speaks (`GET /2018-06-01/runtime/invocation/next`, `POST
//! …/{id}/response`, `…/{id}/error`, `…/init/error`), so a release binary
//! runs here exactly as on Lambda, and the harness sees when it asks for
//! work and when it answers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};

/// What the function answered.
#[derive(Debug)]
pub struct Answer {
    pub ok: bool,
    pub body: Vec<u8>,
    pub at: Instant,
}

struct Pending {
    body: String,
    id: String,
}

#[derive(Default)]
struct Shared {
    first_next: Option<Instant>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    init_error: Option<String>,
}

/// One Runtime API endpoint, for one function process at a time.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    queue: mpsc::UnboundedSender<Pending>,
    shared: Arc<Mutex<Shared>>,
    counter: Mutex<u64>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel::<Pending>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (rx, state) = (rx.clone(), state.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve(req, rx.clone(), state.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            queue: tx,
            shared,
            counter: Mutex::new(0),
        })
    }

    /// When the function first asked for work (its init ended).
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.lock().ok().and_then(|s| s.first_next)
    }

    pub fn init_error(&self) -> Option<String> {
        self.shared.lock().ok().and_then(|s| s.init_error.clone())
    }

    /// Sends one event and waits for the answer; returns the duration from
    /// hand-out to answer.
    pub async fn invoke(&self, event: &str, limit: Duration) -> Result<(Duration, Answer), String> {
        let id = {
            let mut c = self.counter.lock().map_err(|e| e.to_string())?;
            *c += 1;
            format!("bench-{:08}", *c)
        };
        let (tx, rx) = oneshot::channel();
        self.shared
            .lock()
            .map_err(|e| e.to_string())?
            .waiting
            .insert(id.clone(), tx);
        let sent = Instant::now();
        self.queue
            .send(Pending {
                body: event.to_owned(),
                id,
            })
            .map_err(|e| e.to_string())?;
        let answer = tokio::time::timeout(limit, rx)
            .await
            .map_err(|_| "the function did not answer in time".to_owned())?
            .map_err(|_| "the function went away".to_owned())?;
        Ok((answer.at.saturating_duration_since(sent), answer))
    }
}

type Rx = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>;

async fn serve(
    req: hyper::Request<Incoming>,
    rx: Rx,
    state: Arc<Mutex<Shared>>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let reply = |status: u16, body: Vec<u8>| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
        r
    };
    if req.method() == http::Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        if let Ok(mut s) = state.lock() {
            s.first_next.get_or_insert_with(Instant::now);
        }
        let next = rx.lock().await.recv().await;
        let Some(p) = next else {
            return Ok(reply(500, vec![]));
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 30_000)
            .unwrap_or(0);
        let mut r = reply(200, p.body.into_bytes());
        let h = r.headers_mut();
        let set = |h: &mut http::HeaderMap, k: &'static str, v: String| {
            if let Ok(v) = http::HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set(h, "lambda-runtime-aws-request-id", p.id);
        set(h, "lambda-runtime-deadline-ms", deadline.to_string());
        set(
            h,
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
        );
        set(
            h,
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0".into(),
        );
        set(h, "content-type", "application/json".into());
        return Ok(r);
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    if path == "/2018-06-01/runtime/init/error" {
        if let Ok(mut s) = state.lock() {
            s.init_error = Some(String::from_utf8_lossy(&body).into_owned());
        }
        return Ok(reply(202, b"{}".to_vec()));
    }
    if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
        let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
        let waiter = state.lock().ok().and_then(|mut s| s.waiting.remove(id));
        if let Some(w) = waiter {
            let _ = w.send(Answer {
                ok: kind == "response",
                body,
                at: Instant::now(),
            });
        }
        return Ok(reply(202, b"{}".to_vec()));
    }
    Ok(reply(404, vec![]))
}
