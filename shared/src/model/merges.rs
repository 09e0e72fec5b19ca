//! A lead's merges: each later submission of a known person that
//! `process` merged into the lead, with what it changed. Items beside the
//! lead (`MERGE#<event>`), one per event, written once after the merge is
//! saved; the console's lead page shows them in the lead's history beside
//! the edits (`lead.updated`), which record their changes the same way.
//!
//! A merge is not a domain event: nothing is delivered for it (a
//! `lead.re_engaged` is, and is in [`crate::model::history`]). Erasure
//! removes the merges with the lead ([`crate::model::erasure`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::app::Scope;
use crate::aws::store::Write;
use crate::aws::table;
use crate::error::Error;
use crate::model::leads::LeadRecord;
use crate::rules::ids::{EventId, LeadId};

/// One merge as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeRecord {
    pub pk: String,
    pub sk: String,
    pub lead_id: LeadId,
    /// The inbound event whose submission was merged.
    pub event_id: EventId,
    pub merged_at: String,
    /// What changed, as JSON text: `{"phone": {"from": …, "to": …},
    /// "fields": {"company": {"from": null, "to": "Acme"}}}`, the shape of
    /// a `lead.updated` entry's changes; `{}` when nothing did.
    pub changes: String,
}

/// What merging changed from `before` to `after`, in the shape of an
/// edit's changes. Times and the version are not changes.
pub fn diff(before: &LeadRecord, after: &LeadRecord) -> Map<String, Value> {
    let mut out = Map::new();
    let mut field = |name: &str, a: Value, b: Value| {
        if a != b {
            out.insert(name.to_owned(), json!({"from": a, "to": b}));
        }
    };
    field("email", json!(before.email), json!(after.email));
    field("phone", json!(before.phone), json!(after.phone));
    field(
        "otherEmails",
        json!(before.other_emails),
        json!(after.other_emails),
    );
    field(
        "otherPhones",
        json!(before.other_phones),
        json!(after.other_phones),
    );
    field(
        "firstName",
        json!(before.first_name),
        json!(after.first_name),
    );
    field("lastName", json!(before.last_name), json!(after.last_name));
    field("name", json!(before.name), json!(after.name));
    field("status", json!(before.status), json!(after.status));
    field("tags", json!(before.tags), json!(after.tags));
    let (was, now) = (before.custom_fields(), after.custom_fields());
    let mut fields = Map::new();
    for k in was.keys().chain(now.keys()) {
        let (a, b) = (
            was.get(k).cloned().unwrap_or(Value::Null),
            now.get(k).cloned().unwrap_or(Value::Null),
        );
        if a != b && !fields.contains_key(k) {
            fields.insert(k.clone(), json!({"from": a, "to": b}));
        }
    }
    if !fields.is_empty() {
        out.insert("fields".into(), Value::Object(fields));
    }
    out
}

/// Records that `event`'s submission was merged into `lead`, once: a
/// second try of the same event finds it there (and keeps the first
/// record).
pub async fn record(
    scope: &Scope,
    lead: &LeadId,
    event: &EventId,
    at: &str,
    changes: &Map<String, Value>,
) -> Result<Write, Error> {
    let key = table::lead_merge(scope.ws(), lead.as_str(), event.as_str());
    let item = MergeRecord {
        pk: key.pk,
        sk: key.sk,
        lead_id: lead.clone(),
        event_id: event.clone(),
        merged_at: at.to_owned(),
        changes: Value::Object(changes.clone()).to_string(),
    };
    scope.store.put_new(&item).await
}

/// A lead's merges, oldest first (one Query on the lead's partition).
pub async fn of_lead(scope: &Scope, lead_id: &str) -> Result<Vec<MergeRecord>, Error> {
    let pk = table::lead(scope.ws(), lead_id).pk;
    let mut merges: Vec<MergeRecord> = scope.store.query_prefix(&pk, table::MERGE_PREFIX).await?;
    merges.sort_by(|a, b| a.merged_at.cmp(&b.merged_at));
    Ok(merges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::events::{LeadDefaults, Source};
    use crate::rules::ids::WorkspaceId;
    use crate::rules::inbound::LeadInput;

    fn lead() -> LeadRecord {
        let input = LeadInput {
            email: Some("a@example.com".into()),
            first_name: Some("Ada".into()),
            custom_fields: [("plan".to_owned(), json!("basic"))].into_iter().collect(),
            ..LeadInput::default()
        };
        LeadRecord::new(
            &WorkspaceId::default_workspace(),
            LeadId::generate(),
            &input,
            &LeadDefaults::default(),
            Source::Webhook {
                key_id: "key_1".into(),
            },
            "2026-12-01T10:00:00.000Z",
        )
    }

    #[test]
    fn a_merge_names_what_it_changed() {
        let before = lead();
        let mut after = before.clone();
        let later = LeadInput {
            email: Some("a@example.com".into()),
            phone: Some("+14155550100".into()),
            first_name: Some("Someone else".into()),
            tags: vec!["webinar".into()],
            custom_fields: [
                ("plan".to_owned(), json!("pro")),
                ("company".to_owned(), json!("Acme")),
            ]
            .into_iter()
            .collect(),
            ..LeadInput::default()
        };
        after.merge(&later, &LeadDefaults::default(), "2026-12-02T10:00:00.000Z");
        let d = diff(&before, &after);
        assert_eq!(d["phone"], json!({"from": null, "to": "+14155550100"}));
        assert_eq!(d["tags"], json!({"from": [], "to": ["webinar"]}));
        // A known first name is kept (gaps are filled, nothing overwritten);
        // a known custom field too.
        assert!(!d.contains_key("firstName"));
        assert_eq!(
            d["fields"],
            json!({"company": {"from": null, "to": "Acme"}})
        );
        assert!(!d.contains_key("email"));
        assert!(!d.contains_key("lastSeenAt"), "times are not changes");
    }

    #[test]
    fn the_same_submission_again_changes_nothing() {
        let before = lead();
        let mut after = before.clone();
        let same = LeadInput {
            email: Some("a@example.com".into()),
            ..LeadInput::default()
        };
        after.merge(&same, &LeadDefaults::default(), "2026-12-03T10:00:00.000Z");
        assert!(diff(&before, &after).is_empty());
    }
}
