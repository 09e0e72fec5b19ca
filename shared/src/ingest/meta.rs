//! `POST /v1/providers/meta/webhook`: Meta Lead Ads notifications
//! (docs/CONTRACT.md §4). The handshake is [`crate::meta_verify`]; the Graph API
//! look-up of each lead happens later, in [`crate::process`].
//!
//! Zero loss: a `leadgen_id` is recorded with a marker, then a `RECEIVED`
//! event, then queued — two conditional writes, no transaction (which
//! DynamoDB bills twice). Only a failed *condition* on the marker means
//! "seen before"; any other failure (throttling, a 500) answers 500 so Meta
//! sends again. A marker whose event is missing (a stop between the two
//! writes) gets its event written under the marker's id by that retry; a
//! marker whose event is still `RECEIVED` past a grace ([`requeue_grace`];
//! its message may never have been sent) is queued again, once per grace —
//! `process` is idempotent — and the sweeper does the same for events
//! nobody asks about again.

use std::collections::HashSet;

use futures::StreamExt;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::app::{App, Scope};
use crate::aws::queue::LeadsMessage;
use crate::aws::store::Write;
use crate::error::{AwsErrorKind, Error};
use crate::http::error::ApiError;
use crate::http::{self as h, header as get_header};
use crate::model::events::{self, EventRecord, EventStatus, LeadDefaults, LeadgenMarker};
use crate::model::{keys, pages};
use crate::providers::meta::{self, Leadgen};
use crate::rules::clock;
use crate::rules::ids::{EventId, WorkspaceId};

/// What became of one `leadgen` change.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Recorded {
    /// A new event, to queue.
    New(EventId),
    /// Seen before, but its event was never processed: queue it again.
    Requeue(EventId),
    /// Seen and processed (or failed) before: nothing to do.
    Seen,
}

impl Recorded {
    fn to_queue(&self) -> Option<&EventId> {
        match self {
            Recorded::New(id) | Recorded::Requeue(id) => Some(id),
            Recorded::Seen => None,
        }
    }
}

/// Where a leadgen goes: the workspace that registered its page (and the
/// defaults of the key its form is mapped to), else `default`, where a
/// page nobody registered ends `FAILED` unless the deployment's own page
/// token (the set-up before workspaces) serves it.
async fn route(app: &App, leadgen: &Leadgen) -> Result<(Scope, Option<LeadDefaults>), Error> {
    let page = match leadgen.page_id.as_deref() {
        Some(id) => pages::find(app, id).await?,
        None => None,
    };
    let Some(page) = page else {
        return Ok((app.default_scope(), None));
    };
    let scope = app.scope(page.workspace.clone());
    let key_id = leadgen
        .form_id
        .as_deref()
        .and_then(|f| page.form_keys.get(f));
    let defaults = match key_id {
        Some(id) => keys::get(&scope, id).await?.map(|k| LeadDefaults {
            status: k.default_status,
            tags: k.default_tags,
        }),
        None => None,
    };
    Ok((scope, defaults))
}

/// Records one `leadgen` change as an event, unless its `leadgen_id` was
/// seen before: the marker first, then the event (see the module's notes).
async fn record_leadgen(
    app: &App,
    leadgen: Leadgen,
    received_at: &str,
) -> Result<(WorkspaceId, Recorded), Error> {
    let (scope, defaults) = route(app, &leadgen).await?;
    let ws = scope.ws().clone();
    let marker = LeadgenMarker::new(&ws, &leadgen.leadgen_id, &EventId::generate());
    if events::put_marker(&scope, &marker).await? == Write::Conflict {
        let recorded = already_recorded(&scope, Some(&leadgen), defaults, received_at).await?;
        return Ok((ws, recorded));
    }
    let mut event = leadgen_event(&scope, marker.event_id, leadgen, defaults, received_at);
    event.expires_at = Some(crate::model::workspaces::expiry(app, &ws).await?);
    events::put_new(&scope, &event).await?;
    Ok((ws, Recorded::New(event.id)))
}

fn leadgen_event(
    scope: &Scope,
    id: EventId,
    leadgen: Leadgen,
    defaults: Option<LeadDefaults>,
    received_at: &str,
) -> EventRecord {
    let mut event = EventRecord::from_leadgen(scope.ws(), id, leadgen, received_at.to_owned());
    if let Some(d) = defaults {
        event.defaults = d;
    }
    event
}

