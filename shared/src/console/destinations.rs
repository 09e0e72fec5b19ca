//! Destinations (subscriptions): where leads go. URL (SSRF refusals in
//! words), event and source filters, secret shown once and rotated with
//! grace, custom headers and auth masked, a template editor with a preview
//! on a sample lead, Test (status, timing, first bytes), enable/disable.

use http::StatusCode;
use lambda_http::{Body, Response};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::destination_kinds::{self, KindValues};
use super::layout::{self, Nav};
use super::routing;
use super::{Ctx, Form, Problems, html as page_html, redirect, safe_id, split_list};
use crate::admin::subscriptions::sample_context;
use crate::http::error::ApiError;
use crate::model::event_type::OpsEventType;
use crate::rules::templates;

const EVENT_TYPES: [&str; 4] = [
    "lead.created",
    "lead.updated",
    "lead.re_engaged",
    "lead.deleted",
];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

const SSRF_WORDS: &str = "Leadpipe sends only to public HTTPS addresses. Names like localhost, *.internal \
or *.local, and addresses that are loopback, private (10.x, 172.16–31.x, 192.168.x), link-local, \
carrier-grade NAT, multicast or a cloud metadata service are refused, here and again at send time, \
so that a destination can never be used to reach machines inside your network.";

/// Values of the destination form, from a stored subscription or a
/// submitted form.
#[derive(Default)]
struct Values {
    url: String,
    all_events: bool,
    events: Vec<String>,
    sources: String,
    headers: String,
    auth_kind: String,
    auth_name: String,
    template: String,
    retry_schedule: String,
    filter: String,
    kinds: KindValues,
    enabled: bool,
    test_leads: bool,
}

impl Values {
    fn from_sub(sub: &Value) -> Self {
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

    fn from_form(f: &Form) -> Self {
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
fn body_of(f: &Form, creating: bool) -> Result<Value, Problems> {
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
fn preview(template: &str) -> Markup {
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

fn form_fields(p: &Problems, v: &Values, creating: bool) -> Markup {
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

async fn render_list(
    ctx: &Ctx<'_>,
    create: &Problems,
    values: Option<&Values>,
    preview_of: Option<&str>,
    notice: Option<&str>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let page = ctx.api("GET", "/v1/subscriptions?limit=100", None).await?;
    let subs = page["items"].as_array().cloned().unwrap_or_default();
    let default = Values {
        enabled: true,
        all_events: true,
        ..Values::default()
    };
    let v = values.unwrap_or(&default);
    let filter_preview = match preview_of {
        Some(_) => Some(Box::pin(routing::preview(ctx, &v.filter)).await),
        None => None,
    };
    let open = values.is_some() || subs.is_empty();
    let body = html! {
        (layout::notice(notice))
        p.muted { "Each lead event is POSTed, signed (Standard Webhooks), to every enabled destination that wants it, and retried until it is taken." }
        @if subs.is_empty() {
            (layout::empty("No destinations yet.", html! {
                p { "Add your CRM's or your app's webhook URL below, then press " strong { "Test" } " to see it answer." }
            }))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "URL" } th { "Events" } th { "State" } th { "Created" } } }
                tbody {
                    @for sub in &subs {
                        tr {
                            td { a href={ "/console/destinations/" (s(sub, "id")) } { (layout::cut(s(sub, "url"), 80)) } }
                            td { (strings(&sub["events"]).join(", ")) }
                            td { (state_badge(sub)) }
                            td { (layout::time(s(sub, "createdAt"))) }
                        }
                    }
                }
            } }
        }
        details #add-destination open[open] {
            summary { "Add destination" }
            form method="post" action="/console/destinations" {
                (layout::csrf(ctx))
                (layout::problems_banner(create))
                @if !create.of("url").is_empty() { p.hint { (SSRF_WORDS) } }
                (form_fields(create, v, true))
                @if let Some(t) = preview_of {
                    @match destination_kinds::request_preview(&v.kinds) { Some(m) => (m), None => (preview(t)) }
                }
                @if let Some(m) = &filter_preview { (m) }
                div.actions {
                    button type="submit" { "Create destination" }
                    button.secondary type="submit" name="op" value="preview" { "Preview template and filter" }
                }
            }
        }
    };
    Ok(page_html(
        status,
        layout::page(ctx, "Destinations", Nav::Destinations, body),
    ))
}

