//! The reckoning after the system settled: every accepted request must be a
//! lead (event `PROCESSED`/`DUPLICATE`), a `FAILED` event, or a message in
//! the leads DLQ; every lead's `lead.created` must have reached every
//! subscription's receiver (a 2xx), or be a dead delivery parked in the
//! deliveries DLQ; one webhook-id must always carry one body.
//!
//! Leads and events come from the admin API; the DLQs are read straight
//! from the emulator with aws-sdk-sqs; a Meta leadgen is traced through its
//! marker item (`META#leadgen#…`) to its event when no lead carries its
//! email.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use leadpipe::App;
use leadpipe::aws::table;
use leadpipe::model::events::{self, LeadgenMarker};
use serde_json::{Value, json};

use crate::driver::Sent;
use crate::graph::meta_email;
use crate::receivers::{Receiver, ReceiverReport};

/// The admin API of the stack.
pub struct Admin {
    pub base_url: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Admin {
    pub fn new(base_url: &str, token: &str) -> Self {
        Admin {
            base_url: base_url.to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| format!("{path}: {e}"))?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Every item of a list, page by page (retrying a page a few times).
    pub async fn all(&self, path: &str) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
                None => format!("{path}{sep}limit=200"),
            };
            let mut page = None;
            let mut last = String::new();
            for _ in 0..5 {
                match self.call(reqwest::Method::GET, &url, None).await {
                    Ok((200, v)) => {
                        page = Some(v);
                        break;
                    }
                    Ok((s, v)) => last = format!("{url}: HTTP {s} {v}"),
                    Err(e) => last = e,
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let page = page.ok_or(last)?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["nextCursor"].as_str() {
                Some(c) if !c.is_empty() => {
                    cursor = Some(
                        c.bytes()
                            .map(|b| match b {
                                b'A'..=b'Z'
                                | b'a'..=b'z'
                                | b'0'..=b'9'
                                | b'-'
                                | b'_'
                                | b'.'
                                | b'~' => (b as char).to_string(),
                                _ => format!("%{b:02X}"),
                            })
                            .collect(),
                    )
                }
                _ => return Ok(items),
            }
        }
    }
}

/// Message bodies of a queue, read without deleting them (hidden for the
/// rest of the run).
pub async fn peek_queue(app: &App, url: &str) -> Result<Vec<Value>, String> {
    let sqs = app.queue.client().await;
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(900)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "ReceiveMessage {url}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            empty += 1;
            continue;
        }
        for m in got {
            out.push(
                m.body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null),
            );
        }
    }
    Ok(out)
}

/// What the queues held at the end.
#[derive(Debug, Default, Clone)]
pub struct Queues {
    pub leads: Vec<Value>,
    pub leads_dlq: Vec<Value>,
    pub deliveries: Vec<Value>,
    pub deliveries_dlq: Vec<Value>,
}

fn ids(messages: &[Value], field: &str) -> HashSet<String> {
    messages
        .iter()
        .filter_map(|m| m[field].as_str().map(str::to_owned))
        .collect()
}

/// The outcome.
#[derive(Debug, Default, Clone)]
pub struct Reconciled {
    pub accepted: usize,
    pub accepted_hooks: usize,
    pub accepted_meta: usize,
    pub never_accepted: usize,
    pub leads: usize,
    pub failed: usize,
    pub dlq: usize,
    pub lost_leads: Vec<String>,
    pub deliveries_expected: usize,
    pub delivered: usize,
    pub deliveries_dlq: usize,
    pub lost_deliveries: Vec<String>,
    pub duplicate_sends: u64,
    pub conflicting_bodies: u64,
    pub bad_signatures: u64,
    pub receivers: BTreeMap<String, Value>,
    pub notes: Vec<String>,
}

impl Reconciled {
    pub fn lost(&self) -> usize {
        self.lost_leads.len() + self.lost_deliveries.len()
    }

