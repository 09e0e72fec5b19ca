//! Typeform webhooks (<https://www.typeform.com/developers/webhooks/>).
//!
//! Typeform POSTs JSON `{"event_id", "event_type": "form_response",
//! "form_response": {"form_id", "token", "hidden", "definition": {"fields"},
//! "answers": [{"type", <type>: value, "field": {"id", "type", "ref"}}]}}`,
//! signed when the webhook has a secret: `Typeform-Signature: sha256=` +
//! base64(HMAC-SHA256(secret, raw body)).
//!
//! Answers are read by type: `email` and `phone_number` are the lead's
//! email and phone whatever the question says; any other answer is named by
//! its field's `ref` when someone chose it (a readable ref such as
//! `first_name`), else by the question's title.

use serde_json::{Map, Value};

use super::{
    Adapter, Presented, ProviderMeta, Submission, base64_hmac_valid, id_text, json_object,
};
use crate::error::FieldIssue;
use crate::http::header;
use crate::rules::inbound::BodyError;

pub struct Typeform;

impl Adapter for Typeform {
    fn authentic(&self, secret: &str, req: &Presented<'_>) -> bool {
        header(req.headers, "typeform-signature")
            .and_then(|h| h.trim().strip_prefix("sha256="))
            .is_some_and(|sig| base64_hmac_valid(secret, req.body, sig))
    }

