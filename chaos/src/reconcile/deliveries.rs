//! Deliveries: every lead's `lead.created` must have reached every
//! subscription's receiver at least once (dead deliveries are redriven by
//! the harness, so a dead one at the end is lost), and duplicates are
//! counted and judged against the at-least-once window:
//!
//! * the same `webhook-id` acted on again — after an answer that came too
//!   late for the sender (`afterSlowAnswer`: always allowed, the sender
//!   cannot know), after an in-time 2xx with a runner kill or emulator
//!   restart between that 2xx and the resend (`nearDisruption`: allowed,
//!   the sender died before recording it), or otherwise (`other`: a write
//!   recording the 2xx failed through the SDK's retries; allowed up to 1 %
//!   of the deliveries, at least 2);
//! * two `webhook-id`s for one (lead, subscription, event type and
//!   changes): never allowed — fan-out derives the id from the history
//!   entry, so a second id means the lead was processed into history twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Inputs, Reconciled};
use crate::admin::Views;
use crate::receivers::Duplicate;

/// Duplicates by kind.
#[derive(Debug, Default, Clone)]
pub struct Duplicates {
    pub after_slow: u64,
    pub near_disruption: u64,
    pub other: u64,
    pub extra_ids: u64,
    /// How many `other` the window allows.
    pub other_budget: u64,
    pub examples: Vec<String>,
}

impl Duplicates {
    pub fn total(&self) -> u64 {
        self.after_slow + self.near_disruption + self.other + self.extra_ids
    }

    pub fn allowed(&self) -> u64 {
        self.after_slow + self.near_disruption + self.other.min(self.other_budget)
    }

    /// Why the duplicates fail the run, if they do.
    pub fn beyond_window(&self) -> Option<String> {
        if self.extra_ids > 0 {
            return Some(format!(
                "{} second webhook-id(s) for one lead, subscription and event",
                self.extra_ids
            ));
        }
        (self.other > self.other_budget).then(|| {
            format!(
                "{} resend(s) of a webhook-id answered 2xx in time with no kill or restart between (window allows {})",
                self.other, self.other_budget
            )
        })
    }

    pub fn to_json(&self) -> Value {
        json!({"sameIdAfterSlowAnswer": self.after_slow, "sameIdNearDisruption": self.near_disruption,
               "sameIdOther": self.other, "otherAllowed": self.other_budget,
               "secondIdForOneEvent": self.extra_ids, "total": self.total(), "allowed": self.allowed(),
               "examples": self.examples})
    }

    fn judge(&mut self, d: &Duplicate, disruptions: &[Instant], receiver: &str) {
        let slack = Duration::from_secs(1);
        let near = disruptions
            .iter()
            .any(|t| *t + slack >= d.previous && *t <= d.at);
        let kind = if d.after_slow_only {
            self.after_slow += 1;
            "after a slow answer"
        } else if near {
            self.near_disruption += 1;
            "a kill or restart between"
        } else {
            self.other += 1;
            "after an in-time 2xx"
        };
        if self.examples.len() < 20 {
            self.examples.push(format!(
                "{receiver}: {} (lead {:?}) again {:.1}s later, {kind}",
                d.webhook_id,
                d.lead_id,
                d.at.duration_since(d.previous).as_secs_f64()
            ));
        }
    }
}

