//! The destination form: what it shows (event types, alerts, kinds,
//! headers, auth, template with its preview) and how it reads back into
//! an API body.

use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::destination_kinds::{self, KindValues};
use super::layout;
use super::routing;
use super::{Form, Problems, split_list};
use crate::admin::subscriptions::sample_context;
use crate::model::event_type::OpsEventType;
use crate::rules::templates;

pub(super) const EVENT_TYPES: [&str; 4] = [
    "lead.created",
    "lead.updated",
    "lead.re_engaged",
    "lead.deleted",
];

pub(super) fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) const SSRF_WORDS: &str = "Leadpipe sends only to public HTTPS addresses. Names like localhost, *.internal \
or *.local, and addresses that are loopback, private (10.x, 172.16–31.x, 192.168.x), link-local, \
carrier-grade NAT, multicast or a cloud metadata service are refused, here and again at send time, \
so that a destination can never be used to reach machines inside your network.";

/// Values of the destination form, from a stored subscription or a
/// submitted form.
#[derive(Default)]
pub(super) struct Values {
    pub(super) url: String,
    pub(super) all_events: bool,
    pub(super) events: Vec<String>,
    pub(super) sources: String,
    pub(super) headers: String,
    pub(super) auth_kind: String,
    pub(super) auth_name: String,
    pub(super) template: String,
    pub(super) retry_schedule: String,
    pub(super) filter: String,
    pub(super) kinds: KindValues,
    pub(super) enabled: bool,
    pub(super) test_leads: bool,
}

