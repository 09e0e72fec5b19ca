//! Pipedrive destinations against the stand-in (tests/support/pipedrive.rs):
//! a person and a lead per person, found again on repeats and updates; an
//! existing person found by search; lost answers retried without a second
//! person or lead; 429 waited out; a bad token logged and retried; config
//! checked and masked.

use std::time::Duration;

use leadpipe_tests::TestStack;
use leadpipe_tests::pipedrive::{LABELS, Pipedrive};
use serde_json::{Value, json};

const TOKEN: &str = "659c9fddb16335e48cc67114694b52074e812e03";

async fn stack(pd: &Pipedrive) -> TestStack {
    let url = pd.base_url.clone();
    TestStack::with_config(move |c| {
        c.allow_private_targets = true;
        c.pipedrive_api_url = Some(url);
        c.reengage_after = Duration::ZERO;
    })
    .await
}

async fn destination(t: &TestStack, token: &str, extra: Value) -> Value {
    let mut body =
        json!({"kind": "pipedrive", "config": {"apiToken": token, "companyDomain": "acme"}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = t.admin("POST", "/v1/subscriptions", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
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

async fn settle(t: &TestStack, rounds: usize) {
    for _ in 0..rounds {
        t.process_queue().await;
        t.deliver_queue().await;
        if deliveries(t).await.iter().all(|d| d["status"] != "pending") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_person_and_a_lead_per_person_through_new_repeat_and_update() {
    let pd = Pipedrive::start(TOKEN).await;
    let t = stack(&pd).await;
    let sub = destination(&t, TOKEN, json!({})).await;
    assert_eq!(
        sub["config"],
        json!({"apiToken": "659c…********", "companyDomain": "acme"})
    );
    assert!(!sub.to_string().contains(TOKEN));
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let evt = t
        .post_lead(
            &key,
            &token,
            json!({"name": "Ann Lee", "email": "ann@example.com",
                                         "phone": "+1 415 555 0110", "tags": ["hot", "webinar"]}),
        )
        .await;
    settle(&t, 20).await;
    let persons = pd.persons();
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0].name, "Ann Lee");
    assert_eq!(persons[0].emails, ["ann@example.com"]);
    assert_eq!(persons[0].phones, ["+14155550110"]);
    let leads = pd.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].title, "Ann Lee");
    assert_eq!(leads[0].person_id, persons[0].id);
    assert_eq!(
        leads[0].label_ids,
        [LABELS[0].0],
        "the tag hot names the label Hot"
    );
    // Not a search by email first: the request carried the token in a header.
    assert!(pd.calls().contains(&"POST /v1/persons".to_owned()));

    // The same person again, then an edit: the kept person and lead.
    t.post_lead(&key, &token, json!({"email": "ann@example.com"}))
        .await;
    settle(&t, 20).await;
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/leads/{lead_id}"),
            Some(json!({"tags": ["hot", "cold"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    settle(&t, 20).await;
    assert_eq!(pd.persons().len(), 1, "no second person");
    let leads = pd.leads();
    assert_eq!(leads.len(), 1, "no second lead");
    assert_eq!(leads[0].label_ids, [LABELS[0].0, LABELS[2].0]);
    let calls = pd.calls();
    assert_eq!(
        calls.iter().filter(|c| *c == "POST /v1/persons").count(),
        1,
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| *c == "POST /v1/leads").count(),
        1,
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .filter(|c| c.starts_with("PATCH /v1/leads/"))
            .count()
            >= 2,
        "{calls:?}"
    );
    for d in deliveries(&t).await {
        assert_eq!(d["status"], "delivered", "{d}");
    }
}

#[tokio::test]
async fn a_known_person_is_found_and_lost_answers_make_no_second_person_or_lead() {
    let pd = Pipedrive::start(TOKEN).await;
    let t = stack(&pd).await;
    destination(&t, TOKEN, json!({})).await;
    let known = pd.add_person("Bea Known", "bea@example.com");
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(
        &key,
        &token,
        json!({"name": "Bea Known", "email": "bea@example.com"}),
    )
    .await;
    settle(&t, 20).await;
    assert_eq!(pd.persons().len(), 1);
    assert_eq!(pd.leads()[0].person_id, known);

    // A new person whose create and whose lead's create both lose their answers.
    pd.lose_answer("POST /v1/persons");
    pd.lose_answer("POST /v1/leads");
    t.post_lead(
        &key,
        &token,
        json!({"name": "Cal New", "email": "cal@example.com"}),
    )
    .await;
    settle(&t, 60).await;
    let persons = pd.persons();
    assert_eq!(persons.len(), 2, "{persons:?}");
    let leads: Vec<_> = pd
        .leads()
        .into_iter()
        .filter(|l| l.person_id == persons[1].id)
        .collect();
    assert_eq!(leads.len(), 1, "{leads:?}");
    let d = deliveries(&t)
        .await
        .into_iter()
        .find(|d| d["attempts"].as_array().unwrap().len() > 1)
        .unwrap();
    assert_eq!(d["status"], "delivered", "{d}");
    let codes: Vec<&Value> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["statusCode"])
        .collect();
    assert_eq!(codes, [&json!(502), &json!(502), &json!(200)], "{d}");
}

#[tokio::test]
async fn a_429_waits_and_a_bad_token_is_logged_and_retried() {
    let pd = Pipedrive::start(TOKEN).await;
    let t = stack(&pd).await;
    destination(&t, TOKEN, json!({})).await;
    destination(&t, "0000bad", json!({"maxAttempts": 2})).await;
    pd.rate_limit(1);
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "dee@example.com"}))
        .await;
    settle(&t, 60).await;
    let all = deliveries(&t).await;
    let (good, bad): (Vec<_>, Vec<_>) = all.iter().partition(|d| {
        d["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["statusCode"] != 401)
    });
    let bad = bad[0];
    assert_eq!(bad["status"], "dead", "{bad}");
    assert_eq!(bad["attempts"].as_array().unwrap().len(), 2);
    for a in bad["attempts"].as_array().unwrap() {
        assert!(
            a["error"]
                .as_str()
                .unwrap()
                .contains("refused the API token"),
            "{a}"
        );
        assert!(
            a["response"]
                .as_str()
                .unwrap()
                .contains("unauthorized access"),
            "{a}"
        );
    }
    let good = good[0];
    assert_eq!(good["status"], "delivered", "{good}");
    let attempts = good["attempts"].as_array().unwrap();
    // The stand-in checks the token first: the 429 went to the good one.
    assert_eq!(attempts[0]["statusCode"], 429, "{good}");
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{good}"
    );
    let at = |i: usize| {
        leadpipe::rules::clock::parse_rfc3339(attempts[i]["at"].as_str().unwrap()).unwrap()
    };
    assert!(
        at(1) - at(0) >= 1_900,
        "x-ratelimit-reset: 2 was honoured: {good}"
    );
    assert_eq!(pd.persons().len(), 1);
    assert_eq!(pd.leads().len(), 1);
}

#[tokio::test]
async fn config_is_checked() {
    let pd = Pipedrive::start(TOKEN).await;
    let t = stack(&pd).await;
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"kind": "pipedrive",
            "config": {"apiToken": "abc def", "companyDomain": "acme.evil.com"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let fields: Vec<String> = r.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["config.apiToken", "config.companyDomain"]);
}
