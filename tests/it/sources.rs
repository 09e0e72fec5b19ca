//! Sources (issue 23): a key's `provider` decides how its hook reads a
//! request. Each provider's request is shaped as the provider documents it
//! and signed here, on the raw bytes (non-ASCII, a trailing newline): the
//! right secret records one event with the provider's metadata, a retry of
//! the same lead id records nothing more, a wrong secret stores nothing,
//! a malformed body gets the error envelope.

use leadpipe::providers::base64_hmac;
use leadpipe_tests::{Reply, TestStack};
use serde_json::{Value, json};

pub(crate) async fn events(t: &TestStack) -> Vec<Value> {
    let r = t.admin("GET", "/v1/events", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"].as_array().cloned().unwrap_or_default()
}

pub(crate) async fn key_with(t: &TestStack, body: Value) -> (String, String) {
    t.create_key(body).await
}

pub(crate) async fn post(t: &TestStack, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    t.call("POST", path, headers, body.as_bytes().to_vec())
        .await
}

/// The accepted answer's event, processed: its lead exists and its view
/// carries the provider's metadata.
pub(crate) async fn processed_event(t: &TestStack, r: &Reply) -> Value {
    let id = r.json()["eventId"].as_str().expect("eventId").to_owned();
    t.process_queue().await;
    let e = t.event(&id).await;
    assert_eq!(e["status"], "PROCESSED", "{e}");
    e
}

fn google_body(key: &str) -> String {
    // As Google documents it; ids are JSON numbers past 2^53.
    format!(
        "{}\n",
        json!({
            "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz",
            "user_column_data": [
                {"column_name": "Full Name", "string_value": "Zoë Müller", "column_id": "FULL_NAME"},
                {"column_name": "User Email", "string_value": "zoe@example.com", "column_id": "EMAIL"},
                {"column_name": "User Phone", "string_value": "+16505550123", "column_id": "PHONE_NUMBER"},
                {"column_name": "Postal Code", "string_value": "94043", "column_id": "POSTAL_CODE"}
            ],
            "api_version": "1.0",
            "form_id": 9_007_199_254_740_993_u64,
            "campaign_id": 123_456_789_012_u64,
            "google_key": key,
            "is_test": true,
            "gcl_id": "EAIaIQobChMI",
            "adgroup_id": 20_000_000_001_u64,
            "creative_id": 30_000_000_001_u64
        })
    )
}

#[tokio::test]
async fn google_ads_leads_are_verified_recorded_once_and_marked() {
    let t = TestStack::new().await;
    let (key, token) = key_with(&t, json!({"name": "Google", "provider": "google_ads"})).await;
    let path = format!("/v1/hooks/{key}");
    let ct = [("content-type", "application/json")];

    let wrong = post(&t, &path, &ct, &google_body("wh_live_wrong")).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.code(), "unauthorized");
    assert!(events(&t).await.is_empty(), "a wrong key stores nothing");

    let r = post(&t, &path, &ct, &google_body(&token)).await;
    assert_eq!(r.status, 200, "Google expects 200: {}", r.text());
    let again = post(&t, &path, &ct, &google_body(&token)).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.json()["eventId"],
        r.json()["eventId"],
        "a retry replays"
    );
    assert_eq!(events(&t).await.len(), 1, "one event for one lead id");

    let e = processed_event(&t, &r).await;
    let p = &e["provider"];
    assert_eq!(p["name"], "google_ads");
    assert_eq!(p["formId"], "9007199254740993");
    assert_eq!(p["campaignId"], "123456789012");
    assert_eq!(p["adGroupId"], "20000000001");
    assert_eq!(p["adId"], "30000000001");
    assert_eq!(p["clickId"], "EAIaIQobChMI");
    assert_eq!(p["test"], true);
    let lead = t
        .admin(
            "GET",
            &format!("/v1/leads/{}", e["leadId"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(lead["email"], "zoe@example.com");
    assert_eq!(lead["firstName"], "Zoë");
    assert_eq!(lead["customFields"]["postal_code"], "94043");

    let bad = post(
        &t,
        &path,
        &ct,
        &json!({"google_key": token, "lead_id": "x", "user_column_data": 7}).to_string(),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.code(), "validation_failed");
    assert_eq!(
        bad.json()["error"]["details"][0]["field"],
        "user_column_data"
    );
    let unreadable = post(&t, &path, &ct, "{\"google_key\":").await;
    assert_eq!(unreadable.status, 401, "an unreadable body carries no key");
}

fn typeform_body() -> String {
    format!(
        "{}\n",
        json!({
          "event_id": "01EK4R5PFZZP6C8H14RTP4YW6C",
          "event_type": "form_response",
          "form_response": {
            "form_id": "lT4Z3j",
            "token": "a3a12ec67a1365927098a606107fbc15",
            "submitted_at": "2026-09-26T08:23:49Z",
            "hidden": {"utm_source": "newsletter"},
            "definition": {"id": "lT4Z3j", "title": "Demo request", "fields": []},
            "answers": [
              {"type": "text", "text": "Zoë", "field": {"id": "a", "type": "short_text", "ref": "first_name"}},
              {"type": "email", "email": "zoe.tf@example.com", "field": {"id": "b", "type": "email", "ref": "b"}},
              {"type": "phone_number", "phone_number": "+16505550124", "field": {"id": "c", "type": "phone_number", "ref": "c"}}
            ]
          }
        })
    )
}

#[tokio::test]
async fn typeform_responses_are_verified_with_the_provider_secret() {
    let t = TestStack::new().await;
    let created = t
        .admin(
            "POST",
            "/v1/keys",
            Some(json!({"name": "Typeform", "provider": "typeform", "providerSecret": "tf-signing-secret"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let k = created.json();
    assert_eq!(k["provider"], "typeform");
    assert_eq!(k["providerSecretSet"], true);
    assert!(
        !created.text().contains("tf-signing-secret"),
        "never returned"
    );
    let path = format!("/v1/hooks/{}", k["id"].as_str().unwrap());
    let token = k["token"].as_str().unwrap();

    let body = typeform_body();
    let signed =
        |secret: &str, body: &str| format!("sha256={}", base64_hmac(secret, body.as_bytes()));
    let with_token = signed(token, &body);
    let r = post(&t, &path, &[("typeform-signature", &with_token)], &body).await;
    assert_eq!(r.status, 401, "the provider secret, not the token, signs");
    let trimmed = signed("tf-signing-secret", body.trim_end());
    let r = post(&t, &path, &[("typeform-signature", &trimmed)], &body).await;
    assert_eq!(r.status, 401, "the signature covers the raw bytes");
    assert!(events(&t).await.is_empty());

    let sig = signed("tf-signing-secret", &body);
    let r = post(
        &t,
        &path,
        &[
            ("typeform-signature", &sig),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &[("typeform-signature", &sig)], &body).await;
    assert_eq!(again.json()["eventId"], r.json()["eventId"]);
    assert_eq!(events(&t).await.len(), 1);
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["leadId"], "a3a12ec67a1365927098a606107fbc15");
    assert_eq!(e["provider"]["formId"], "lT4Z3j");

    let broken = "{\"form_response\": [}\n";
    let sig = signed("tf-signing-secret", broken);
    let r = post(&t, &path, &[("typeform-signature", &sig)], broken).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "malformed_body");
    assert!(r.json()["requestId"].is_string());
}

#[tokio::test]
async fn tally_responses_are_signed_with_the_token_by_default() {
    let t = TestStack::new().await;
    let (key, token) = key_with(&t, json!({"name": "Tally", "provider": "tally"})).await;
    let path = format!("/v1/hooks/{key}");
    let body = format!(
        "{}\n",
        json!({
          "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
          "eventType": "FORM_RESPONSE",
          "createdAt": "2026-06-28T15:00:21.889Z",
          "data": {
            "responseId": "2wgx4n", "submissionId": "2wgx4n", "respondentId": "dwQKYm",
            "formId": "VwbNEw", "formName": "Démo", "createdAt": "2026-06-28T15:00:21.000Z",
            "fields": [
              {"key": "question_1", "label": "Full name", "type": "INPUT_TEXT", "value": "Zoë Müller"},
              {"key": "question_2", "label": "Work address", "type": "INPUT_EMAIL", "value": "zoe.tally@example.com"},
              {"key": "question_3", "label": "Plan", "type": "MULTIPLE_CHOICE", "value": ["o1"],
               "options": [{"id": "o1", "text": "Pro"}]}
            ]
          }
        })
    );
    let r = post(
        &t,
        &path,
        &[("tally-signature", &base64_hmac("nope", body.as_bytes()))],
        &body,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(events(&t).await.is_empty());
    let sig = base64_hmac(&token, body.as_bytes());
    let r = post(&t, &path, &[("tally-signature", &sig)], &body).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &[("tally-signature", &sig)], &body).await;
    assert_eq!(again.json()["eventId"], r.json()["eventId"]);
    assert_eq!(events(&t).await.len(), 1);
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["leadId"], "2wgx4n");
    assert_eq!(e["provider"]["formName"], "Démo");

    let no_contact =
        json!({"eventType": "FORM_RESPONSE", "data": {"responseId": "r2", "fields": []}})
            .to_string();
    let sig = base64_hmac(&token, no_contact.as_bytes());
    let r = post(&t, &path, &[("tally-signature", &sig)], &no_contact).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["details"][0]["field"], "email");
}

#[tokio::test]
async fn jotform_submissions_carry_the_token_in_the_url() {
    let logs = leadpipe_tests::LogCapture::start("trace");
    let t = TestStack::new().await;
    let (key, token) = key_with(&t, json!({"name": "Jotform", "provider": "jotform"})).await;
    let boundary = "------------------------J1JNT4vbVO4FCC1qLG4HSv";
    let raw = json!({
        "slug": "submit/243231271343446",
        "q3_fullName": {"first": "Zoë", "last": "Müller"},
        "q4_email4": "zoe.jf@example.com",
        "q5_phoneNumber": {"full": "+1 650 555 0125"}
    });
    let part = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let body = [
        part("formID", "243231271343446"),
        part("submissionID", "6084250982513018472"),
        part("formTitle", "Démo"),
        part("rawRequest", &raw.to_string()),
        format!("--{boundary}--\r\n"),
    ]
    .concat();
    let ct = format!("multipart/form-data; boundary={boundary}");
    let headers = [("content-type", ct.as_str())];
    let r = post(
        &t,
        &format!("/v1/hooks/{key}?token=wh_live_nope"),
        &headers,
        &body,
    )
    .await;
    assert_eq!(r.status, 401);
    let r = post(&t, &format!("/v1/hooks/{key}"), &headers, &body).await;
    assert_eq!(r.status, 401);
    assert!(events(&t).await.is_empty());

    let path = format!("/v1/hooks/{key}?token={token}");
    let r = post(&t, &path, &headers, &body).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &headers, &body).await;
    assert_eq!(again.json()["eventId"], r.json()["eventId"]);
    assert_eq!(events(&t).await.len(), 1);
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["leadId"], "6084250982513018472");
    assert_eq!(e["provider"]["formId"], "243231271343446");

    let r = post(&t, &path, &headers, &format!("--{boundary}\r\nnonsense")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "malformed_body");
    let logged = logs.text();
    assert!(logged.contains("accepted"), "the capture saw the requests");
    assert!(
        !logged.contains(&token),
        "the URL's token is in no log line"
    );
}

#[tokio::test]
async fn key_provider_fields_are_validated() {
    let t = TestStack::new().await;
    for (body, field) in [
        (json!({"name": "x", "provider": "fax"}), "provider"),
        (json!({"name": "x", "provider": "form"}), "allowedDomains"),
        (
            json!({"name": "x", "redirectUrl": "http://example.com/"}),
            "redirectUrl",
        ),
        (
            json!({"name": "x", "redirectUrl": "javascript:alert(1)"}),
            "redirectUrl",
        ),
        (
            json!({"name": "x", "providerSecret": "a\u{7}b"}),
            "providerSecret",
        ),
        (
            json!({"name": "x", "providerSecretSet": true}),
            "providerSecretSet",
        ),
    ] {
        let r = t.admin("POST", "/v1/keys", Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert_eq!(r.json()["error"]["details"][0]["field"], field, "{body}");
    }
    let (key, _) = t.create_key(json!({"name": "plain"})).await;
    let k = t
        .admin("GET", &format!("/v1/keys/{key}"), None)
        .await
        .json();
    assert_eq!(k["provider"], "webhook");
    assert_eq!(k["providerSecretSet"], false);
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{key}"),
            Some(json!({"provider": "form"})),
        )
        .await;
    assert_eq!(r.status, 422, "a form key needs origins: {}", r.text());
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{key}"),
            Some(json!({"provider": "form", "allowedDomains": ["example.com"], "providerSecret": "0x4AAA",
                        "redirectUrl": "https://example.com/thanks"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["providerSecretSet"], true);
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/keys/{key}"),
            Some(json!({"providerSecret": null})),
        )
        .await;
    assert_eq!(r.json()["providerSecretSet"], false);
    let listed = t.admin("GET", "/v1/keys?reveal=true", None).await.text();
    assert!(!listed.contains("0x4AAA"));
}
