//! De-duplication without transactions: every place a try can stop, and
//! the races the single-item writes must win (see the argument at the top
//! of `shared/src/process/dedupe.rs`). Each stop is a real fault injected
//! between two writes, and the retry is the same call SQS would make.

use leadpipe::aws::batch::Outcome;
use leadpipe::model::events::{self, EventStatus};
use leadpipe::model::history::{self, LeadEventType};
use leadpipe::model::leads::{self, Identity};
use leadpipe::process;
use leadpipe_tests::{Fault, FaultProxy, TestStack};
use serde_json::{Value, json};

async fn stack() -> (TestStack, FaultProxy, String, String) {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    (t, proxy, key, token)
}

/// Enough faults to outlast the SDK's own retries of one call.
const STOPS: usize = 10;

async fn identity(t: &TestStack, email: &str) -> Option<Identity> {
    let k =
        leadpipe::aws::table::email_identity(&leadpipe::rules::ids::WorkspaceId::default(), email);
    t.app.store.get(&k.pk, &k.sk).await.unwrap()
}

async fn leads_count(t: &TestStack) -> usize {
    t.admin("GET", "/v1/leads?limit=100", None).await.json()["items"]
        .as_array()
        .unwrap()
        .len()
}

fn lead_id(e: &Value) -> String {
    e["leadId"]
        .as_str()
        .unwrap_or_else(|| panic!("{e}"))
        .to_owned()
}

/// A lead for `email`, last seen forty days ago: its id and that time.
async fn silent_lead(t: &TestStack, key: &str, token: &str, email: &str) -> (String, String) {
    let first = t.post_lead(key, token, json!({ "email": email })).await;
    assert_eq!(
        process::process_event(&t.scope, &first, 1).await,
        Outcome::Done
    );
    let id = lead_id(&t.event(&first).await);
    let mut lead = leads::get(&t.scope, &id).await.unwrap().unwrap();
    let old = leadpipe::rules::clock::rfc3339(leadpipe::rules::clock::now_ms() - 40 * 86_400_000);
    lead.last_seen_at = old.clone();
    t.app.store.put(&lead).await.unwrap();
    (id, old)
}

/// A try stopped after claiming the address, before its lead existed: a
/// second event for the same person waits, the first event's retry
/// creates the lead, and the second then joins it.
#[tokio::test]
async fn a_try_stopped_after_its_claims_is_waited_for_then_joined() {
    let (t, proxy, key, token) = stack().await;
    let first = t
        .post_lead(
            &key,
            &token,
            json!({"email": "half@example.com", "phone": "+14155550100"}),
        )
        .await;
    let second = t
        .post_lead(
            &key,
            &token,
            json!({"email": "half@example.com", "firstName": "Ann"}),
        )
        .await;
    proxy.inject(
        "PutItem",
        Some(r#""sk":{"S":"LEAD"}"#),
        STOPS,
        Fault::server_error(),
    );
    assert_ne!(
        process::process_event(&t.scope, &first, 1).await,
        Outcome::Done
    );
    proxy.clear();
    let claim = identity(&t, "half@example.com").await.expect("claimed");
    assert_eq!(
        claim.claimed_by.as_ref().map(|e| e.as_str()),
        Some(first.as_str())
    );
    assert!(
        leads::get(&t.scope, claim.lead_id.as_str())
            .await
            .unwrap()
            .is_none()
    );

    // The claimer is still RECEIVED: the second event hands itself back.
    assert_ne!(
        process::process_event(&t.scope, &second, 1).await,
        Outcome::Done
    );
    assert_eq!(t.event(&second).await["status"], "RECEIVED");

    assert_eq!(
        process::process_event(&t.scope, &first, 2).await,
        Outcome::Done
    );
    assert_eq!(
        process::process_event(&t.scope, &second, 2).await,
        Outcome::Done
    );
    let (a, b) = (t.event(&first).await, t.event(&second).await);
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("PROCESSED"), Some("DUPLICATE"))
    );
    assert_eq!(lead_id(&a), lead_id(&b));
    assert_eq!(
        lead_id(&a),
        claim.lead_id.as_str(),
        "the retry created the claimed lead"
    );
    assert_eq!(leads_count(&t).await, 1);
    let lead = leads::get(&t.scope, &lead_id(&a)).await.unwrap().unwrap();
    assert_eq!(lead.first_name.as_deref(), Some("Ann"));
}

