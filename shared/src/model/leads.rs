//! Leads: the clean, de-duplicated people Leadpipe keeps (CONTRACT §6,
//! Leads), their identities (one item per normalised email and per E.164
//! phone, pointing at the lead) and their history (the domain events
//! `lead.created`, `lead.re_engaged`, `lead.updated` that deliveries fan out).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::resources::{GSI1, GSI2};
use crate::errors::{ApiError, Error};
use crate::model::events::{LeadDefaults, Source};
use crate::rules::ids::{self, IdKind};
use crate::rules::inbound::LeadInput;

/// A lead as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadRecord {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub gsi2pk: String,
    pub gsi2sk: String,
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub status: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom fields as JSON text (exact numbers, any keys).
    #[serde(default)]
    pub custom_fields: String,
    pub source: Source,
    pub created_at: String,
    pub updated_at: String,
    pub last_seen_at: String,
    /// Optimistic-concurrency version, bumped on every write.
    pub version: i64,
}

pub fn pk(id: &str) -> String {
    format!("LEAD#{id}")
}
pub const SK: &str = "LEAD";
const COLLECTION: &str = "LEADS";

fn status_partition(status: &str) -> String {
    format!("LEADS#status#{status}")
}

/// The identity item of a normalised email or phone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub pk: String,
    pub sk: String,
    pub lead_id: String,
}

pub const IDENTITY_SK: &str = "IDENT";

pub fn email_identity(email: &str) -> String {
    format!("IDENT#email#{email}")
}

pub fn phone_identity(phone: &str) -> String {
    format!("IDENT#phone#{phone}")
}

impl Identity {
    pub fn new(pk: String, lead_id: &str) -> Self {
        Identity {
            pk,
            sk: IDENTITY_SK.into(),
            lead_id: lead_id.to_owned(),
        }
    }
}

/// What merging a submission into a lead changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Merge {
    /// An email or phone the lead did not have before (its identity must be
    /// claimed).
    pub new_email: Option<String>,
    pub new_phone: Option<String>,
    /// `lastSeenAt` before this contact.
    pub previous_seen_at: String,
}

impl LeadRecord {
    /// A new lead from a submission.
    pub fn new(
        id: String,
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
        LeadRecord {
            pk: pk(&id),
            sk: SK.into(),
            gsi1pk: COLLECTION.into(),
            gsi1sk: id.clone(),
            gsi2pk: status_partition(&status),
            gsi2sk: id.clone(),
            id,
            email: input.email.clone(),
            phone: input.phone.clone(),
            first_name: input.first_name.clone(),
            last_name: input.last_name.clone(),
            name: input.name.clone(),
            status,
            tags,
            custom_fields: serde_json::to_string(&input.custom_fields)
                .unwrap_or_else(|_| "{}".into()),
            source,
            created_at: at.to_owned(),
            updated_at: at.to_owned(),
            last_seen_at: at.to_owned(),
            version: 1,
        }
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
        if self.email.is_none() && input.email.is_some() {
            self.email = input.email.clone();
            merge.new_email = input.email.clone();
        }
        if self.phone.is_none() && input.phone.is_some() {
            self.phone = input.phone.clone();
            merge.new_phone = input.phone.clone();
        }
        fill(&mut self.first_name, &input.first_name);
        fill(&mut self.last_name, &input.last_name);
        fill(&mut self.name, &input.name);
        union_tags(&mut self.tags, &defaults.tags);
        union_tags(&mut self.tags, &input.tags);
        let mut custom = self.custom_fields();
        for (k, v) in &input.custom_fields {
            custom.entry(k.clone()).or_insert_with(|| v.clone());
        }
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
        self.gsi2pk = status_partition(status);
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

/// The kinds of domain event a lead has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeadEventType {
    #[serde(rename = "lead.created")]
    Created,
    #[serde(rename = "lead.updated")]
    Updated,
    #[serde(rename = "lead.re_engaged")]
    ReEngaged,
}

impl LeadEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadEventType::Created => "lead.created",
            LeadEventType::Updated => "lead.updated",
            LeadEventType::ReEngaged => "lead.re_engaged",
        }
    }
}

