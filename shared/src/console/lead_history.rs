//! A lead's history on its page: the domain events (`lead.created`,
//! `lead.updated` by an edit, `lead.re_engaged`) and every merge of a later
//! submission, oldest first, each with what it changed in words.

use maud::{Markup, html};
use serde_json::Value;

use super::layout;
use crate::model::history::{HistoryEntry, LeadEventType};
use crate::model::merges::MergeRecord;

/// One row of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub at: String,
    pub what: &'static str,
    /// The inbound event behind it, when there is one (linked).
    pub event: Option<String>,
    pub cause: String,
    pub changes: Vec<String>,
}

/// A value as a person reads it: text as is, lists joined, null as "—".
fn show(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "—".into(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// `changes` (JSON text, `{"status": {"from": …, "to": …}, "fields":
/// {…}}`) in words: `status: new → contacted`, `company: — → Acme`.
pub fn describe(changes: &str) -> Vec<String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(changes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in &map {
        if k == "fields" {
            if let Value::Object(fields) = v {
                for (f, c) in fields {
                    out.push(format!("{f}: {} → {}", show(&c["from"]), show(&c["to"])));
                }
            }
        } else {
            out.push(format!("{k}: {} → {}", show(&v["from"]), show(&v["to"])));
        }
    }
    out
}

/// The history's rows, oldest first.
pub fn rows(entries: &[HistoryEntry], merges: &[MergeRecord]) -> Vec<Row> {
    let mut rows: Vec<Row> = entries
        .iter()
        .map(|e| {
            let cause = e.cause_id.as_str().to_owned();
            Row {
                at: e.occurred_at.clone(),
                what: match e.kind {
                    LeadEventType::Created => "created",
                    LeadEventType::Updated => "edited (lead.updated)",
                    LeadEventType::ReEngaged => "re-engaged (lead.re_engaged)",
                    LeadEventType::Deleted => "erased",
                },
                event: cause.starts_with("evt_").then(|| cause.clone()),
                changes: match (&e.changes, &e.previous_seen_at) {
                    (Some(c), _) => describe(c),
                    (None, Some(p)) => vec![format!("silent since {p}")],
                    _ => Vec::new(),
                },
                cause,
            }
        })
        .chain(merges.iter().map(|m| Row {
            at: m.merged_at.clone(),
            what: "merged",
            event: Some(m.event_id.to_string()),
            cause: m.event_id.to_string(),
            changes: describe(&m.changes),
        }))
        .collect();
    rows.sort_by(|a, b| a.at.cmp(&b.at));
    rows
}

pub fn table(rows: &[Row]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { "No history recorded." }
        } @else {
            div.table-wrap { table #lead-history {
                thead { tr { th { "When" } th { "What" } th { "Cause" } th { "Changes" } } }
                tbody {
                    @for r in rows {
                        tr data-what=(r.what) {
                            td { (layout::time(&r.at)) }
                            td { (r.what) }
                            td { @match &r.event {
                                Some(e) => a href={ "/console/events/" (e) } { code { (e) } },
                                None => code { (r.cause) },
                            } }
                            td {
                                @if r.changes.is_empty() {
                                    span.muted { @if r.what == "merged" { "nothing new" } }
                                } @else {
                                    ul.changes { @for c in &r.changes { li { (layout::cut(c, 200)) } } }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ids::{CauseId, EventId, LeadId, WorkspaceId};

    #[test]
    fn changes_read_as_words() {
        let c = r#"{"status": {"from": "new", "to": "contacted"}, "tags": {"from": [], "to": ["a", "b"]},
                    "fields": {"company": {"from": null, "to": "Acme"}}}"#;
        assert_eq!(
            describe(c),
            vec![
                "company: — → Acme",
                "status: new → contacted",
                "tags: — → a, b"
            ]
        );
        assert!(describe("not json").is_empty());
        assert!(describe("{}").is_empty());
    }

    #[test]
    fn merges_and_edits_are_in_time_order() {
        let lead = LeadId::generate();
        let ws = WorkspaceId::default_workspace();
        let evt = EventId::generate();
        let created = HistoryEntry::new(
            &ws,
            &lead,
            LeadEventType::Created,
            &CauseId::from(&evt),
            "2026-12-01T10:00:00.000Z",
        );
        let mut edit = HistoryEntry::new(
            &ws,
            &lead,
            LeadEventType::Updated,
            &CauseId::from(&EventId::generate()),
            "2026-12-03T10:00:00.000Z",
        );
        edit.changes = Some(r#"{"status": {"from": "new", "to": "won"}}"#.into());
        let later = EventId::generate();
        let merge = MergeRecord {
            pk: String::new(),
            sk: String::new(),
            lead_id: lead.clone(),
            event_id: later.clone(),
            merged_at: "2026-12-02T10:00:00.000Z".into(),
            changes: r#"{"phone": {"from": null, "to": "+14155550100"}}"#.into(),
        };
        let r = rows(&[created, edit], &[merge]);
        assert_eq!(
            r.iter().map(|x| x.what).collect::<Vec<_>>(),
            vec!["created", "merged", "edited (lead.updated)"]
        );
        assert_eq!(r[1].event.as_deref(), Some(later.as_str()));
        assert_eq!(r[1].changes, vec!["phone: — → +14155550100"]);
        assert_eq!(r[2].changes, vec!["status: new → won"]);
        let html = table(&r).into_string();
        assert!(html.contains(&format!("/console/events/{}", later.as_str())));
        assert!(html.contains("phone: — → +14155550100"));
    }
}