/// Counts every (subscription, lead) pair and the receivers' duplicates.
pub(super) fn reckon(
    inp: &Inputs<'_>,
    views: &Views,
    our_leads: &std::collections::HashSet<String>,
    r: &mut Reconciled,
) {
    let dlq_deliveries: std::collections::HashSet<&str> = inp
        .queues
        .deliveries_dlq
        .iter()
        .filter_map(|m| m["deliveryId"].as_str())
        .collect();
    let queued: std::collections::HashSet<&str> = inp
        .queues
        .deliveries
        .iter()
        .filter_map(|m| m["deliveryId"].as_str())
        .collect();
    r.dead_seen = inp.operator.dead_seen.len();
    for (sub_id, receiver) in inp.subscriptions {
        let report = receiver.report();
        r.conflicting_bodies += report.conflicting_bodies;
        r.bad_signatures += report.bad_signatures;
        for d in &report.duplicates {
            r.duplicates.judge(d, inp.disruptions, &receiver.name);
        }
        r.duplicates.extra_ids += report.extra_ids.len() as u64;
        for id in report.extra_ids.iter().take(5) {
            r.duplicates
                .examples
                .push(format!("{}: second webhook-id {id}", receiver.name));
        }
        r.receivers.insert(
            receiver.name.clone(),
            json!({"subscriptionId": sub_id, "requests": report.requests, "distinctWebhookIds": report.distinct_ids,
                   "receivedWebhookIds": report.received_ids, "duplicateRequests": report.duplicates.len(),
                   "secondIds": report.extra_ids.len(), "slowAnswersActedOn": report.slow_processed,
                   "conflictingBodies": report.conflicting_bodies, "badSignatures": report.bad_signatures,
                   "missingWebhookId": report.missing_id, "random500": report.random_500,
                   "byMode": receiver.endpoint.counts()}),
        );
        let mut by_lead: HashMap<&str, Vec<&Value>> = HashMap::new();
        for d in views.deliveries.get(sub_id).into_iter().flatten() {
            if let Some(l) = d["leadId"].as_str() {
                by_lead.entry(l).or_default().push(d);
            }
        }
        for lead in our_leads {
            r.deliveries_expected += 1;
            if let Some(ids) = report.received_leads.get(lead) {
                r.delivered += 1;
                if ids.iter().any(|i| inp.operator.dead_seen.contains(i)) {
                    r.delivered_after_redrive += 1;
                }
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
            let desc: Vec<String> = ds
                .iter()
                .map(|d| {
                    let id = d["id"].as_str().unwrap_or("?");
                    format!(
                        "{id} {} after {} attempt(s){}",
                        d["status"].as_str().unwrap_or("?"),
                        d["attempts"].as_array().map_or(0, Vec::len),
                        if dlq_deliveries.contains(id) {
                            ", parked in the DLQ after the harness's redrives"
                        } else if queued.contains(id) {
                            ", message still queued"
                        } else {
                            ", no message in the queue or DLQ"
                        }
                    )
                })
                .collect();
            r.lost_deliveries.push(format!(
                "{what}: the receiver never acted on it; {}",
                desc.join("; ")
            ));
        }
    }
    r.duplicates.other_budget = (r.deliveries_expected as u64 / 100).max(2);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(slow: bool, previous: Instant, at: Instant) -> Duplicate {
        Duplicate {
            webhook_id: "dlv_1".into(),
            lead_id: Some("lead_1".into()),
            after_slow_only: slow,
            previous,
            at,
        }
    }

    #[test]
    fn duplicates_are_judged_against_the_window() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut d = Duplicates {
            other_budget: 1,
            ..Duplicates::default()
        };
        d.judge(&dup(true, s(0), s(20)), &[], "crm");
        // A kill between the 2xx and the resend; one before it is no excuse.
        d.judge(&dup(false, s(10), s(30)), &[s(15)], "crm");
        d.judge(&dup(false, s(10), s(30)), &[s(5)], "crm");
        assert_eq!((d.after_slow, d.near_disruption, d.other), (1, 1, 1));
        assert_eq!(d.beyond_window(), None);
        d.judge(&dup(false, s(40), s(50)), &[], "crm");
        assert!(d.beyond_window().is_some(), "two others, one allowed");
        let mut second = Duplicates {
            extra_ids: 1,
            other_budget: 10,
            ..Duplicates::default()
        };
        assert!(
            second.beyond_window().is_some(),
            "a second id is never allowed"
        );
        second.extra_ids = 0;
        assert_eq!(second.beyond_window(), None);
    }
}
