//! The destination picker of the console: the kind (webhook, Slack,
//! HubSpot), each kind's credential field, the mapping editor (one
//! `destination field = lead field` a line, prefilled with the kind's
//! default) and a preview of the request a sample lead would make.
//! Everything is saved through the admin API, which checks it.

use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::layout;
use super::{Form, Problems};
use crate::admin::subscriptions::sample_context;
use crate::deliver::destinations::{Kind, mapping};
use crate::error::FieldIssue;

/// The kind-related values of the destination form.
#[derive(Default, Clone)]
pub struct KindValues {
    /// `webhook`, `slack`, `hubspot`.
    pub kind: String,
    pub mapping: String,
}

fn lines_of(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(d, l)| format!("{d} = {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl KindValues {
    pub fn from_sub(sub: &Value) -> Self {
        let pairs: Vec<(String, String)> = sub["mapping"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        KindValues {
            kind: sub["kind"].as_str().unwrap_or("webhook").to_owned(),
            mapping: lines_of(&pairs),
        }
    }

    pub fn from_form(f: &Form) -> Self {
        let kind = match f.get("kind") {
            "" => "webhook",
            k => k,
        };
        KindValues {
            kind: kind.to_owned(),
            mapping: f.get("mapping").to_owned(),
        }
    }

    fn native(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }
}

/// `dest = lead` lines as pairs; a line without `=` is an issue.
fn parse_lines(text: &str, issues: &mut Vec<FieldIssue>) -> Vec<(String, String)> {
    let mut out = vec![];
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((d, l)) => out.push((d.trim().to_owned(), l.trim().to_owned())),
            None => issues.push(FieldIssue::new(
                "mapping",
                "lines are “destination field = lead field”",
            )),
        }
    }
    out
}

/// Rewrites an API body built from the form for the chosen kind: a native
/// kind drops the webhook's fields and gets `kind`, `config` (when a
/// credential was typed) and `mapping`.
pub fn adjust(
    body: &mut Map<String, Value>,
    f: &Form,
    creating: bool,
    issues: &mut Vec<FieldIssue>,
) {
    let v = KindValues::from_form(f);
    let Some(kind) = v.native() else {
        if creating && v.kind != "webhook" {
            issues.push(FieldIssue::new(
                "kind",
                format!("must be one of {}", Kind::names()),
            ));
        }
        return;
    };
    for field in ["url", "headers", "auth", "template"] {
        body.remove(field);
    }
    if creating {
        body.insert("kind".into(), json!(kind.as_str()));
    }
    let credential = f.get(credential_field(kind)).trim().to_owned();
    if !credential.is_empty() {
        let config = match kind {
            Kind::Slack => json!({"url": credential}),
            Kind::Hubspot => json!({"accessToken": credential}),
            Kind::Pipedrive => {
                json!({"apiToken": credential, "companyDomain": f.get("pipedriveDomain").trim()})
            }
            Kind::GoogleSheets => json!({"serviceAccount": credential,
                "spreadsheetId": f.get("spreadsheetId").trim(),
                "sheet": match f.get("sheetTab").trim() { "" => "Sheet1", t => t }}),
        };
        body.insert("config".into(), config);
    } else if creating {
        issues.push(FieldIssue::new(
            format!("config.{}", config_key(kind)),
            "is required",
        ));
    }
    let pairs = parse_lines(&v.mapping, issues);
    body.insert(
        "mapping".into(),
        if pairs.is_empty() {
            Value::Null
        } else {
            mapping::to_json(&pairs)
        },
    );
}

fn credential_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Slack => "slackUrl",
        Kind::Hubspot => "hubspotToken",
        Kind::Pipedrive => "pipedriveToken",
        Kind::GoogleSheets => "serviceAccount",
    }
}

fn config_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Slack => "url",
        Kind::Hubspot => "accessToken",
        Kind::Pipedrive => "apiToken",
        Kind::GoogleSheets => "serviceAccount",
    }
}

