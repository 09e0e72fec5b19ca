//! LinkedIn Lead Sync
//! (<https://learn.microsoft.com/en-us/linkedin/shared/api-guide/webhook-validation>,
//! <https://learn.microsoft.com/en-us/linkedin/marketing/lead-sync/leadsync>).
//!
//! * Validation: `GET {hook}?challengeCode=<uuid>` is answered `200
//!   {"challengeCode", "challengeResponse"}`, the response being
//!   hex(HMAC-SHA256(clientSecret, challengeCode)), within LinkedIn's 3 s.
//! * Notifications: `X-LI-Signature` = hex(HMAC-SHA256(clientSecret,
//!   "hmacsha256=" + raw body)); the body is `{"type": "LEAD_ACTION",
//!   "leadGenFormResponse": "urn:li:leadGenFormResponse:<id>", "owner",
//!   "leadGenForm", "leadType", "leadAction": "CREATED" | "DELETED",
//!   "occurredAt"}`.
//! * The lead itself: `GET {api}/leadFormResponses/{id}` with the form's
//!   questions projected in; answers are matched to their questions, whose
//!   `predefinedField` (`FIRST_NAME`, `EMAIL`, `PHONE_NUMBER`, …) names them.
//!
//! The client secret is the key's `providerSecret`, the API access token its
//! `providerToken`.

use serde_json::{Map, Value};

use super::{ProviderMeta, hmac_sha256, id_text, json_object};
use crate::error::FieldIssue;
use crate::rules::crypto::{constant_time_eq, encode_hex};
use crate::rules::inbound::{BodyError, RawFields};

/// The `LinkedIn-Version` the fetch asks for.
pub const API_VERSION: &str = "202601";
/// The fields of a form response read (the form's questions included).
pub const RESPONSE_FIELDS: &str = "id,owner,leadType,versionedLeadGenFormUrn,submittedAt,testLead,associatedEntity,formResponse,form:(hiddenFields,name,id,content)";

/// `hex(HMAC-SHA256(clientSecret, challengeCode))`.
pub fn challenge_response(client_secret: &str, challenge_code: &str) -> String {
    encode_hex(&hmac_sha256(
        client_secret.as_bytes(),
        &[challenge_code.as_bytes()],
    ))
}

/// `X-LI-Signature` for a body (tests and samples sign with it).
pub fn sign(client_secret: &str, body: &[u8]) -> String {
    encode_hex(&hmac_sha256(
        client_secret.as_bytes(),
        &[b"hmacsha256=", body],
    ))
}

/// Checks `X-LI-Signature` over the raw body, in constant time.
pub fn signature_valid(client_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(presented) = header.map(str::trim) else {
        return false;
    };
    let expected = sign(client_secret, body);
    constant_time_eq(
        expected.as_bytes(),
        presented.to_ascii_lowercase().as_bytes(),
    )
}

/// What a notification asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadAction {
    Created,
    Deleted,
}

/// A lead notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub action: LeadAction,
    /// The form response's id (the URN's last part): the lead id.
    pub response_id: String,
    pub form: Option<String>,
    pub lead_type: Option<String>,
}

fn invalid(field: &str, issue: &str) -> BodyError {
    BodyError::Invalid(FieldIssue::new(field, issue))
}