/// One entry of a lead's history: a domain event, keyed by what caused it
/// (the inbound event id), so recording it twice is impossible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadEvent {
    pub pk: String,
    pub sk: String,
    pub lead_id: String,
    #[serde(rename = "type")]
    pub kind: LeadEventType,
    /// The inbound event (or admin change) that caused it.
    pub cause_id: String,
    pub occurred_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_seen_at: Option<String>,
    /// `lead.updated`: what changed, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<String>,
    /// Set once its deliveries exist and are queued.
    #[serde(default)]
    pub fanned_out: bool,
}

impl LeadEvent {
    pub fn new(lead_id: &str, kind: LeadEventType, cause_id: &str, occurred_at: &str) -> Self {
        LeadEvent {
            pk: pk(lead_id),
            sk: format!("HIST#{cause_id}#{}", kind.as_str()),
            lead_id: lead_id.to_owned(),
            kind,
            cause_id: cause_id.to_owned(),
            occurred_at: occurred_at.to_owned(),
            previous_seen_at: None,
            changes: None,
            fanned_out: false,
        }
    }
}

/// A lead's history, oldest first.
pub async fn history(app: &App, lead_id: &str) -> Result<Vec<LeadEvent>, Error> {
    app.store.query_prefix(&pk(lead_id), "HIST#").await
}

/// A lead as the API (and the default webhook body) shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadView {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub status: String,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, Value>,
    pub source: Source,
    pub created_at: String,
    pub updated_at: String,
    pub last_seen_at: String,
}

impl From<LeadRecord> for LeadView {
    fn from(l: LeadRecord) -> Self {
        LeadView {
            custom_fields: l.custom_fields(),
            id: l.id,
            email: l.email,
            phone: l.phone,
            first_name: l.first_name,
            last_name: l.last_name,
            name: l.name,
            status: l.status,
            tags: l.tags,
            source: l.source,
            created_at: l.created_at,
            updated_at: l.updated_at,
            last_seen_at: l.last_seen_at,
        }
    }
}

pub async fn get(app: &App, id: &str) -> Result<Option<LeadRecord>, Error> {
    if !ids::is_valid(IdKind::Lead, id) {
        return Ok(None);
    }
    app.store.get(&pk(id), SK).await
}

/// The lead an identity points at.
pub async fn by_identity(app: &App, identity_pk: &str) -> Result<Option<LeadRecord>, Error> {
    match app.store.get::<Identity>(identity_pk, IDENTITY_SK).await? {
        Some(identity) => get(app, &identity.lead_id).await,
        None => Ok(None),
    }
}

/// Filters of `GET /v1/leads`.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<String>,
    pub tag: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Leads, newest first, filtered.
