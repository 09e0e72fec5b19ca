//! HubSpot destinations against the stand-in (tests/support/hubspot.rs):
//! one contact per person through new leads, repeats and updates; a phone
//! found by search; 409 resolved; 429 waited out; a lost answer retried
//! without a second contact; a bad token logged and retried; Test; config
//! checked and masked.

use std::time::Duration;

use leadpipe_tests::TestStack;
use leadpipe_tests::hubspot::HubSpot;
use serde_json::{Value, json};

const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

async fn stack(hs: &HubSpot) -> TestStack {
    let url = hs.base_url.clone();
    TestStack::with_config(move |c| {
        c.allow_private_targets = true;
        c.hubspot_api_url = url;
        // Every repeat of a person is a re-engagement (a delivery).
        c.reengage_after = Duration::ZERO;
    })
    .await
}

async fn destination(t: &TestStack, extra: Value) -> Value {
    let mut body = json!({"kind": "hubspot", "config": {"accessToken": TOKEN}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// Runs the pipeline until `done` holds or `rounds` pass.
async fn pump_until(t: &TestStack, rounds: usize, done: impl Fn() -> bool) {
    for _ in 0..rounds {
        t.process_queue().await;
        t.deliver_queue().await;
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn deliveries(t: &TestStack) -> Vec<Value> {
    let page = t.admin("GET", "/v1/deliveries?limit=50", None).await.json();
    let mut out = vec![];
    for d in page["items"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        out.push(
            t.admin("GET", &format!("/v1/deliveries/{id}"), None)
                .await
                .json(),
        );
    }
    out
}

fn creates(hs: &HubSpot) -> usize {
    hs.calls()
        .iter()
        .filter(|c| *c == "POST /crm/v3/objects/contacts")
        .count()
}

#[tokio::test]
async fn one_contact_per_person_through_new_repeat_and_update() {
    let hs = HubSpot::start(TOKEN).await;
    let t = stack(&hs).await;
    let sub = destination(
        &t,
        json!({"mapping": {"email": "email", "firstname": "firstName", "lastname": "lastName",
                           "phone": "phone", "company": "customFields.company", "hs_lead_status": "status"}}),
    )
    .await;
    assert_eq!(sub["kind"], "hubspot");
    assert_eq!(sub["url"], hs.base_url);
    assert!(
        !sub.to_string().contains(TOKEN),
        "the token is masked: {sub}"
    );
    assert_eq!(sub["config"]["accessToken"], "pat-…********");

    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let evt = t
        .post_lead(
            &key,
            &token,
            json!({"email": "Ann@Example.com", "name": "Ann Lee",
                                         "phone": "+1 415 555 0101", "company": "Acme"}),
        )
        .await;
    pump_until(&t, 10, || hs.contacts().len() == 1).await;
    let c = &hs.contacts()[0];
    assert_eq!(c.properties["email"], "ann@example.com");
    assert_eq!(c.properties["firstname"], "Ann");
    assert_eq!(c.properties["lastname"], "Lee");
    assert_eq!(c.properties["phone"], "+14155550101");
    assert_eq!(c.properties["company"], "Acme");
    assert_eq!(hs.calls(), ["POST /crm/v3/objects/contacts/batch/upsert"]);

    // The same person again: the kept contact is updated, none is created.
    t.post_lead(&key, &token, json!({"email": "ann@example.com"}))
        .await;
    pump_until(&t, 10, || hs.calls().len() == 2).await;
    assert_eq!(
        hs.calls()[1],
        format!("PATCH /crm/v3/objects/contacts/{}", c.id)
    );

    // lead.updated: the status goes to hs_lead_status on the same contact.
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/leads/{lead_id}"),
            Some(json!({"status": "OPEN"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    pump_until(&t, 10, || hs.calls().len() == 3).await;
    let contacts = hs.contacts();
    assert_eq!(contacts.len(), 1, "one contact: {contacts:?}");
    assert_eq!(contacts[0].properties["hs_lead_status"], "OPEN");
    assert_eq!(creates(&hs), 0);
    for d in deliveries(&t).await {
        assert_eq!(d["status"], "delivered", "{d}");
    }
}

#[tokio::test]
async fn a_phone_is_found_by_search_and_a_conflict_resolves_to_the_existing_contact() {
    let hs = HubSpot::start(TOKEN).await;
    let t = stack(&hs).await;
    destination(&t, json!({})).await;
    let known = hs.add_contact(&[("phone", "+14155550102"), ("firstname", "Old")]);
    let taken = hs.add_contact(&[("email", "bea@example.com")]);
    let (key, token) = t.create_key(json!({"name": "k"})).await;

    // A phone HubSpot knows: found by search and updated.
    t.post_lead(
        &key,
        &token,
        json!({"phone": "+1 415 555 0102", "name": "Cal Known"}),
    )
    .await;
    pump_until(&t, 10, || hs.calls().len() >= 2).await;
    assert_eq!(
        hs.calls(),
        [
            "POST /crm/v3/objects/contacts/search".to_owned(),
            format!("PATCH /crm/v3/objects/contacts/{known}")
        ]
    );

    // A new phone: searched, then created.
    t.post_lead(
        &key,
        &token,
        json!({"phone": "+1 415 555 0103", "name": "Bea New"}),
    )
    .await;
    pump_until(&t, 10, || hs.contacts().len() == 3).await;
    assert_eq!(creates(&hs), 1);
    let created = hs.contacts()[2].id.clone();

    // Bea comes back with an address HubSpot has on another contact: 409,
    // resolved to that contact, which is kept from then on.
    t.post_lead(
        &key,
        &token,
        json!({"phone": "+1 415 555 0103", "email": "bea@example.com"}),
    )
    .await;
    pump_until(&t, 10, || hs.calls().len() >= 6).await;
    let calls = hs.calls();
    assert_eq!(
        calls[4..],
        [
            format!("PATCH /crm/v3/objects/contacts/{created}"),
            format!("PATCH /crm/v3/objects/contacts/{taken}")
        ]
    );
    let contacts = hs.contacts();
    let bea = contacts.iter().find(|c| c.id == taken).unwrap();
    assert_eq!(bea.properties["phone"], "+14155550103");
    assert_eq!(bea.properties["firstname"], "Bea");
    assert_eq!(contacts.len(), 3, "no fourth contact");
}

#[tokio::test]
async fn a_429_waits_as_hubspot_says_and_a_lost_answer_makes_no_second_contact() {
    let hs = HubSpot::start(TOKEN).await;
    let t = stack(&hs).await;
    destination(&t, json!({})).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    hs.rate_limit(1, Some("2"));
    hs.lose_answers(1);
    t.post_lead(&key, &token, json!({"email": "dee@example.com"}))
        .await;
    pump_until(&t, 60, || hs.calls().len() >= 3).await;
    assert_eq!(hs.contacts().len(), 1, "{:?}", hs.contacts());
    let d = &deliveries(&t).await[0];
    assert_eq!(d["status"], "delivered", "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(codes, [&json!(429), &json!(502), &json!(200)]);
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{d}"
    );
    assert!(
        attempts[0]["response"]
            .as_str()
            .unwrap()
            .contains("TEN_SECONDLY_ROLLING"),
        "{d}"
    );
    let at = |i: usize| {
        leadpipe::rules::clock::parse_rfc3339(attempts[i]["at"].as_str().unwrap()).unwrap()
    };
    assert!(at(1) - at(0) >= 1_900, "Retry-After: 2 was honoured: {d}");
}

#[tokio::test]
async fn a_phone_only_create_whose_answer_is_lost_is_not_made_twice() {
    let hs = HubSpot::start(TOKEN).await;
    let t = stack(&hs).await;
    destination(&t, json!({"maxAttempts": 5})).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    hs.set_index_lag(Duration::from_secs(3));
    hs.lose_answers(1);
    t.post_lead(&key, &token, json!({"phone": "+1 415 555 0104"}))
        .await;
    let delivered = || async { deliveries(&t).await[0]["status"] == "delivered" };
    for _ in 0..150 {
        t.process_queue().await;
        t.deliver_queue().await;
        if delivered().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(delivered().await, "{:?}", deliveries(&t).await);
    assert_eq!(hs.contacts().len(), 1, "{:?}", hs.contacts());
    assert_eq!(creates(&hs), 1);
    let d = &deliveries(&t).await[0];
    let waited = d["attempts"][1]["error"].as_str().unwrap_or("");
    assert!(waited.contains("no second contact"), "{d}");
}

#[tokio::test]
async fn a_bad_token_is_logged_with_hubspots_answer_and_retried() {
    let hs = HubSpot::start(TOKEN).await;
    let t = stack(&hs).await;
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"kind": "hubspot", "maxAttempts": 2,
            "config": {"accessToken": "pat-na1-wrong"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "eve@example.com"}))
        .await;
    let dead = || async {
        deliveries(&t)
            .await
            .first()
            .is_some_and(|d| d["status"] == "dead")
    };
    for _ in 0..40 {
        t.process_queue().await;
        t.deliver_queue().await;
        if dead().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let d = &deliveries(&t).await[0];
    assert_eq!(d["status"], "dead", "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "retried per its schedule: {d}");
    for a in attempts {
        assert_eq!(a["statusCode"], 401);
        assert!(
            a["error"]
                .as_str()
                .unwrap()
                .contains("refused the access token"),
            "{a}"
        );
        assert!(
            a["response"]
                .as_str()
                .unwrap()
                .contains("INVALID_AUTHENTICATION"),
            "{a}"
        );
    }
    assert!(hs.contacts().is_empty());
}

#[tokio::test]
async fn test_config_checks_and_masking() {
    let hs = HubSpot::start(TOKEN).await;
    let t = stack(&hs).await;
    let sub = destination(&t, json!({})).await;
    let id = sub["id"].as_str().unwrap();
    assert_eq!(
        sub["mapping"],
        json!({"email": "email", "firstname": "firstName", "lastname": "lastName", "phone": "phone"})
    );
    let r = t
        .admin("POST", &format!("/v1/subscriptions/{id}/test"), None)
        .await
        .json();
    assert_eq!(r["delivered"], true, "{r}");
    assert_eq!(r["statusCode"], 200);
    assert_eq!(hs.contacts()[0].properties["email"], "alex@example.com");

    // Reads never show the token.
    for path in [
        "/v1/subscriptions".to_owned(),
        format!("/v1/subscriptions/{id}"),
    ] {
        let text = t.admin("GET", &path, None).await.text();
        assert!(!text.contains(TOKEN), "{text}");
    }
    // What a kind does not take, and what it needs, in field errors.
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"kind": "hubspot", "url": "https://x.example.com",
            "template": "{}", "config": {"token": "x"}, "mapping": {"email": "nope"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let fields: Vec<String> = r.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect();
    for f in [
        "url",
        "template",
        "config.token",
        "config.accessToken",
        "mapping.email",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"kind": "salesforce"})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["details"][0]["field"], "kind");
    // A kind is kept: a PATCH may change its config, not its kind.
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{id}"),
            Some(json!({"kind": "slack"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/subscriptions/{id}"),
            Some(json!({"config": {"accessToken": "pat-eu1-new"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["config"]["accessToken"], "pat-…********");
}

#[tokio::test]
async fn the_console_creates_a_hubspot_destination_with_a_mapping_and_a_filter_and_tests_it() {
    use crate::console::{get, post, sign_in};
    let hs = HubSpot::start(TOKEN).await;
    let t = stack(&hs).await;
    let (cookie, csrf) = sign_in(&t).await;
    let form = |op: Option<&'static str>| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("kind", "hubspot".to_owned()),
            ("hubspotToken", TOKEN.to_owned()),
            (
                "mapping",
                "email = email\nfirstname = firstName\ncompany = customFields.company".to_owned(),
            ),
            (
                "filter",
                r#"{"field": "customFields.country", "op": "eq", "value": "DE"}"#.to_owned(),
            ),
            ("events", "*".to_owned()),
            ("maxAttempts", "4".to_owned()),
            ("enabled", "1".to_owned()),
        ];
        if let Some(op) = op {
            f.push(("op", op.to_owned()));
        }
        f
    };
    // The preview shows the request a sample lead would make.
    let pairs = form(Some("preview"));
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&t, &cookie, "/console/destinations", &refs).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    assert!(
        page.contains("/crm/v3/objects/contacts/batch/upsert"),
        "{page}"
    );
    assert!(
        page.contains("&quot;company&quot;: &quot;Acme, Inc.&quot;"),
        "{page}"
    );
    assert!(!page.contains(TOKEN), "the token is not echoed");
    // Created, then Test: HubSpot answered 200.
    let pairs = form(None);
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&t, &cookie, "/console/destinations", &refs).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.text().contains("HubSpot"));
    assert!(!r.text().contains(TOKEN));
    let listed = t.admin("GET", "/v1/subscriptions", None).await.json();
    let sub = &listed["items"][0];
    assert_eq!(sub["kind"], "hubspot");
    assert_eq!(sub["mapping"]["company"], "customFields.company");
    assert_eq!(sub["filter"]["value"], "DE");
    let id = sub["id"].as_str().unwrap();
    let r = post(
        &t,
        &cookie,
        &format!("/console/destinations/{id}/test"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("id=\"test-status\">200<"), "{}", r.text());
    assert_eq!(hs.contacts()[0].properties["company"], "Acme, Inc.");
    // Editing keeps the token when the field is left empty.
    let page = get(&t, &cookie, &format!("/console/destinations/{id}")).await;
    assert!(page.text().contains("pat-…********"));
    let r = post(
        &t,
        &cookie,
        &format!("/console/destinations/{id}"),
        &[
            ("csrf", &csrf),
            ("kind", "hubspot"),
            ("hubspotToken", ""),
            ("mapping", "email = email"),
            ("filter", ""),
            ("events", "*"),
            ("retrySchedule", "5, 60"),
            ("enabled", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let sub = t
        .admin("GET", &format!("/v1/subscriptions/{id}"), None)
        .await
        .json();
    assert_eq!(sub["mapping"], json!({"email": "email"}));
    assert_eq!(sub["maxAttempts"], 3);
    let r = t
        .admin("POST", &format!("/v1/subscriptions/{id}/test"), None)
        .await
        .json();
    assert_eq!(r["delivered"], true, "the kept token still works: {r}");
}
