//! A Google stand-in on 127.0.0.1: the OAuth token endpoint for service
//! accounts and the Sheets v4 `values` API, as Google documents them where
//! Leadpipe depends on it:
//!
//! * `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
//!   and an RS256 `assertion` whose signature verifies with the registered
//!   account's public key and whose `iss`, `aud`, `scope`, `exp` hold →
//!   `{"access_token", "expires_in", "token_type": "Bearer"}`; otherwise
//!   `400 {"error": "invalid_grant", "error_description": …}`.
//! * Sheets calls need `Authorization: Bearer` with a live token, else
//!   `401 … "status": "UNAUTHENTICATED"`.
//! * `GET …/values/{range}` (`majorDimension=COLUMNS`; no `values` when
//!   empty), `PUT …/values/{range}` (one row), `POST
//!   …/values/{range}:append` (after the last row; answers `updates`).
//! * Faults: tokens expired early, the next N calls `429` with
//!   `Retry-After`, the next append made and its answer lost.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A fresh RSA key: (PKCS #8 PEM, PKCS #1 public key DER), from openssl.
pub fn new_key() -> (String, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("lp-sa-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = dir.join("key.pem");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().expect("path"),
    ]);
    let public = run(&[
        "rsa",
        "-in",
        key.to_str().expect("path"),
        "-RSAPublicKey_out",
        "-outform",
        "DER",
    ]);
    let pem = std::fs::read_to_string(&key).expect("pem");
    let _ = std::fs::remove_dir_all(&dir);
    (pem, public)
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A service-account key file for `email` with `pem`.
pub fn key_file(email: &str, pem: &str) -> Value {
    json!({"type": "service_account", "project_id": "leadpipe-test", "private_key_id": "0123456789abcdef",
           "private_key": pem, "client_email": email, "client_id": "1234567890",
           "token_uri": "https://oauth2.googleapis.com/token"})
}

#[derive(Default)]
struct State {
    base_url: String,
    accounts: Vec<(String, Vec<u8>)>,
    tokens: Vec<(String, Instant)>,
    token_life: Duration,
    token_requests: usize,
    spreadsheet: String,
    tab: String,
    rows: Vec<Vec<String>>,
    rate_limited: usize,
    lose_next_append: usize,
    log: Vec<String>,
}

#[derive(Clone)]
pub struct Google {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

fn unauthenticated() -> (u16, Value) {
    (
        401,
        json!({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "status": "UNAUTHENTICATED"}}),
    )
}

fn invalid_grant(why: &str) -> (u16, Value) {
    (
        400,
        json!({"error": "invalid_grant", "error_description": why}),
    )
}

