//! `POST /v1/providers/meta/webhook`: Meta Lead Ads notifications
//! (docs/CONTRACT.md §4). The handshake is [`crate::meta_verify`]; the Graph API
//! look-up of each lead happens later, in [`crate::process`].

use futures::StreamExt;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::app::App;
use crate::aws::queue::LeadMessage;
use crate::aws::store::Tx;
use crate::http::error::ApiError;
use crate::http::{self as h, header as get_header};
use crate::model::events::{self, EventRecord, LeadgenMarker};
use crate::providers::meta::{self, Leadgen};
use crate::rules::clock;
use crate::rules::ids::EventId;

/// Records one `leadgen` change as an event, unless its `leadgen_id` was
/// seen before (the marker and the event are written together or not at
/// all). Returns the new event's id.
async fn record_leadgen(
    app: &App,
    leadgen: Leadgen,
    received_at: &str,
) -> Result<Option<EventId>, ApiError> {
    let event = EventRecord::from_leadgen(EventId::generate(), leadgen, received_at.to_owned());
    let leadgen_id = event.leadgen.as_ref().map(|l| l.leadgen_id.as_str());
    let marker = LeadgenMarker::new(leadgen_id.unwrap_or(""), event.id.as_str());
    let items = vec![
        app.store
            .tx_put(&marker, Some("attribute_not_exists(pk)"), vec![])?,
        app.store
            .tx_put(&event, Some("attribute_not_exists(pk)"), vec![])?,
    ];
    Ok(match app.store.transact(items).await? {
        Tx::Done => Some(event.id),
        Tx::Cancelled(_) => None,
    })
}

/// `POST /v1/providers/meta/webhook`: verify, split into one event per
/// `leadgen` change, queue them, answer 200. If anything fails the events of
/// this request are removed again and Meta, seeing a 500, sends it again.
pub async fn notification(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body = req.body().as_ref();
    if body.len() > meta::MAX_NOTIFICATION_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: meta::MAX_NOTIFICATION_BYTES,
        });
    }
    let secrets = app.secrets.get().await?;
    let Some(app_secret) = secrets.meta_app_secret.as_deref() else {
        return Err(ApiError::Internal(crate::Error::Config(
            "metaAppSecret is not set in the deployment secret".into(),
        )));
    };
    if !meta::signature_valid(
        app_secret,
        body,
        get_header(req.headers(), "x-hub-signature-256"),
    ) {
        return Err(ApiError::Unauthorized);
    }
    let changes = meta::leadgen_changes(body)?;
    let total = changes.len();
    let received_at = clock::now_rfc3339();
    let results: Vec<Result<Option<EventId>, ApiError>> = futures::stream::iter(changes)
        .map(|lg| record_leadgen(app, lg, &received_at))
        .buffer_unordered(16)
        .collect()
        .await;
    let mut created = Vec::new();
    let mut failure = None;
    for r in results {
        match r {
            Ok(Some(id)) => created.push(id),
            Ok(None) => {}
            Err(e) => failure = Some(e),
        }
    }
    if failure.is_none() {
        let messages: Vec<LeadMessage> = created
            .iter()
            .map(|id| LeadMessage {
                event_id: id.clone(),
            })
            .collect();
        if let Err(e) = app
            .queue
            .send_all(&app.config.leads_queue_url, &messages)
            .await
        {
            failure = Some(e.into());
        }
    }
    if let Some(err) = failure {
        remove_leadgen_events(app, &created).await;
        return Err(err);
    }
    tracing::info!(
        changes = total,
        accepted = created.len(),
        "meta notification"
    );
    Ok(h::json(
        StatusCode::OK,
        &json!({"received": total, "accepted": created.len(), "duplicates": total - created.len()}),
    ))
}

async fn remove_leadgen_events(app: &App, event_ids: &[EventId]) {
    for id in event_ids {
        if let Ok(Some(event)) = events::get(app, id.as_str()).await {
            if let Some(lg) = &event.leadgen
                && let Err(e) = events::remove_leadgen_marker(app, &lg.leadgen_id).await
            {
                tracing::error!(error = %e, event_id = %id, "could not remove a leadgen marker");
            }
            if let Err(e) = events::remove(app, id.as_str()).await {
                tracing::error!(error = %e, event_id = %id, "could not remove an event");
            }
        }
    }
}
