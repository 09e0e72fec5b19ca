//! The console's overview, event page and lead history against the
//! emulator: the dashboard counts what happened (leads by source, a
//! destination's deliveries, FAILED events), an event page shows the
//! submission and request with every credential masked, and a merge of a
//! second submission is in the lead's history with what it changed — and
//! goes with the lead when it is erased.

use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::json;

use crate::console::{get, sign_in};

#[tokio::test]
async fn overview_event_page_and_merge_history() {
    // The receiver is on 127.0.0.1.
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let (cookie, _csrf) = sign_in(&t).await;
    let crm = ScriptedServer::start().await;
    crm.script("/hook", &[(200, "{}"), (200, "{}"), (200, "{}")]);
    let (key, token) = t.create_key(json!({"name": "Spring landing"})).await;
    let r = t
        .admin(
            "POST",
            "/v1/subscriptions",
            Some(json!({"url": format!("{}/hook", crm.base_url)})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sub = r.json()["id"].as_str().unwrap().to_owned();

    // A lead whose submission carries a credential in a custom field.
    let first = t
        .post_lead(
            &key,
            &token,
            json!({"name": "Dana Doe", "email": "dana@example.com", "api_key": "sk_live_not_for_eyes"}),
        )
        .await;
    t.process_queue().await;
    t.deliver_queue().await;

    // The API's event: the submission, its secret and the token masked.
    let e = t.admin("GET", &format!("/v1/events/{first}"), None).await;
    assert_eq!(e.status, 200);
    let text = e.text();
    assert!(!text.contains("sk_live_not_for_eyes"), "{text}");
    assert!(!text.contains(&token), "{text}");
    let ev = e.json();
    assert_eq!(ev["submission"]["email"], "dana@example.com");
    let headers = ev["request"]["headers"].as_array().unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "x-webhook-token" && h[1] == leadpipe::rules::redact::MASK),
        "{headers:?}"
    );
    assert!(headers.iter().any(|h| h[0] == "content-type"));
    // The list stays lean: no submissions in it.
    let list = t.admin("GET", "/v1/events", None).await.json();
    assert!(list["items"][0].get("submission").is_none());

    // The console's event page.
    let page = get(&t, &cookie, &format!("/console/events/{first}")).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(html.contains("id=\"submission\""));
    assert!(html.contains("dana@example.com"));
    assert!(html.contains("x-webhook-token"));
    assert!(!html.contains("sk_live_not_for_eyes") && !html.contains(&token));
    assert!(html.contains("PROCESSED"));
    // The events list links to it.
    let list = get(&t, &cookie, "/console/events").await.text();
    assert!(list.contains(&format!("href=\"/console/events/{first}\"")));
    assert!(list.contains("data-live="), "the list refreshes itself");

    // The same person again, with a phone and a company: a merge.
    let second = t
        .post_lead(
            &key,
            &token,
            json!({"email": "dana@example.com", "phone": "+1 415 555 0123", "company": "Acme"}),
        )
        .await;
    t.process_queue().await;
    t.deliver_queue().await;
    let lead_id = t.event(&second).await["leadId"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = get(&t, &cookie, &format!("/console/leads/{lead_id}")).await;
    assert_eq!(lead.status, 200);
    let html = lead.text();
    assert!(html.contains("data-what=\"merged\""), "{html}");
    assert!(html.contains(&format!("href=\"/console/events/{second}\"")));
    assert!(html.contains("company: — → Acme"), "{html}");
    assert!(html.contains("phone: — → +14155550123"), "{html}");

    // The overview: leads by source (the key's name), the destination's
    // deliveries, nothing FAILED.
    let home = get(&t, &cookie, "/console").await;
    assert_eq!(home.status, 200, "{}", home.text());
    let html = home.text();
    assert!(html.contains("id=\"leads-7\""));
    assert!(html.contains("data-source=\"Spring landing\""), "{html}");
    assert!(
        html.contains("<strong id=\"leads-30\">1</strong>"),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/console/destinations/{sub}\"")));
    assert!(html.contains("100.0 %"), "{html}");
    assert!(html.contains("href=\"/console/events?status=FAILED\""));
    assert!(html.contains("href=\"/console/deliveries?status=dead\""));
    assert!(html.len() <= 60 * 1024);

    // The icon, without a session.
    let icon = t.call("GET", "/favicon.ico", &[], Vec::new()).await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(icon.text().starts_with("<svg"));

    // Erasure takes the merges (they name the phone and the company).
    let r = t
        .admin("POST", &format!("/v1/leads/{lead_id}/erase"), None)
        .await;
    assert!(r.status == 200 || r.status == 202, "{}", r.text());
    let dump = t.raw_table_dump().await;
    assert!(!dump.contains("MERGE#"), "a merge outlived the erasure");
    assert!(!dump.contains("Acme"));
}
