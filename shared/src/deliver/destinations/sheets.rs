//! Google Sheets (`{"serviceAccount", "spreadsheetId", "sheet"}`): one row
//! per lead in a tab of a spreadsheet shared with the service account.
//!
//! * Auth: [`google_auth`] (RS256 JWT → access token, cached). A `401`
//!   from Sheets (a token expired or revoked early) drops the cached token
//!   and the call is made once more with a new one.
//! * The tab's first column holds the Leadpipe lead id (`Leadpipe ID`,
//!   hide it if you like); row 1 is a header row from the mapping, written
//!   when the tab is empty.
//! * Each attempt reads column A (`values.get`) first: a lead already in
//!   the tab has its row rewritten (`values.update`: `lead.updated`, a
//!   repeat), a new one is appended (`values.append`, `INSERT_ROWS`). A
//!   retry after an append whose answer was lost finds its row: no second
//!   row.
//! * `429` waits for `Retry-After` (else the attempt's back-off).
//!
//! Base URL `LEADPIPE_SHEETS_API_URL` (default
//! `https://sheets.googleapis.com`).

use serde_json::{Value, json};

use super::call::{self, Answer, Log};
use super::google_auth::{self, ServiceAccount};
use super::{Attempt, Checked, Kind, mapping};
use crate::app::App;
use crate::deliver::send::AttemptResult;
use crate::error::FieldIssue;
use crate::model::history::LeadEventType;

/// Column header → lead field (the Leadpipe ID column comes first).
pub const DEFAULT_MAPPING: &[(&str, &str)] = &[
    ("Created", "createdAt"),
    ("Email", "email"),
    ("First name", "firstName"),
    ("Last name", "lastName"),
    ("Phone", "phone"),
    ("Source", "source.type"),
    ("Status", "status"),
    ("Tags", "tags"),
];
pub const ID_HEADER: &str = "Leadpipe ID";

fn id_ok(id: &str) -> bool {
    (10..=100).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn check_config(app: &App, config: &Value) -> Result<Checked, Vec<FieldIssue>> {
    let mut issues = vec![];
    super::only_keys(
        config,
        &["serviceAccount", "spreadsheetId", "sheet"],
        &mut issues,
    );
    let account = match google_auth::parse(&config["serviceAccount"]) {
        Ok(a) => Some(a),
        Err(e) => {
            issues.push(FieldIssue::new("config.serviceAccount", e));
            None
        }
    };
    let id = super::required_text(config, "spreadsheetId", 100, &mut issues);
    if !id.is_empty() && !id_ok(&id) {
        issues.push(FieldIssue::new(
            "config.spreadsheetId",
            "is the long id in the sheet's address (docs.google.com/spreadsheets/d/ID/edit)",
        ));
    }
    let sheet = match &config["sheet"] {
        Value::Null => "Sheet1".to_owned(),
        _ => super::required_text(config, "sheet", 100, &mut issues),
    };
    let Some(account) = account.filter(|_| issues.is_empty()) else {
        return Err(issues);
    };
    let key = match &config["serviceAccount"] {
        Value::String(t) => serde_json::from_str::<Value>(t).unwrap_or(Value::Null),
        v => v.clone(),
    };
    Ok(Checked {
        shown: json!({"serviceAccount": {"client_email": account.client_email, "private_key": "********"},
                      "spreadsheetId": id, "sheet": sheet}),
        config: json!({"serviceAccount": {"type": "service_account", "client_email": account.client_email,
                                          "private_key": key["private_key"]},
                       "spreadsheetId": id, "sheet": sheet}),
        url: format!("{}/v4/spreadsheets/{id}", app.config.sheets_api_url),
    })
}

/// The tab's name as an A1 range prefix: `'Leads 2026'!`.
fn tab(sheet: &str) -> String {
    format!("'{}'!", sheet.replace('\'', "''"))
}

/// The header row and a lead's row for a mapping.
pub fn rows(pairs: &[(String, String)], lead: &Value) -> (Vec<String>, Vec<String>) {
    let mut header = vec![ID_HEADER.to_owned()];
    let mut row = vec![lead["id"].as_str().unwrap_or("").to_owned()];
    for (column, field) in pairs {
        header.push(column.clone());
        row.push(mapping::value_of(lead, field).unwrap_or_default());
    }
    (header, row)
}

pub fn preview(pairs: &[(String, String)], lead: &Value) -> Value {
    let (header, row) = rows(pairs, lead);
    json!({"method": "POST", "path": "/v4/spreadsheets/{spreadsheetId}/values/'Sheet1'!A1:append?valueInputOption=RAW&insertDataOption=INSERT_ROWS",
           "header": header, "body": {"values": [row]}})
}

struct Ctx<'a> {
    client: &'a reqwest::Client,
    base: String,
    oauth: String,
    account: ServiceAccount,
    token: String,
    log: Log,
}

