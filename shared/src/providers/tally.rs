//! Tally webhooks (<https://tally.so/help/webhooks>).
//!
//! Tally POSTs JSON `{"eventId", "eventType": "FORM_RESPONSE", "createdAt",
//! "data": {"responseId", "submissionId", "respondentId", "formId",
//! "formName", "createdAt", "fields": [{"key", "label", "type", "value",
//! "options"?}]}}`; with a signing secret set, `Tally-Signature` is
//! base64(HMAC-SHA256(secret, raw body)).
//!
//! Fields are read by type: `INPUT_EMAIL` is the email and
//! `INPUT_PHONE_NUMBER` the phone whatever their label; any other field is
//! named by its label (else its key). A choice's value is its options' ids:
//! they are turned back into the options' texts.

use serde_json::{Map, Value};

use super::{
    Adapter, Presented, ProviderMeta, Submission, base64_hmac_valid, id_text, json_object,
};
use crate::error::FieldIssue;
use crate::http::header;
use crate::rules::inbound::BodyError;

pub struct Tally;

impl Adapter for Tally {
    fn authentic(&self, secret: &str, req: &Presented<'_>) -> bool {
        header(req.headers, "tally-signature")
            .is_some_and(|sig| base64_hmac_valid(secret, req.body, sig))
    }

    fn parse(&self, _content_type: Option<&str>, body: &[u8]) -> Result<Submission, BodyError> {
        let body = json_object(body)?;
        let invalid = |field: &str, issue: &str| BodyError::Invalid(FieldIssue::new(field, issue));
        match body.get("eventType").and_then(Value::as_str) {
            Some("FORM_RESPONSE") => {}
            _ => return Err(invalid("eventType", "must be FORM_RESPONSE")),
        }
        let Some(Value::Object(data)) = body.get("data") else {
            return Err(invalid("data", "is required: an object"));
        };
        let lead_id = id_text(data.get("responseId"))
            .or_else(|| id_text(data.get("submissionId")))
            .ok_or_else(|| invalid("data.responseId", "is required: a string"))?;
        let list = match data.get("fields") {
            Some(Value::Array(f)) => f.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return Err(invalid("data.fields", "must be an array")),
        };
        let mut fields = Vec::with_capacity(list.len());
        for field in list {
            let Value::Object(field) = field else {
                return Err(invalid("data.fields", "every field must be an object"));
            };
            if let Some(pair) = read_field(field) {
                fields.push(pair);
            }
        }
        let mut meta = ProviderMeta::new("tally");
        meta.lead_id = Some(lead_id);
        meta.form_id = id_text(data.get("formId"));
        meta.form_name = id_text(data.get("formName"));
        Ok(Submission { fields, meta })
    }
}

fn read_field(field: &Map<String, Value>) -> Option<(String, Value)> {
    let kind = field.get("type").and_then(Value::as_str).unwrap_or("");
    let value = field.get("value")?.clone();
    let name = match kind {
        "INPUT_EMAIL" => "email".to_owned(),
        "INPUT_PHONE_NUMBER" => "phone".to_owned(),
        _ => field
            .get("label")
            .and_then(Value::as_str)
            .filter(|l| !l.trim().is_empty())
            .or_else(|| field.get("key").and_then(Value::as_str))?
            .to_owned(),
    };
    let value = match (field.get("options"), value) {
        (Some(Value::Array(options)), Value::Array(ids)) => Value::Array(
            ids.into_iter()
                .map(|id| option_text(options, &id).unwrap_or(id))
                .collect(),
        ),
        (Some(Value::Array(options)), id @ Value::String(_)) => {
            option_text(options, &id).unwrap_or(id)
        }
        (_, value) => value,
    };
    Some((name, value))
}

fn option_text(options: &[Value], id: &Value) -> Option<Value> {
    options
        .iter()
        .find(|o| o.get("id") == Some(id))
        .and_then(|o| o.get("text"))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::base64_hmac;
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
          "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
          "eventType": "FORM_RESPONSE",
          "createdAt": "2023-06-28T15:00:21.889Z",
          "data": {
            "responseId": "2wgx4n", "submissionId": "2wgx4n", "respondentId": "dwQKYm",
            "formId": "VwbNEw", "formName": "Demo request", "createdAt": "2023-06-28T15:00:21.000Z",
            "fields": [
              {"key": "question_mVGEg3", "label": "Full name", "type": "INPUT_TEXT", "value": "Zoë Müller"},
              {"key": "question_nPL0GE", "label": "Work address", "type": "INPUT_EMAIL", "value": "zoe@example.com"},
              {"key": "question_3jkZ34", "label": "Mobile", "type": "INPUT_PHONE_NUMBER", "value": "+16505550123"},
              {"key": "question_w4Q5Ny", "label": "Plan", "type": "MULTIPLE_CHOICE",
               "value": ["5c5f1e0b"], "options": [{"id": "5c5f1e0b", "text": "Pro"}, {"id": "x", "text": "Free"}]},
              {"key": "question_nodata", "label": null, "type": "INPUT_TEXT", "value": null}
            ]
          }
        })
    }

    #[test]
    fn reads_fields_by_type_and_label() {
        let s = Tally.parse(None, sample().to_string().as_bytes()).unwrap();
        assert_eq!(
            s.fields,
            vec![
                ("Full name".into(), json!("Zoë Müller")),
                ("email".into(), json!("zoe@example.com")),
                ("phone".into(), json!("+16505550123")),
                ("Plan".into(), json!(["Pro"])),
                ("question_nodata".into(), Value::Null),
            ]
        );
        assert_eq!(s.meta.lead_id.as_deref(), Some("2wgx4n"));
        assert_eq!(s.meta.form_id.as_deref(), Some("VwbNEw"));
        assert_eq!(s.meta.form_name.as_deref(), Some("Demo request"));
    }

    #[test]
    fn signature_is_base64_hmac_of_the_raw_body() {
        let body = format!("{}\n", sample());
        let mut headers = HeaderMap::new();
        let sig = base64_hmac("tally-secret", body.as_bytes());
        headers.insert("tally-signature", HeaderValue::from_str(&sig).unwrap());
        let req = Presented {
            headers: &headers,
            query: &[],
            body: body.as_bytes(),
        };
        assert!(Tally.authentic("tally-secret", &req));
        assert!(!Tally.authentic("other", &req));
        let changed = Presented {
            body: body.trim_end().as_bytes(),
            ..req
        };
        assert!(!Tally.authentic("tally-secret", &changed));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b"{}"[..],
            b"{\"eventType\": \"FORM_RESPONSE\"}",
            b"{\"eventType\": \"FORM_RESPONSE\", \"data\": {}}",
            b"{\"eventType\": \"FORM_RESPONSE\", \"data\": {\"responseId\": \"r\", \"fields\": 1}}",
            b"{\"eventType\": \"OTHER\", \"data\": {\"responseId\": \"r\"}}",
        ] {
            assert!(Tally.parse(None, body).is_err(), "{body:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Tally.parse(None, &body);
        }

        #[test]
        fn every_labelled_field_is_kept(labels in proptest::collection::vec("[A-Za-z ]{1,20}", 0..10)) {
            let fields: Vec<Value> = labels.iter()
                .map(|l| json!({"key": "k", "label": l, "type": "INPUT_TEXT", "value": "v"}))
                .collect();
            let body = json!({"eventType": "FORM_RESPONSE",
                              "data": {"responseId": "r", "fields": fields}}).to_string();
            let s = Tally.parse(None, body.as_bytes()).unwrap();
            prop_assert_eq!(s.fields.len(), labels.len());
        }
    }
}
