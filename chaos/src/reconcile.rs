//! The reckoning after the system settled, counted as a user would:
//!
//! * every accepted hook request is found by the address it was submitted
//!   with: exactly one lead carries it (two leads for one address in the
//!   workspace is a failure), and its event names that lead;
//! * every accepted Meta leadgen is a lead found by its address, or — when
//!   the Graph stand-in answers it as deleted ([`crate::graph::gone`]) — an
//!   event `FAILED` with its reason; a `FAILED` for any other is lost;
//! * anything else (stuck, in a DLQ after the harness's redrives, gone) is
//!   lost, and so is a lead's `lead.created` that never reached a receiver
//!   ([`deliveries`]).
//!
//! Leads and events come from the admin API; the DLQs are read straight
//! from the emulator; a Meta leadgen without a lead is traced through its
//! marker item (`META#leadgen#…`) to its event.

mod deliveries;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use leadpipe::App;
use leadpipe::aws::table;
use leadpipe::model::events::{self, LeadgenMarker};
use serde_json::{Value, json};

use crate::admin::{Admin, Operator, Queues, Views};
use crate::driver::Sent;
use crate::graph::{gone, meta_email};
use crate::receivers::Receiver;

pub use deliveries::Duplicates;

/// The outcome.
#[derive(Debug, Default, Clone)]
pub struct Reconciled {
    pub accepted: usize,
    pub accepted_hooks: usize,
    pub accepted_meta: usize,
    pub never_accepted: usize,
    /// Accepted requests that ended as a lead found by their address.
    pub leads: usize,
    /// Distinct leads those are (repeats of one address are one lead).
    pub distinct_leads: usize,
    /// Meta leadgens Graph answered as deleted that ended `FAILED`.
    pub failed: usize,
    pub failed_reasons: BTreeMap<String, usize>,
    pub lost_leads: Vec<String>,
    /// Addresses carried by more than one lead.
    pub duplicate_leads: Vec<String>,
    pub deliveries_expected: usize,
    pub delivered: usize,
    pub dead_seen: usize,
    pub delivered_after_redrive: usize,
    pub lost_deliveries: Vec<String>,
    pub duplicates: Duplicates,
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
            "accepted {}, leads {}, failed {}, lost {}, two leads for one address {}, deliveries {}/{} (dead {}, redriven and delivered {}), duplicates {} (allowed {}), bad signatures {}",
            self.accepted,
            self.leads,
            self.failed,
            self.lost(),
            self.duplicate_leads.len(),
            self.delivered,
            self.deliveries_expected,
            self.dead_seen,
            self.delivered_after_redrive,
            self.duplicates.total(),
            self.duplicates.allowed(),
            self.bad_signatures
        )
    }

    /// Why the run fails, if it does.
    pub fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.lost() > 0 {
            f.push(format!("{} lost", self.lost()));
        }
        if !self.duplicate_leads.is_empty() {
            f.push(format!(
                "{} address(es) with two leads",
                self.duplicate_leads.len()
            ));
        }
        if self.bad_signatures > 0 {
            f.push(format!("{} bad signature(s)", self.bad_signatures));
        }
        if self.conflicting_bodies > 0 {
            f.push(format!(
                "{} webhook-id(s) with two bodies",
                self.conflicting_bodies
            ));
        }
        if let Some(why) = self.duplicates.beyond_window() {
            f.push(why);
        }
        f
    }

    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "accepted": self.accepted, "acceptedHooks": self.accepted_hooks, "acceptedMetaLeadgens": self.accepted_meta,
            "neverAccepted": self.never_accepted,
            "leads": self.leads, "distinctLeads": self.distinct_leads,
            "failed": self.failed, "failedReasons": self.failed_reasons,
            "lostLeads": self.lost_leads, "addressesWithTwoLeads": self.duplicate_leads,
            "deliveriesExpected": self.deliveries_expected, "delivered": self.delivered,
            "deadSeen": self.dead_seen, "deliveredAfterRedrive": self.delivered_after_redrive,
            "lostDeliveries": self.lost_deliveries,
            "duplicates": self.duplicates.to_json(),
            "conflictingBodies": self.conflicting_bodies,
            "badSignatures": self.bad_signatures, "receivers": self.receivers, "notes": self.notes,
            "failures": self.failures(), "line": self.line(),
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
    pub operator: &'a Operator,
    /// Runner kills, emulator restarts: when a sender could lose what it
    /// had not yet recorded.
    pub disruptions: &'a [Instant],
    /// Graph's share of leadgens answered as deleted.
    pub gone_per_mille: u64,
}