impl Ctx<'_> {
    /// A Sheets call on `range` (`suffix` after it, e.g. `:append`) with
    /// `query`; a 401 fetches a new token and tries once more.
    async fn sheets(
        &mut self,
        method: reqwest::Method,
        range: &str,
        suffix: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        for fresh in [false, true] {
            let mut url = match url::Url::parse(&self.base) {
                Ok(u) => u,
                Err(e) => return no_answer(format!("bad Sheets URL: {e}")),
            };
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.push("values").push(&format!("{range}{suffix}"));
            }
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
            let mut req = self
                .client
                .request(method.clone(), url)
                .bearer_auth(&self.token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let answer = self
                .log
                .call(&format!("{method} values{suffix}"), req)
                .await;
            if answer.status != Some(401) || fresh {
                return answer;
            }
            google_auth::forget(&self.oauth, &self.account.client_email);
            match google_auth::token(self.client, &self.oauth, &self.account, &mut self.log).await {
                Ok(t) => self.token = t,
                Err(a) => return a,
            }
        }
        no_answer("unreachable".into())
    }

    fn fail(self, answer: &Answer) -> AttemptResult {
        let body = answer.json();
        let said = body["error"]["message"]
            .as_str()
            .or_else(|| body["error_description"].as_str())
            .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        let why = match answer.status {
            Some(403) => format!(
                "Google Sheets refused (HTTP 403; share the sheet with the service account as an editor){said}"
            ),
            Some(404) => format!("Google Sheets: no such spreadsheet or tab (HTTP 404){said}"),
            Some(429) => format!("Google Sheets' quota (HTTP 429){said}"),
            _ => format!("{}{said}", call::describe("Google", answer)),
        };
        self.log.failed_on(answer, why)
    }
}

fn no_answer(e: String) -> Answer {
    Answer {
        status: None,
        body: String::new(),
        retry_after: None,
        error: Some(e),
    }
}

pub async fn send(a: &Attempt<'_>) -> AttemptResult {
    let mut log = Log::new();
    if a.event == LeadEventType::Deleted {
        log.note("lead.deleted: the row is left as it is (delete it in the sheet)");
        return log.delivered(204);
    }
    let account = match google_auth::parse(&a.config["serviceAccount"]) {
        Ok(acc) => acc,
        Err(e) => return log.failed(format!("stored service account: {e}"), None),
    };
    let client = match a.scope.http() {
        Ok(c) => c,
        Err(e) => return log.failed(e.to_string(), None),
    };
    let oauth = a.scope.config.google_oauth_url.clone();
    let token = match google_auth::token(client, &oauth, &account, &mut log).await {
        Ok(t) => t,
        Err(answer) => {
            let why = format!(
                "Google refused the service account's token request: {}",
                call::describe("Google", &answer)
            );
            return log.failed_on(&answer, why);
        }
    };
    let id = a.config["spreadsheetId"].as_str().unwrap_or("");
    let mut c = Ctx {
        client,
        base: format!("{}/v4/spreadsheets/{id}", a.scope.config.sheets_api_url),
        oauth,
        account,
        token,
        log,
    };
    let tab = tab(a.config["sheet"].as_str().unwrap_or("Sheet1"));
    let lead_id = a.lead()["id"].as_str().unwrap_or("");
    let (header, row) = rows(&a.mapping(Kind::GoogleSheets), a.lead());
    // Column A: the header and every lead id so far.
    let answer = c
        .sheets(
            reqwest::Method::GET,
            &format!("{tab}A:A"),
            "",
            &[("majorDimension", "COLUMNS")],
            None,
        )
        .await;
    if !answer.ok() {
        return c.fail(&answer);
    }
    let ids: Vec<String> = answer.json()["values"][0]
        .as_array()
        .map(|col| {
            col.iter()
                .map(|v| v.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        let body = json!({"values": [header]});
        let answer = c
            .sheets(
                reqwest::Method::PUT,
                &format!("{tab}A1"),
                "",
                &[("valueInputOption", "RAW")],
                Some(&body),
            )
            .await;
        if !answer.ok() {
            return c.fail(&answer);
        }
    }
    let body = json!({"values": [row]});
    let answer = match ids.iter().position(|v| !lead_id.is_empty() && v == lead_id) {
        Some(i) => {
            c.log
                .note(format!("the lead is on row {}: rewritten", i + 1));
            c.sheets(
                reqwest::Method::PUT,
                &format!("{tab}A{}", i + 1),
                "",
                &[("valueInputOption", "RAW")],
                Some(&body),
            )
            .await
        }
        None => {
            let query = [
                ("valueInputOption", "RAW"),
                ("insertDataOption", "INSERT_ROWS"),
            ];
            c.sheets(
                reqwest::Method::POST,
                &format!("{tab}A1"),
                ":append",
                &query,
                Some(&body),
            )
            .await
        }
    };
    if answer.ok() {
        let status = answer.status.unwrap_or(200);
        c.log.delivered(status)
    } else {
        c.fail(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_is_a_row_under_a_header() {
        let lead = json!({"id": "lead_1", "email": "a@b.co", "tags": ["x", "y"], "source": {"type": "webhook"}});
        let (header, row) = rows(&Kind::GoogleSheets.default_mapping(), &lead);
        assert_eq!(header[0], ID_HEADER);
        assert_eq!(header.len(), row.len());
        assert_eq!(row[0], "lead_1");
        assert!(row.contains(&"a@b.co".to_owned()) && row.contains(&"x, y".to_owned()));
        assert_eq!(tab("Bob's leads"), "'Bob''s leads'!");
    }
}