/// A claim whose event ended without its lead (the lead could not be
/// stored) is removed by the next event for that address.
#[tokio::test]
async fn a_claim_left_by_a_failed_event_is_removed() {
    let (t, proxy, key, token) = stack().await;
    let first = t
        .post_lead(&key, &token, json!({"email": "stale@example.com"}))
        .await;
    proxy.inject(
        "PutItem",
        Some(r#""sk":{"S":"LEAD"}"#),
        1,
        Fault::ddb_validation(),
    );
    assert_eq!(
        process::process_event(&t.scope, &first, 1).await,
        Outcome::Done
    );
    assert_eq!(t.event(&first).await["status"], "FAILED");
    let stale = identity(&t, "stale@example.com")
        .await
        .expect("left behind");

    let second = t
        .post_lead(&key, &token, json!({"email": "stale@example.com"}))
        .await;
    assert_eq!(
        process::process_event(&t.scope, &second, 1).await,
        Outcome::Done
    );
    let e = t.event(&second).await;
    assert_eq!(e["status"], "PROCESSED");
    assert_ne!(lead_id(&e), stale.lead_id.as_str());
    let now = identity(&t, "stale@example.com").await.unwrap();
    assert_eq!(now.lead_id.as_str(), lead_id(&e));
    assert_eq!(leads_count(&t).await, 1);
}

/// A merge stopped after the lead was written, before the event ended: the
/// retry changes nothing more, and the re-engagement it decided is
/// recorded exactly once.
#[tokio::test]
async fn a_merge_stopped_before_the_event_ended_is_not_applied_twice() {
    let (t, proxy, key, token) = stack().await;
    let (id, old) = silent_lead(&t, &key, &token, "back@example.com").await;

    let second = t
        .post_lead(
            &key,
            &token,
            json!({"email": "back@example.com", "tags": ["spring"]}),
        )
        .await;
    proxy.inject(
        "UpdateItem",
        Some(r#"{"S":"DUPLICATE"}"#),
        STOPS,
        Fault::server_error(),
    );
    assert_ne!(
        process::process_event(&t.scope, &second, 1).await,
        Outcome::Done
    );
    proxy.clear();
    let merged = leads::get(&t.scope, &id).await.unwrap().unwrap();
    assert_eq!(merged.tags, vec!["spring"]);
    assert_eq!(t.event(&second).await["status"], "RECEIVED");

    assert_eq!(
        process::process_event(&t.scope, &second, 2).await,
        Outcome::Done
    );
    assert_eq!(t.event(&second).await["status"], "DUPLICATE");
    let after = leads::get(&t.scope, &id).await.unwrap().unwrap();
    assert_eq!(after.version, merged.version, "the retry rewrote the lead");
    let kinds: Vec<_> = history::history(&t.scope, &id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.kind, h.previous_seen_at))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (LeadEventType::Created, None),
            (LeadEventType::ReEngaged, Some(old))
        ]
    );
}

/// Two contacts racing in after a long silence: one re-engagement.
#[tokio::test]
async fn racing_contacts_after_a_silence_re_engage_once() {
    let (t, _proxy, key, token) = stack().await;
    let (id, _) = silent_lead(&t, &key, &token, "twice@example.com").await;
    // A double-clicked form: several posts of the same person at once.
    let mut racing = Vec::new();
    for _ in 0..5 {
        racing.push(
            t.post_lead(&key, &token, json!({"email": "twice@example.com"}))
                .await,
        );
    }
    let outcomes = futures::future::join_all(
        racing
            .iter()
            .map(|e| process::process_event(&t.scope, e, 1)),
    )
    .await;
    for (e, o) in racing.iter().zip(outcomes) {
        if o != Outcome::Done {
            assert_eq!(process::process_event(&t.scope, e, 2).await, Outcome::Done);
        }
        let ev = events::get(&t.scope, e).await.unwrap().unwrap();
        assert_eq!(ev.status, EventStatus::Duplicate);
    }
    let re_engaged = history::history(&t.scope, &id)
        .await
        .unwrap()
        .into_iter()
        .filter(|h| h.kind == LeadEventType::ReEngaged)
        .count();
    assert_eq!(re_engaged, 1);
}