/// The id at the end of a URN (`urn:li:leadGenFormResponse:abc-1` → `abc-1`),
/// only of URL-safe characters (it goes into the fetch's path).
fn urn_id(urn: &str) -> Option<String> {
    let id = urn.rsplit(':').next()?.trim();
    (!id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    .then(|| id.to_owned())
}

/// Reads a notification.
pub fn notification(body: &[u8]) -> Result<Notification, BodyError> {
    let body = json_object(body)?;
    let action = match body.get("leadAction").and_then(Value::as_str) {
        Some("CREATED") => LeadAction::Created,
        Some("DELETED") => LeadAction::Deleted,
        _ => return Err(invalid("leadAction", "must be CREATED or DELETED")),
    };
    let response_id = body
        .get("leadGenFormResponse")
        .and_then(Value::as_str)
        .and_then(urn_id)
        .ok_or_else(|| invalid("leadGenFormResponse", "is required: a lead URN"))?;
    Ok(Notification {
        action,
        response_id,
        form: id_text(body.get("leadGenForm")),
        lead_type: id_text(body.get("leadType")),
    })
}

fn predefined_name(field: &str) -> String {
    match field {
        "FIRST_NAME" => "first_name".into(),
        "LAST_NAME" => "last_name".into(),
        "EMAIL" | "WORK_EMAIL" => "email".into(),
        "PHONE_NUMBER" | "WORK_PHONE_NUMBER" => "phone".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// An answer's value: a text answer, or a multiple choice's option ids.
fn answer_value(answer: &Map<String, Value>) -> Option<Value> {
    let details = answer.get("answerDetails")?;
    if let Some(text) = details
        .get("textQuestionAnswer")
        .and_then(|t| t.get("answer"))
    {
        return Some(text.clone());
    }
    details
        .get("multipleChoiceAnswer")
        .and_then(|m| m.get("options"))
        .cloned()
}

/// Reads a fetched form response into fields and metadata.
pub fn response_fields(body: &[u8], lead_id: &str) -> Result<(RawFields, ProviderMeta), BodyError> {
    let body = json_object(body)?;
    let questions: Vec<&Value> = body
        .get("form")
        .and_then(|f| f.get("content"))
        .and_then(|c| c.get("questions"))
        .and_then(Value::as_array)
        .map(|q| q.iter().collect())
        .unwrap_or_default();
    let answers = body
        .get("formResponse")
        .and_then(|r| r.get("answers"))
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("formResponse.answers", "is required: an array"))?;
    let mut fields = Vec::with_capacity(answers.len());
    let mut emails = 0;
    for answer in answers {
        let Value::Object(answer) = answer else {
            continue;
        };
        let Some(value) = answer_value(answer) else {
            continue;
        };
        let qid = answer.get("questionId");
        let question = questions.iter().find(|q| q.get("questionId") == qid);
        let name = match question {
            Some(q) => match q.get("predefinedField").and_then(Value::as_str) {
                Some(p) => predefined_name(p),
                None => q.get("name").and_then(Value::as_str).map_or_else(
                    || format!("question_{}", id_text(qid).unwrap_or_default()),
                    str::to_owned,
                ),
            },
            None => format!("question_{}", id_text(qid).unwrap_or_default()),
        };
        // A work address beside a personal one stays a field of its own.
        let name = if name == "email" {
            emails += 1;
            if emails > 1 {
                "work_email".to_owned()
            } else {
                name
            }
        } else {
            name
        };
        fields.push((name, value));
    }
    if let Some(Value::Array(hidden)) = body.get("form").and_then(|f| f.get("hiddenFields")) {
        for h in hidden {
            if let (Some(n), Some(v)) = (h.get("name").and_then(Value::as_str), h.get("value")) {
                fields.push((n.to_owned(), v.clone()));
            }
        }
    }
    let mut meta = ProviderMeta::new("linkedin");
    meta.lead_id = Some(lead_id.to_owned());
    meta.form_id = id_text(body.get("versionedLeadGenFormUrn"))
        .or_else(|| body.get("form").and_then(|f| id_text(f.get("id"))));
    meta.form_name = body.get("form").and_then(|f| id_text(f.get("name")));
    meta.ad_id = body
        .get("associatedEntity")
        .and_then(|a| id_text(a.get("associatedCreative")));
    meta.campaign_id = body
        .get("associatedEntity")
        .and_then(|a| id_text(a.get("associatedCampaign")));
    meta.test = body.get("testLead").and_then(Value::as_bool) == Some(true);
    Ok((fields, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn challenge_and_signature() {
        let r = challenge_response("secret", "890e4665-4dfe-4ab1-b689-ed553bceeed0");
        assert_eq!(r.len(), 64);
        assert_eq!(
            r,
            encode_hex(&hmac_sha256(
                b"secret",
                &[b"890e4665-4dfe-4ab1-b689-ed553bceeed0"]
            ))
        );
        let body = "{\"leadAction\":\"CREATED\",\"x\":\"é\"}\n".as_bytes();
        let sig = sign("secret", body);
        assert!(signature_valid("secret", body, Some(&sig)));
        assert!(signature_valid(
            "secret",
            body,
            Some(&sig.to_ascii_uppercase())
        ));
        assert!(!signature_valid("other", body, Some(&sig)));
        assert!(!signature_valid(
            "secret",
            &body[..body.len() - 1],
            Some(&sig)
        ));
        assert!(!signature_valid("secret", body, None));
    }

    #[test]
    fn notifications() {
        let n = notification(json!({
            "type": "LEAD_ACTION", "leadGenFormResponse": "urn:li:leadGenFormResponse:a9a29e52-c0a3-42e3-8af1-2fc83b697003-4",
            "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
            "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5678,1)",
            "leadType": "SPONSORED", "leadAction": "CREATED", "occurredAt": 1_679_496_483_000_u64
        }).to_string().as_bytes()).unwrap();
        assert_eq!(n.action, LeadAction::Created);
        assert_eq!(n.response_id, "a9a29e52-c0a3-42e3-8af1-2fc83b697003-4");
        for bad in [
            json!({"leadAction": "UPDATED", "leadGenFormResponse": "urn:li:leadGenFormResponse:1"}),
            json!({"leadAction": "CREATED"}),
            json!({"leadAction": "CREATED", "leadGenFormResponse": "urn:li:leadGenFormResponse:../x"}),
        ] {
            assert!(notification(bad.to_string().as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn form_responses() {
        let body = json!({
            "id": "a9a29e52-4", "testLead": true, "leadType": "SPONSORED",
            "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5678,1)",
            "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:241257736"},
            "form": {"name": "Demo", "hiddenFields": [{"name": "utm_source", "value": "linkedin"}],
                     "content": {"questions": [
                {"questionId": 1, "name": "firstName", "predefinedField": "FIRST_NAME"},
                {"questionId": 2, "name": "email", "predefinedField": "EMAIL"},
                {"questionId": 3, "name": "Budget?"}]}},
            "formResponse": {"answers": [
                {"questionId": 1, "answerDetails": {"textQuestionAnswer": {"answer": "Zoë"}}},
                {"questionId": 2, "answerDetails": {"textQuestionAnswer": {"answer": "zoe@example.com"}}},
                {"questionId": 3, "answerDetails": {"multipleChoiceAnswer": {"options": [2]}}}]}
        });
        let (fields, meta) = response_fields(body.to_string().as_bytes(), "a9a29e52-4").unwrap();
        assert_eq!(
            fields,
            vec![
                ("first_name".into(), json!("Zoë")),
                ("email".into(), json!("zoe@example.com")),
                ("Budget?".into(), json!([2])),
                ("utm_source".into(), json!("linkedin")),
            ]
        );
        assert!(meta.test);
        assert_eq!(
            meta.ad_id.as_deref(),
            Some("urn:li:sponsoredCreative:241257736")
        );
        assert!(response_fields(b"{}", "x").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = notification(&body);
            let _ = response_fields(&body, "x");
            let _ = signature_valid("s", &body, Some("00"));
        }
    }
}
