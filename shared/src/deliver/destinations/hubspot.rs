//! HubSpot (a private app's access token, `{"accessToken"}`): one contact
//! per person, never a second.
//!
//! * A contact id kept from an earlier delivery of this lead → `PATCH
//!   /crm/v3/objects/contacts/{id}` (a 404 forgets it and goes on below).
//! * A lead with an email → `POST /crm/v3/objects/contacts/batch/upsert`
//!   with `idProperty: "email"`: HubSpot creates or updates by the address,
//!   so a retry after a lost answer updates what the first made.
//! * A lead with only a phone → `POST /crm/v3/objects/contacts/search` by
//!   `phone`, then `PATCH` what it finds, or `POST /crm/v3/objects/contacts`.
//!   HubSpot's search lags its writes; phones are not unique there; so
//!   before creating, the attempt is noted (`pendingMs`), and a retry within
//!   [`SEARCH_LAG`] of a create that got no answer searches and, finding
//!   nothing yet, waits instead of creating a second contact.
//! * `409 Contact already exists. Existing ID: N` resolves to contact N.
//! * `429` waits as HubSpot says (`Retry-After`; 10 s, its rolling window,
//!   when absent); 401/403 say which token or scope is wrong. Every other
//!   failure is retried as a webhook's is.
//!
//! The contact id is kept beside the lead ([`destination_refs`]).

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::call::{self, Answer, Log};
use super::{Attempt, Checked, Kind, mapping};
use crate::app::App;
use crate::deliver::send::AttemptResult;
use crate::error::FieldIssue;
use crate::model::destination_refs::{self, Refs};
use crate::model::history::LeadEventType;
use crate::rules::clock;

/// HubSpot property → lead field (its default internal names).
/// `hs_lead_status` is left out: it takes HubSpot's own options (`NEW`,
/// `OPEN`…); map `status` to it when your statuses are those.
pub const DEFAULT_MAPPING: &[(&str, &str)] = &[
    ("email", "email"),
    ("firstname", "firstName"),
    ("lastname", "lastName"),
    ("phone", "phone"),
];

/// How long HubSpot's search may take to see a contact just created.
pub const SEARCH_LAG: Duration = Duration::from_secs(60);
/// The wait after a 429 that names none.
const RATE_WINDOW: Duration = Duration::from_secs(10);
const CONTACTS: &str = "/crm/v3/objects/contacts";
const CONTACT_ID: &str = "contactId";

