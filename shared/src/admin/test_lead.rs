//! `POST /v1/keys/{id}/test-lead`: a marked test lead through the key's
//! own pipeline (its defaults, its event, `process`, de-duplication), as a
//! provider's test submission would go: recorded, shown as a test, and
//! delivered only to subscriptions with `testLeads`. The console's **Send
//! test lead** calls it.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::app::Scope;
use crate::http::error::ApiError;
use crate::http::{self as h, routes::Matched};
use crate::model::keys;
use crate::providers::ProviderMeta;
use crate::rules::inbound::LeadInput;

/// The test person: a new address each time, so each test makes a lead
/// (the same address would merge into the last test lead and send nothing).
fn fields(nonce: &str) -> Vec<(String, Value)> {
    vec![
        ("firstName".into(), json!("Test")),
        ("lastName".into(), json!("Lead")),
        (
            "email".into(),
            json!(format!("test-lead+{nonce}@example.com")),
        ),
        ("message".into(), json!("A test lead sent from Leadpipe")),
    ]
}

pub async fn send(scope: &Scope, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let key = keys::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("key"))?;
    let mut nonce = [0u8; 5];
    crate::rules::crypto::fill_random(&mut nonce);
    let input = LeadInput::from_fields(
        fields(&crate::rules::crypto::encode_hex(&nonce)),
        scope.config.default_region,
        None,
    )
    .map_err(ApiError::Validation)?;
    let mut meta = ProviderMeta::new(key.provider.as_str());
    meta.test = true;
    let event_id =
        crate::ingest::hook::record_and_enqueue(scope, req, &key, &input, Some(meta)).await?;
    let mut resp = h::json(
        StatusCode::ACCEPTED,
        &json!({"eventId": event_id.as_str(), "status": "RECEIVED", "test": true}),
    );
    if let Ok(v) = http::HeaderValue::from_str(&format!("/v1/events/{event_id}")) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(resp)
}
