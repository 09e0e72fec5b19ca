//! Google Sheets destinations against the stand-in (tests/support/google.rs):
//! an RS256 service-account JWT exchanged for a cached token; one row per
//! lead under a header row, rewritten on repeats and updates; a lost
//! append's retry adds no second row; 429 waited out; an expired token
//! replaced in the same attempt; a bad key logged and retried.

use std::time::Duration;

use leadpipe_tests::TestStack;
use leadpipe_tests::google::{Google, key_file, new_key};
use serde_json::{Value, json};

const SHEET: &str = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";
const TAB: &str = "Leads 2026";

async fn setup(email: &str, max_attempts: u32) -> (Google, TestStack, Value) {
    let g = Google::start(SHEET, TAB).await;
    let (pem, public) = new_key();
    g.register(email, public);
    let (oauth, sheets) = (format!("{}/token", g.base_url), g.base_url.clone());
    let t = TestStack::with_config(move |c| {
        c.google_oauth_url = oauth;
        c.sheets_api_url = sheets;
        c.reengage_after = Duration::ZERO;
    })
    .await;
    let r = t
        .admin("POST", "/v1/subscriptions", Some(json!({"kind": "google_sheets", "maxAttempts": max_attempts,
            "config": {"serviceAccount": key_file(email, &pem), "spreadsheetId": SHEET, "sheet": TAB}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sub = r.json();
    assert!(
        !sub.to_string().contains("PRIVATE KEY"),
        "the key is masked: {sub}"
    );
    assert_eq!(sub["config"]["serviceAccount"]["private_key"], "********");
    (g, t, sub)
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
async fn one_row_per_lead_under_a_header_with_a_cached_token() {
    let (g, t, _) = setup("rows@leadpipe-test.iam.gserviceaccount.com", 4).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let evt = t
        .post_lead(
            &key,
            &token,
            json!({"name": "Ann Lee", "email": "ann@example.com", "tags": ["a", "b"]}),
        )
        .await;
    settle(&t, 20).await;
    t.post_lead(
        &key,
        &token,
        json!({"name": "Bo", "email": "bo@example.com"}),
    )
    .await;
    settle(&t, 20).await;
    let rows = g.rows();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0][0], "Leadpipe ID");
    assert_eq!(
        &rows[0][1..],
        [
            "Created",
            "Email",
            "First name",
            "Last name",
            "Phone",
            "Source",
            "Status",
            "Tags"
        ]
    );
    let lead_id = t.event(&evt).await["leadId"].as_str().unwrap().to_owned();
    assert_eq!(rows[1][0], lead_id);
    assert_eq!(rows[1][2], "ann@example.com");
    assert_eq!(rows[1][8], "a, b");

    // The same person again, then an edit: the row is rewritten, not added.
    t.post_lead(&key, &token, json!({"email": "ann@example.com"}))
        .await;
    settle(&t, 20).await;
    let r = t
        .admin(
            "PATCH",
            &format!("/v1/leads/{lead_id}"),
            Some(json!({"status": "qualified"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    settle(&t, 20).await;
    let rows = g.rows();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[1][7], "qualified");
    assert_eq!(g.token_requests(), 1, "one token, cached: {:?}", g.calls());
    for d in deliveries(&t).await {
        assert_eq!(d["status"], "delivered", "{d}");
        assert!(
            !d.to_string().contains("ya29."),
            "no token in the attempt log: {d}"
        );
    }
}

#[tokio::test]
async fn a_lost_append_adds_no_second_row_and_429_and_an_expired_token_are_handled() {
    let (g, t, _) = setup("faults@leadpipe-test.iam.gserviceaccount.com", 5).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    g.lose_next_append();
    t.post_lead(&key, &token, json!({"email": "cy@example.com"}))
        .await;
    settle(&t, 40).await;
    assert_eq!(g.rows().len(), 2, "header and one row: {:?}", g.rows());
    let d = &deliveries(&t).await[0];
    let codes: Vec<&Value> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["statusCode"])
        .collect();
    assert_eq!(codes, [&json!(502), &json!(200)], "{d}");

    // 429, waited out as Retry-After says.
    g.rate_limit(1);
    t.post_lead(&key, &token, json!({"email": "di@example.com"}))
        .await;
    settle(&t, 40).await;
    assert_eq!(g.rows().len(), 3);
    let d = deliveries(&t)
        .await
        .into_iter()
        .find(|d| d["attempts"][0]["statusCode"] == 429)
        .expect("a 429");
    assert_eq!(d["status"], "delivered", "{d}");
    let at = |i: usize| {
        leadpipe::rules::clock::parse_rfc3339(d["attempts"][i]["at"].as_str().unwrap()).unwrap()
    };
    assert!(at(1) - at(0) >= 1_900, "{d}");

    // A token that expired early: a new one, in the same attempt.
    g.expire_tokens();
    let before = g.token_requests();
    t.post_lead(&key, &token, json!({"email": "ed@example.com"}))
        .await;
    settle(&t, 20).await;
    assert_eq!(g.rows().len(), 4);
    assert_eq!(g.token_requests(), before + 1);
    let d = deliveries(&t)
        .await
        .into_iter()
        .find(|d| {
            d["attempts"][0]["response"]
                .as_str()
                .unwrap_or("")
                .contains("401")
        })
        .expect("a 401 then a new token");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["status"], "delivered");
}

#[tokio::test]
async fn a_key_google_does_not_know_is_logged_and_retried() {
    let g = Google::start(SHEET, TAB).await;
    let (pem, _) = new_key();
    let (oauth, sheets) = (format!("{}/token", g.base_url), g.base_url.clone());
    let t = TestStack::with_config(move |c| {
        c.google_oauth_url = oauth;
        c.sheets_api_url = sheets;
    })
    .await;
    let r = t
        .admin("POST", "/v1/subscriptions", Some(json!({"kind": "google_sheets", "maxAttempts": 2,
            "config": {"serviceAccount": key_file("stranger@x.iam.gserviceaccount.com", &pem).to_string(),
                       "spreadsheetId": SHEET}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["config"]["sheet"], "Sheet1");
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.post_lead(&key, &token, json!({"email": "fi@example.com"}))
        .await;
    settle(&t, 30).await;
    let d = &deliveries(&t).await[0];
    assert_eq!(d["status"], "dead", "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    for a in attempts {
        assert_eq!(a["statusCode"], 400);
        assert!(
            a["response"]
                .as_str()
                .unwrap()
                .contains("Invalid JWT Signature"),
            "{a}"
        );
    }
    assert!(g.rows().is_empty());

    // A key that is not one is refused at save.
    let r = t
        .admin("POST", "/v1/subscriptions", Some(json!({"kind": "google_sheets",
            "config": {"serviceAccount": {"type": "service_account", "client_email": "a@b", "private_key": "nope"},
                       "spreadsheetId": "short"}})))
        .await;
    assert_eq!(r.status, 422);
    let fields: Vec<String> = r.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["config.serviceAccount", "config.spreadsheetId"]);
}
