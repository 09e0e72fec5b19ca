//! Google Ads lead form webhooks
//! (<https://developers.google.com/google-ads/webhook/docs/implementation>).
//!
//! Google POSTs one JSON `WebhookLead` per lead: `lead_id`,
//! `user_column_data[]` (`column_id` such as `FULL_NAME`, `EMAIL`,
//! `PHONE_NUMBER`, with `string_value`), the int64 `form_id`,
//! `campaign_id`, `adgroup_id`, `creative_id`, `gcl_id`, `is_test`, and
//! `google_key`: the key the advertiser typed into the form's webhook
//! settings, which is how a request is known to come from Google. Google
//! expects `200` for a lead it may stop sending.

use serde_json::Value;

use super::{Adapter, Presented, ProviderMeta, Submission, id_text, json_object};
use crate::error::FieldIssue;
use crate::rules::crypto::constant_time_eq;
use crate::rules::inbound::BodyError;

pub struct GoogleAds;

/// The field a `column_id` becomes: the contact columns map onto the field
/// rules' names; any other column is kept as a custom field under its id,
/// lower-cased (`POSTAL_CODE` → `postal_code`).
fn field_name(column_id: &str) -> String {
    match column_id {
        "FULL_NAME" => "name".into(),
        "FIRST_NAME" => "first_name".into(),
        "LAST_NAME" => "last_name".into(),
        "EMAIL" => "email".into(),
        "PHONE_NUMBER" => "phone".into(),
        other => other.to_ascii_lowercase(),
    }
}

impl Adapter for GoogleAds {
    fn authentic(&self, secret: &str, req: &Presented<'_>) -> bool {
        let Ok(body) = json_object(req.body) else {
            return false;
        };
        match body.get("google_key") {
            Some(Value::String(k)) => constant_time_eq(k.as_bytes(), secret.as_bytes()),
            _ => false,
        }
    }

    fn parse(&self, _content_type: Option<&str>, body: &[u8]) -> Result<Submission, BodyError> {
        let body = json_object(body)?;
        let lead_id = id_text(body.get("lead_id")).ok_or_else(|| {
            BodyError::Invalid(FieldIssue::new("lead_id", "is required: a string id"))
        })?;
        let columns = match body.get("user_column_data") {
            Some(Value::Array(c)) => c.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => {
                return Err(BodyError::Invalid(FieldIssue::new(
                    "user_column_data",
                    "must be an array",
                )));
            }
        };
        let mut fields = Vec::with_capacity(columns.len());
        let mut work: Vec<(&str, Value)> = Vec::new();
        for column in columns {
            let Value::Object(column) = column else {
                return Err(BodyError::Invalid(FieldIssue::new(
                    "user_column_data",
                    "every entry must be an object",
                )));
            };
            let value = column.get("string_value").cloned().unwrap_or(Value::Null);
            let id = column.get("column_id").and_then(Value::as_str);
            let name = column.get("column_name").and_then(Value::as_str);
            match (id, name) {
                // The work address and number stand in for the personal ones
                // when those are not asked (below).
                (Some(k @ ("WORK_EMAIL" | "WORK_PHONE")), _) => work.push((k, value)),
                (Some(id), _) => fields.push((field_name(id), value)),
                (None, Some(name)) => fields.push((name.to_owned(), value)),
                (None, None) => {}
            }
        }
        for (column, value) in work {
            let (personal, own) = match column {
                "WORK_EMAIL" => ("email", "work_email"),
                _ => ("phone", "work_phone"),
            };
            let taken = fields.iter().any(|(k, _)| k == personal);
            fields.push((if taken { own } else { personal }.to_owned(), value));
        }
        if let Some(gclid) = id_text(body.get("gcl_id")) {
            fields.push(("gclid".into(), Value::String(gclid)));
        }
        let mut meta = ProviderMeta::new("google_ads");
        meta.lead_id = Some(lead_id);
        meta.form_id = id_text(body.get("form_id"));
        meta.campaign_id = id_text(body.get("campaign_id"));
        meta.ad_group_id = id_text(body.get("adgroup_id"));
        meta.ad_id = id_text(body.get("creative_id"));
        meta.click_id = id_text(body.get("gcl_id"));
        meta.test = body.get("is_test").and_then(Value::as_bool) == Some(true);
        Ok(Submission { fields, meta })
    }

