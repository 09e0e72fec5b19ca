//! Sources (issue 23), LinkedIn Lead Sync: the validation challenge, the
//! signed notifications and the lead fetched from a stand-in of LinkedIn's
//! API on 127.0.0.1.

use leadpipe_tests::{ScriptedServer, TestStack, leadpipe};
use serde_json::json;

use super::sources::{events, post, processed_event};

pub(crate) fn li_sign(secret: &str, body: &str) -> String {
    let mac =
        leadpipe::providers::hmac_sha256(secret.as_bytes(), &[b"hmacsha256=", body.as_bytes()]);
    leadpipe::rules::crypto::encode_hex(&mac)
}

pub(crate) fn li_note(action: &str, id: &str) -> String {
    format!(
        "{}\n",
        json!({
            "type": "LEAD_ACTION",
            "leadGenFormResponse": format!("urn:li:leadGenFormResponse:{id}"),
            "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:522529623"},
            "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5678,1)",
            "leadType": "SPONSORED", "leadAction": action, "occurredAt": 1_679_496_483_000_u64,
            "note": "Zoë"
        })
    )
}

pub(crate) const LI_RESPONSE: &str = r#"{"id": "a9a29e52-4", "testLead": false, "leadType": "SPONSORED",
  "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:5678,1)",
  "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:241257736"},
  "form": {"name": "Démo", "hiddenFields": [{"name": "utm_source", "value": "linkedin"}],
    "content": {"questions": [
      {"questionId": 1, "name": "firstName", "predefinedField": "FIRST_NAME"},
      {"questionId": 2, "name": "lastName", "predefinedField": "LAST_NAME"},
      {"questionId": 3, "name": "email", "predefinedField": "EMAIL"}]}},
  "formResponse": {"answers": [
    {"questionId": 1, "answerDetails": {"textQuestionAnswer": {"answer": "Zoë"}}},
    {"questionId": 2, "answerDetails": {"textQuestionAnswer": {"answer": "Müller"}}},
    {"questionId": 3, "answerDetails": {"textQuestionAnswer": {"answer": "zoe.li@example.com"}}}]}}"#;

#[tokio::test]
async fn linkedin_lead_sync_challenge_signature_and_fetch() {
    let logs = leadpipe_tests::LogCapture::start("trace");
    let api = ScriptedServer::start().await;
    api.script("/rest/leadFormResponses/a9a29e52-4", &[(200, LI_RESPONSE)]);
    api.script(
        "/rest/leadFormResponses/flaky-1",
        &[(500, r#"{"status": 500}"#), (200, LI_RESPONSE)],
    );
    let base = format!("{}/rest", api.base_url);
    let t = TestStack::with_config(|c| c.linkedin_api_url = base).await;
    let created = t
        .admin(
            "POST",
            "/v1/keys",
            Some(json!({"name": "LinkedIn", "provider": "linkedin",
                        "providerSecret": "li-client-secret", "providerToken": "AQV-access-token"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["providerTokenSet"], true);
    assert!(!created.text().contains("AQV-access-token"));
    let key = created.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/hooks/{key}");

    // The validation LinkedIn repeats every two hours.
    let code = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
    let r = t
        .call(
            "GET",
            &format!("{path}?challengeCode={code}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let expected = leadpipe::rules::crypto::encode_hex(&leadpipe::providers::hmac_sha256(
        b"li-client-secret",
        &[code.as_bytes()],
    ));
    assert_eq!(
        r.json(),
        json!({"challengeCode": code, "challengeResponse": expected})
    );

    let body = li_note("CREATED", "a9a29e52-4");
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("wrong", &body))],
        &body,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(events(&t).await.is_empty());
    assert!(
        api.requests().is_empty(),
        "nothing fetched for a forged notification"
    );

    let sig = li_sign("li-client-secret", &body);
    let r = post(
        &t,
        &path,
        &[
            ("x-li-signature", &sig),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let again = post(&t, &path, &[("x-li-signature", &sig)], &body).await;
    assert_eq!(
        again.json()["eventId"],
        r.json()["eventId"],
        "a redelivery replays"
    );
    let fetched = api.requests_to("/rest/leadFormResponses/a9a29e52-4");
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        fetched[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer AQV-access-token")
    );
    assert_eq!(
        fetched[0]
            .headers
            .get("x-restli-protocol-version")
            .and_then(|v| v.to_str().ok()),
        Some("2.0.0")
    );
    assert!(fetched[0].query.starts_with("fields="));
    let e = processed_event(&t, &r).await;
    assert_eq!(e["provider"]["name"], "linkedin");
    assert_eq!(e["provider"]["leadId"], "a9a29e52-4");
    assert_eq!(e["provider"]["adId"], "urn:li:sponsoredCreative:241257736");
    let lead = t
        .admin(
            "GET",
            &format!("/v1/leads/{}", e["leadId"].as_str().unwrap()),
            None,
        )
        .await
        .json();
    assert_eq!(lead["email"], "zoe.li@example.com");
    assert_eq!(lead["lastName"], "Müller");

    // LinkedIn's API fails once: nothing recorded, the redelivery succeeds.
    let body = li_note("CREATED", "flaky-1");
    let sig = li_sign("li-client-secret", &body);
    let r = post(&t, &path, &[("x-li-signature", &sig)], &body).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.code(), "internal");
    assert_eq!(events(&t).await.len(), 1);
    let r = post(&t, &path, &[("x-li-signature", &sig)], &body).await;
    assert_eq!(r.status, 202, "{}", r.text());

    let body = li_note("DELETED", "a9a29e52-4");
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("li-client-secret", &body))],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["erased"], true);
    assert_eq!(events(&t).await.len(), 2, "a deletion records no event");
    // The person's data is gone: the lead, and the submission on its event.
    let lead_id = e["leadId"].as_str().unwrap();
    let gone = t.admin("GET", &format!("/v1/leads/{lead_id}"), None).await;
    assert_eq!(gone.status, 404);
    let scope = t.app.default_scope();
    let first = leadpipe::model::events::get(&scope, e["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.lead_id.as_ref().map(|l| l.as_str()), Some(lead_id));
    assert!(
        leadpipe::model::events::input_of(&scope, &first)
            .await
            .unwrap()
            .is_none(),
        "the submission survived the erasure"
    );
    // LinkedIn saying it again: nothing left to erase.
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("li-client-secret", &body))],
        &body,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["erased"], false);
    // A forged deletion erases nothing.
    let other = li_note("DELETED", "flaky-1");
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("wrong", &other))],
        &other,
    )
    .await;
    assert_eq!(r.status, 401);

    let broken = "{\"leadAction\": \"CREATED\"}";
    let r = post(
        &t,
        &path,
        &[("x-li-signature", &li_sign("li-client-secret", broken))],
        broken,
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "validation_failed");
    let logged = logs.text();
    assert!(logged.contains("LinkedIn lead fetch failed"), "{logged}");
    for secret in ["AQV-access-token", "li-client-secret"] {
        assert!(!logged.contains(secret), "{secret} logged");
    }
}
