//! A `linkedin` key's requests (Lead Sync, [`crate::providers::linkedin`]).
//!
//! * `GET {hook}?challengeCode=…` → `200 {"challengeCode",
//!   "challengeResponse"}` (one read of the key; well inside LinkedIn's 3 s).
//! * `POST {hook}`: `X-LI-Signature` checked on the raw bytes; `CREATED` →
//!   the form response fetched from `LEADPIPE_LINKEDIN_API_URL` with the
//!   key's `providerToken`, then recorded like any provider's lead (its
//!   response id de-duplicates: LinkedIn may notify more than once). A fetch
//!   that fails answers `500`: nothing is recorded, and LinkedIn's
//!   redelivery may try again (its retry policy for lead notifications is
//!   not documented). `DELETED` → the lead that response made (recorded by
//!   `process`, [`crate::model::provider_leads`]) is erased, as
//!   `POST /v1/leads/{id}/erase` would; a response Leadpipe never made a
//!   lead of is acknowledged with nothing to erase.

use http::{StatusCode, header as hdr};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::idempotency::{self, Answer, Claim};
use super::{hook, wait};
use crate::app::App;
use crate::error::Error;
use crate::http::error::ApiError;
use crate::http::{self as h, header, query_param};
use crate::model::keys::{self, WebhookKey};
use crate::providers::linkedin::{self as li, LeadAction};
use crate::providers::{MAX_PROVIDER_BODY_BYTES, ProviderMeta};
use crate::rules::crypto::DataKey;
use crate::rules::inbound::{LeadInput, RawFields};

/// `GET {hook}?challengeCode=…`: the validation LinkedIn repeats every two
/// hours. Anything but a `linkedin` key with a challenge gets the page.
pub fn challenge(
    key: &WebhookKey,
    data_key: &DataKey,
    code: &str,
) -> Result<Response<Body>, ApiError> {
    if code.is_empty() || code.len() > 200 {
        return Err(ApiError::invalid(
            "challengeCode",
            "must be 1 to 200 characters",
        ));
    }
    let secret = key.signing_secret(data_key)?;
    Ok(h::json(
        StatusCode::OK,
        &json!({"challengeCode": code, "challengeResponse": li::challenge_response(&secret, code)}),
    ))
}

/// The challenge code of a `GET`, if any.
pub fn challenge_code(req: &Request) -> Option<String> {
    query_param(&h::query(req), "challengeCode").map(str::to_owned)
}

fn bad_gateway(what: String) -> ApiError {
    tracing::warn!(reason = %what, "LinkedIn lead fetch failed");
    ApiError::Internal(Error::Config(
        "the lead could not be fetched from LinkedIn; LinkedIn will notify again".into(),
    ))
}

