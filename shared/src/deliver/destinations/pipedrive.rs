//! Pipedrive (an API token, `{"apiToken", "companyDomain"}`): the person
//! found or created, then a lead linked to them, with a title and labels.
//!
//! * Base URL `https://{companyDomain}.pipedrive.com/api` (or
//!   `LEADPIPE_PIPEDRIVE_API_URL`); the token goes in the `x-api-token`
//!   header, never in a URL.
//! * Person: the id kept from an earlier delivery → `PUT /v1/persons/{id}`;
//!   else `GET /v1/persons/search` by email, then by phone (exact
//!   matches) → `PUT`; else `POST /v1/persons`. A create that got no answer
//!   is not repeated before the search shows it (up to [`SEARCH_LAG`]).
//! * Lead: the id kept → `PATCH /v1/leads/{id}`; else the person's leads
//!   (`GET /v1/leads?person_id=`) are read, and one with the same title is
//!   taken (what a create whose answer was lost made); else `POST
//!   /v1/leads`. Labels are the lead's tags that name one of the account's
//!   lead labels (`GET /v1/leadLabels`).
//! * Both ids are kept beside the lead ([`destination_refs`]), so a retry or
//!   a later event makes no second person or lead.

use std::time::Duration;

use serde_json::{Value, json};

use super::call::{self, Answer, Log};
use super::{Attempt, Checked, Kind, mapping};
use crate::app::App;
use crate::deliver::send::AttemptResult;
use crate::error::FieldIssue;
use crate::model::destination_refs::{self, Refs};
use crate::model::history::LeadEventType;
use crate::rules::clock;

/// Pipedrive field → lead field. `name`, `email`, `phone` are the
/// person's; `title` the lead's title; `labels` the lead field whose values
/// name lead labels.
pub const DEFAULT_MAPPING: &[(&str, &str)] = &[
    ("email", "email"),
    ("labels", "tags"),
    ("name", "name"),
    ("phone", "phone"),
    ("title", "name"),
];

/// How long Pipedrive's search may take to show a person just created
/// (not documented; Leadpipe waits this long before creating again).
pub const SEARCH_LAG: Duration = Duration::from_secs(60);
const PERSON_ID: &str = "personId";
const LEAD_ID: &str = "leadId";

/// Pipedrive's API base for a config.
pub fn base_url(app: &App, config: &Value) -> String {
    match &app.config.pipedrive_api_url {
        Some(url) => url.clone(),
        None => format!(
            "https://{}.pipedrive.com/api",
            config["companyDomain"].as_str().unwrap_or("")
        ),
    }
}

fn domain_ok(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 63
        && !d.starts_with('-')
        && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub fn check_config(app: &App, config: &Value) -> Result<Checked, Vec<FieldIssue>> {
    let mut issues = vec![];
    super::only_keys(config, &["apiToken", "companyDomain"], &mut issues);
    let token = super::required_text(config, "apiToken", 200, &mut issues);
    if !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        issues.push(FieldIssue::new("config.apiToken", "is letters and digits"));
    }
    let domain =
        super::required_text(config, "companyDomain", 63, &mut issues).to_ascii_lowercase();
    if !domain.is_empty() && !domain_ok(&domain) {
        issues.push(FieldIssue::new(
            "config.companyDomain",
            "is the first part of your Pipedrive address (acme in acme.pipedrive.com)",
        ));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let config = json!({"apiToken": token, "companyDomain": domain});
    Ok(Checked {
        url: base_url(app, &config),
        shown: json!({"apiToken": super::mask(&token), "companyDomain": domain}),
        config,
    })
}

/// What a lead's mapping gives: person fields, title, label names.
struct Mapped {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    title: String,
    labels: Vec<String>,
}

fn mapped(pairs: &[(String, String)], lead: &Value) -> Mapped {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(d, _)| d == k)
            .and_then(|(_, f)| mapping::value_of(lead, f))
    };
    let email = get("email");
    let phone = get("phone");
    let name = get("name")
        .or_else(|| email.clone())
        .or_else(|| phone.clone())
        .unwrap_or_else(|| "Unknown".into());
    let labels = pairs
        .iter()
        .find(|(d, _)| d == "labels")
        .map(|(_, f)| match &lead[f.as_str()] {
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => mapping::value_of(lead, f)
                .map(|v| vec![v])
                .unwrap_or_default(),
        })
        .unwrap_or_default();
    Mapped {
        title: get("title").unwrap_or_else(|| name.clone()),
        name,
        email,
        phone,
        labels,
    }
}

fn person_body(m: &Mapped) -> Value {
    let mut body = json!({"name": m.name});
    if let Some(e) = &m.email {
        body["email"] = json!([{"value": e, "primary": true, "label": "work"}]);
    }
    if let Some(p) = &m.phone {
        body["phone"] = json!([{"value": p, "primary": true, "label": "mobile"}]);
    }
    body
}