impl Values {
    pub(super) fn from_sub(sub: &Value) -> Self {
        let events = strings(&sub["events"]);
        Values {
            url: s(sub, "url").to_owned(),
            all_events: events.iter().any(|e| e == "*"),
            events,
            sources: strings(&sub["sources"]).join(", "),
            headers: String::new(),
            auth_kind: "keep".into(),
            auth_name: String::new(),
            template: s(sub, "template").to_owned(),
            retry_schedule: sub["retrySchedule"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            filter: routing::text_of(sub),
            kinds: KindValues::from_sub(sub),
            enabled: sub["enabled"].as_bool().unwrap_or(true),
            test_leads: sub["testLeads"].as_bool().unwrap_or(false),
        }
    }

    pub(super) fn from_form(f: &Form) -> Self {
        let events: Vec<String> = f.all("events").into_iter().map(str::to_owned).collect();
        Values {
            url: f.get("url").to_owned(),
            all_events: events.iter().any(|e| e == "*"),
            events,
            sources: f.get("sources").to_owned(),
            headers: f.get("headers").to_owned(),
            auth_kind: f.get("authKind").to_owned(),
            auth_name: f.get("authName").to_owned(),
            template: f.get("template").to_owned(),
            retry_schedule: f.get("retrySchedule").to_owned(),
            filter: f.get("filter").to_owned(),
            kinds: KindValues::from_form(f),
            enabled: f.has("enabled"),
            test_leads: f.has("testLeads"),
        }
    }
}

/// Reads the form into an API body. `creating` decides what "empty"
/// means for headers and auth (on edit: keep the stored ones).
pub(super) fn body_of(f: &Form, creating: bool) -> Result<Value, Problems> {
    let mut issues = Vec::new();
    let mut body = Map::new();
    body.insert("url".into(), json!(f.get("url")));
    let mut events: Vec<&str> = f.all("events");
    if events.contains(&"*") {
        // `*` is every lead event; operational events are named apart.
        events.retain(|e| *e == "*" || OpsEventType::parse(e).is_some());
    }
    body.insert("events".into(), json!(events));
    let sources = split_list(f.get("sources"));
    body.insert(
        "sources".into(),
        if sources.is_empty() {
            Value::Null
        } else {
            json!(sources)
        },
    );
    let headers_text = f.get("headers");
    if !headers_text.is_empty() || f.has("clearHeaders") {
        let mut headers = Map::new();
        for line in headers_text.lines().filter(|l| !l.trim().is_empty()) {
            match line.split_once(':') {
                Some((n, v)) => {
                    headers.insert(n.trim().to_owned(), json!(v.trim()));
                }
                None => issues.push(crate::error::FieldIssue::new(
                    "headers",
                    "lines are “Name: value”",
                )),
            }
        }
        body.insert("headers".into(), Value::Object(headers));
    } else if creating {
        body.insert("headers".into(), json!({}));
    }
    match f.get("authKind") {
        "bearer" => {
            body.insert(
                "auth".into(),
                json!({"type": "bearer", "token": f.get("authValue")}),
            );
        }
        "header" => {
            body.insert(
                "auth".into(),
                json!({"type": "header", "name": f.get("authName"), "value": f.get("authValue")}),
            );
        }
        "none" => {
            body.insert("auth".into(), Value::Null);
        }
        _ => {}
    }
    let template = f.get("template");
    body.insert(
        "template".into(),
        if template.is_empty() {
            Value::Null
        } else {
            json!(template)
        },
    );
    routing::put(&mut body, f.get("filter"), &mut issues);
    // Empty: the default schedule (on edit: the stored one).
    let schedule = f.get("retrySchedule");
    match crate::rules::schedule::parse_list(schedule) {
        Some(steps) if !schedule.trim().is_empty() => {
            body.insert("retrySchedule".into(), json!(steps));
        }
        Some(_) => {}
        None => issues.push(crate::error::FieldIssue::new(
            "retrySchedule",
            "must be whole numbers of seconds, separated by commas",
        )),
    }
    body.insert("enabled".into(), json!(f.has("enabled")));
    body.insert("testLeads".into(), json!(f.has("testLeads")));
    destination_kinds::adjust(&mut body, f, creating, &mut issues);
    if issues.is_empty() {
        Ok(Value::Object(body))
    } else {
        Err(Problems {
            fields: issues,
            message: Some("Some fields need attention.".into()),
        })
    }
}

/// The template rendered on the sample lead, or why it cannot be.
pub(super) fn preview(template: &str) -> Markup {
    if template.trim().is_empty() {
        return html! { p.muted { "No template: the default JSON body is sent." } };
    }
    let sample = sample_context();
    let rendered = templates::render(template, &sample);
    let check = templates::check(template, &sample);
    let pretty = serde_json::from_str::<Value>(&rendered)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(rendered);
    html! {
        div.result.good[check.is_ok()].bad[check.is_err()] {
            @match &check {
                Ok(()) => p { "Preview on a sample lead (valid JSON):" },
                Err(e) => p { "This template does not render to valid JSON: " (e) },
            }
            pre #template-preview { (layout::cut(&pretty, 4000)) }
        }
    }
}

pub(super) fn form_fields(p: &Problems, v: &Values, creating: bool) -> Markup {
    html! {
        (destination_kinds::fields(p, &v.kinds, creating))
        div data-for-kind="webhook" hidden[v.kinds.kind != "webhook"] {
            (layout::field("url", "Endpoint URL", &v.url, p, "Where Leadpipe POSTs each event, e.g. https://crm.example.com/hooks/leadpipe"))
        }
        fieldset {
            legend { "Events" }
            div.checks {
                label { input type="checkbox" name="events" value="*" checked[v.all_events || v.events.is_empty()]; "All lead events" }
                @for e in EVENT_TYPES {
                    label { input type="checkbox" name="events" value=(e) checked[!v.all_events && v.events.iter().any(|x| x == e)]; (e) }
                }
            }
            @for issue in p.of("events") { p.field-error { "Events " (issue) } }
        }
        fieldset data-for-kind="webhook slack" hidden[v.kinds.kind != "webhook" && v.kinds.kind != "slack"] {
            legend { "Alerts (operational events)" }
            p.hint { "Tell this destination when deliveries die, recover, or a destination or source fails. A webhook or Slack destination only; never about itself." }
            div.checks {
                @for e in OpsEventType::ALL {
                    label { input type="checkbox" name="events" value=(e.as_str()) checked[v.events.iter().any(|x| x == e.as_str())]; (e.as_str()) }
                }
            }
        }
        (layout::field("sources", "Sources", &v.sources, p,
            "Empty: every source. Else comma-separated: key:key_… for one webhook key, meta_lead_ads for Meta."))
        div data-for-kind="webhook" hidden[v.kinds.kind != "webhook"] {
        (layout::textarea("headers", "Custom headers", &v.headers, p,
            if creating { "One “Name: value” a line. Values are stored encrypted and shown masked." }
            else { "Leave empty to keep the current headers; anything here replaces them all." }))
        @if !creating {
            div.field.checks { label { input type="checkbox" name="clearHeaders" value="1"; "Remove all custom headers" } }
        }
        fieldset {
            legend { "Authentication" }
            div.field {
                label for="f-authKind" { "Kind" }
                select #f-authKind name="authKind" data-auth="1" {
                    @if !creating { option value="keep" selected[v.auth_kind == "keep"] { "Keep the current one" } }
                    option value="none" selected[v.auth_kind == "none" || (creating && v.auth_kind.is_empty())] { "None" }
                    option value="bearer" selected[v.auth_kind == "bearer"] { "Authorization: Bearer …" }
                    option value="header" selected[v.auth_kind == "header"] { "A named header" }
                }
            }
            div data-auth-kind="header" {
                (layout::field("authName", "Header name", &v.auth_name, p, ""))
            }
            div.field data-auth-kind="bearer" {
                p.hint { "The value is stored encrypted and shown masked." }
            }
            div.field {
                label for="f-authValue" { "Token or header value" }
                input type="password" #f-authValue name="authValue" autocomplete="off";
                @for issue in p.of("auth") { p.field-error { "Auth " (issue) } }
            }
        }
        (layout::textarea("template", "Payload template", &v.template, p,
            "Optional JSON with {{lead.email}}, {{lead.phone}}, {{lead.name}}, {{lead.tags}}, {{lead.customFields.NAME}}, {{type}}… Checked on save."))
        }
        (routing::field(p, &v.filter))
        div.field {
            label for="f-retrySchedule" { "Retry schedule (seconds before each retry)" }
            input type="text" #f-retrySchedule name="retrySchedule" inputmode="numeric"
                placeholder="5, 300, 1800, 7200, 18000, 36000, 36000" value=(v.retry_schedule);
            p.muted { "Empty: the default, 8 attempts over about 27 hours. At most 20 steps, each 1 s to 24 h, 7 days in all." }
            @for issue in p.of("retrySchedule") { p.field-error { "Retry schedule " (issue) } }
            @for issue in p.of("maxAttempts") { p.field-error { "Max attempts " (issue) } }
        }
        div.field.checks { label { input type="checkbox" name="enabled" value="1" checked[v.enabled]; "Enabled" } }
        div.field.checks {
            label { input type="checkbox" name="testLeads" value="1" checked[v.test_leads]; "Send test leads too" }
            p.muted { "Test leads (a provider's test submission, a key's Send test lead) go only to destinations with this on." }
        }
    }
}
