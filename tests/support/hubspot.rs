//! A HubSpot stand-in on 127.0.0.1 that behaves as HubSpot's CRM v3
//! contacts API documents where Leadpipe depends on it:
//!
//! * `Authorization: Bearer <token>`; another token → `401` with
//!   `category: INVALID_AUTHENTICATION`.
//! * `POST /crm/v3/objects/contacts/batch/upsert` with `idProperty: email`:
//!   creates or updates by the address (case-insensitive), `200
//!   {"status": "COMPLETE", "results": [{"id", "properties", "new"}]}`.
//! * `POST /crm/v3/objects/contacts` → `201 {"id", "properties"}`, or `409
//!   {"message": "Contact already exists. Existing ID: N", "category":
//!   "CONFLICT"}` when the email is taken.
//! * `PATCH /crm/v3/objects/contacts/{id}` → `200`, `404`, or the same 409
//!   when the new email belongs to another contact.
//! * `POST /crm/v3/objects/contacts/search` (filter `phone` `EQ`) →
//!   `{"total", "results"}`, seeing only contacts older than the configured
//!   index lag (HubSpot's search lags its writes).
//! * Injected faults: the next N requests answer `429` (with `Retry-After`
//!   and HubSpot's rate-limit body), or the next write is made and its
//!   answer lost (`502`, as a gateway that timed out would say).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub properties: BTreeMap<String, String>,
    pub created: Instant,
}

