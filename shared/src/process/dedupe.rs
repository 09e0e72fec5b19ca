//! De-duplication: one lead per person, however many events race.
//!
//! An event's lead is found through the identity items of its normalised
//! email and phone. Creating a lead writes, in one transaction, its
//! identities (only if absent), the lead, its `lead.created` history entry
//! and the event's move from `RECEIVED` to `PROCESSED`. Merging writes the
//! lead (only if its version is unchanged), any new identity, a
//! `lead.re_engaged` entry when due, and the event's move to `DUPLICATE`.
//!
//! When two events race on a new address, one transaction wins; the other
//! is cancelled, reads the winner's identity and merges. When a message is
//! processed twice, the event's condition cancels the second transaction:
//! no second lead, no second history entry.

use std::time::Duration;

use crate::app::App;
use crate::aws::store::{Tx, Values, n};
use crate::aws::table::{self, Key};
use crate::error::{AwsErrorKind, Error};
use crate::model::events::{self, EventRecord, EventStatus};
use crate::model::history::{HistoryEntry, LeadEventType};
use crate::model::leads::{self, Identity, LeadRecord};
use crate::rules::clock;
use crate::rules::ids::LeadId;
use crate::rules::inbound::LeadInput;

/// How many times a contended resolution is retried before the message is
/// handed back to the queue.
const MAX_ROUNDS: u32 = 12;

/// What became of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// A new lead.
    Created { lead: Box<LeadRecord> },
    /// Merged into an existing lead; `re_engaged` when it had been silent.
    Duplicate {
        lead: Box<LeadRecord>,
        re_engaged: bool,
    },
    /// The event had already been finished (a redelivered message).
    AlreadyDone,
}

/// The owners of an input's email and phone identities.
async fn owners(app: &App, input: &LeadInput) -> Result<(Option<LeadId>, Option<LeadId>), Error> {
    let email = async {
        match &input.email {
            Some(e) => {
                let key = table::email_identity(e);
                app.store.get::<Identity>(&key.pk, &key.sk).await
            }
            None => Ok(None),
        }
    };
    let phone = async {
        match &input.phone {
            Some(p) => {
                let key = table::phone_identity(p);
                app.store.get::<Identity>(&key.pk, &key.sk).await
            }
            None => Ok(None),
        }
    };
    let (e, p) = tokio::try_join!(email, phone)?;
    Ok((e.map(|i| i.lead_id), p.map(|i| i.lead_id)))
}

fn silent_long_enough(previous: &str, now: &str, after: Duration) -> bool {
    match (clock::parse_rfc3339(previous), clock::parse_rfc3339(now)) {
        (Some(p), Some(n)) => n - p >= after.as_millis() as i64,
        _ => false,
    }
}

/// Resolves `event` (with its cleaned `input`) to a lead, exactly once.
pub async fn resolve(
    app: &App,
    event: &EventRecord,
    input: &LeadInput,
) -> Result<Resolution, Error> {
    for round in 0..MAX_ROUNDS {
        if round > 0 {
            // Spread contending writers apart.
            let mut b = [0u8; 1];
            crate::rules::crypto::fill_random(&mut b);
            tokio::time::sleep(Duration::from_millis(
                10 * u64::from(round) + u64::from(b[0] % 20),
            ))
            .await;
        }
        let (email_owner, phone_owner) = owners(app, input).await?;
        let target = email_owner.clone().or_else(|| phone_owner.clone());
        let attempt = match target {
            None => try_create(app, event, input).await?,
            Some(lead_id) => {
                let Some(lead) = leads::get(app, lead_id.as_str()).await? else {
                    return Err(Error::Data(format!(
                        "identity points at {lead_id}, which does not exist"
                    )));
                };
                // Fields owned by another lead are not merged into this one.
                let mut input = input.clone();
                if email_owner.as_ref().is_some_and(|o| *o != lead_id) {
                    input.email = None;
                }
                if phone_owner.as_ref().is_some_and(|o| *o != lead_id) {
                    input.phone = None;
                }
                try_merge(
                    app,
                    event,
                    &input,
                    lead,
                    email_owner.is_none(),
                    phone_owner.is_none(),
                )
                .await?
            }
        };
        if let Some(resolution) = attempt {
            return Ok(resolution);
        }
        // Cancelled: was it because the event is already finished?
        match events::get(app, event.id.as_str()).await? {
            Some(e) if e.status != EventStatus::Received => return Ok(Resolution::AlreadyDone),
            None => return Ok(Resolution::AlreadyDone),
            _ => {}
        }
    }
    Err(Error::Data(format!(
        "de-duplication stayed contended after {MAX_ROUNDS} rounds"
    )))
}