struct Detail<'a> {
    secret: Option<(&'a str, &'static str)>,
    test: Option<&'a Value>,
    edit: Problems,
    values: Option<Values>,
    preview: bool,
    notice: Option<&'a str>,
    status: StatusCode,
}

impl Default for Detail<'_> {
    fn default() -> Self {
        Detail {
            secret: None,
            test: None,
            edit: Problems::none(),
            values: None,
            preview: false,
            notice: None,
            status: StatusCode::OK,
        }
    }
}

async fn render_one(ctx: &Ctx<'_>, id: &str, d: Detail<'_>) -> Result<Response<Body>, ApiError> {
    let sub = ctx
        .api("GET", &format!("/v1/subscriptions/{id}"), None)
        .await?;
    let enabled = sub["enabled"].as_bool().unwrap_or(false);
    let values = d.values.unwrap_or_else(|| Values::from_sub(&sub));
    let filter_preview = if d.preview || !values.filter.is_empty() {
        Some(Box::pin(routing::preview(ctx, &values.filter)).await)
    } else {
        None
    };
    let headers: Vec<(String, String)> = sub["headers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let auth = &sub["auth"];
    let body = html! {
        (layout::notice(d.notice))
        @if let Some((secret, why)) = d.secret {
            div.banner.secret role="status" {
                p { strong { "Signing secret " (why) ". " } "It is shown this once: copy it into the receiver now." }
                (layout::copyable("secret-full", secret))
            }
        }
        dl.facts {
            (destination_kinds::facts(&sub))
            dt { "URL" } dd { (layout::copyable("dest-url", s(&sub, "url"))) }
            dt { "State" } dd {
                (state_badge(&sub))
                @if let Some(r) = sub["disabledReason"].as_str() { " " span.muted { (r) } }
                @if let Some(since) = sub["failingSince"].as_str() {
                    " " span.muted { "failing since " (layout::time(since)) " (" (sub["consecutiveFailures"].as_u64().unwrap_or(0)) " failures in a row): one delivery keeps retrying, the others wait and go out in order once it gets through" }
                }
            }
            dt { "Events" } dd { (strings(&sub["events"]).join(", ")) }
            dt { "Sources" } dd { @if sub["sources"].is_null() { span.muted { "every source" } } @else { (strings(&sub["sources"]).join(", ")) } }
            dt { "Signing secret" } dd {
                code { (s(&sub, "secret")) }
                @if let Some(t) = sub["previousSecretExpiresAt"].as_str() { br; span.muted { "The previous secret also signs until " (layout::time(t)) } }
            }
            dt { "Custom headers" } dd {
                @if headers.is_empty() { span.muted { "none" } }
                @for (n, v) in &headers { code { (n) ": " (v) } br; }
            }
            dt { "Authentication" } dd {
                @match auth["type"].as_str() {
                    Some("bearer") => code { "Authorization: Bearer " (s(auth, "token")) },
                    Some("header") => code { (s(auth, "name")) ": " (s(auth, "value")) },
                    _ => span.muted { "none" },
                }
            }
            dt { "Retries" } dd { (retries(&sub)) ", then the delivery is dead (and waits in the dead-letter queue)" }
            dt { "Egress" } dd { span.muted { "When the deployment sets static_egress_ip, deliveries leave from the address in Terraform's egress_ip output: allow-list it at the receiver." } }
            dt { "Created" } dd { (layout::time(s(&sub, "createdAt"))) }
        }
        div.actions {
            (layout::action(ctx, &format!("/console/destinations/{id}/test"), "Test", None, false))
            (layout::action(ctx, &format!("/console/destinations/{id}/toggle"),
                if enabled { "Disable" } else { "Enable" }, None, false))
            a.button.secondary href={ "/console/deliveries?subscriptionId=" (id) } { "Deliveries" }
        }
        @if let Some(t) = d.test {
            @let ok = t["delivered"].as_bool().unwrap_or(false);
            div.result.good[ok].bad[!ok] #test-result role="status" {
                p {
                    strong { @if ok { "Delivered" } @else { "Not delivered" } }
                    " · status " strong #test-status { (t["statusCode"].as_u64().map(|c| c.to_string()).unwrap_or_else(|| "none".into())) }
                    " · " strong #test-ms { (t["durationMs"].as_u64().unwrap_or(0)) " ms" }
                }
                @if let Some(e) = t["error"].as_str() { p { "Error: " (e) } }
                @if let Some(r) = t["response"].as_str() { p.muted { "First bytes of the answer:" } pre { (layout::cut(r, 1024)) } }
            }
        }
        h2 { "Rotate the signing secret" }
        form method="post" action={ "/console/destinations/" (id) "/rotate" } data-confirm="Issue a new signing secret? The old one keeps signing, beside the new one, for the grace period." {
            (layout::csrf(ctx))
            div.field {
                label for="f-grace" { "Old secret keeps working for" }
                select #f-grace name="graceSeconds" {
                    option value="0" { "no time: stop at once" }
                    option value="3600" { "1 hour" }
                    option value="86400" selected { "24 hours" }
                    option value="604800" { "7 days" }
                }
            }
            button.secondary type="submit" { "Rotate secret" }
        }
        h2 { "Edit" }
        form method="post" action={ "/console/destinations/" (id) } {
            (layout::csrf(ctx))
            (layout::problems_banner(&d.edit))
            @if !d.edit.of("url").is_empty() { p.hint { (SSRF_WORDS) } }
            (form_fields(&d.edit, &values, false))
            @if let (true, Some(m)) = (d.preview, destination_kinds::request_preview(&values.kinds)) { (m) }
            @else if d.preview || !values.template.is_empty() { (preview(&values.template)) }
            @if let Some(m) = &filter_preview { (m) }
            div.actions {
                button type="submit" { "Save changes" }
                button.secondary type="submit" name="op" value="preview" { "Preview template and filter" }
            }
        }
        h2 { "Delete" }
        (layout::action(ctx, &format!("/console/destinations/{id}/delete"), "Delete destination",
            Some("Delete this destination? Leads will no longer be sent to it."), true))
    };
    Ok(page_html(
        d.status,
        layout::page(ctx, "Destination", Nav::Destinations, body),
    ))
}