fn ids(messages: &[Value], field: &str) -> HashSet<String> {
    messages
        .iter()
        .filter_map(|m| m[field].as_str().map(str::to_owned))
        .collect()
}

/// Every lead id under its address (a list: two leads for one address
/// must stay two).
fn by_address(leads: &[Value]) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for l in leads {
        if let (Some(e), Some(id)) = (l["email"].as_str(), l["id"].as_str()) {
            out.entry(e).or_default().push(id);
        }
    }
    out
}

/// `address: lead, lead…` for every address carried by more than one lead.
fn two_leads(by_address: &HashMap<&str, Vec<&str>>) -> Vec<String> {
    let mut two: Vec<String> = by_address
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(e, v)| format!("{e}: {}", v.join(", ")))
        .collect();
    two.sort();
    two
}

/// An event's status, lead and reason.
struct Ended<'a> {
    status: Option<&'a str>,
    lead: Option<&'a str>,
    error: Option<&'a str>,
}

/// Reconciles from the admin API's view (events, leads, deliveries; read
/// while the stack still runs) and the queues (read after it stopped).
pub async fn reconcile(inp: Inputs<'_>, views: &Views) -> Result<Reconciled, String> {
    let mut r = Reconciled::default();
    let leads_dlq_events = ids(&inp.queues.leads_dlq, "eventId");
    let leads_queued_events = ids(&inp.queues.leads, "eventId");
    if !inp.queues.leads.is_empty() {
        r.notes.push(format!(
            "the leads queue still held {} message(s) at the end",
            inp.queues.leads.len()
        ));
    }
    let leads_by_email = by_address(&views.leads);
    r.duplicate_leads = two_leads(&leads_by_email);
    let events_by_id: HashMap<&str, &Value> = views
        .events
        .iter()
        .filter_map(|e| Some((e["id"].as_str()?, e)))
        .collect();
    let mut our_leads: HashSet<String> = HashSet::new();

    // Judges one accepted lead: `email` is where it must be found; `gone`
    // says it must end FAILED instead.
    let mut judge = |r: &mut Reconciled,
                     what: String,
                     email: &str,
                     event_id: &str,
                     ended: Ended<'_>,
                     gone: bool| {
        let found = leads_by_email.get(email).map(Vec::as_slice).unwrap_or(&[]);
        match (ended.status, gone) {
            (Some("FAILED"), true) => {
                r.failed += 1;
                let reason: String = ended.error.unwrap_or("(no reason)").chars().take(90).collect();
                *r.failed_reasons.entry(reason).or_default() += 1;
                if !found.is_empty() {
                    r.lost_leads.push(format!("{what}: FAILED, yet a lead carries {email}"));
                }
            }
            (Some("FAILED"), false) => r.lost_leads.push(format!(
                "{what}: event {event_id} FAILED ({}) though its data was there",
                ended.error.unwrap_or("no reason")
            )),
            (Some("PROCESSED" | "DUPLICATE"), false) => match found {
                [] => r.lost_leads.push(format!(
                    "{what}: event {event_id} {} (lead {:?}) but no lead carries {email}",
                    ended.status.unwrap_or("-"),
                    ended.lead
                )),
                [one, ..] => {
                    if ended.lead != Some(*one) && found.len() == 1 {
                        r.lost_leads.push(format!(
                            "{what}: event {event_id} names lead {:?}, the lead of {email} is {one}",
                            ended.lead
                        ));
                    } else {
                        r.leads += 1;
                        our_leads.insert((*one).to_owned());
                    }
                }
            },
            (Some(s @ ("PROCESSED" | "DUPLICATE")), true) => r.lost_leads.push(format!(
                "{what}: event {event_id} {s} though Graph answered the leadgen as deleted"
            )),
            _ if leads_dlq_events.contains(event_id) => r.lost_leads.push(format!(
                "{what}: event {event_id} still in the leads DLQ after the harness's redrives"
            )),
            (Some(s), _) if leads_queued_events.contains(event_id) => r.lost_leads.push(format!(
                "{what}: event {event_id} still {s} with its message queued (not settled by the deadline)"
            )),
            (Some(s), _) => r.lost_leads.push(format!(
                "{what}: event {event_id} stuck {s}: no message for it in the leads queue or its DLQ"
            )),
            (None, _) => r.lost_leads.push(format!(
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
        let what = format!("hook #{} ({})", h.seq, h.email);
        let ev = events_by_id.get(event_id.as_str());
        let listed = ev.and_then(|e| e["status"].as_str());
        if matches!(listed, Some("PROCESSED" | "DUPLICATE" | "FAILED")) {
            let ended = Ended {
                status: listed,
                lead: ev.and_then(|e| e["leadId"].as_str()),
                error: ev.and_then(|e| e["error"].as_str()),
            };
            judge(&mut r, what, &h.email, event_id, ended, false);
            continue;
        }
        // Not finished in the list: read the item itself (a consistent
        // read of the table, not the index) before judging.
        let direct = events::get(&inp.app.default_scope(), event_id)
            .await
            .map_err(|e| format!("reading event {event_id}: {e}"))?;
        let ended = match &direct {
            Some(e) => Ended {
                status: Some(e.status.as_str()),
                lead: e.lead_id.as_ref().map(|l| l.as_str()),
                error: e.error.as_deref(),
            },
            None => Ended {
                status: None,
                lead: None,
                error: None,
            },
        };
        if ended.status != listed {
            r.notes.push(format!(
                "event {event_id}: GET /v1/events lists it {listed:?}, the item says {:?}",
                ended.status
            ));
        }
        judge(&mut r, what, &h.email, event_id, ended, false);
    }

    for m in &inp.sent.metas {
        if !m.accepted {
            r.never_accepted += m.leadgen_ids.len();
            continue;
        }
        for leadgen in &m.leadgen_ids {
            r.accepted_meta += 1;
            let email = meta_email(inp.run, leadgen);
            let is_gone = gone(leadgen, inp.gone_per_mille);
            let what = format!(
                "meta leadgen {leadgen} (notification answered {:?} after {} attempt(s))",
                m.last_answer, m.attempts
            );
            let key = table::leadgen_marker(&leadpipe::rules::ids::WorkspaceId::default(), leadgen);
            let marker = inp
                .app
                .store
                .get::<LeadgenMarker>(&key.pk, &key.sk)
                .await
                .map_err(|e| format!("reading marker {leadgen}: {e}"))?;
            let Some(marker) = marker else {
                r.lost_leads.push(format!(
                    "{what}: no leadgen marker, no event: the 200 accepted nothing for it"
                ));
                continue;
            };
            let event = events::get(&inp.app.default_scope(), marker.event_id.as_str())
                .await
                .map_err(|e| format!("reading event {}: {e}", marker.event_id))?;
            let ended = match &event {
                Some(e) => Ended {
                    status: Some(e.status.as_str()),
                    lead: e.lead_id.as_ref().map(|l| l.as_str()),
                    error: e.error.as_deref(),
                },
                None => Ended {
                    status: None,
                    lead: None,
                    error: None,
                },
            };
            judge(
                &mut r,
                what,
                &email,
                marker.event_id.as_str(),
                ended,
                is_gone,
            );
        }
    }
    r.accepted = r.accepted_hooks + r.accepted_meta;
    r.distinct_leads = our_leads.len();
    deliveries::reckon(&inp, views, &our_leads, &mut r);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_leads_for_one_address_are_two_not_one() {
        let leads = vec![
            json!({"id": "lead_1", "email": "a@x.example"}),
            json!({"id": "lead_2", "email": "a@x.example"}),
            json!({"id": "lead_3", "email": "b@x.example"}),
        ];
        let by = by_address(&leads);
        assert_eq!(by["a@x.example"], vec!["lead_1", "lead_2"]);
        assert_eq!(
            two_leads(&by),
            vec!["a@x.example: lead_1, lead_2".to_owned()]
        );
    }
}