pub async fn list(
    app: &App,
    filter: &LeadFilter,
    page: &PageRequest,
) -> Result<Page<LeadRecord>, ApiError> {
    // Email and phone are exact, normalised look-ups through the identities.
    let identity = match (&filter.email, &filter.phone) {
        (Some(e), _) => Some(email_identity(e)),
        (None, Some(p)) => Some(phone_identity(p)),
        _ => None,
    };
    if let Some(identity) = identity {
        let lead = by_identity(app, &identity).await?;
        let items = lead
            .into_iter()
            .filter(|l| {
                filter
                    .phone
                    .as_ref()
                    .is_none_or(|p| l.phone.as_ref() == Some(p))
            })
            .filter(|l| filter.status.as_ref().is_none_or(|s| &l.status == s))
            .filter(|l| {
                filter
                    .tag
                    .as_ref()
                    .is_none_or(|t| l.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
            })
            .collect();
        return Ok(Page {
            items,
            next_cursor: None,
        });
    }
    let (gsi, partition) = match &filter.status {
        Some(s) => (GSI2, status_partition(s)),
        None => (GSI1, COLLECTION.to_owned()),
    };
    match &filter.tag {
        None => app.store.query_page(gsi, &partition, page, true).await,
        Some(tag) => {
            app.store
                .query_page_filtered(
                    gsi,
                    &partition,
                    page,
                    true,
                    crate::aws::store::Filter {
                        expression: "contains(tags, :v)",
                        value: crate::aws::store::s(tag),
                        name: None,
                    },
                )
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: Value) -> LeadInput {
        serde_json::from_value(v).unwrap()
    }

    fn source() -> Source {
        Source::Webhook {
            key_id: "key_1".into(),
        }
    }

    #[test]
    fn new_lead_takes_defaults() {
        let d = LeadDefaults {
            status: "new".into(),
            tags: vec!["lp".into()],
        };
        let l = LeadRecord::new(
            "lead_1".into(),
            &input(json!({"email": "a@b.co", "tags": ["LP", "vip"]})),
            &d,
            source(),
            "t1",
        );
        assert_eq!(l.status, "new");
        assert_eq!(l.tags, vec!["lp", "vip"]);
        assert_eq!(l.gsi2pk, "LEADS#status#new");
        assert_eq!(
            (l.created_at.as_str(), l.last_seen_at.as_str()),
            ("t1", "t1")
        );
    }

    #[test]
    fn merge_fills_gaps_and_unions() {
        let d = LeadDefaults::default();
        let mut l = LeadRecord::new(
            "lead_1".into(),
            &input(json!({"email": "a@b.co", "firstName": "Ann", "customFields": {"x": 1}})),
            &d,
            source(),
            "2026-01-01T00:00:00.000Z",
        );
        let m = l.merge(
            &input(json!({"email": "a@b.co", "phone": "+14155550123", "firstName": "Other", "lastName": "Lee",
                          "tags": ["t"], "customFields": {"x": 2, "y": 3}})),
            &d,
            "2026-02-01T00:00:00.000Z",
        );
        assert_eq!(m.new_phone.as_deref(), Some("+14155550123"));
        assert_eq!(m.new_email, None);
        assert_eq!(m.previous_seen_at, "2026-01-01T00:00:00.000Z");
        assert_eq!(l.first_name.as_deref(), Some("Ann"));
        assert_eq!(l.last_name.as_deref(), Some("Lee"));
        assert_eq!(l.tags, vec!["t"]);
        assert_eq!(
            l.custom_fields(),
            BTreeMap::from([("x".into(), json!(1)), ("y".into(), json!(3))])
        );
        assert_eq!(l.last_seen_at, "2026-02-01T00:00:00.000Z");
        assert_eq!(l.version, 2);
        // An older submission never moves lastSeenAt back.
        l.merge(&input(json!({})), &d, "2025-01-01T00:00:00.000Z");
        assert_eq!(l.last_seen_at, "2026-02-01T00:00:00.000Z");
    }

    #[test]
    fn event_types_serialise_as_the_contract_names() {
        assert_eq!(
            serde_json::to_value(LeadEventType::ReEngaged).unwrap(),
            json!("lead.re_engaged")
        );
        let e = LeadEvent::new("lead_1", LeadEventType::Created, "evt_1", "t");
        assert_eq!(e.sk, "HIST#evt_1#lead.created");
    }
}

// ----- CSV export -----

pub const CSV_COLUMNS: [&str; 14] = [
    "id",
    "email",
    "phone",
    "firstName",
    "lastName",
    "name",
    "status",
    "tags",
    "sourceType",
    "keyId",
    "createdAt",
    "updatedAt",
    "lastSeenAt",
    "customFields",
];

/// One CSV field: quoted when it must be, and defused when a spreadsheet
/// would read it as a formula (`=`, `+`, `-`, `@`, tab, CR at the start).
pub fn csv_field(value: &str, out: &mut String) {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let needs_quotes = risky || value.contains([',', '"', '\n', '\r']);
    if needs_quotes {
        out.push('"');
        if risky {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Appends one lead as a CSV line.
pub fn csv_row(lead: &LeadRecord, out: &mut String) {
    let (source_type, key_id) = match &lead.source {
        Source::Webhook { key_id } => ("webhook", key_id.as_str()),
        Source::MetaLeadAds { .. } => ("meta_lead_ads", ""),
    };
    let tags = lead.tags.join(";");
    let fields: [&str; 14] = [
        &lead.id,
        lead.email.as_deref().unwrap_or(""),
        lead.phone.as_deref().unwrap_or(""),
        lead.first_name.as_deref().unwrap_or(""),
        lead.last_name.as_deref().unwrap_or(""),
        lead.name.as_deref().unwrap_or(""),
        &lead.status,
        &tags,
        source_type,
        key_id,
        &lead.created_at,
        &lead.updated_at,
        &lead.last_seen_at,
        &lead.custom_fields,
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Phones are E.164 (`+…`) by construction: keep them as they are.
        if i == 2 {
            out.push_str(f);
        } else {
            csv_field(f, out);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_defused() {
        let mut s = String::new();
        csv_field("plain", &mut s);
        s.push('|');
        csv_field("a,b \"c\"", &mut s);
        s.push('|');
        csv_field("=HYPERLINK(\"x\")", &mut s);
        assert_eq!(s, "plain|\"a,b \"\"c\"\"\"|\"'=HYPERLINK(\"\"x\"\")\"");
    }
}

/// Edits a lead (status, tags, custom fields) and records `lead.updated`
/// with what changed; its deliveries are fanned out at once. No change, no
/// event.
pub async fn update(
    app: &App,
    id: &str,
    status: Option<String>,
    tags: Option<Vec<String>>,
    fields: Option<serde_json::Map<String, Value>>,
) -> Result<LeadRecord, ApiError> {
    use crate::aws::store::{Tx, n};
    for _ in 0..5 {
        let mut lead = get(app, id).await?.ok_or(ApiError::NotFound("lead"))?;
        let previous_version = lead.version;
        let mut changes = serde_json::Map::new();
        if let Some(s) = &status
            && *s != lead.status
        {
            changes.insert(
                "status".into(),
                serde_json::json!({"from": lead.status, "to": s}),
            );
            lead.set_status(s);
        }
        if let Some(t) = &tags
            && *t != lead.tags
        {
            changes.insert(
                "tags".into(),
                serde_json::json!({"from": lead.tags, "to": t}),
            );
            lead.tags = t.clone();
        }
        if let Some(f) = &fields {
            let mut custom = lead.custom_fields();
            let mut field_changes = serde_json::Map::new();
            for (k, v) in f {
                let before = custom.get(k).cloned().unwrap_or(Value::Null);
                if before == *v {
                    continue;
                }
                field_changes.insert(k.clone(), serde_json::json!({"from": before, "to": v}));
                if v.is_null() {
                    custom.remove(k);
                } else {
                    custom.insert(k.clone(), v.clone());
                }
            }
            if !field_changes.is_empty() {
                changes.insert("fields".into(), Value::Object(field_changes));
                lead.custom_fields = serde_json::to_string(&custom).unwrap_or_else(|_| "{}".into());
            }
        }
        if changes.is_empty() {
            return Ok(lead);
        }
        let now = crate::rules::clock::now_rfc3339();
        lead.updated_at = now.clone();
        lead.version += 1;
        let cause = ids::new_id(IdKind::Change);
        let mut entry = LeadEvent::new(&lead.id, LeadEventType::Updated, &cause, &now);
        entry.changes = Some(Value::Object(changes).to_string());
        let items = vec![
            app.store.tx_put(
                &lead,
                Some("version = :v"),
                vec![(":v", n(previous_version))],
            )?,
            app.store
                .tx_put(&entry, Some("attribute_not_exists(pk)"), vec![])?,
        ];
        if app.store.transact(items).await? == Tx::Done {
            if let Err(e) = crate::deliver::fan_out(app, &lead.id, &cause).await {
                // The edit stands; `process` makes its deliveries, retrying.
                tracing::warn!(error = %e, lead_id = %lead.id, "lead.updated fan-out failed; queued for process");
                let retry = crate::aws::queue::FanOutMessage {
                    lead_id: lead.id.clone(),
                    cause_id: cause.clone(),
                };
                if let Err(e) = app.queue.send(&app.config.leads_queue_url, &retry).await {
                    tracing::error!(error = %e, lead_id = %lead.id, cause_id = %cause,
                        "lead.updated deliveries not made: fan-out and its queueing failed");
                }
            }
            return Ok(lead);
        }
    }
    Err(ApiError::Conflict("the lead kept changing; retry".into()))
}