    fn parse(&self, _content_type: Option<&str>, body: &[u8]) -> Result<Submission, BodyError> {
        let body = json_object(body)?;
        let invalid = |field: &str, issue: &str| BodyError::Invalid(FieldIssue::new(field, issue));
        let Some(Value::Object(response)) = body.get("form_response") else {
            return Err(invalid("form_response", "is required: an object"));
        };
        let lead_id = id_text(response.get("token"))
            .ok_or_else(|| invalid("form_response.token", "is required: a string"))?;
        let titles = field_titles(response);
        let answers = match response.get("answers") {
            Some(Value::Array(a)) => a.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return Err(invalid("form_response.answers", "must be an array")),
        };
        let mut fields = Vec::with_capacity(answers.len());
        for answer in answers {
            let Value::Object(answer) = answer else {
                return Err(invalid(
                    "form_response.answers",
                    "every answer must be an object",
                ));
            };
            if let Some(pair) = read_answer(answer, &titles) {
                fields.push(pair);
            }
        }
        if let Some(Value::Object(hidden)) = response.get("hidden") {
            fields.extend(hidden.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let mut meta = ProviderMeta::new("typeform");
        meta.lead_id = Some(lead_id);
        meta.form_id = id_text(response.get("form_id"));
        meta.form_name = response
            .get("definition")
            .and_then(|d| id_text(d.get("title")));
        Ok(Submission { fields, meta })
    }
}

/// Question titles by field id, from `form_response.definition.fields`.
fn field_titles(response: &Map<String, Value>) -> Vec<(String, String)> {
    let Some(Value::Array(fields)) = response.get("definition").and_then(|d| d.get("fields"))
    else {
        return vec![];
    };
    fields
        .iter()
        .filter_map(|f| {
            let id = f.get("id")?.as_str()?;
            let title = f.get("title")?.as_str()?;
            Some((id.to_owned(), title.to_owned()))
        })
        .collect()
}

/// A ref Typeform generated (a UUID, or a long run of letters and digits)
/// names nothing; one a person chose does.
fn readable_ref(r: &str) -> bool {
    let generated = r.len() >= 20 && r.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        || r.len() == 36 && r.matches('-').count() == 4;
    !r.trim().is_empty() && !generated
}

fn read_answer(
    answer: &Map<String, Value>,
    titles: &[(String, String)],
) -> Option<(String, Value)> {
    let kind = answer.get("type")?.as_str()?;
    let field = answer.get("field").and_then(Value::as_object);
    let value = match kind {
        "choice" => answer.get("choice")?.get("label")?.clone(),
        "choices" => answer.get("choices")?.get("labels")?.clone(),
        "payment" => return None,
        other => answer.get(other)?.clone(),
    };
    let name = match kind {
        "email" => "email".to_owned(),
        "phone_number" => "phone".to_owned(),
        _ => {
            let r = field.and_then(|f| f.get("ref")).and_then(Value::as_str);
            let id = field.and_then(|f| f.get("id")).and_then(Value::as_str);
            match (r.filter(|r| readable_ref(r)), id) {
                (Some(r), _) => r.to_owned(),
                (None, Some(id)) => titles
                    .iter()
                    .find(|(i, _)| i == id)
                    .map_or_else(|| id.to_owned(), |(_, t)| t.clone()),
                (None, None) => return None,
            }
        }
    };
    Some((name, value))
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
          "event_id": "01EK4R5PFZZP6C8H14RTP4YW6C",
          "event_type": "form_response",
          "form_response": {
            "form_id": "lT4Z3j",
            "token": "a3a12ec67a1365927098a606107fbc15",
            "landed_at": "2020-09-26T08:23:47Z",
            "submitted_at": "2020-09-26T08:23:49Z",
            "hidden": {"utm_source": "newsletter"},
            "definition": {
              "id": "lT4Z3j", "title": "Demo request",
              "fields": [
                {"id": "M8JLOd0nIQPU", "title": "What's your name?", "type": "short_text",
                 "ref": "9a489f17-8765-494b-933e-3624c645bd0c"},
                {"id": "KoJxDM3c6x8h", "title": "Email", "type": "email", "ref": "email_ref"}
              ]
            },
            "answers": [
              {"type": "text", "text": "Zoë Müller",
               "field": {"id": "M8JLOd0nIQPU", "type": "short_text", "ref": "9a489f17-8765-494b-933e-3624c645bd0c"}},
              {"type": "email", "email": "zoe@example.com",
               "field": {"id": "KoJxDM3c6x8h", "type": "email", "ref": "email_ref"}},
              {"type": "phone_number", "phone_number": "+16505550123",
               "field": {"id": "p1", "type": "phone_number", "ref": "p1"}},
              {"type": "text", "text": "Acme",
               "field": {"id": "c1", "type": "short_text", "ref": "company"}},
              {"type": "choice", "choice": {"label": "Yes"},
               "field": {"id": "x1", "type": "multiple_choice", "ref": "wants_demo"}},
              {"type": "number", "number": 12, "field": {"id": "n1", "type": "number", "ref": "seats"}}
            ]
          }
        })
    }

    #[test]
    fn reads_answers_by_type_ref_and_title() {
        let s = Typeform
            .parse(None, sample().to_string().as_bytes())
            .unwrap();
        assert_eq!(
            s.fields,
            vec![
                ("What's your name?".into(), json!("Zoë Müller")),
                ("email".into(), json!("zoe@example.com")),
                ("phone".into(), json!("+16505550123")),
                ("company".into(), json!("Acme")),
                ("wants_demo".into(), json!("Yes")),
                ("seats".into(), json!(12)),
                ("utm_source".into(), json!("newsletter")),
            ]
        );
        assert_eq!(
            s.meta.lead_id.as_deref(),
            Some("a3a12ec67a1365927098a606107fbc15")
        );
        assert_eq!(s.meta.form_id.as_deref(), Some("lT4Z3j"));
        assert_eq!(s.meta.form_name.as_deref(), Some("Demo request"));
    }

    #[test]
    fn signature_is_base64_hmac_of_the_raw_body() {
        let body = format!("{}\n", sample());
        let mut headers = HeaderMap::new();
        let sig = format!("sha256={}", base64_hmac("tf-secret", body.as_bytes()));
        headers.insert("typeform-signature", HeaderValue::from_str(&sig).unwrap());
        let req = Presented {
            headers: &headers,
            query: &[],
            body: body.as_bytes(),
        };
        assert!(Typeform.authentic("tf-secret", &req));
        assert!(!Typeform.authentic("other", &req));
        let trimmed = Presented {
            body: body.trim_end().as_bytes(),
            ..req
        };
        assert!(!Typeform.authentic("tf-secret", &trimmed));
        let bare = HeaderMap::new();
        assert!(!Typeform.authentic(
            "tf-secret",
            &Presented {
                headers: &bare,
                ..req
            }
        ));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b"[]"[..],
            b"{}",
            b"{\"form_response\": {}}",
            b"{\"form_response\": {\"token\": \"t\", \"answers\": {}}}",
            b"{\"form_response\": {\"token\": \"t\", \"answers\": [1]}}",
        ] {
            assert!(Typeform.parse(None, body).is_err(), "{body:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Typeform.parse(None, &body);
        }

        #[test]
        fn every_text_answer_is_kept(texts in proptest::collection::vec("\\PC{1,30}", 0..10)) {
            let answers: Vec<Value> = texts.iter().enumerate()
                .map(|(i, t)| json!({"type": "text", "text": t,
                                     "field": {"id": format!("f{i}"), "ref": format!("q{i}")}}))
                .collect();
            let body = json!({"form_response": {"token": "t", "answers": answers}}).to_string();
            let s = Typeform.parse(None, body.as_bytes()).unwrap();
            prop_assert_eq!(s.fields.len(), texts.len());
        }
    }
}
