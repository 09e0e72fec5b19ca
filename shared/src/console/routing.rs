//! The filter editor of a destination: the routing rule as JSON in a text
//! area (its problems beside it, each with its path), and a preview of how
//! many of the last 200 leads it would have matched.

use maud::{Markup, html};
use serde_json::{Map, Value};

use super::layout;
use super::{Ctx, Problems};
use crate::error::FieldIssue;
use crate::rules::filter;

/// How many recent leads the preview tries the filter on.
pub const PREVIEW_LEADS: usize = 200;

const HINT: &str = "Optional: send only the leads that match, e.g. \
{\"field\": \"customFields.country\", \"op\": \"eq\", \"value\": \"DE\"}. \
Ops: eq, ne, in, contains, gte, lte, exists; combine with {\"all\": […]}, {\"any\": […]}, {\"not\": …}. \
Empty: every lead.";

/// The stored filter as editable text (pretty JSON), or "".
pub fn text_of(sub: &Value) -> String {
    match &sub["filter"] {
        Value::Null => String::new(),
        f => serde_json::to_string_pretty(f).unwrap_or_default(),
    }
}

/// Puts the form's filter into an API body: empty removes it; text that is
/// not JSON is an issue of the `filter` field.
pub fn put(body: &mut Map<String, Value>, text: &str, issues: &mut Vec<FieldIssue>) {
    let text = text.trim();
    if text.is_empty() {
        body.insert("filter".into(), Value::Null);
        return;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) => {
            body.insert("filter".into(), v);
        }
        Err(e) => issues.push(FieldIssue::new(
            "filter",
            format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )),
    }
}

/// The editor.
pub fn field(p: &Problems, text: &str) -> Markup {
    html! {
        (layout::textarea("filter", "Routing filter", text, p, HINT))
    }
}

/// "Would have matched N of the last 200 leads", or why it cannot say.
pub async fn preview(ctx: &Ctx<'_>, text: &str) -> Markup {
    let text = text.trim();
    if text.is_empty() {
        return html! { p.muted #filter-preview { "No filter: every lead is sent." } };
    }
    let parsed = serde_json::from_str::<Value>(text)
        .map_err(|e| {
            vec![format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )]
        })
        .and_then(|v| {
            filter::parse(&v, "filter").map_err(|issues| {
                issues
                    .into_iter()
                    .map(|i| format!("{} {}", i.path, i.issue))
                    .collect()
            })
        });
    let f = match parsed {
        Ok(f) => f,
        Err(problems) => {
            return html! {
                div.result.bad #filter-preview {
                    p { "This filter cannot be used:" }
                    ul { @for p in &problems { li { (p) } } }
                }
            };
        }
    };
    let leads = match ctx
        .api("GET", &format!("/v1/leads?limit={PREVIEW_LEADS}"), None)
        .await
    {
        Ok(page) => page["items"].as_array().cloned().unwrap_or_default(),
        Err(_) => {
            return html! { p.muted #filter-preview { "The recent leads could not be read; try again." } };
        }
    };
    let matched = leads.iter().filter(|l| f.matches(l)).count();
    html! {
        div.result.good #filter-preview role="status" {
            p {
                "Would have matched " strong #filter-matched { (matched) } " of the last "
                (leads.len()) " lead" @if leads.len() != 1 { "s" } "."
            }
        }
    }
}