/// The requests a sample lead makes (the console's preview).
pub fn preview(pairs: &[(String, String)], lead: &Value) -> Value {
    let m = mapped(pairs, lead);
    json!([
        {"method": "POST", "path": "/v1/persons", "body": person_body(&m)},
        {"method": "POST", "path": "/v1/leads", "body": {"title": m.title, "person_id": "{person id}",
                                                          "label_ids": format!("the ids of the lead labels named {:?}", m.labels)}},
    ])
}

fn failure(answer: &Answer) -> String {
    let said = answer.json()["error"]
        .as_str()
        .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    match answer.status {
        Some(401) => format!("Pipedrive refused the API token (HTTP 401){said}"),
        Some(429) => format!("Pipedrive's rate limit (HTTP 429){said}"),
        _ => format!("{}{said}", call::describe("Pipedrive", answer)),
    }
}

/// The number or string id in `data.id`.
fn data_id(v: &Value) -> Option<String> {
    match &v["data"]["id"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

struct Ctx<'a> {
    a: &'a Attempt<'a>,
    client: &'a reqwest::Client,
    base: String,
    token: &'a str,
    log: Log,
}

impl Ctx<'_> {
    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut url = match url::Url::parse(&format!("{}{path}", self.base)) {
            Ok(u) => u,
            Err(e) => {
                return Answer {
                    status: None,
                    body: String::new(),
                    retry_after: None,
                    error: Some(format!("bad Pipedrive URL: {e}")),
                };
            }
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self
            .client
            .request(method.clone(), url)
            .header("x-api-token", self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.log.call(&format!("{method} {path}"), req).await
    }

    fn fail(self, answer: &Answer) -> AttemptResult {
        let mut answer = answer.clone();
        if answer.status == Some(429) && answer.retry_after.is_none() {
            // Pipedrive's daily budget names no wait: try again later.
            answer.retry_after = Some(Duration::from_secs(60));
        }
        let why = failure(&answer);
        self.log.failed_on(&answer, why)
    }

    async fn keep(&mut self, refs: &mut Refs) -> Result<(), String> {
        if self.a.is_test() {
            return Ok(());
        }
        destination_refs::put(self.a.scope, refs)
            .await
            .map_err(|e| format!("could not keep Pipedrive's ids: {e}"))
    }

    /// Search persons by `term` in `field`; the first exact match's id.
    async fn search(&mut self, field: &str, term: &str) -> Result<Option<String>, Answer> {
        let q = [
            ("term", term),
            ("fields", field),
            ("exact_match", "true"),
            ("limit", "1"),
        ];
        let answer = self
            .send(reqwest::Method::GET, "/v1/persons/search", &q, None)
            .await;
        if !answer.ok() {
            return Err(answer);
        }
        Ok(match &answer.json()["data"]["items"][0]["item"]["id"] {
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }
}

pub async fn send(a: &Attempt<'_>) -> AttemptResult {
    let mut log = Log::new();
    if a.event == LeadEventType::Deleted {
        log.note("lead.deleted: nothing is written to Pipedrive (its person and lead are left as they are)");
        return log.delivered(204);
    }
    let client = match a.scope.http() {
        Ok(c) => c,
        Err(e) => return log.failed(e.to_string(), None),
    };
    let lead = a.lead();
    let mut refs = match lead["id"].as_str() {
        Some(lead_id) if !a.is_test() => {
            match destination_refs::get(a.scope, lead_id, &a.sub.id).await {
                Ok(r) => r,
                Err(e) => return log.failed(format!("kept ids unreadable: {e}"), None),
            }
        }
        _ => Refs::default(),
    };
    let m = mapped(&a.mapping(Kind::Pipedrive), lead);
    let mut c = Ctx {
        a,
        client,
        base: base_url(a.scope, a.config),
        token: a.config["apiToken"].as_str().unwrap_or(""),
        log,
    };
    let person = match person(&mut c, &mut refs, &m).await {
        Ok(id) => id,
        Err(Some(answer)) => return c.fail(&answer),
        Err(None) => return c.log.failed(
            "an earlier attempt's person create got no answer; Pipedrive's search does not show it yet, so no second person is made",
            Some(SEARCH_LAG),
        ),
    };
    match lead_of(&mut c, &mut refs, &m, &person).await {
        Ok(status) => {
            if let Err(e) = c.keep(&mut refs).await {
                tracing::warn!(error = %e, "pipedrive: ids not kept");
            }
            c.log.note(format!(
                "person {person}, lead {}",
                refs.id(LEAD_ID).unwrap_or("?")
            ));
            c.log.delivered(status)
        }
        Err(answer) => c.fail(&answer),
    }
}

/// Finds, updates or creates the person; `Err(None)` when a create may be
/// under way and the search does not show it yet.
async fn person(c: &mut Ctx<'_>, refs: &mut Refs, m: &Mapped) -> Result<String, Option<Answer>> {
    let body = person_body(m);
    let mut found = refs.id(PERSON_ID).map(str::to_owned);
    if found.is_none()
        && let Some(email) = &m.email
    {
        found = c.search("email", email).await.map_err(Some)?;
    }
    if found.is_none()
        && let Some(phone) = &m.phone
    {
        found = c.search("phone", phone).await.map_err(Some)?;
    }
    if let Some(id) = found {
        let answer = c
            .send(
                reqwest::Method::PUT,
                &format!("/v1/persons/{id}"),
                &[],
                Some(body.clone()),
            )
            .await;
        if answer.ok() {
            refs.ids.insert(PERSON_ID.into(), id.clone());
            refs.pending_ms = None;
            return Ok(id);
        }
        if answer.status != Some(404) {
            return Err(Some(answer));
        }
        c.log.note("the kept person is gone; creating one");
        refs.ids.remove(PERSON_ID);
        refs.ids.remove(LEAD_ID);
    }
    let now = clock::now_ms();
    if let Some(since) = refs.pending_ms
        && now - since < SEARCH_LAG.as_millis() as i64
    {
        return Err(None);
    }
    if !c.a.is_test() {
        refs.pending_ms = Some(now);
        c.keep(refs).await.map_err(|e| {
            Some(Answer {
                status: None,
                body: String::new(),
                retry_after: None,
                error: Some(e),
            })
        })?;
    }
    let answer = c
        .send(reqwest::Method::POST, "/v1/persons", &[], Some(body))
        .await;
    match (answer.ok(), data_id(&answer.json())) {
        (true, Some(id)) => {
            refs.ids.insert(PERSON_ID.into(), id.clone());
            refs.pending_ms = None;
            Ok(id)
        }
        _ => {
            if answer.status.is_some_and(|s| (400..500).contains(&s)) {
                refs.pending_ms = None;
                let _ = c.keep(refs).await;
            }
            Err(Some(answer))
        }
    }
}

/// The label ids of the account's lead labels named in `names`.
async fn label_ids(c: &mut Ctx<'_>, names: &[String]) -> Result<Vec<String>, Answer> {
    if names.is_empty() {
        return Ok(vec![]);
    }
    let answer = c
        .send(reqwest::Method::GET, "/v1/leadLabels", &[], None)
        .await;
    if !answer.ok() {
        return Err(answer);
    }
    Ok(answer.json()["data"]
        .as_array()
        .map(|labels| {
            labels
                .iter()
                .filter(|l| {
                    l["name"]
                        .as_str()
                        .is_some_and(|n| names.iter().any(|w| w.eq_ignore_ascii_case(n)))
                })
                .filter_map(|l| l["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Updates the kept lead, takes the person's lead of the same title, or
/// creates one; answers the decisive status.
async fn lead_of(
    c: &mut Ctx<'_>,
    refs: &mut Refs,
    m: &Mapped,
    person: &str,
) -> Result<u16, Answer> {
    let labels = label_ids(c, &m.labels).await?;
    let mut body = json!({"title": m.title});
    if !labels.is_empty() {
        body["label_ids"] = json!(labels);
    }
    let mut kept = refs.id(LEAD_ID).map(str::to_owned);
    if kept.is_none() {
        let answer = c
            .send(
                reqwest::Method::GET,
                "/v1/leads",
                &[("person_id", person), ("limit", "500")],
                None,
            )
            .await;
        if !answer.ok() {
            return Err(answer);
        }
        kept = answer.json()["data"].as_array().and_then(|leads| {
            leads
                .iter()
                .find(|l| l["title"].as_str() == Some(m.title.as_str()))
                .and_then(|l| l["id"].as_str().map(str::to_owned))
        });
    }
    if let Some(id) = kept {
        let answer = c
            .send(
                reqwest::Method::PATCH,
                &format!("/v1/leads/{id}"),
                &[],
                Some(body.clone()),
            )
            .await;
        if answer.ok() {
            refs.ids.insert(LEAD_ID.into(), id);
            return Ok(answer.status.unwrap_or(200));
        }
        if answer.status != Some(404) {
            return Err(answer);
        }
        refs.ids.remove(LEAD_ID);
    }
    let person_id: Value = person
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(person));
    body["person_id"] = person_id;
    let answer = c
        .send(reqwest::Method::POST, "/v1/leads", &[], Some(body))
        .await;
    match (answer.ok(), data_id(&answer.json())) {
        (true, Some(id)) => {
            refs.ids.insert(LEAD_ID.into(), id);
            Ok(answer.status.unwrap_or(201))
        }
        _ => Err(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_maps_to_a_person_and_a_lead() {
        let lead = json!({"email": "a@b.co", "phone": "+14155550100", "tags": ["Hot", "web"]});
        let m = mapped(&Kind::Pipedrive.default_mapping(), &lead);
        assert_eq!(m.name, "a@b.co", "no name: the email names the person");
        assert_eq!(m.title, "a@b.co");
        assert_eq!(m.labels, ["Hot", "web"]);
        assert_eq!(
            person_body(&m),
            json!({"name": "a@b.co", "email": [{"value": "a@b.co", "primary": true, "label": "work"}],
                   "phone": [{"value": "+14155550100", "primary": true, "label": "mobile"}]})
        );
    }

    #[test]
    fn company_domains_are_host_labels() {
        assert!(domain_ok("acme-gmbh"));
        for bad in ["", "-acme", "acme.evil.com", "acme/x", "a b"] {
            assert!(!domain_ok(bad), "{bad}");
        }
    }
}