fn done(q: &[(String, String)]) -> Option<&'static str> {
    match crate::http::query_param(q, "done") {
        Some("deleted") => Some("Destination deleted."),
        Some("saved") => Some("Destination saved."),
        Some("enabled") => Some("Destination enabled: new events will be sent to it."),
        Some("disabled") => Some(
            "Destination disabled: nothing is sent until you enable it. URL and secret are kept.",
        ),
        _ => None,
    }
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    render_list(ctx, &Problems::none(), None, None, done(&q), StatusCode::OK).await
}

pub async fn create(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let form = ctx.form();
    let values = Values::from_form(&form);
    if form.get("op") == "preview" {
        return render_list(
            ctx,
            &Problems::none(),
            Some(&values),
            Some(&values.template),
            None,
            StatusCode::OK,
        )
        .await;
    }
    let body = match body_of(&form, true) {
        Ok(b) => b,
        Err(p) => {
            return render_list(
                ctx,
                &p,
                Some(&values),
                None,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match ctx.api("POST", "/v1/subscriptions", Some(body)).await {
        Ok(sub) => {
            let secret = s(&sub, "secret").to_owned();
            let id = s(&sub, "id").to_owned();
            render_one(
                ctx,
                &id,
                Detail {
                    secret: Some((&secret, "created")),
                    status: StatusCode::CREATED,
                    ..Detail::default()
                },
            )
            .await
        }
        Err(e @ ApiError::Internal(_)) => Err(e),
        Err(e) => {
            let p = Problems::from_api(&e, "url");
            let t = (!p.of("template").is_empty()).then_some(values.template.as_str());
            render_list(ctx, &p, Some(&values), t, None, e.status()).await
        }
    }
}

pub async fn show(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let q = ctx.query();
    render_one(
        ctx,
        id,
        Detail {
            notice: done(&q),
            ..Detail::default()
        },
    )
    .await
}

pub async fn edit(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let form = ctx.form();
    let values = Values::from_form(&form);
    if form.get("op") == "preview" {
        return render_one(
            ctx,
            id,
            Detail {
                values: Some(values),
                preview: true,
                ..Detail::default()
            },
        )
        .await;
    }
    let result = match body_of(&form, false) {
        Ok(body) => ctx
            .api("PATCH", &format!("/v1/subscriptions/{id}"), Some(body))
            .await
            .map_err(|e| (e.status(), Problems::from_api(&e, "url"), e)),
        Err(p) => Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            p,
            ApiError::Validation(vec![]),
        )),
    };
    match result {
        Ok(_) => Ok(redirect(&format!("/console/destinations/{id}?done=saved"))),
        Err((_, _, e @ (ApiError::Internal(_) | ApiError::NotFound(_)))) => Err(e),
        Err((status, p, _)) => {
            render_one(
                ctx,
                id,
                Detail {
                    edit: p,
                    values: Some(values),
                    status,
                    ..Detail::default()
                },
            )
            .await
        }
    }
}

pub async fn test(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let result = ctx
        .api("POST", &format!("/v1/subscriptions/{id}/test"), None)
        .await?;
    render_one(
        ctx,
        id,
        Detail {
            test: Some(&result),
            ..Detail::default()
        },
    )
    .await
}

pub async fn rotate(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let grace: u64 = ctx.form().get("graceSeconds").parse().unwrap_or(86_400);
    let sub = ctx
        .api(
            "POST",
            &format!("/v1/subscriptions/{id}/rotate-secret"),
            Some(json!({ "graceSeconds": grace })),
        )
        .await?;
    let secret = s(&sub, "secret").to_owned();
    render_one(
        ctx,
        id,
        Detail {
            secret: Some((&secret, "rotated")),
            ..Detail::default()
        },
    )
    .await
}

pub async fn toggle(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let sub = ctx
        .api("GET", &format!("/v1/subscriptions/{id}"), None)
        .await?;
    let enable = !sub["enabled"].as_bool().unwrap_or(false);
    ctx.api(
        "PATCH",
        &format!("/v1/subscriptions/{id}"),
        Some(json!({ "enabled": enable })),
    )
    .await?;
    let done = if enable { "enabled" } else { "disabled" };
    Ok(redirect(&format!("/console/destinations/{id}?done={done}")))
}

pub async fn delete(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    ctx.api("DELETE", &format!("/v1/subscriptions/{id}"), None)
        .await?;
    Ok(redirect("/console/destinations?done=deleted"))
}

/// The subscription's schedule in words.
fn retries(sub: &Value) -> String {
    let steps: Option<Vec<u32>> = sub["retrySchedule"].as_array().and_then(|a| {
        a.iter()
            .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect()
    });
    match steps.map(crate::rules::schedule::Schedule::new) {
        Some(Ok(s)) => s.describe(),
        _ => format!("{} attempts", sub["maxAttempts"].as_u64().unwrap_or(0)),
    }
}

/// `active`, `failing` or `disabled` (older answers: from `enabled`).
fn state_badge(sub: &Value) -> maud::Markup {
    let state = sub["state"]
        .as_str()
        .unwrap_or(if sub["enabled"].as_bool().unwrap_or(false) {
            "active"
        } else {
            "disabled"
        });
    layout::badge(state)
}
