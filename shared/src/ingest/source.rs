//! `POST /v1/hooks/{keyId}`: the key's `provider` decides how the request
//! is authenticated and read (docs/CONTRACT.md §3, "Sources").
//!
//! * `webhook` → [`super::hook`] (token in a header);
//! * `form` → [`super::form`] (allowed origins, honeypot, Turnstile, 303);
//! * any provider with an [`Adapter`] → [`provider`] here: verify on the raw
//!   bytes, read the provider's body, de-duplicate on the provider's own
//!   lead id (a provider's retry replays the first answer and records
//!   nothing), record the event with the provider's metadata, queue it.

use http::HeaderValue;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::idempotency::{self, Answer, Claim};
use super::{form, hook, linkedin, wait};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::{self as h, header};
use crate::model::keys::{self, WebhookKey};
use crate::providers::{Adapter, MAX_PROVIDER_BODY_BYTES, Presented, Provider, Submission};
use crate::rules::crypto::DataKey;
use crate::rules::inbound::LeadInput;

/// Loads the key and hands the request to its provider. An unknown key
/// answers 401, as a wrong token does.
pub async fn accept(
    app: &App,
    req: &Request,
    key_id: &str,
    cors: &mut Option<HeaderValue>,
) -> Result<Response<Body>, ApiError> {
    let (key, secrets) = tokio::join!(keys::find(app, key_id), app.secrets.get());
    let key = key?.ok_or(ApiError::Unauthorized)?;
    let data_key = &secrets?.data_key;
    // Boxed: each flow's future is large, and the handler's must stay
    // small (it lives on the runtime's stack; see aws::sizes).
    match (key.provider, key.provider.adapter()) {
        (_, Some(adapter)) => Box::pin(provider(app, req, key, data_key, adapter)).await,
        (Provider::Form, None) => Box::pin(form::accept(app, req, key, data_key, cors)).await,
        (Provider::Linkedin, None) => Box::pin(linkedin::accept(app, req, key, data_key)).await,
        (_, None) => Box::pin(hook::accept(app, req, key, data_key, cors)).await,
    }
}

/// `GET /v1/hooks/{keyId}`: LinkedIn's validation challenge for a
/// `linkedin` key, else the hosted thank-you page (no key read).
pub async fn page(app: &App, req: &Request, key_id: &str) -> Result<Response<Body>, ApiError> {
    let Some(code) = linkedin::challenge_code(req) else {
        return Ok(form::thanks());
    };
    let (key, secrets) = tokio::join!(keys::find(app, key_id), app.secrets.get());
    match key? {
        Some(key) if key.provider == Provider::Linkedin => {
            linkedin::challenge(&key, &secrets?.data_key, &code)
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// The idempotency scope of a provider's lead ids on a key.
fn id_scope(key: &WebhookKey) -> String {
    format!("{}#{}", key.id, key.provider.as_str())
}

/// A provider posting its own format.
async fn provider(
    app: &App,
    req: &Request,
    key: WebhookKey,
    data_key: &DataKey,
    adapter: &dyn Adapter,
) -> Result<Response<Body>, ApiError> {
    let body = req.body().as_ref();
    if body.len() > MAX_PROVIDER_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_PROVIDER_BODY_BYTES,
        });
    }
    let secret = key.signing_secret(data_key)?;
    let query = h::query(req);
    let presented = Presented {
        headers: req.headers(),
        query: &query,
        body,
    };
    if !adapter.authentic(&secret, &presented) {
        return Err(ApiError::Unauthorized);
    }
    // Everything from here on is the key's workspace's.
    let scope = &app.scope(key.workspace.clone());
    if let keys::Admission::Limited { retry_after_s } = keys::admit(scope, &key).await? {
        tracing::info!(retry_after_s, "over the key's rate limit");
        return Err(ApiError::RateLimited { retry_after_s });
    }
    let Submission { fields, meta } = adapter.parse(header(req.headers(), "content-type"), body)?;
    let input = LeadInput::from_fields(fields, scope.config.default_region, None)
        .map_err(ApiError::Validation)?;

    let id_scope = id_scope(&key);
    let lead_id = meta.lead_id.clone().unwrap_or_default();
    // The provider's lead id is the idempotency key; its own fingerprint
    // stands for the body, so a retry whose bytes differ (a new timestamp)
    // still replays.
    let fingerprint = idempotency::fingerprint(lead_id.as_bytes());
    if let Claim::Replay(answer) =
        idempotency::claim(scope, &id_scope, &lead_id, &fingerprint).await?
    {
        tracing::info!(
            provider = key.provider.as_str(),
            "provider retry; first answer replayed"
        );
        return Ok(hook::respond(&answer));
    }
    let test = meta.test;
    match hook::record_and_enqueue(scope, req, &key, &input, Some(meta)).await {
        Ok(event_id) => {
            let answer = Answer {
                status: adapter.accepted_status(),
                body: json!({"eventId": event_id.as_str(), "status": "RECEIVED"}).to_string(),
                location: Some(format!("/v1/events/{event_id}")),
            };
            if let Err(e) =
                idempotency::complete(scope, &id_scope, &lead_id, &fingerprint, answer.clone())
                    .await
            {
                tracing::warn!(error = %e, "could not store the provider's answer");
            }
            tracing::info!(event_id = %event_id, provider = key.provider.as_str(), test, "accepted");
            if let Some(n) = wait::preference(req)
                && let Some(resp) = wait::for_lead(scope, &event_id, n).await
            {
                return Ok(resp);
            }
            Ok(hook::respond(&answer))
        }
        Err(err) => {
            if let Err(e) = idempotency::release(scope, &id_scope, &lead_id).await {
                tracing::warn!(error = %e, "could not release a provider lead id");
            }
            Err(err)
        }
    }
}