/// The marker exists. Its event decides: still `RECEIVED` → queue it again;
/// missing (an older clean-up removed it) → write it again under the
/// marker's id; anything else → seen.
async fn already_recorded(
    scope: &Scope,
    leadgen: Option<&Leadgen>,
    defaults: Option<LeadDefaults>,
    received_at: &str,
) -> Result<Recorded, Error> {
    let Some(leadgen) = leadgen else {
        return Ok(Recorded::Seen);
    };
    let Some(marker) = events::leadgen_marker(scope, &leadgen.leadgen_id).await? else {
        // The marker went away between the write and this read: let Meta
        // send again rather than guess.
        return Err(Error::Aws {
            service: "dynamodb",
            op: "GetItem",
            kind: AwsErrorKind::TransactionConflict,
            message: format!("leadgen {} changed while recording", leadgen.leadgen_id),
        });
    };
    let id = marker.event_id;
    match events::get(scope, id.as_str()).await? {
        // Queued again only once it has been `RECEIVED` for longer than a
        // grace, and once per grace (as the sweeper does): a second
        // notification while `process` works on the first (or waits out a
        // Graph back-off) must not run it, and call Graph, twice.
        Some(e) if e.status == EventStatus::Received => {
            let now = clock::now_ms();
            let grace = i64::try_from(requeue_grace(&scope.config).as_millis()).unwrap_or(0);
            let old_enough = clock::parse_rfc3339(&e.received_at)
                .is_some_and(|at| now.saturating_sub(at) >= grace);
            if old_enough && events::mark_swept(scope, &id, now, now - grace).await? == Write::Done
            {
                Ok(Recorded::Requeue(id))
            } else {
                Ok(Recorded::Seen)
            }
        }
        Some(_) => Ok(Recorded::Seen),
        None => {
            let event = leadgen_event(scope, id.clone(), leadgen.clone(), defaults, received_at);
            events::put_new(scope, &event).await?;
            Ok(Recorded::Requeue(id))
        }
    }
}

/// How long an event stays `RECEIVED` before a repeated notification
/// queues it again: the leads queue's visibility timeout (a message being
/// processed is hidden that long), or the sweeper's grace when shorter.
pub fn requeue_grace(config: &crate::Config) -> std::time::Duration {
    let visibility = u64::from(crate::aws::resources::LEADS_QUEUE.visibility_timeout_s);
    config
        .sweep_grace
        .min(std::time::Duration::from_secs(visibility))
}

/// `POST /v1/providers/meta/webhook`: verify, split into one event per
/// `leadgen` change, queue them, answer 200. If recording or queueing fails
/// the answer is 500 and Meta sends the notification again: what was
/// recorded is then queued again (see [`already_recorded`]).
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
    // The same leadgen twice in one notification is one lead.
    let mut ids = HashSet::new();
    let changes: Vec<Leadgen> = changes
        .into_iter()
        .filter(|lg| ids.insert(lg.leadgen_id.clone()))
        .collect();
    let received_at = clock::now_rfc3339();
    let results: Vec<Result<(WorkspaceId, Recorded), Error>> = futures::stream::iter(changes)
        .map(|lg| record_leadgen(app, lg, &received_at))
        .buffer_unordered(16)
        .collect()
        .await;
    let mut recorded = Vec::with_capacity(results.len());
    let mut failure = None;
    for r in results {
        match r {
            Ok(r) => recorded.push(r),
            Err(e) => failure = Some(e),
        }
    }
    // Queue what was recorded even when another change failed: Meta's
    // retry finds those `RECEIVED` and queues them again, harmlessly.
    let messages: Vec<LeadsMessage> = recorded
        .iter()
        .filter_map(|(ws, r)| {
            r.to_queue().map(|id| LeadsMessage::Event {
                workspace: ws.clone(),
                event_id: id.clone(),
            })
        })
        .collect();
    app.queue
        .send_all(&app.config.leads_queue_url, &messages)
        .await?;
    if let Some(err) = failure {
        return Err(err.into());
    }
    let new = recorded
        .iter()
        .filter(|(_, r)| matches!(r, Recorded::New(_)))
        .count();
    let requeued = messages.len() - new;
    tracing::info!(
        changes = total,
        accepted = new,
        requeued,
        "meta notification"
    );
    Ok(h::json(
        StatusCode::OK,
        &json!({"received": total, "accepted": new, "duplicates": total - new, "requeued": requeued}),
    ))
}