    fn accepted_status(&self) -> u16 {
        200
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use proptest::prelude::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl",
            "user_column_data": [
                {"column_name": "Full Name", "string_value": "Zoë Müller", "column_id": "FULL_NAME"},
                {"column_name": "User Email", "string_value": "zoe@example.com", "column_id": "EMAIL"},
                {"column_name": "User Phone", "string_value": "+16505550123", "column_id": "PHONE_NUMBER"},
                {"column_name": "Postal Code", "string_value": "94043", "column_id": "POSTAL_CODE"},
                {"column_name": "Work Email", "string_value": "zoe@work.example", "column_id": "WORK_EMAIL"},
                {"column_name": "Which dealership?", "string_value": "North"}
            ],
            "api_version": "1.0",
            "form_id": 9_007_199_254_740_993_u64,
            "campaign_id": 123_456_789_012_u64,
            "google_key": "wh_live_secret",
            "is_test": true,
            "gcl_id": "EAIaIQobChMI",
            "adgroup_id": 20_000_000_001_u64,
            "creative_id": 30_000_000_001_u64
        })
    }

    #[test]
    fn reads_the_documented_body() {
        let body = sample().to_string();
        let s = GoogleAds.parse(None, body.as_bytes()).unwrap();
        let get = |k: &str| {
            s.fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("name"), Some(json!("Zoë Müller")));
        assert_eq!(get("email"), Some(json!("zoe@example.com")));
        assert_eq!(get("phone"), Some(json!("+16505550123")));
        assert_eq!(get("postal_code"), Some(json!("94043")));
        assert_eq!(get("work_email"), Some(json!("zoe@work.example")));
        assert_eq!(get("Which dealership?"), Some(json!("North")));
        assert_eq!(get("gclid"), Some(json!("EAIaIQobChMI")));
        assert_eq!(s.meta.form_id.as_deref(), Some("9007199254740993"));
        assert_eq!(s.meta.campaign_id.as_deref(), Some("123456789012"));
        assert_eq!(s.meta.ad_group_id.as_deref(), Some("20000000001"));
        assert_eq!(s.meta.ad_id.as_deref(), Some("30000000001"));
        assert!(s.meta.test);
        assert!(s.meta.lead_id.unwrap().starts_with("TeSter-123"));
    }

    #[test]
    fn a_work_email_alone_is_the_email() {
        let body = json!({"lead_id": "1", "user_column_data": [
            {"column_id": "WORK_EMAIL", "string_value": "a@b.co"}]});
        let s = GoogleAds.parse(None, body.to_string().as_bytes()).unwrap();
        assert_eq!(s.fields, vec![("email".to_owned(), json!("a@b.co"))]);
    }

    #[test]
    fn google_key_is_the_secret() {
        let headers = HeaderMap::new();
        let req = |body: &[u8], secret: &str| {
            GoogleAds.authentic(
                secret,
                &Presented {
                    headers: &headers,
                    query: &[],
                    body,
                },
            )
        };
        let body = sample().to_string();
        assert!(req(body.as_bytes(), "wh_live_secret"));
        assert!(!req(body.as_bytes(), "wh_live_other"));
        assert!(!req(b"{\"google_key\": 1}", "wh_live_secret"));
        assert!(!req(b"not json", "wh_live_secret"));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b"[]"[..],
            b"{",
            b"{}",
            b"{\"lead_id\": \"1\", \"user_column_data\": 3}",
            b"{\"lead_id\": \"1\", \"user_column_data\": [3]}",
            b"{\"lead_id\": 1.5}",
        ] {
            assert!(GoogleAds.parse(None, body).is_err(), "{body:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = GoogleAds.parse(None, &body);
        }

        #[test]
        fn any_lead_id_and_columns_parse(
            id in "[A-Za-z0-9-]{1,100}",
            cols in proptest::collection::vec(("[A-Z_]{1,20}", "\\PC{0,40}"), 0..20),
        ) {
            let data: Vec<Value> = cols.iter()
                .map(|(c, v)| json!({"column_id": c, "string_value": v}))
                .collect();
            let body = json!({"lead_id": id, "user_column_data": data}).to_string();
            let s = GoogleAds.parse(None, body.as_bytes()).unwrap();
            prop_assert_eq!(s.meta.lead_id.as_deref(), Some(id.as_str()));
            prop_assert_eq!(s.fields.len(), cols.len());
        }
    }
}
