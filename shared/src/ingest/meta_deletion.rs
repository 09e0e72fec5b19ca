//! Meta's data-deletion callback (docs/CONTRACT.md §4):
//!
//! * `POST /v1/meta/data-deletion` with the form field `signed_request`
//!   ([`crate::providers::meta_signed`], verified with the app secret) →
//!   `200 {"url", "confirmation_code"}`, as Meta's docs ask;
//! * `GET /v1/meta/data-deletion/{code}` → the request's state.
//!
//! What can be erased: the request names the person by their *app-scoped*
//! Meta user id. Lead Ads never give that id — neither the `leadgen`
//! notification (`leadgen_id`, `page_id`, `form_id`, `ad_id`,
//! `adgroup_id`, `created_time`, all recorded on the event) nor the Graph
//! lead (`field_data` and ad ids) — so no lead in Leadpipe can be matched
//! to it, and the request completes with nothing to erase. The status says
//! so, and how to have a lead erased (by the business, by email or phone:
//! `POST /v1/leads/{id}/erase`). The user id itself is not stored.
//!
//! The confirmation code is derived from the signed request, so Meta
//! sending the same request again gets the same code.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::{self as h, header, routes::Matched};
use crate::model::meta_deletions::{self, DeletionRequest};
use crate::providers::meta_signed::{self, SignedError};
use crate::rules::clock;

/// What the status tells the person.
pub const EXPLANATION: &str = "Your request was received and completed. Leadpipe \
receives Meta Lead Ads leads without any Facebook user id (Meta sends only the \
form's answers and the ids of the lead, page, form and ad), so no data held here \
is linked to your Facebook account and there was nothing to erase by it. A lead \
you submitted through a Lead Ads form is held for the business that ran the ad: \
ask that business to erase it, and it is erased by its email or phone.";

fn code_of(signed_request: &str) -> String {
    let digest = Sha256::digest(signed_request.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn status_view(r: &DeletionRequest) -> serde_json::Value {
    json!({
        "confirmationCode": r.confirmation_code,
        "state": r.state,
        "receivedAt": r.received_at,
        "completedAt": r.completed_at,
        "leadsErased": r.leads_erased,
        "explanation": EXPLANATION,
    })
}

/// `POST /v1/meta/data-deletion`.
pub async fn request(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body = req.body().as_ref();
    if body.len() > meta_signed::MAX_SIGNED_REQUEST + 64 {
        return Err(ApiError::PayloadTooLarge {
            limit: meta_signed::MAX_SIGNED_REQUEST + 64,
        });
    }
    let media = crate::providers::media_type(header(req.headers(), "content-type"));
    if media != "application/x-www-form-urlencoded" {
        return Err(ApiError::UnsupportedMediaType(
            "Meta posts signed_request as application/x-www-form-urlencoded".into(),
        ));
    }
    let Some(signed) = form_urlencoded::parse(body)
        .find(|(k, _)| k == "signed_request")
        .map(|(_, v)| v.into_owned())
    else {
        return Err(ApiError::MalformedBody(
            "the form field signed_request is missing".into(),
        ));
    };
    let secrets = app.secrets.get().await?;
    let Some(app_secret) = secrets.meta_app_secret.as_deref() else {
        return Err(ApiError::Internal(crate::Error::Config(
            "metaAppSecret is not set in the deployment secret".into(),
        )));
    };
    let verified = match meta_signed::parse(app_secret, &signed) {
        Ok(v) => v,
        Err(SignedError::Malformed(why)) => return Err(ApiError::MalformedBody(why)),
        Err(SignedError::BadSignature) => return Err(ApiError::Unauthorized),
    };
    let code = code_of(signed.trim());
    let scope = app.default_scope();
    let now = clock::now_rfc3339();
    let recorded = match meta_deletions::get(&scope, &code).await? {
        Some(r) => r,
        None => {
            // Nothing in Leadpipe is keyed by a Meta user id (see the
            // module's notes): the request completes with nothing erased.
            meta_deletions::put(
                &scope,
                DeletionRequest {
                    pk: String::new(),
                    sk: String::new(),
                    confirmation_code: code.clone(),
                    state: "completed".into(),
                    received_at: now.clone(),
                    completed_at: now,
                    leads_erased: 0,
                },
            )
            .await?
        }
    };
    // The user id is not logged: it identifies the person.
    tracing::info!(
        confirmation_code = %recorded.confirmation_code,
        issued_at = verified.issued_at,
        "Meta data-deletion request"
    );
    let base = h::base_url(req, app.config.public_url.as_deref());
    Ok(h::json(
        StatusCode::OK,
        &json!({
            "url": format!("{base}/v1/meta/data-deletion/{code}"),
            "confirmation_code": code,
        }),
    ))
}

/// `GET /v1/meta/data-deletion/{code}`.
pub async fn status(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    let found = meta_deletions::get(&app.default_scope(), m.param("code"))
        .await?
        .ok_or(ApiError::NotFound("data-deletion request"))?;
    Ok(h::json(StatusCode::OK, &status_view(&found)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_stable_hex() {
        let a = super::code_of("x.y");
        assert_eq!(a, super::code_of("x.y"));
        assert_ne!(a, super::code_of("x.z"));
        assert_eq!(a.len(), 32);
        assert!(crate::model::meta_deletions::valid_code(&a));
    }
}