/// Fetches one form response.
async fn fetch(
    app: &App,
    token: &str,
    response_id: &str,
) -> Result<(RawFields, ProviderMeta), ApiError> {
    let mut url = url::Url::parse(&format!(
        "{}/leadFormResponses/{response_id}",
        app.config.linkedin_api_url
    ))
    .map_err(|e| bad_gateway(format!("LEADPIPE_LINKEDIN_API_URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("fields", li::RESPONSE_FIELDS);
    let sent = app
        .http()?
        .get(url)
        .header(hdr::AUTHORIZATION, format!("Bearer {token}"))
        .header("LinkedIn-Version", li::API_VERSION)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .send()
        .await
        .map_err(|e| bad_gateway(crate::http::outbound::error_text(e)))?;
    let status = sent.status();
    if !status.is_success() {
        return Err(bad_gateway(format!(
            "LinkedIn answered {}",
            status.as_u16()
        )));
    }
    let body = sent
        .bytes()
        .await
        .map_err(|e| bad_gateway(crate::http::outbound::error_text(e)))?;
    li::response_fields(&body, response_id)
        .map_err(|e| bad_gateway(format!("unreadable form response: {e}")))
}

/// `leadAction: "DELETED"`: the person's data erased. A failure answers
/// 500 (nothing or part erased; the erasure finishes when run again).
async fn deleted(cx: &crate::app::Scope, response_id: &str) -> Result<Response<Body>, ApiError> {
    use crate::model::{leads, provider_leads};
    let Some(marker) = provider_leads::get(cx, "linkedin", response_id).await? else {
        tracing::info!("LinkedIn lead DELETED: no lead was made of it; nothing to erase");
        return Ok(h::json(
            StatusCode::OK,
            &json!({"received": "DELETED", "erased": false}),
        ));
    };
    let erased = match leads::get(cx, marker.lead_id.as_str()).await? {
        Some(lead) => {
            crate::process::erase::erase(cx, &lead).await?;
            true
        }
        // Erased already (through the API, or an earlier notification).
        None => false,
    };
    provider_leads::delete(cx, "linkedin", response_id).await?;
    tracing::info!(lead_id = %marker.lead_id, erased, "LinkedIn lead DELETED");
    Ok(h::json(
        StatusCode::OK,
        &json!({"received": "DELETED", "erased": erased, "leadId": marker.lead_id}),
    ))
}

pub async fn accept(
    app: &App,
    req: &Request,
    key: WebhookKey,
    data_key: &DataKey,
) -> Result<Response<Body>, ApiError> {
    let body = req.body().as_ref();
    if body.len() > MAX_PROVIDER_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_PROVIDER_BODY_BYTES,
        });
    }
    let secret = key.signing_secret(data_key)?;
    if !li::signature_valid(&secret, body, header(req.headers(), "x-li-signature")) {
        return Err(ApiError::Unauthorized);
    }
    let note = li::notification(body)?;
    let cx = &app.scope(key.workspace.clone());
    if note.action == LeadAction::Deleted {
        return deleted(cx, &note.response_id).await;
    }
    if let keys::Admission::Limited { retry_after_s } = keys::admit(cx, &key).await? {
        return Err(ApiError::RateLimited { retry_after_s });
    }
    let scope = format!("{}#linkedin", key.id);
    let lead_id = note.response_id.clone();
    let fingerprint = idempotency::fingerprint(lead_id.as_bytes());
    if let Claim::Replay(answer) = idempotency::claim(cx, &scope, &lead_id, &fingerprint).await? {
        return Ok(hook::respond(&answer));
    }
    let recorded = async {
        let token = key.provider_token(data_key)?.ok_or_else(|| {
            ApiError::Forbidden("this linkedin key has no providerToken to fetch leads with".into())
        })?;
        let (fields, mut meta) = fetch(app, &token, &lead_id).await?;
        if meta.form_id.is_none() {
            meta.form_id = note.form.clone();
        }
        let input = LeadInput::from_fields(fields, app.config.default_region, None)
            .map_err(ApiError::Validation)?;
        hook::record_and_enqueue(cx, req, &key, &input, Some(meta)).await
    }
    .await;
    match recorded {
        Ok(event_id) => {
            let answer = Answer {
                status: 202,
                body: json!({"eventId": event_id.as_str(), "status": "RECEIVED"}).to_string(),
                location: Some(format!("/v1/events/{event_id}")),
            };
            if let Err(e) =
                idempotency::complete(cx, &scope, &lead_id, &fingerprint, answer.clone()).await
            {
                tracing::warn!(error = %e, "could not store the LinkedIn answer");
            }
            if let Some(n) = wait::preference(req)
                && let Some(resp) = wait::for_lead(cx, &event_id, n).await
            {
                return Ok(resp);
            }
            Ok(hook::respond(&answer))
        }
        Err(err) => {
            if let Err(e) = idempotency::release(cx, &scope, &lead_id).await {
                tracing::warn!(error = %e, "could not release a LinkedIn lead id");
            }
            Err(err)
        }
    }
}
