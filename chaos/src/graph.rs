//! The Graph API stand-in: `GET /{leadgen_id}?access_token=…&fields=…`
//! answers the lead's `field_data`, derived from its id (so the run knows
//! which lead each Meta notification must become). Healthy, it still
//! answers a configurable share of calls with 500 or 429; it can be switched
//! to refuse connections, answer 503, or answer too late (see
//! [`crate::receivers::Mode`]).
//!
//! A share of leadgen ids ([`gone`]) is answered as Graph answers a lead
//! that no longer exists (deleted by the advertiser, or past its 90 days):
//! HTTP 400, `OAuthException` code 100, subcode 33 ("Unsupported get
//! request. Object with ID … does not exist, cannot be loaded due to
//! missing permissions, or does not support this operation"). Their events
//! must end `FAILED` with a reason, never as a lead and never lost.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::json;

use crate::receivers::{Answer, Endpoint, Mode, Request, lock};

/// The email a Meta lead gets.
pub fn meta_email(run: &str, leadgen_id: &str) -> String {
    format!("meta-{leadgen_id}-{run}@chaos.example.com")
}

/// True when the stand-in answers `leadgen_id` as deleted (a fixed share
/// `per_mille` of ids, by a hash of the id).
pub fn gone(leadgen_id: &str, per_mille: u64) -> bool {
    let h = leadgen_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h % 1000 < per_mille
}

#[derive(Default)]
struct Book {
    gone_400: u64,
    answered: u64,
    error_500: u64,
    throttled_429: u64,
    bad_token: u64,
}

/// The running stand-in.
#[derive(Clone)]
pub struct Graph {
    pub endpoint: Endpoint,
    book: Arc<Mutex<Book>>,
}

impl Graph {
    /// `error_share`: share of healthy calls answered 500 (and as many 429).
    /// `gone_per_mille`: leadgen ids answered as deleted ([`gone`]).
    pub async fn start(
        run: &str,
        page_token: &str,
        error_share: f64,
        gone_per_mille: u64,
    ) -> std::io::Result<Self> {
        let book = Arc::new(Mutex::new(Book::default()));
        let (b, run, token) = (book.clone(), run.to_owned(), page_token.to_owned());
        let endpoint = Endpoint::start(Arc::new(move |req, _mode| {
            let answer = answer(&b, &run, &token, &req, error_share, gone_per_mille);
            Box::pin(async move { answer })
        }))
        .await?;
        Ok(Graph { endpoint, book })
    }

    pub fn url(&self) -> String {
        self.endpoint.url()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.endpoint.set_mode(mode);
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        let b = lock(&self.book);
        let mut out = self.endpoint.counts();
        out.insert("answered_200".into(), b.answered);
        out.insert("random_500".into(), b.error_500);
        out.insert("random_429".into(), b.throttled_429);
        out.insert("bad_token".into(), b.bad_token);
        out.insert("gone_400".into(), b.gone_400);
        out
    }
}

fn answer(
    book: &Mutex<Book>,
    run: &str,
    token: &str,
    req: &Request,
    error_share: f64,
    gone_per_mille: u64,
) -> Answer {
    let (path, query) = req
        .path_and_query
        .split_once('?')
        .unwrap_or((req.path_and_query.as_str(), ""));
    let leadgen_id = path.trim_start_matches('/').to_owned();
    let token_ok = query
        .split('&')
        .any(|kv| kv == format!("access_token={token}"));
    let mut b = lock(book);
    if !token_ok {
        b.bad_token += 1;
        return (
            400,
            vec![],
            Bytes::from(json!({"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}}).to_string()),
        );
    }
    if gone(&leadgen_id, gone_per_mille) {
        b.gone_400 += 1;
        let message = format!(
            "Unsupported get request. Object with ID '{leadgen_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        );
        return (
            400,
            vec![],
            Bytes::from(
                json!({"error": {"message": message, "type": "GraphMethodException",
                                         "code": 100, "error_subcode": 33, "fbtrace_id": "chaos"}})
                .to_string(),
            ),
        );
    }
    let roll = fastrand::f64();
    if roll < error_share {
        b.error_500 += 1;
        return (
            500,
            vec![],
            Bytes::from(json!({"error": {"message": "An unexpected error has occurred (chaos)", "code": 2, "is_transient": true}}).to_string()),
        );
    }
    if roll < 2.0 * error_share {
        b.throttled_429 += 1;
        return (
            429,
            vec![("retry-after".into(), "1".into())],
            Bytes::from(json!({"error": {"message": "Application request limit reached (chaos)", "code": 4}}).to_string()),
        );
    }
    b.answered += 1;
    let body = json!({
        "id": leadgen_id,
        "created_time": "2026-04-22T10:15:00+0000",
        "field_data": [
            {"name": "email", "values": [meta_email(run, &leadgen_id)]},
            {"name": "full_name", "values": [format!("Meta Lead{}", &leadgen_id[leadgen_id.len().saturating_sub(4)..])]},
            {"name": "campaign_note", "values": ["chaos"]}
        ]
    });
    (200, vec![], Bytes::from(body.to_string()))
}