/// The picker and the kinds' fields (the script shows the chosen kind's).
pub fn fields(p: &Problems, v: &KindValues, creating: bool) -> Markup {
    let mapping_text = match (v.mapping.trim().is_empty(), v.native()) {
        (true, Some(k)) => lines_of(&k.default_mapping()),
        _ => v.mapping.clone(),
    };
    html! {
        @if creating {
            div.field {
                label for="f-kind" { "Kind" }
                select #f-kind name="kind" data-kind-picker="1" {
                    option value="webhook" selected[v.kind == "webhook"] { "Webhook (any URL, signed)" }
                    @for k in Kind::ALL {
                        option value=(k.as_str()) selected[v.kind == k.as_str()] { (k.label()) }
                    }
                }
                (issues_of("kind", "kind", p))
            }
        } @else {
            input type="hidden" name="kind" value=(v.kind);
        }
        div data-for-kind="slack" hidden[v.kind != "slack"] {
            (secret_field("slackUrl", "Slack incoming-webhook URL", p, "config.url",
                if creating { "https://hooks.slack.com/services/T…/B…/… (Slack → Incoming Webhooks). Stored encrypted." }
                else { "Leave empty to keep the current URL." }))
        }
        div data-for-kind="hubspot" hidden[v.kind != "hubspot"] {
            (secret_field("hubspotToken", "HubSpot private-app access token", p, "config.accessToken",
                if creating { "pat-… from Settings → Integrations → Private Apps, with crm.objects.contacts.read and .write. Stored encrypted." }
                else { "Leave empty to keep the current token." }))
        }
        div data-for-kind="pipedrive" hidden[v.kind != "pipedrive"] {
            (secret_field("pipedriveToken", "Pipedrive API token", p, "config.apiToken",
                if creating { "Personal preferences → API in Pipedrive. Stored encrypted." }
                else { "Leave empty to keep the current token (and domain)." }))
            div.field {
                label for="f-pipedriveDomain" { "Company domain" }
                input type="text" #f-pipedriveDomain name="pipedriveDomain" autocomplete="off"
                    aria-describedby="hint-pipedriveDomain";
                p.hint #hint-pipedriveDomain { "acme in acme.pipedrive.com" }
                (issues_of("pipedriveDomain", "config.companyDomain", p))
            }
        }
        div data-for-kind="google_sheets" hidden[v.kind != "google_sheets"] {
            div.field {
                label for="f-serviceAccount" { "Service account key (JSON)" }
                textarea #f-serviceAccount name="serviceAccount" rows="4" spellcheck="false" autocomplete="off"
                    aria-describedby="hint-serviceAccount" {}
                p.hint #hint-serviceAccount { @if creating { "The key file of a Google Cloud service account; share the sheet with its client_email as an editor. Stored encrypted." } @else { "Leave empty to keep the current key, sheet and tab." } }
                (issues_of("serviceAccount", "config.serviceAccount", p))
            }
            div.field {
                label for="f-spreadsheetId" { "Spreadsheet id" }
                input type="text" #f-spreadsheetId name="spreadsheetId" autocomplete="off" aria-describedby="hint-spreadsheetId";
                p.hint #hint-spreadsheetId { "The long id in docs.google.com/spreadsheets/d/ID/edit" }
                (issues_of("spreadsheetId", "config.spreadsheetId", p))
            }
            div.field {
                label for="f-sheetTab" { "Tab" }
                input type="text" #f-sheetTab name="sheetTab" placeholder="Sheet1";
                (issues_of("sheetTab", "config.sheet", p))
            }
        }
        div data-for-kind="slack hubspot pipedrive google_sheets" hidden[v.native().is_none()] {
            (layout::textarea("mapping", "Field mapping", &mapping_text, p,
                "One “destination field = lead field” a line. Lead fields: email, phone, firstName, lastName, name, status, tags, source.type, customFields.NAME… Empty: the kind's default."))
        }
    }
}

/// The problems of API field `field`, shown under form field `name`.
fn issues_of(name: &str, field: &str, p: &Problems) -> Markup {
    let issues = p.of(field);
    html! {
        @if !issues.is_empty() {
            p.field-error id={ "err-" (name) } {
                @for (i, issue) in issues.iter().enumerate() {
                    @if i > 0 { br; }
                    (field) " " (issue)
                }
            }
        }
    }
}

/// A credential field: never pre-filled; its problems are those of the
/// config field it fills.
fn secret_field(name: &str, label: &str, p: &Problems, field: &str, hint: &str) -> Markup {
    let invalid = !p.of(field).is_empty();
    html! {
        div.field {
            label for={ "f-" (name) } { (label) }
            input type="password" id={ "f-" (name) } name=(name) autocomplete="off"
                aria-invalid=[invalid.then_some("true")]
                aria-describedby={ "hint-" (name) @if invalid { " err-" (name) } };
            p.hint id={ "hint-" (name) } { (hint) }
            (issues_of(name, field, p))
        }
    }
}

/// The request a sample lead would make with this mapping, or nothing
/// for a webhook (whose preview is the template's).
pub fn request_preview(v: &KindValues) -> Option<Markup> {
    let kind = v.native()?;
    let mut issues = vec![];
    let pairs = parse_lines(&v.mapping, &mut issues);
    let pairs = if pairs.is_empty() {
        kind.default_mapping()
    } else {
        pairs
    };
    let checked = mapping::check(&mapping::to_json(&pairs));
    Some(match checked {
        Ok(pairs) if issues.is_empty() => {
            let request = kind.preview(&pairs, &sample_context());
            let pretty = serde_json::to_string_pretty(&request).unwrap_or_default();
            html! {
                div.result.good #request-preview-box {
                    p { "The request a sample lead would make (" (kind.label()) "):" }
                    pre #request-preview { (layout::cut(&pretty, 4000)) }
                }
            }
        }
        Ok(_) => {
            html! { div.result.bad { p { "Mapping lines are “destination field = lead field”." } } }
        }
        Err(problems) => html! {
            div.result.bad {
                p { "This mapping cannot be used:" }
                ul { @for i in &problems { li { (i.field) " " (i.issue) } } }
            }
        },
    })
}

/// The facts of a native destination: kind, masked config, mapping.
pub fn facts(sub: &Value) -> Markup {
    let kind = sub["kind"].as_str().unwrap_or("webhook");
    html! {
        dt { "Kind" } dd { (Kind::parse(kind).map(Kind::label).unwrap_or("Webhook")) }
        @if let Some(config) = sub["config"].as_object() {
            dt { "Config" } dd { @for (k, v) in config { code { (k) ": " (v.as_str().unwrap_or("")) } br; } }
        }
        @if let Some(m) = sub["mapping"].as_object() {
            dt { "Mapping" } dd { @for (k, v) in m { code { (k) " ← " (v.as_str().unwrap_or("")) } br; } }
        }
    }
}
