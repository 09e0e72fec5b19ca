//! Slack: a Block Kit message to an incoming-webhook URL
//! (`{"url": "https://hooks.slack.com/services/…"}`), under the same SSRF
//! rules as a webhook URL, at save and at send. The URL is the credential:
//! sealed, and shown as its origin only.
//!
//! Slack answers `200 ok`; its failures are a status and a short string
//! (`400 invalid_payload`, `403 action_prohibited`, `404
//! channel_not_found`, `410 channel_is_archived`, `500 rollup_error`),
//! retried like any webhook's, and a 410 disables the destination.

use serde_json::{Value, json};

use super::call::{self, Log};
use super::{Attempt, Checked, mapping};
use crate::app::App;
use crate::deliver::send::AttemptResult;
use crate::error::FieldIssue;
use crate::http::{outbound, resolver};
use crate::model::event_type::OpsEventType;
use crate::rules::ssrf;

/// Label → lead field: the message's fields, in this order.
pub const DEFAULT_MAPPING: &[(&str, &str)] = &[
    ("Email", "email"),
    ("Name", "name"),
    ("Phone", "phone"),
    ("Source", "source.type"),
    ("Tags", "tags"),
];

/// Block Kit's limits: 10 fields in a section, 2000 characters in a
/// field's text, 150 in a header.
const MAX_FIELDS: usize = 10;
const MAX_FIELD_TEXT: usize = 1900;
const MAX_HEADER: usize = 150;

pub async fn check_config(app: &App, config: &Value) -> Result<Checked, Vec<FieldIssue>> {
    let mut issues = vec![];
    super::only_keys(config, &["url"], &mut issues);
    let url = super::required_text(config, "url", 2048, &mut issues);
    if !issues.is_empty() {
        return Err(issues);
    }
    match resolver::check_url_resolved(&url, app.config.allow_private_targets, app.dns()).await {
        Ok(target) => {
            let origin = outbound::origin(&target.url);
            Ok(Checked {
                config: json!({"url": target.url.to_string()}),
                shown: json!({"url": format!("{origin}/…")}),
                url: origin,
            })
        }
        Err(e) => Err(vec![FieldIssue::new("config.url", format!("refused: {e}"))]),
    }
}

/// Slack's mrkdwn escapes (`&`, `<`, `>`), and a cut to `max` characters.
fn escape(text: &str, max: usize) -> String {
    let cut: String = text.chars().take(max).collect();
    cut.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn title(payload: &Value) -> &'static str {
    if payload["test"].as_bool().unwrap_or(false) {
        return "Test lead from Leadpipe";
    }
    match payload["type"].as_str() {
        Some("lead.updated") => "Lead updated",
        Some("lead.re_engaged") => "Lead is back",
        Some("lead.deleted") => "Lead erased",
        _ => "New lead",
    }
}

/// The message for `payload`; `console` is the lead's page, when the
/// deployment's public URL is known.
pub fn message(mapping: &[(String, String)], payload: &Value, console: Option<&str>) -> Value {
    if let Some(kind) = payload["type"].as_str().and_then(OpsEventType::parse) {
        return alert(kind, payload);
    }
    let lead = &payload["lead"];
    let who = ["name", "email", "phone"]
        .iter()
        .find_map(|f| mapping::value_of(lead, f))
        .unwrap_or_else(|| "a lead".into());
    let header: String = format!("{}: {who}", title(payload))
        .chars()
        .take(MAX_HEADER)
        .collect();
    let fields: Vec<Value> = mapping::values(mapping, lead)
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(label, value)| {
            json!({"type": "mrkdwn",
                   "text": format!("*{}*\n{}", escape(&label, 100), escape(&value, MAX_FIELD_TEXT))})
        })
        .collect();
    let mut context = escape(payload["type"].as_str().unwrap_or("lead.created"), 40);
    if let Some(link) = console {
        context.push_str(&format!(" · <{link}|Open in Leadpipe>"));
    }
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": header}})];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({"text": header, "blocks": blocks})
}

