//! A Pipedrive stand-in on 127.0.0.1 that behaves as Pipedrive's v1 API
//! documents where Leadpipe depends on it:
//!
//! * `x-api-token` header; another token → `401 {"success": false,
//!   "error": "unauthorized access", "errorCode": 401}`.
//! * `GET /v1/persons/search?term&fields=email|phone&exact_match=true` →
//!   `{"success": true, "data": {"items": [{"result_score", "item": {"id",
//!   "name", "emails", "phones"}}]}}`, seeing persons older than the
//!   configured index lag only.
//! * `POST /v1/persons` → `201 {"success": true, "data": {"id": N, …}}`;
//!   `PUT /v1/persons/{id}` → `200` or `404`.
//! * `GET /v1/leadLabels` → the account's labels (`Hot`, `Warm`, `Cold`).
//! * `GET /v1/leads?person_id=N`, `POST /v1/leads` (`title` and a known
//!   `person_id` required, else 400) → `201 {"data": {"id": "<uuid>"}}`,
//!   `PATCH /v1/leads/{id}`.
//! * Faults: the next N requests answer `429` with `x-ratelimit-reset`;
//!   a chosen write ("POST /v1/persons") is made and its answer lost (502).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Person {
    pub id: u64,
    pub name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    created: Instant,
}

#[derive(Debug, Clone)]
pub struct Lead {
    pub id: String,
    pub title: String,
    pub person_id: u64,
    pub label_ids: Vec<String>,
}

pub const LABELS: [(&str, &str); 3] = [
    ("f0b4b9d0-0000-4000-8000-000000000001", "Hot"),
    ("f0b4b9d0-0000-4000-8000-000000000002", "Warm"),
    ("f0b4b9d0-0000-4000-8000-000000000003", "Cold"),
];

#[derive(Default)]
struct State {
    token: String,
    persons: Vec<Person>,
    leads: Vec<Lead>,
    index_lag: Duration,
    rate_limited: usize,
    lose: Vec<String>,
    log: Vec<String>,
}