impl State {
    fn token(&mut self, form: &str) -> (u16, Value) {
        self.token_requests += 1;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        if get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
            return (400, json!({"error": "unsupported_grant_type"}));
        }
        let assertion = get("assertion");
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 {
            return invalid_grant("Invalid JWT.");
        }
        let decode = |p: &str| {
            URL_SAFE_NO_PAD
                .decode(p)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        };
        let (Some(header), Some(claims), Ok(sig)) = (
            decode(parts[0]),
            decode(parts[1]),
            URL_SAFE_NO_PAD.decode(parts[2]),
        ) else {
            return invalid_grant("Invalid JWT.");
        };
        if header["alg"] != "RS256" {
            return invalid_grant("Invalid JWT: alg");
        }
        let email = claims["iss"].as_str().unwrap_or("");
        let Some((_, public)) = self.accounts.iter().find(|(e, _)| e == email) else {
            return invalid_grant("Invalid JWT Signature.");
        };
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            public,
        );
        if key
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .is_err()
        {
            return invalid_grant("Invalid JWT Signature.");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if claims["aud"].as_str() != Some(&format!("{}/token", self.base_url))
            || claims["scope"] != "https://www.googleapis.com/auth/spreadsheets"
            || claims["exp"]
                .as_i64()
                .is_none_or(|e| e <= now || e > now + 3700)
        {
            return invalid_grant("Invalid JWT: claims (aud, scope or exp)");
        }
        let token = format!("ya29.test-{}", self.token_requests);
        self.tokens
            .push((token.clone(), Instant::now() + self.token_life));
        (
            200,
            json!({"access_token": token, "expires_in": self.token_life.as_secs(), "token_type": "Bearer"}),
        )
    }

    fn sheets(&mut self, method: &str, path: &str, auth: &str, body: &Value) -> (u16, Value) {
        let token = auth.strip_prefix("Bearer ").unwrap_or("");
        if !self
            .tokens
            .iter()
            .any(|(t, until)| t == token && Instant::now() < *until)
        {
            return unauthenticated();
        }
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            return (
                429,
                json!({"error": {"code": 429, "message": "Quota exceeded for quota metric 'Write requests'", "status": "RESOURCE_EXHAUSTED"}}),
            );
        }
        let prefix = format!("/v4/spreadsheets/{}/values/", self.spreadsheet);
        let Some(range) = path.strip_prefix(&prefix) else {
            return (
                404,
                json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}),
            );
        };
        let range = percent_decode(range);
        let (range, append) = match range.strip_suffix(":append") {
            Some(r) => (r.to_owned(), true),
            None => (range, false),
        };
        let want = format!("'{}'!", self.tab.replace('\'', "''"));
        let Some(cells) = range.strip_prefix(&want) else {
            return (
                400,
                json!({"error": {"code": 400, "message": format!("Unable to parse range: {range}"), "status": "INVALID_ARGUMENT"}}),
            );
        };
        let row_of = |v: &Value| -> Vec<String> {
            v["values"][0]
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|c| c.as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        match (method, append) {
            ("GET", false) if cells == "A:A" => {
                let col: Vec<String> = self
                    .rows
                    .iter()
                    .map(|r| r.first().cloned().unwrap_or_default())
                    .collect();
                let mut v =
                    json!({"range": format!("{want}A1:A1000"), "majorDimension": "COLUMNS"});
                if !col.is_empty() {
                    v["values"] = json!([col]);
                }
                (200, v)
            }
            ("PUT", false) => {
                let Some(n) = cells
                    .strip_prefix('A')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| *n >= 1)
                else {
                    return (
                        400,
                        json!({"error": {"code": 400, "message": "Unable to parse range", "status": "INVALID_ARGUMENT"}}),
                    );
                };
                let row = row_of(body);
                while self.rows.len() < n {
                    self.rows.push(vec![]);
                }
                self.rows[n - 1] = row.clone();
                (
                    200,
                    json!({"spreadsheetId": self.spreadsheet, "updatedRange": format!("{want}A{n}"), "updatedRows": 1, "updatedColumns": row.len(), "updatedCells": row.len()}),
                )
            }
            ("POST", true) => {
                let row = row_of(body);
                self.rows.push(row.clone());
                let n = self.rows.len();
                (
                    200,
                    json!({"spreadsheetId": self.spreadsheet, "tableRange": format!("{want}A1:A{}", n - 1),
                             "updates": {"spreadsheetId": self.spreadsheet, "updatedRange": format!("{want}A{n}"),
                                         "updatedRows": 1, "updatedColumns": row.len(), "updatedCells": row.len()}}),
                )
            }
            _ => (
                400,
                json!({"error": {"code": 400, "message": "unsupported", "status": "INVALID_ARGUMENT"}}),
            ),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Google {
    /// Serves one spreadsheet `spreadsheet` with one tab `tab`.
    pub async fn start(spreadsheet: &str, tab: &str) -> Self {
        use http_body_util::{BodyExt, Full};
        use hyper::service::service_fn;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base_url = format!("http://{addr}");
        let state = Arc::new(Mutex::new(State {
            base_url: base_url.clone(),
            token_life: Duration::from_secs(3600),
            spreadsheet: spreadsheet.into(),
            tab: tab.into(),
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
                            let auth = parts
                                .headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let (status, reply, retry_after) = {
                                let mut s = state.lock().expect("lock");
                                let method = parts.method.as_str();
                                let path = parts.uri.path();
                                s.log.push(format!("{method} {}", percent_decode(path)));
                                let (mut status, mut reply) = if path == "/token" {
                                    s.token(&String::from_utf8_lossy(&bytes))
                                } else {
                                    let body: Value =
                                        serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                                    s.sheets(method, path, &auth, &body)
                                };
                                let append =
                                    path.ends_with("%3Aappend") || path.ends_with(":append");
                                if status == 200 && append && s.lose_next_append > 0 {
                                    s.lose_next_append -= 1;
                                    (status, reply) = (502, json!({"error": "upstream timed out"}));
                                }
                                (status, reply, status == 429)
                            };
                            let mut resp = hyper::Response::new(Full::new(bytes::Bytes::from(
                                reply.to_string(),
                            )));
                            *resp.status_mut() =
                                http::StatusCode::from_u16(status).expect("status");
                            resp.headers_mut().insert(
                                "content-type",
                                http::HeaderValue::from_static("application/json; charset=UTF-8"),
                            );
                            if retry_after {
                                resp.headers_mut()
                                    .insert("retry-after", http::HeaderValue::from_static("2"));
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
        Google { base_url, state }
    }

    /// Accepts assertions signed by `public_der` for `email`.
    pub fn register(&self, email: &str, public_der: Vec<u8>) {
        self.state
            .lock()
            .expect("lock")
            .accounts
            .push((email.into(), public_der));
    }

    /// Every token issued so far expires now.
    pub fn expire_tokens(&self) {
        for t in &mut self.state.lock().expect("lock").tokens {
            t.1 = Instant::now();
        }
    }

    pub fn rate_limit(&self, n: usize) {
        self.state.lock().expect("lock").rate_limited = n;
    }

    pub fn lose_next_append(&self) {
        self.state.lock().expect("lock").lose_next_append = 1;
    }

    pub fn rows(&self) -> Vec<Vec<String>> {
        self.state.lock().expect("lock").rows.clone()
    }

    pub fn token_requests(&self) -> usize {
        self.state.lock().expect("lock").token_requests
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().expect("lock").log.clone()
    }
}