/// An operational event (see [`crate::ops`]) as a message: what happened
/// and the ids and answer an operator acts on.
fn alert(kind: OpsEventType, payload: &Value) -> Value {
    let data = &payload["data"];
    let title = match kind {
        OpsEventType::DeliveryExhausted => "Delivery failed for good",
        OpsEventType::DeliveryRecovered => "Delivery recovered",
        OpsEventType::SubscriptionFailing => "Destination failing",
        OpsEventType::SubscriptionDisabled => "Destination disabled",
        OpsEventType::SourceFailing => "Source failing",
    };
    let shown = [
        ("Lead", &data["leadId"]),
        ("Destination", &data["subscriptionId"]),
        ("Delivery", &data["deliveryId"]),
        ("Last status", &data["lastStatus"]),
        ("Last error", &data["lastError"]),
        ("Reason", &data["reason"]),
        ("URL", &data["url"]),
        ("Page", &data["source"]["pageId"]),
        ("Retry", &data["retry"]),
    ];
    let fields: Vec<Value> = shown
        .iter()
        .filter_map(|(label, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", escape(&text, MAX_FIELD_TEXT))}))
        })
        .take(MAX_FIELDS)
        .collect();
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": title}})];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(kind.as_str(), 40)}]}));
    json!({"text": title, "blocks": blocks})
}

pub async fn send(a: &Attempt<'_>) -> AttemptResult {
    let mut log = Log::new();
    let url = a.config["url"].as_str().unwrap_or("");
    let target = match ssrf::check_url(url, a.scope.config.allow_private_targets) {
        Ok(t) => t,
        Err(e) => return log.failed(format!("url refused: {e}"), None),
    };
    let client = match a.scope.webhook_client() {
        Ok(c) => c,
        Err(e) => return log.failed(e.to_string(), None),
    };
    let console = match (&a.scope.config.public_url, a.lead()["id"].as_str()) {
        (Some(base), Some(id)) if !a.is_test() => Some(format!("{base}/console/leads/{id}")),
        _ => None,
    };
    let body = message(
        &a.mapping(super::Kind::Slack),
        a.payload,
        console.as_deref(),
    );
    let answer = log
        .call("POST incoming webhook", client.post(target.url).json(&body))
        .await;
    if answer.ok() {
        return log.delivered(answer.status.unwrap_or(200));
    }
    let why = match answer.status {
        Some(_) => format!(
            "{}: {}",
            call::describe("Slack", &answer),
            answer.body.chars().take(100).collect::<String>()
        ),
        None => call::describe("Slack", &answer),
    };
    log.failed_on(&answer, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs() -> Vec<(String, String)> {
        super::super::Kind::Slack.default_mapping()
    }

    #[test]
    fn a_message_names_the_lead_and_escapes_its_values() {
        let payload = json!({"type": "lead.created", "lead": {"id": "lead_1", "name": "Ann <script>",
            "email": "ann@example.com", "tags": ["vip", "a&b"], "source": {"type": "webhook"}}});
        let m = message(
            &pairs(),
            &payload,
            Some("https://lp.example.com/console/leads/lead_1"),
        );
        assert_eq!(m["text"], "New lead: Ann <script>");
        assert_eq!(m["blocks"][0]["type"], "header");
        let fields = m["blocks"][1]["fields"].as_array().unwrap();
        let texts: Vec<&str> = fields.iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            texts,
            [
                "*Email*\nann@example.com",
                "*Name*\nAnn &lt;script&gt;",
                "*Source*\nwebhook",
                "*Tags*\nvip, a&amp;b"
            ]
        );
        assert!(
            m["blocks"][2]["elements"][0]["text"]
                .as_str()
                .unwrap()
                .ends_with("<https://lp.example.com/console/leads/lead_1|Open in Leadpipe>")
        );
    }

    #[test]
    fn an_operational_event_is_an_alert_with_its_ids() {
        let payload = json!({"type": "delivery.exhausted", "data": {"leadId": "lead_1",
            "subscriptionId": "sub_1", "lastStatus": 503, "lastError": "<b>down</b>"}});
        let m = message(&pairs(), &payload, None);
        assert_eq!(m["text"], "Delivery failed for good");
        let texts: Vec<&str> = m["blocks"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "*Lead*\nlead_1",
                "*Destination*\nsub_1",
                "*Last status*\n503",
                "*Last error*\n&lt;b&gt;down&lt;/b&gt;"
            ]
        );
    }

    #[test]
    fn a_lead_with_nothing_mapped_still_has_a_title() {
        let m = message(&pairs(), &json!({"type": "lead.updated", "lead": {}}), None);
        assert_eq!(m["text"], "Lead updated: a lead");
        assert_eq!(m["blocks"].as_array().unwrap().len(), 2);
    }
}