#[derive(Clone)]
pub struct Pipedrive {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

fn values(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn person_view(p: &Person) -> Value {
    json!({"id": p.id, "name": p.name,
           "emails": p.emails, "phones": p.phones})
}

fn lead_view(l: &Lead) -> Value {
    json!({"id": l.id, "title": l.title, "person_id": l.person_id, "label_ids": l.label_ids,
           "source_name": "API"})
}

fn not_found(what: &str) -> (u16, Value) {
    (
        404,
        json!({"success": false, "error": format!("{what} not found"), "errorCode": 404}),
    )
}

impl State {
    fn handle(
        &mut self,
        method: &str,
        path: &str,
        query: &BTreeMap<String, String>,
        token: &str,
        body: &Value,
    ) -> (u16, Value) {
        self.log.push(format!("{method} {path}"));
        if token != self.token {
            return (
                401,
                json!({"success": false, "error": "unauthorized access", "errorCode": 401,
                                "error_info": "Please check developers.pipedrive.com"}),
            );
        }
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            return (
                429,
                json!({"success": false, "error": "Request over limit", "errorCode": 429}),
            );
        }
        let id_in = |prefix: &str| path.strip_prefix(prefix).map(str::to_owned);
        match method {
            "GET" if path == "/v1/persons/search" => {
                let term = query.get("term").cloned().unwrap_or_default();
                let field = query.get("fields").cloned().unwrap_or_default();
                let lag = self.index_lag;
                let items: Vec<Value> = self
                    .persons
                    .iter()
                    .filter(|p| p.created.elapsed() >= lag)
                    .filter(|p| match field.as_str() {
                        "email" => p.emails.iter().any(|e| e.eq_ignore_ascii_case(&term)),
                        "phone" => p.phones.contains(&term),
                        _ => false,
                    })
                    .map(|p| json!({"result_score": 1.0, "item": person_view(p)}))
                    .collect();
                (200, json!({"success": true, "data": {"items": items}}))
            }
            "POST" if path == "/v1/persons" => {
                let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) else {
                    return (
                        400,
                        json!({"success": false, "error": "Name must be given.", "errorCode": 400}),
                    );
                };
                let p = Person {
                    id: 100 + self.persons.len() as u64 + 1,
                    name: name.to_owned(),
                    emails: values(&body["email"]),
                    phones: values(&body["phone"]),
                    created: Instant::now(),
                };
                self.persons.push(p.clone());
                (201, json!({"success": true, "data": person_view(&p)}))
            }
            "PUT" if path.starts_with("/v1/persons/") => {
                let id = id_in("/v1/persons/").and_then(|i| i.parse::<u64>().ok());
                let Some(p) = self.persons.iter_mut().find(|p| Some(p.id) == id) else {
                    return not_found("Person");
                };
                if let Some(n) = body["name"].as_str() {
                    p.name = n.to_owned();
                }
                for (field, list) in [("email", &mut p.emails), ("phone", &mut p.phones)] {
                    let new = values(&body[field]);
                    if !new.is_empty() {
                        *list = new;
                    }
                }
                (200, json!({"success": true, "data": person_view(p)}))
            }
            "GET" if path == "/v1/leadLabels" => (
                200,
                json!({"success": true, "data":
                LABELS.iter().map(|(id, name)| json!({"id": id, "name": name, "color": "red"})).collect::<Vec<_>>()}),
            ),
            "GET" if path == "/v1/leads" => {
                let person = query.get("person_id").and_then(|p| p.parse::<u64>().ok());
                let data: Vec<Value> = self
                    .leads
                    .iter()
                    .filter(|l| Some(l.person_id) == person)
                    .map(lead_view)
                    .collect();
                (
                    200,
                    json!({"success": true, "data": data, "additional_data": {"pagination": {"more_items_in_collection": false}}}),
                )
            }
            "POST" if path == "/v1/leads" => {
                let person_id = body["person_id"].as_u64();
                if body["title"].as_str().is_none_or(str::is_empty)
                    || !self.persons.iter().any(|p| Some(p.id) == person_id)
                {
                    return (
                        400,
                        json!({"success": false, "error": "A lead needs a title and an existing person or organization", "errorCode": 400}),
                    );
                }
                let l = Lead {
                    id: format!(
                        "adf21080-0e10-11eb-879b-05d71fb4{:04}",
                        self.leads.len() + 1
                    ),
                    title: body["title"].as_str().unwrap_or("").to_owned(),
                    person_id: person_id.unwrap_or(0),
                    label_ids: body["label_ids"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                self.leads.push(l.clone());
                (201, json!({"success": true, "data": lead_view(&l)}))
            }
            "PATCH" if path.starts_with("/v1/leads/") => {
                let id = id_in("/v1/leads/").unwrap_or_default();
                let Some(l) = self.leads.iter_mut().find(|l| l.id == id) else {
                    return not_found("Lead");
                };
                if let Some(t) = body["title"].as_str() {
                    l.title = t.to_owned();
                }
                if let Some(ids) = body["label_ids"].as_array() {
                    l.label_ids = ids
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                }
                (200, json!({"success": true, "data": lead_view(l)}))
            }
            _ => (
                404,
                json!({"success": false, "error": "Unknown method", "errorCode": 404}),
            ),
        }
    }
}

impl Pipedrive {
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
                            let query: BTreeMap<String, String> =
                                form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                                    .into_owned()
                                    .collect();
                            let token = parts
                                .headers
                                .get("x-api-token")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let method = parts.method.as_str().to_owned();
                            let path = parts.uri.path().to_owned();
                            let (status, reply) = {
                                let mut s = state.lock().expect("lock");
                                let (mut status, mut reply) =
                                    s.handle(&method, &path, &query, &token, &body);
                                let call = format!("{method} {path}");
                                if (200..300).contains(&status)
                                    && let Some(i) = s.lose.iter().position(|l| *l == call)
                                {
                                    s.lose.remove(i);
                                    (status, reply) = (502, json!({"error": "upstream timed out"}));
                                }
                                (status, reply)
                            };
                            let mut resp = hyper::Response::new(Full::new(bytes::Bytes::from(
                                reply.to_string(),
                            )));
                            *resp.status_mut() =
                                http::StatusCode::from_u16(status).expect("status");
                            resp.headers_mut().insert(
                                "content-type",
                                http::HeaderValue::from_static("application/json"),
                            );
                            if status == 429 {
                                resp.headers_mut().insert(
                                    "x-ratelimit-reset",
                                    http::HeaderValue::from_static("2"),
                                );
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
        Pipedrive {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    pub fn set_index_lag(&self, lag: Duration) {
        self.state.lock().expect("lock").index_lag = lag;
    }

    /// The next `n` requests answer 429 (with `x-ratelimit-reset: 2`).
    pub fn rate_limit(&self, n: usize) {
        self.state.lock().expect("lock").rate_limited = n;
    }

    /// The next successful `call` ("POST /v1/persons") is made, its answer lost.
    pub fn lose_answer(&self, call: &str) {
        self.state.lock().expect("lock").lose.push(call.to_owned());
    }

    pub fn add_person(&self, name: &str, email: &str) -> u64 {
        let mut s = self.state.lock().expect("lock");
        let id = 100 + s.persons.len() as u64 + 1;
        s.persons.push(Person {
            id,
            name: name.into(),
            emails: vec![email.into()],
            phones: vec![],
            created: Instant::now() - Duration::from_secs(3600),
        });
        id
    }

    pub fn persons(&self) -> Vec<Person> {
        self.state.lock().expect("lock").persons.clone()
    }

    pub fn leads(&self) -> Vec<Lead> {
        self.state.lock().expect("lock").leads.clone()
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().expect("lock").log.clone()
    }
}