    /// The one line the run is judged by.
    pub fn line(&self) -> String {
        format!(
            "accepted {}, leads {}, failed {}, dlq {}, lost {}, duplicate sends {} (same webhook-id)",
            self.accepted,
            self.leads,
            self.failed,
            self.dlq,
            self.lost(),
            self.duplicate_sends
        )
    }

    pub fn passed(&self) -> bool {
        self.lost() == 0 && self.conflicting_bodies == 0
    }

    pub fn to_json(&self) -> Value {
        json!({
            "accepted": self.accepted, "acceptedHooks": self.accepted_hooks, "acceptedMetaLeadgens": self.accepted_meta,
            "neverAccepted": self.never_accepted,
            "leads": self.leads, "failed": self.failed, "dlq": self.dlq,
            "lostLeads": self.lost_leads,
            "deliveriesExpected": self.deliveries_expected, "delivered": self.delivered,
            "deliveriesInDlq": self.deliveries_dlq, "lostDeliveries": self.lost_deliveries,
            "duplicateSends": self.duplicate_sends, "conflictingBodies": self.conflicting_bodies,
            "badSignatures": self.bad_signatures, "receivers": self.receivers, "notes": self.notes,
            "line": self.line(),
        })
    }
}

/// What reconciling needs.
pub struct Inputs<'a> {
    pub run: &'a str,
    pub sent: &'a Sent,
    pub admin: &'a Admin,
    /// Direct to the emulator (no proxy).
    pub app: &'a App,
    /// (subscription id, its receiver).
    pub subscriptions: &'a [(String, Receiver)],
    pub queues: &'a Queues,
}

