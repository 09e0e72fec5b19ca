//! Operational events: what an operator must hear about, delivered —
//! signed, retried, logged, dead-lettered, redrivable — exactly like a
//! lead's events, to the subscriptions whose `events` name them.
//!
//! | event | raised by | about |
//! |---|---|---|
//! | `delivery.exhausted` | [`crate::deliver`], when a delivery dies | the lead, the subscription, the last answer, the request ([`snapshot`]) |
//! | `delivery.recovered` | [`crate::deliver`], when a reported delivery gets through | the delivery; the subscription when its failing spell ends |
//! | `subscription.failing` | [`crate::deliver::held`] | the subscription, its consecutive failures, the probe |
//! | `subscription.disabled` | [`crate::deliver`] (410) and [`crate::deliver::held`] (the span) | the subscription and why |
//! | `source.failing` | the sweeper's Meta page check | the page and what Graph said |
//!
//! Loops are impossible by construction: a subscription is never told
//! about itself, and a delivery of an operational event that dies or
//! recovers raises nothing (its failures still count towards its
//! subscription's health, whose changes each happen once per spell).
//!
//! Raising is best effort after the state it reports is written: the state
//! (dead, failing, disabled) is kept, shown by the API and the console and
//! counted by the alarms, so a raise that fails (logged) loses only the
//! notice. A notice costs writes only when something went wrong: nothing
//! is written per lead.

pub mod snapshot;

use serde_json::{Value, json};

use crate::app::Scope;
use crate::aws::queue::DeliveriesMessage;
use crate::error::Error;
use crate::model::deliveries::{self, Delivery};
use crate::model::event_type::OpsEventType;
use crate::model::subscriptions::{self, Subscription};
use crate::rules::clock;
use crate::rules::ids::{DeliveryId, LeadId, SubscriptionId};

/// One operational event, before it is delivered.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: OpsEventType,
    /// The subscription it is about: never told about itself.
    pub about: Option<SubscriptionId>,
    pub lead_id: Option<LeadId>,
    /// The event's `data`.
    pub data: Value,
}

/// The body of a notice (docs/CONTRACT.md §7.3).
pub fn body(scope: &Scope, kind: OpsEventType, id: &DeliveryId, data: &Value) -> Value {
    json!({
        "type": kind.as_str(),
        "deliveryId": id,
        "occurredAt": clock::now_rfc3339(),
        "workspace": scope.ws(),
        "data": data,
    })
}

/// The subscriptions `notice` goes to.
fn recipients<'a>(subs: &'a [Subscription], notice: &Notice) -> Vec<&'a Subscription> {
    subs.iter()
        .filter(|s| s.wants_ops(notice.kind) && notice.about.as_ref() != Some(&s.id))
        .collect()
}

/// Delivers `notice` to every subscription that asks for it; how many.
pub async fn raise(scope: &Scope, notice: Notice) -> Result<usize, Error> {
    let subs = subscriptions::all(scope).await?;
    let to = recipients(&subs, &notice);
    if to.is_empty() {
        return Ok(0);
    }
    let expires_at = crate::model::workspaces::expiry(scope.app(), scope.ws()).await?;
    let mut messages = Vec::with_capacity(to.len());
    for sub in to {
        let id = DeliveryId::generate();
        let payload = body(scope, notice.kind, &id, &notice.data).to_string();
        let mut d = Delivery::notice(
            scope.ws(),
            id,
            notice.kind,
            notice.lead_id.clone(),
            sub,
            payload,
        );
        d.expires_at = Some(expires_at);
        deliveries::put_new(scope, &d).await?;
        messages.push(DeliveriesMessage::attempt(scope.ws(), &d.id));
    }
    scope
        .queue
        .send_all(&scope.config.deliveries_queue_url, &messages)
        .await?;
    tracing::info!(
        event = notice.kind.as_str(),
        deliveries = messages.len(),
        "operational event raised"
    );
    Ok(messages.len())
}

/// [`raise`], its failure logged: the caller's work is done either way.
pub async fn tell(scope: &Scope, notice: Notice) {
    let kind = notice.kind;
    if let Err(e) = Box::pin(raise(scope, notice)).await {
        tracing::warn!(event = kind.as_str(), error = %e, "could not raise the operational event");
    }
}

/// The last answer of a delivery, as a notice reports it.
#[derive(Debug, Clone, Default)]
pub struct LastAnswer<'a> {
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
}