pub fn check_config(app: &App, config: &Value) -> Result<Checked, Vec<FieldIssue>> {
    let mut issues = vec![];
    super::only_keys(config, &["accessToken"], &mut issues);
    let token = super::required_text(config, "accessToken", 512, &mut issues);
    if token.contains(char::is_whitespace) {
        issues.push(FieldIssue::new(
            "config.accessToken",
            "must not contain spaces",
        ));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(Checked {
        shown: json!({"accessToken": super::mask(&token)}),
        config: json!({"accessToken": token}),
        url: app.config.hubspot_api_url.clone(),
    })
}

fn properties(mapping: &[(String, String)], lead: &Value) -> Map<String, Value> {
    mapping::values(mapping, lead)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// The request a lead with an email makes (the console's preview).
pub fn preview(mapping: &[(String, String)], lead: &Value) -> Value {
    let props = properties(mapping, lead);
    match lead["email"].as_str() {
        Some(email) => json!({"method": "POST", "path": format!("{CONTACTS}/batch/upsert"),
            "body": {"inputs": [{"idProperty": "email", "id": email, "properties": props}]}}),
        None => json!({"method": "POST", "path": format!("{CONTACTS}/search"),
            "then": format!("PATCH {CONTACTS}/{{id}} or POST {CONTACTS}"),
            "body": {"properties": props}}),
    }
}

/// The id in `Contact already exists. Existing ID: 123`.
pub fn existing_id(answer: &Answer) -> Option<String> {
    let message = answer.json()["message"].as_str()?.to_owned();
    let (_, rest) = message.split_once("Existing ID:")?;
    let id: String = rest
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Why an answer failed, in words for the attempt log.
fn failure(answer: &Answer) -> String {
    let said = answer.json()["message"]
        .as_str()
        .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    match answer.status {
        Some(401) => format!("HubSpot refused the access token (HTTP 401){said}"),
        Some(403) => format!(
            "HubSpot: the private app lacks a scope (HTTP 403; it needs crm.objects.contacts.read and .write){said}"
        ),
        Some(429) => format!("HubSpot's rate limit (HTTP 429); waiting as it says{said}"),
        _ => format!("{}{said}", call::describe("HubSpot", answer)),
    }
}

struct Ctx<'a> {
    a: &'a Attempt<'a>,
    client: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
    props: Map<String, Value>,
    log: Log,
}

impl Ctx<'_> {
    async fn post(&mut self, path: &str, body: Value) -> Answer {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .json(&body);
        self.log.call(&format!("POST {path}"), req).await
    }

    async fn patch(&mut self, id: &str) -> Answer {
        let path = format!("{CONTACTS}/{id}");
        let req = self
            .client
            .patch(format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .json(&json!({ "properties": self.props }));
        self.log.call(&format!("PATCH {path}"), req).await
    }

    /// The attempt ends on `answer`, which failed.
    fn fail(self, answer: &Answer) -> AttemptResult {
        let mut answer = answer.clone();
        if answer.status == Some(429) && answer.retry_after.is_none() {
            answer.retry_after = Some(RATE_WINDOW);
        }
        let why = failure(&answer);
        self.log.failed_on(&answer, why)
    }

    /// The contact is `id`: keep it and end delivered.
    async fn done(mut self, refs: &mut Refs, id: String, status: u16) -> AttemptResult {
        if !self.a.is_test() {
            refs.ids.insert(CONTACT_ID.into(), id.clone());
            refs.pending_ms = None;
            if let Err(e) = destination_refs::put(self.a.scope, refs).await {
                tracing::warn!(error = %e, "hubspot: the contact id could not be kept");
            }
        }
        self.log.note(format!("contact {id}"));
        self.log.delivered(status)
    }

    /// Updates contact `id`; a 409 resolves to the contact HubSpot names.
    async fn update(
        mut self,
        refs: &mut Refs,
        id: String,
    ) -> Result<AttemptResult, (Self, Answer)> {
        let answer = self.patch(&id).await;
        if answer.ok() {
            return Ok(self.done(refs, id, answer.status.unwrap_or(200)).await);
        }
        if answer.status == Some(409)
            && let Some(existing) = existing_id(&answer)
            && existing != id
        {
            let again = self.patch(&existing).await;
            if again.ok() {
                return Ok(self.done(refs, existing, again.status.unwrap_or(200)).await);
            }
            return Err((self, again));
        }
        Err((self, answer))
    }
}

pub async fn send(a: &Attempt<'_>) -> AttemptResult {
    let mut log = Log::new();
    if a.event == LeadEventType::Deleted {
        // An erasure's tombstone carries nothing to write; what HubSpot
        // holds is the account owner's to delete there.
        log.note("lead.deleted: nothing is written to HubSpot (its contact is left as it is)");
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
    let mut c = Ctx {
        a,
        client,
        base: &a.scope.config.hubspot_api_url,
        token: a.config["accessToken"].as_str().unwrap_or(""),
        props: properties(&a.mapping(Kind::Hubspot), lead),
        log,
    };
    if let Some(id) = refs.id(CONTACT_ID).map(str::to_owned) {
        c = match c.update(&mut refs, id).await {
            Ok(done) => return done,
            Err((mut c, answer)) if answer.status == Some(404) => {
                c.log.note("the kept contact is gone; looking it up again");
                refs.ids.remove(CONTACT_ID);
                c
            }
            Err((c, answer)) => return c.fail(&answer),
        };
    }
    if let Some(email) = lead["email"].as_str() {
        let body = json!({"inputs": [{"idProperty": "email", "id": email, "properties": c.props}]});
        let answer = c.post(&format!("{CONTACTS}/batch/upsert"), body).await;
        let id = answer.json()["results"][0]["id"]
            .as_str()
            .map(str::to_owned);
        return match (answer.ok(), id) {
            (true, Some(id)) => c.done(&mut refs, id, answer.status.unwrap_or(200)).await,
            (true, None) => c
                .log
                .failed_on(&answer, "HubSpot's upsert answer names no contact"),
            _ => match existing_id(&answer) {
                Some(id) if answer.status == Some(409) => match c.update(&mut refs, id).await {
                    Ok(done) => done,
                    Err((c, answer)) => c.fail(&answer),
                },
                _ => c.fail(&answer),
            },
        };
    }
    let Some(phone) = lead["phone"].as_str() else {
        return c.log.failed("the lead has neither email nor phone", None);
    };
    by_phone(c, &mut refs, phone).await
}

/// A lead with a phone only: search, then update or create.
async fn by_phone(mut c: Ctx<'_>, refs: &mut Refs, phone: &str) -> AttemptResult {
    let search = json!({"filterGroups": [{"filters": [{"propertyName": "phone", "operator": "EQ", "value": phone}]}],
                        "properties": ["phone", "email"], "limit": 1});
    let answer = c.post(&format!("{CONTACTS}/search"), search).await;
    if !answer.ok() {
        return c.fail(&answer);
    }
    if let Some(id) = answer.json()["results"][0]["id"]
        .as_str()
        .map(str::to_owned)
    {
        return match c.update(refs, id).await {
            Ok(done) => done,
            Err((c, answer)) => c.fail(&answer),
        };
    }
    let now = clock::now_ms();
    if let Some(since) = refs.pending_ms {
        let waited = Duration::from_millis(u64::try_from(now - since).unwrap_or(0));
        if waited < SEARCH_LAG {
            let wait = SEARCH_LAG - waited;
            return c.log.failed(
                format!("an earlier attempt's create got no answer; HubSpot's search does not show it yet, so no second contact is made (searching again in {} s)", wait.as_secs()),
                Some(wait),
            );
        }
    }
    if !c.a.is_test() {
        refs.pending_ms = Some(now);
        if let Err(e) = destination_refs::put(c.a.scope, refs).await {
            return c
                .log
                .failed(format!("could not note the create: {e}"), None);
        }
    }
    let answer = c.post(CONTACTS, json!({ "properties": c.props })).await;
    if let (true, Some(id)) = (answer.ok(), answer.json()["id"].as_str().map(str::to_owned)) {
        return c.done(refs, id, answer.status.unwrap_or(201)).await;
    }
    if answer.status == Some(409)
        && let Some(id) = existing_id(&answer)
    {
        return match c.update(refs, id).await {
            Ok(done) => done,
            Err((c, answer)) => c.fail(&answer),
        };
    }
    if answer.status.is_some_and(|s| (400..500).contains(&s)) && !c.a.is_test() {
        // Refused: nothing was made, a retry may create at once (a 5xx
        // or no answer may have made it: the note stays).
        refs.pending_ms = None;
        if let Err(e) = destination_refs::put(c.a.scope, refs).await {
            tracing::warn!(error = %e, "hubspot: the create note could not be cleared");
        }
    }
    c.fail(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: Some(status),
            body: body.into(),
            retry_after: None,
            error: None,
        }
    }

    #[test]
    fn the_existing_id_is_read_from_a_conflict() {
        let a = answer(
            409,
            r#"{"status":"error","message":"Contact already exists. Existing ID: 37765128953","category":"CONFLICT"}"#,
        );
        assert_eq!(existing_id(&a).as_deref(), Some("37765128953"));
        assert_eq!(
            existing_id(&answer(409, r#"{"message":"Contact already exists."}"#)),
            None
        );
        assert_eq!(existing_id(&answer(409, "not json")), None);
    }

    #[test]
    fn the_preview_is_an_upsert_by_email() {
        let lead = json!({"email": "a@b.co", "firstName": "Ann", "phone": "+14155550100"});
        let p = preview(&Kind::Hubspot.default_mapping(), &lead);
        assert_eq!(p["path"], "/crm/v3/objects/contacts/batch/upsert");
        assert_eq!(
            p["body"]["inputs"][0],
            json!({"idProperty": "email", "id": "a@b.co",
                   "properties": {"email": "a@b.co", "firstname": "Ann", "phone": "+14155550100"}})
        );
    }
}