/// Reconciles from the admin API's view (events, leads, deliveries; read
/// while the stack still runs) and the queues (read after it stopped).
pub async fn reconcile(inp: Inputs<'_>, views: &Views) -> Result<Reconciled, String> {
    let mut r = Reconciled::default();
    let leads_dlq_events = ids(&inp.queues.leads_dlq, "eventId");
    let leads_queued_events = ids(&inp.queues.leads, "eventId");
    let dlq_deliveries = ids(&inp.queues.deliveries_dlq, "deliveryId");
    let queued_deliveries = ids(&inp.queues.deliveries, "deliveryId");
    let fan_out_retries: Vec<&Value> = inp
        .queues
        .leads_dlq
        .iter()
        .chain(inp.queues.leads.iter())
        .filter(|m| m.get("leadId").is_some())
        .collect();
    if !fan_out_retries.is_empty() {
        r.notes.push(format!(
            "{} fan-out retry message(s) {{leadId, causeId}} still queued or in the leads DLQ",
            fan_out_retries.len()
        ));
    }

    if !inp.queues.leads.is_empty() {
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for id in &leads_queued_events {
            let st = match events::get(&inp.app.default_scope(), id).await {
                Ok(Some(e)) => e.status.as_str().to_owned(),
                Ok(None) => "missing".to_owned(),
                Err(e) => format!("unreadable ({e})"),
            };
            *by_status.entry(st).or_default() += 1;
        }
        r.notes.push(format!(
            "the leads queue still held {} message(s) at the end; their events: {by_status:?}",
            inp.queues.leads.len()
        ));
    }
    if !inp.queues.deliveries.is_empty() {
        r.notes.push(format!(
            "the deliveries queue still held {} message(s) at the end",
            inp.queues.deliveries.len()
        ));
    }
    let lead_ids: HashSet<&str> = views
        .leads
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    let lead_by_email: HashMap<&str, &str> = views
        .leads
        .iter()
        .filter_map(|l| Some((l["email"].as_str()?, l["id"].as_str()?)))
        .collect();
    let events_by_id: HashMap<&str, &Value> = views
        .events
        .iter()
        .filter_map(|e| Some((e["id"].as_str()?, e)))
        .collect();
    // Leads our accepted requests became: each must reach every receiver.
    let mut our_leads: HashSet<String> = HashSet::new();

    let classify_event = |r: &mut Reconciled,
                          our_leads: &mut HashSet<String>,
                          what: String,
                          event_id: &str,
                          status: Option<&str>,
                          lead: Option<&str>| {
        match status {
            Some("PROCESSED") | Some("DUPLICATE") => match lead {
                Some(l) if lead_ids.contains(l) => {
                    r.leads += 1;
                    our_leads.insert(l.to_owned());
                }
                other => r.lost_leads.push(format!(
                    "{what}: event {event_id} {} names lead {other:?}, which does not exist",
                    status.unwrap_or("-")
                )),
            },
            Some("FAILED") => r.failed += 1,
            _ if leads_dlq_events.contains(event_id) => r.dlq += 1,
            Some(s) if leads_queued_events.contains(event_id) => r.lost_leads.push(format!(
                "{what}: event {event_id} still {s} with its message queued (not settled by the deadline)"
            )),
            Some(s) => r.lost_leads.push(format!(
                "{what}: event {event_id} stuck {s}: no message for it in the leads queue or its DLQ"
            )),
            None => r.lost_leads.push(format!(
                "{what}: event {event_id} was answered 2xx but does not exist (removed after acceptance?)"
            )),
        }
    };

    for h in inp.sent.hooks.iter() {
        let Some(event_id) = &h.event_id else {
            r.never_accepted += 1;
            continue;
        };
        r.accepted_hooks += 1;
        let ev = events_by_id.get(event_id.as_str());
        let listed = ev.and_then(|e| e["status"].as_str());
        if matches!(listed, Some("PROCESSED" | "DUPLICATE" | "FAILED")) {
            classify_event(
                &mut r,
                &mut our_leads,
                format!("hook #{} ({})", h.seq, h.email),
                event_id,
                listed,
                ev.and_then(|e| e["leadId"].as_str()),
            );
            continue;
        }
        // Not finished in the list: read the item itself (a consistent
        // read of the table, not the index) before judging.
        let direct = events::get(&inp.app.default_scope(), event_id)
            .await
            .map_err(|e| format!("reading event {event_id}: {e}"))?;
        let (status, lead) = match &direct {
            Some(e) => (
                Some(e.status.as_str()),
                e.lead_id.as_ref().map(|l| l.as_str()),
            ),
            None => (None, None),
        };
        if status != listed {
            r.notes.push(format!(
                "event {event_id}: GET /v1/events lists it {listed:?}, the item says {status:?}"
            ));
        }
        classify_event(
            &mut r,
            &mut our_leads,
            format!("hook #{} ({})", h.seq, h.email),
            event_id,
            status,
            lead,
        );
    }

    for m in &inp.sent.metas {
        if !m.accepted {
            r.never_accepted += m.leadgen_ids.len();
            continue;
        }
        for leadgen in &m.leadgen_ids {
            r.accepted_meta += 1;
            let email = meta_email(inp.run, leadgen);
            if let Some(lead) = lead_by_email.get(email.as_str()) {
                r.leads += 1;
                our_leads.insert((*lead).to_owned());
                continue;
            }
            let key = table::leadgen_marker(&leadpipe::rules::ids::WorkspaceId::default(), leadgen);
            let marker = inp
                .app
                .store
                .get::<LeadgenMarker>(&key.pk, &key.sk)
                .await
                .map_err(|e| format!("reading marker {leadgen}: {e}"))?;
            let what = format!(
                "meta leadgen {leadgen} (notification answered {:?} after {} attempt(s))",
                m.last_answer, m.attempts
            );
            let Some(marker) = marker else {
                r.lost_leads.push(format!(
                    "{what}: no lead, no leadgen marker, no event: the 200 accepted nothing for it"
                ));
                continue;
            };
            let event = events::get(&inp.app.default_scope(), marker.event_id.as_str())
                .await
                .map_err(|e| format!("reading event {}: {e}", marker.event_id))?;
            match event {
                None => r.lost_leads.push(format!(
                    "{what}: marker names event {} which does not exist (the marker blocks every resend)",
                    marker.event_id
                )),
                Some(e) => classify_event(
                    &mut r,
                    &mut our_leads,
                    what,
                    marker.event_id.as_str(),
                    Some(e.status.as_str()),
                    e.lead_id.as_ref().map(|l| l.as_str()),
                ),
            }
        }
    }
    r.accepted = r.accepted_hooks + r.accepted_meta;

    // Deliveries: every (subscription, lead) pair.
    for (sub_id, receiver) in inp.subscriptions {
        let report: ReceiverReport = receiver.report();
        r.duplicate_sends += report.duplicate_sends;
        r.conflicting_bodies += report.conflicting_bodies;
        r.bad_signatures += report.bad_signatures;
        r.receivers.insert(
            receiver.name.clone(),
            json!({"subscriptionId": sub_id, "requests": report.requests, "distinctWebhookIds": report.distinct_ids,
                   "acceptedWebhookIds": report.accepted_ids, "duplicateSends": report.duplicate_sends,
                   "conflictingBodies": report.conflicting_bodies, "badSignatures": report.bad_signatures,
                   "missingWebhookId": report.missing_id, "random500": report.random_500,
                   "byMode": receiver.endpoint.counts()}),
        );
        let mut by_lead: HashMap<&str, Vec<&Value>> = HashMap::new();
        if let Some(ds) = views.deliveries.get(sub_id) {
            for d in ds {
                if let Some(l) = d["leadId"].as_str() {
                    by_lead.entry(l).or_default().push(d);
                }
            }
        }
        for lead in &our_leads {
            r.deliveries_expected += 1;
            if report.accepted_leads.contains_key(lead) {
                r.delivered += 1;
                continue;
            }
            let ds = by_lead.get(lead.as_str()).cloned().unwrap_or_default();
            let what = format!("lead {lead} → {} ({sub_id})", receiver.name);
            if ds.is_empty() {
                r.lost_deliveries.push(format!(
                    "{what}: no delivery record (fan-out never made it)"
                ));
                continue;
            }
            let in_dlq = ds
                .iter()
                .any(|d| d["id"].as_str().is_some_and(|i| dlq_deliveries.contains(i)));
            if in_dlq {
                r.deliveries_dlq += 1;
                continue;
            }
            let desc: Vec<String> = ds
                .iter()
                .map(|d| {
                    let id = d["id"].as_str().unwrap_or("?");
                    format!(
                        "{id} {} after {} attempt(s){}",
                        d["status"].as_str().unwrap_or("?"),
                        d["attempts"].as_array().map_or(0, Vec::len),
                        if queued_deliveries.contains(id) {
                            ", message still queued"
                        } else {
                            ", no message in the queue or DLQ"
                        }
                    )
                })
                .collect();
            r.lost_deliveries.push(format!(
                "{what}: receiver has no 2xx for it; {}",
                desc.join("; ")
            ));
        }
    }
    Ok(r)
}

/// The admin API's view, read while the stack runs.
#[derive(Debug, Default)]
pub struct Views {
    pub events: Vec<Value>,
    pub leads: Vec<Value>,
    /// subscription id → its deliveries.
    pub deliveries: HashMap<String, Vec<Value>>,
}

pub async fn read_views(admin: &Admin, subscription_ids: &[String]) -> Result<Views, String> {
    let mut v = Views {
        events: admin.all("/v1/events").await?,
        leads: admin.all("/v1/leads").await?,
        ..Views::default()
    };
    for s in subscription_ids {
        v.deliveries.insert(
            s.clone(),
            admin
                .all(&format!("/v1/deliveries?subscriptionId={s}"))
                .await?,
        );
    }
    Ok(v)
}