/// `delivery.exhausted`: `d` (sent to `sub`, its body in `d.payload` when
/// read to send) is dead after `attempts` attempts.
pub fn exhausted(
    d: &Delivery,
    attempts: u32,
    sub: Option<&Subscription>,
    last: LastAnswer<'_>,
) -> Notice {
    let request = sub.map(|s| {
        let body = s.body_for(d.event_type, &d.payload);
        snapshot::request(s, d.event_type, &body)
    });
    Notice {
        kind: OpsEventType::DeliveryExhausted,
        about: Some(d.subscription_id.clone()),
        lead_id: d.lead_id.clone(),
        data: json!({
            "deliveryId": d.id,
            "subscriptionId": d.subscription_id,
            "leadId": d.lead_id,
            "eventType": d.event_type,
            "attempts": attempts,
            "lastStatus": last.status_code,
            "lastError": last.error,
            "request": request,
            "retry": format!("POST /v1/deliveries/{}/retry", d.id),
        }),
    }
}

/// `delivery.recovered`: `d` got through after it was reported;
/// `released` is set when this ended its subscription's failing spell.
pub fn recovered(d: &Delivery, attempt: u32, released: Option<usize>) -> Notice {
    Notice {
        kind: OpsEventType::DeliveryRecovered,
        about: Some(d.subscription_id.clone()),
        lead_id: d.lead_id.clone(),
        data: json!({
            "deliveryId": d.id,
            "subscriptionId": d.subscription_id,
            "leadId": d.lead_id,
            "eventType": d.event_type,
            "attempt": attempt,
            "subscriptionRecovered": released.is_some(),
            "released": released.unwrap_or(0),
        }),
    }
}

/// `subscription.failing`: `sub` failed `failures` times in a row; its
/// deliveries wait while `probe` retries.
pub fn failing(
    sub: &Subscription,
    failures: u32,
    probe: &DeliveryId,
    last: LastAnswer<'_>,
) -> Notice {
    Notice {
        kind: OpsEventType::SubscriptionFailing,
        about: Some(sub.id.clone()),
        lead_id: None,
        data: json!({
            "subscriptionId": sub.id,
            "url": snapshot::redact_url(&sub.url),
            "consecutiveFailures": failures,
            "probeDeliveryId": probe,
            "lastStatus": last.status_code,
            "lastError": last.error,
        }),
    }
}

/// `subscription.disabled`: `sub` is off for `reason`, its configuration
/// kept (`PATCH {"enabled": true}` turns it on again).
pub fn disabled(sub: &Subscription, reason: &str) -> Notice {
    Notice {
        kind: OpsEventType::SubscriptionDisabled,
        about: Some(sub.id.clone()),
        lead_id: None,
        data: json!({
            "subscriptionId": sub.id,
            "url": snapshot::redact_url(&sub.url),
            "reason": reason,
            "enable": format!("PATCH /v1/subscriptions/{} {{\"enabled\": true}}", sub.id),
        }),
    }
}

/// `source.failing` for Meta page `page_id`: `reason` says what Graph
/// answered. Raised by the sweeper's page check; logged as well.
pub async fn source_failing(scope: &Scope, page_id: &str, reason: &str) {
    tracing::error!(
        event = "source.failing",
        workspace = %scope.ws(),
        page_id,
        reason,
        "a Meta page can no longer bring leads"
    );
    let notice = Notice {
        kind: OpsEventType::SourceFailing,
        about: None,
        lead_id: None,
        data: json!({
            "source": {"type": "meta_lead_ads", "pageId": page_id},
            "reason": reason,
        }),
    };
    tell(scope, notice).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, events: &[&str], kind: Option<&str>) -> Subscription {
        let mut s: Subscription = serde_json::from_value(json!({
            "pk": "SUB", "sk": id, "gsi1pk": "x", "gsi1sk": "x", "id": id,
            "url": "https://crm.example/in", "events": events,
            "secretSealed": "", "secretHint": "", "enabled": true, "maxAttempts": 5,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        s.kind = kind.map(str::to_owned);
        s
    }

    #[test]
    fn only_those_that_name_it_and_never_the_subject() {
        let a = SubscriptionId::generate();
        let b = SubscriptionId::generate();
        let c = SubscriptionId::generate();
        let d = SubscriptionId::generate();
        let subs = vec![
            sub(&a, &["subscription.failing"], None),
            sub(&b, &["subscription.failing"], None),
            // `*` is every lead event, not the operational ones.
            sub(&c, &["*"], None),
            // A CRM cannot take an alert.
            sub(&d, &["subscription.failing"], Some("hubspot")),
        ];
        let notice = Notice {
            kind: OpsEventType::SubscriptionFailing,
            about: Some(a.clone()),
            lead_id: None,
            data: Value::Null,
        };
        let to: Vec<&str> = recipients(&subs, &notice)
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(to, vec![b.as_str()]);
    }
}