fn claim(
    app: &App,
    identity: Key,
    lead_id: &LeadId,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, Error> {
    app.store.tx_put(
        &Identity::new(identity, lead_id),
        Some("attribute_not_exists(pk)"),
        vec![],
    )
}

async fn try_create(
    app: &App,
    event: &EventRecord,
    input: &LeadInput,
) -> Result<Option<Resolution>, Error> {
    let at = event.received_at.clone();
    let lead = LeadRecord::new(
        LeadId::generate(),
        input,
        &event.defaults,
        event.source.clone(),
        &at,
    );
    let mut items = Vec::with_capacity(5);
    if let Some(e) = &lead.email {
        items.push(claim(app, table::email_identity(e), &lead.id)?);
    }
    if let Some(p) = &lead.phone {
        items.push(claim(app, table::phone_identity(p), &lead.id)?);
    }
    items.push(
        app.store
            .tx_put(&lead, Some("attribute_not_exists(pk)"), vec![])?,
    );
    let history = HistoryEntry::new(&lead.id, LeadEventType::Created, &(&event.id).into(), &at);
    items.push(
        app.store
            .tx_put(&history, Some("attribute_not_exists(pk)"), vec![])?,
    );
    items.push(events::tx_finish(
        app,
        &event.id,
        EventStatus::Processed,
        &lead.id,
        &clock::now_rfc3339(),
    )?);
    match app.store.transact(items).await? {
        Tx::Done => Ok(Some(Resolution::Created {
            lead: Box::new(lead),
        })),
        Tx::Cancelled(reasons) => retry_unless_unwritable(&reasons),
    }
}

async fn try_merge(
    app: &App,
    event: &EventRecord,
    input: &LeadInput,
    mut lead: LeadRecord,
    claim_email: bool,
    claim_phone: bool,
) -> Result<Option<Resolution>, Error> {
    let previous_version = lead.version;
    let merge = lead.merge(input, &event.defaults, &event.received_at);
    let re_engaged = silent_long_enough(
        &merge.previous_seen_at,
        &event.received_at,
        app.config.reengage_after,
    );
    let mut items = Vec::with_capacity(5);
    let version: Values = vec![(":v", n(previous_version))];
    items.push(app.store.tx_put(&lead, Some("version = :v"), version)?);
    if merge.dropped_fields > 0 {
        tracing::warn!(
            lead_id = %lead.id,
            dropped = merge.dropped_fields,
            "custom fields left out: the lead is at its bounds"
        );
    }
    // Every address the person is seen with finds them from now on.
    if let Some(e) = input.email.as_ref().filter(|_| claim_email) {
        items.push(claim(app, table::email_identity(e), &lead.id)?);
    }
    if let Some(p) = input.phone.as_ref().filter(|_| claim_phone) {
        items.push(claim(app, table::phone_identity(p), &lead.id)?);
    }
    if re_engaged {
        let mut entry = HistoryEntry::new(
            &lead.id,
            LeadEventType::ReEngaged,
            &(&event.id).into(),
            &event.received_at,
        );
        entry.previous_seen_at = Some(merge.previous_seen_at.clone());
        items.push(
            app.store
                .tx_put(&entry, Some("attribute_not_exists(pk)"), vec![])?,
        );
    }
    items.push(events::tx_finish(
        app,
        &event.id,
        EventStatus::Duplicate,
        &lead.id,
        &clock::now_rfc3339(),
    )?);
    match app.store.transact(items).await? {
        Tx::Done => Ok(Some(Resolution::Duplicate {
            lead: Box::new(lead),
            re_engaged,
        })),
        Tx::Cancelled(reasons) => retry_unless_unwritable(&reasons),
    }
}

/// A cancelled transaction is retried (someone raced this event) unless
/// DynamoDB refused an item outright: such a write can never succeed, and
/// the event ends `FAILED` with the reason instead of dead-lettering as
/// "contention".
fn retry_unless_unwritable(reasons: &[Option<AwsErrorKind>]) -> Result<Option<Resolution>, Error> {
    if reasons.contains(&Some(AwsErrorKind::Validation)) {
        return Err(Error::Aws {
            service: "dynamodb",
            op: "TransactWriteItems",
            kind: AwsErrorKind::Validation,
            message: "DynamoDB refused to store the lead (an item too large or invalid)".into(),
        });
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_engagement_threshold() {
        let day = Duration::from_secs(86_400);
        assert!(silent_long_enough(
            "2026-01-01T00:00:00.000Z",
            "2026-01-31T00:00:00.000Z",
            day * 30
        ));
        assert!(!silent_long_enough(
            "2026-01-01T00:00:00.000Z",
            "2026-01-30T23:59:59.999Z",
            day * 30
        ));
        assert!(!silent_long_enough(
            "garbage",
            "2026-01-30T23:59:59.999Z",
            day
        ));
    }
}