#[derive(Default)]
struct State {
    token: String,
    next_id: u64,
    contacts: Vec<Contact>,
    index_lag: Duration,
    rate_limited: usize,
    retry_after: Option<String>,
    lose_next_write: usize,
    /// (method, path) of every request.
    log: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct HubSpot {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

fn conflict(id: &str) -> (u16, Value) {
    (
        409,
        json!({"status": "error", "message": format!("Contact already exists. Existing ID: {id}"),
               "correlationId": "00000000-0000-0000-0000-000000000000", "category": "CONFLICT"}),
    )
}

fn view(c: &Contact) -> Value {
    json!({"id": c.id, "properties": c.properties, "createdAt": "2026-01-01T00:00:00Z",
           "updatedAt": "2026-01-01T00:00:00Z", "archived": false})
}

fn props_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

impl State {
    fn by_email(&self, email: &str) -> Option<usize> {
        self.contacts.iter().position(|c| {
            c.properties
                .get("email")
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    }

    fn create(&mut self, properties: BTreeMap<String, String>) -> Contact {
        self.next_id += 1;
        let c = Contact {
            id: (1000 + self.next_id).to_string(),
            properties,
            created: Instant::now(),
        };
        self.contacts.push(c.clone());
        c
    }

    fn handle(&mut self, method: &str, path: &str, auth: &str, body: &Value) -> (u16, Value) {
        self.log.push((method.to_owned(), path.to_owned()));
        if auth != format!("Bearer {}", self.token) {
            return (
                401,
                json!({"status": "error", "message": "Authentication credentials not found.",
                                "category": "INVALID_AUTHENTICATION"}),
            );
        }
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            return (
                429,
                json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}),
            );
        }
        match (method, path) {
            ("POST", "/crm/v3/objects/contacts/batch/upsert") => {
                let mut results = vec![];
                for input in body["inputs"].as_array().cloned().unwrap_or_default() {
                    if input["idProperty"] != "email" {
                        return (
                            400,
                            json!({"status": "error", "message": "idProperty must be a unique property",
                                            "category": "VALIDATION_ERROR"}),
                        );
                    }
                    let email = input["id"].as_str().unwrap_or("").to_owned();
                    let mut props = props_of(&input["properties"]);
                    props.insert("email".into(), email.clone());
                    let (c, new) = match self.by_email(&email) {
                        Some(i) => {
                            self.contacts[i].properties.extend(props);
                            (self.contacts[i].clone(), false)
                        }
                        None => (self.create(props), true),
                    };
                    let mut v = view(&c);
                    v["new"] = json!(new);
                    results.push(v);
                }
                (
                    200,
                    json!({"status": "COMPLETE", "results": results,
                             "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:00Z"}),
                )
            }
            ("POST", "/crm/v3/objects/contacts") => {
                let props = props_of(&body["properties"]);
                if let Some(i) = props.get("email").and_then(|e| self.by_email(e)) {
                    return conflict(&self.contacts[i].id);
                }
                (201, view(&self.create(props)))
            }
            ("POST", "/crm/v3/objects/contacts/search") => {
                let filter = &body["filterGroups"][0]["filters"][0];
                let (name, value) = (
                    filter["propertyName"].as_str().unwrap_or(""),
                    filter["value"].as_str().unwrap_or(""),
                );
                let lag = self.index_lag;
                let found: Vec<Value> = self
                    .contacts
                    .iter()
                    .filter(|c| c.created.elapsed() >= lag)
                    .filter(|c| c.properties.get(name).is_some_and(|v| v == value))
                    .map(view)
                    .collect();
                (200, json!({"total": found.len(), "results": found}))
            }
            ("PATCH", p) if p.starts_with("/crm/v3/objects/contacts/") => {
                let id = &p["/crm/v3/objects/contacts/".len()..];
                let Some(i) = self.contacts.iter().position(|c| c.id == id) else {
                    return (
                        404,
                        json!({"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"}),
                    );
                };
                let props = props_of(&body["properties"]);
                if let Some(j) = props.get("email").and_then(|e| self.by_email(e))
                    && j != i
                {
                    return conflict(&self.contacts[j].id);
                }
                self.contacts[i].properties.extend(props);
                (200, view(&self.contacts[i]))
            }
            _ => (
                404,
                json!({"status": "error", "message": "no such route", "category": "OBJECT_NOT_FOUND"}),
            ),
        }
    }
}

impl HubSpot {
    pub async fn start(token: &str) -> Self {
        use http_body_util::{BodyExt, Full};
        use hyper::service::service_fn;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            ..State::default()
        }));
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
                            let bytes = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            let auth = parts
                                .headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("");
                            let (status, reply, retry_after) = {
                                let mut s = state.lock().expect("lock");
                                let method = parts.method.as_str();
                                let (mut status, mut reply) =
                                    s.handle(method, parts.uri.path(), auth, &body);
                                let write =
                                    method != "GET" && !parts.uri.path().ends_with("/search");
                                if (200..300).contains(&status) && write && s.lose_next_write > 0 {
                                    s.lose_next_write -= 1;
                                    (status, reply) =
                                        (502, json!({"message": "upstream timed out"}));
                                }
                                let retry_after =
                                    (status == 429).then(|| s.retry_after.clone()).flatten();
                                (status, reply, retry_after)
                            };
                            let mut resp = hyper::Response::new(Full::new(bytes::Bytes::from(
                                reply.to_string(),
                            )));
                            *resp.status_mut() =
                                http::StatusCode::from_u16(status).expect("status");
                            resp.headers_mut().insert(
                                "content-type",
                                http::HeaderValue::from_static("application/json;charset=utf-8"),
                            );
                            if let Some(v) =
                                retry_after.and_then(|v| http::HeaderValue::from_str(&v).ok())
                            {
                                resp.headers_mut().insert("retry-after", v);
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
        HubSpot {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    /// Contacts created within `lag` are not found by search.
    pub fn set_index_lag(&self, lag: Duration) {
        self.state.lock().expect("lock").index_lag = lag;
    }

    /// The next `n` requests answer 429, with `Retry-After: retry_after`.
    pub fn rate_limit(&self, n: usize, retry_after: Option<&str>) {
        let mut s = self.state.lock().expect("lock");
        s.rate_limited = n;
        s.retry_after = retry_after.map(str::to_owned);
    }

    /// The next `n` successful writes take effect but answer 502.
    pub fn lose_answers(&self, n: usize) {
        self.state.lock().expect("lock").lose_next_write = n;
    }

    /// Adds a contact directly (as another tool would have).
    pub fn add_contact(&self, props: &[(&str, &str)]) -> String {
        let props = props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut s = self.state.lock().expect("lock");
        let mut c = s.create(props);
        c.created = Instant::now() - Duration::from_secs(3600);
        let id = c.id.clone();
        if let Some(last) = s.contacts.last_mut() {
            last.created = c.created;
        }
        id
    }

    pub fn contacts(&self) -> Vec<Contact> {
        self.state.lock().expect("lock").contacts.clone()
    }

    /// "METHOD /path" of every request so far.
    pub fn calls(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("lock")
            .log
            .iter()
            .map(|(m, p)| format!("{m} {p}"))
            .collect()
    }
}