/// The same event resolved by two consumers at once (SQS delivered its
/// message twice): one lead, one `lead.created`, the event ended once.
#[tokio::test]
async fn one_event_on_two_consumers_at_once_makes_one_lead() {
    let (t, _proxy, key, token) = stack().await;
    for round in 0..5 {
        let e = t
            .post_lead(&key, &token, json!({"email": format!("dup{round}@example.com"), "phone": format!("+1415555020{round}")}))
            .await;
        let (a, b) = tokio::join!(
            process::process_event(&t.scope, &e, 1),
            process::process_event(&t.scope, &e, 1)
        );
        for o in [a, b] {
            if o != Outcome::Done {
                assert_eq!(process::process_event(&t.scope, &e, 2).await, Outcome::Done);
            }
        }
        let ev = t.event(&e).await;
        assert_eq!(ev["status"], "PROCESSED");
        let created = history::history(&t.scope, &lead_id(&ev)).await.unwrap();
        assert_eq!(created.len(), 1);
    }
    assert_eq!(leads_count(&t).await, 5);
}

/// The event's end found it no longer `RECEIVED` (ingest removed it after a
/// failed enqueue, or another consumer ended it) after this try wrote its
/// lead: the lead stands, so its `lead.created` is still sent.
#[tokio::test]
async fn a_lead_whose_event_went_meanwhile_is_still_announced() {
    let (t, proxy) =
        TestStack::behind_proxy(Default::default(), |c| c.allow_private_targets = true).await;
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    let crm = leadpipe_tests::ScriptedServer::start().await;
    crm.script("/hook", &[(200, "{}")]);
    t.subscribe(&format!("{}/hook", crm.base_url)).await;
    let e = t
        .post_lead(&key, &token, json!({"email": "went@example.com"}))
        .await;
    t.drain_leads_queue().await;
    proxy.inject(
        "UpdateItem",
        Some(r#"{"S":"PROCESSED"}"#),
        1,
        Fault::ddb_condition_failed(),
    );
    assert_eq!(process::process_event(&t.scope, &e, 1).await, Outcome::Done);
    assert_eq!(proxy.injected(), 1);
    t.deliver_queue().await;
    assert_eq!(
        crm.requests_to("/hook").len(),
        1,
        "lead.created was not sent"
    );
}

/// A claim looks stale (its lead not there when read) but its event wrote
/// the lead and ended before its status was read: the lead is read again
/// and found, and the claim is not removed — no second lead for the
/// address. The first read is made to miss the lead by the fault proxy.
#[tokio::test]
async fn a_claim_whose_lead_arrived_meanwhile_is_not_removed() {
    let (t, proxy, key, token) = stack().await;
    let first = t
        .post_lead(&key, &token, json!({"email": "meanwhile@example.com"}))
        .await;
    assert_eq!(
        process::process_event(&t.scope, &first, 1).await,
        Outcome::Done
    );
    let lead = lead_id(&t.event(&first).await);
    let second = t
        .post_lead(&key, &token, json!({"email": "meanwhile@example.com"}))
        .await;
    let absent = Fault::Reply {
        status: 200,
        body: "{}".into(),
    };
    proxy.inject("GetItem", Some(&format!("LEAD#{lead}")), 1, absent);
    assert_eq!(
        process::process_event(&t.scope, &second, 1).await,
        Outcome::Done
    );
    assert_eq!(proxy.injected(), 1);
    let e = t.event(&second).await;
    assert_eq!(e["status"], "DUPLICATE", "{e}");
    assert_eq!(lead_id(&e), lead);
    assert_eq!(leads_count(&t).await, 1);
    assert_eq!(
        identity(&t, "meanwhile@example.com")
            .await
            .unwrap()
            .lead_id
            .as_str(),
        lead
    );
}
