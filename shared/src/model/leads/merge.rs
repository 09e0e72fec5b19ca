//! A lead made from a submission, and a later submission merged into it:
//! first values kept, addresses and tags gathered, custom fields bounded,
//! the item's keys and listings kept in step. No store calls here.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{LeadRecord, MAX_LEAD_CUSTOM_BYTES, MAX_LEAD_CUSTOM_FIELDS, MAX_OTHER_ADDRESSES};
use crate::aws::table::{self, Listing};
use crate::model::events::{LeadDefaults, Source};
use crate::rules::ids::{LeadId, WorkspaceId};
use crate::rules::inbound::LeadInput;

/// What merging a submission into a lead changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Merge {
    /// `lastSeenAt` before this contact.
    pub previous_seen_at: String,
    /// Custom fields left out to keep the lead within its bounds.
    pub dropped_fields: usize,
}

impl LeadRecord {
    /// A new lead from a submission.
    pub fn new(
        ws: &WorkspaceId,
        id: LeadId,
        input: &LeadInput,
        defaults: &LeadDefaults,
        source: Source,
        at: &str,
    ) -> Self {
        let mut tags = defaults.tags.clone();
        union_tags(&mut tags, &input.tags);
        let status = if defaults.status.is_empty() {
            "unassigned".to_owned()
        } else {
            defaults.status.clone()
        };
        let key = table::lead(ws, id.as_str());
        let mut lead = LeadRecord {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: Listing::leads(ws).partition_for(id.as_str()),
            gsi1sk: id.to_string(),
            gsi2pk: Listing::leads_by_status(ws, &status).partition_for(id.as_str()),
            gsi2sk: id.to_string(),
            workspace: ws.clone(),
            id,
            email: input.email.clone(),
            phone: input.phone.clone(),
            other_emails: Vec::new(),
            other_phones: Vec::new(),
            first_name: input.first_name.clone(),
            last_name: input.last_name.clone(),
            name: input.name.clone(),
            status,
            tags,
            custom_fields: String::new(),
            source,
            created_at: at.to_owned(),
            updated_at: at.to_owned(),
            last_seen_at: at.to_owned(),
            version: 1,
            re_engagement: None,
            created_by: None,
            test: false,
        };
        let mut custom = BTreeMap::new();
        add_custom_fields(&mut custom, &input.custom_fields);
        lead.custom_fields = serde_json::to_string(&custom).unwrap_or_else(|_| "{}".into());
        lead
    }

    pub fn custom_fields(&self) -> BTreeMap<String, Value> {
        serde_json::from_str(&self.custom_fields).unwrap_or_default()
    }

    /// Merges a later submission: new non-empty fields fill gaps, tags are a
    /// union, custom fields gain new keys, `lastSeenAt` moves forward.
    pub fn merge(&mut self, input: &LeadInput, defaults: &LeadDefaults, at: &str) -> Merge {
        let mut merge = Merge {
            previous_seen_at: self.last_seen_at.clone(),
            ..Merge::default()
        };
        add_address(&mut self.email, &mut self.other_emails, &input.email);
        add_address(&mut self.phone, &mut self.other_phones, &input.phone);
        fill(&mut self.first_name, &input.first_name);
        fill(&mut self.last_name, &input.last_name);
        fill(&mut self.name, &input.name);
        union_tags(&mut self.tags, &defaults.tags);
        union_tags(&mut self.tags, &input.tags);
        self.tags.truncate(crate::rules::inbound::fields::MAX_TAGS);
        let mut custom = self.custom_fields();
        merge.dropped_fields = add_custom_fields(&mut custom, &input.custom_fields);
        self.custom_fields = serde_json::to_string(&custom).unwrap_or_else(|_| "{}".into());
        if at > self.last_seen_at.as_str() {
            self.last_seen_at = at.to_owned();
        }
        self.updated_at = at.to_owned();
        self.version += 1;
        merge
    }

    /// Sets the status (moving the lead between status listings).
    pub fn set_status(&mut self, status: &str) {
        self.status = status.to_owned();
        self.gsi2pk =
            Listing::leads_by_status(&self.workspace, status).partition_for(self.id.as_str());
    }
}

/// Adds the custom fields `custom` lacks, first come first kept, while
/// the lead stays within [`MAX_LEAD_CUSTOM_FIELDS`] and
/// [`MAX_LEAD_CUSTOM_BYTES`]; returns how many were left out.
fn add_custom_fields(
    custom: &mut BTreeMap<String, Value>,
    more: &BTreeMap<String, Value>,
) -> usize {
    let entry_size = |k: &str, v: &Value| {
        k.len() + 4 + serde_json::to_string(v).map_or(usize::MAX / 2, |t| t.len())
    };
    let mut size: usize = 2 + custom.iter().map(|(k, v)| entry_size(k, v)).sum::<usize>();
    let mut dropped = 0;
    for (k, v) in more {
        if custom.contains_key(k) {
            continue;
        }
        let adds = entry_size(k, v);
        if custom.len() >= MAX_LEAD_CUSTOM_FIELDS
            || size.saturating_add(adds) > MAX_LEAD_CUSTOM_BYTES
        {
            dropped += 1;
            continue;
        }
        size += adds;
        custom.insert(k.clone(), v.clone());
    }
    dropped
}

/// Records an email or phone: the first is the lead's, later different
/// ones are kept beside it (up to [`MAX_OTHER_ADDRESSES`]).
fn add_address(primary: &mut Option<String>, others: &mut Vec<String>, seen: &Option<String>) {
    let Some(seen) = seen else { return };
    match primary {
        None => *primary = Some(seen.clone()),
        Some(p) if p == seen => {}
        Some(_) => {
            if !others.contains(seen) && others.len() < MAX_OTHER_ADDRESSES {
                others.push(seen.clone());
            }
        }
    }
}

fn fill(slot: &mut Option<String>, value: &Option<String>) {
    if slot.as_deref().is_none_or(str::is_empty) && value.is_some() {
        *slot = value.clone();
    }
}

/// Adds `more` to `tags`, skipping case-insensitive duplicates.
pub fn union_tags(tags: &mut Vec<String>, more: &[String]) {
    for t in more {
        if !tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
            tags.push(t.clone());
        }
    }
}
