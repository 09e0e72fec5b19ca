//! The sweeper's events cursor (issue 25): a new event is on the events
//! listing only, not on the `RECEIVED` status listing, and the sweeper
//! reads that listing once, from its cursor, past the grace period.
//! These tests hold what the zero-loss argument of `shared/src/sweep/events.rs`
//! rests on: each stranded event queued once, a run's mark without its
//! send not skipped, and events that turn `RECEIVED` behind the cursor (a
//! replay, a late write) found by the status listing.

use leadpipe::model::{cursors, events};
use leadpipe::rules::clock;
use leadpipe::rules::ids::{EventId, IdKind, new_id_at};
use leadpipe_tests::TestStack;

fn grace_ms(t: &TestStack) -> i64 {
    t.app.config.sweep_grace.as_millis() as i64
}

async fn listed_received(t: &TestStack) -> usize {
    let r = t.admin("GET", "/v1/events?status=RECEIVED", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"].as_array().unwrap().len()
}

/// Each stranded event is queued once, by the run whose window it falls
/// in; the cursor then stands at the newest event read, and a later run
/// reads only what came after it.
#[tokio::test]
async fn each_stranded_event_is_queued_once_and_the_cursor_moves_past_it() {
    let t = TestStack::new().await;
    let first = t.put_unqueued_leadgen("7200001").await;
    // On no status listing, yet listed as RECEIVED (the filtered read).
    assert_eq!(listed_received(&t).await, 1);
    let raw = t.raw_table_dump().await;
    assert!(!raw.contains("EVENTS#RECEIVED"), "{raw}");

    let later = clock::now_ms() + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1);
    assert_eq!(
        cursors::events_checked_to(&t.scope)
            .await
            .unwrap()
            .as_deref(),
        Some(first.as_str())
    );
    // Its message is SQS's to keep now: the next run, even a grace later,
    // does not send it again.
    let second = t.put_unqueued_leadgen("7200002").await;
    let again = clock::now_ms() + 2 * grace_ms(&t) + 2_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, again).await.unwrap();
    assert_eq!(swept.events, 1, "only the event after the cursor");
    assert_eq!(
        cursors::events_checked_to(&t.scope)
            .await
            .unwrap()
            .as_deref(),
        Some(second.as_str())
    );
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 2);
}

/// A run that marked an event and failed before its send: the next run
/// within the grace period neither queues it nor moves the cursor past
/// it; a run past the mark's grace queues it.
#[tokio::test]
async fn an_event_marked_by_a_run_that_failed_is_not_skipped() {
    let t = TestStack::new().await;
    let stuck = t.put_unqueued_leadgen("7200003").await;
    let later = clock::now_ms() + grace_ms(&t) + 1_000;
    // The other run: its mark, then nothing (it died before sending).
    let marked = events::mark_swept(&t.scope, &stuck, later, later - grace_ms(&t))
        .await
        .unwrap();
    assert_eq!(marked, leadpipe::aws::store::Write::Done);
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 0, "marked within the grace");
    assert_eq!(cursors::events_checked_to(&t.scope).await.unwrap(), None);
    let past = later + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, past).await.unwrap();
    assert_eq!(swept.events, 1, "queued once the mark is old");
    assert_eq!(
        cursors::events_checked_to(&t.scope)
            .await
            .unwrap()
            .as_deref(),
        Some(stuck.as_str())
    );
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
}

/// A `FAILED` event reopened for a replay long after the cursor passed
/// it, its message lost: the `RECEIVED` status listing finds it.
#[tokio::test]
async fn a_reopened_event_behind_the_cursor_is_found() {
    let t = TestStack::new().await;
    let event = t.put_unqueued_leadgen("7200004").await;
    let at = clock::now_rfc3339();
    events::mark_failed(&t.scope, &event, "Graph said no", &at)
        .await
        .unwrap();
    let later = clock::now_ms() + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 0, "FAILED is an end");
    assert_eq!(
        cursors::events_checked_to(&t.scope)
            .await
            .unwrap()
            .as_deref(),
        Some(event.as_str()),
        "the cursor passed it"
    );
    // The replay's write, and no message (its send lost).
    events::reopen_failed(&t.scope, &event).await.unwrap();
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 0);
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1);
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
}

/// An event written under an id older than a minute (a Meta leadgen's
/// marker written long before its event) goes on the `RECEIVED` status
/// listing, where the sweeper finds it behind its cursor.
#[tokio::test]
async fn an_event_written_late_behind_the_cursor_is_found() {
    let t = TestStack::new().await;
    let recent = t.put_unqueued_leadgen("7200005").await;
    let later = clock::now_ms() + grace_ms(&t) + 1_000;
    assert_eq!(
        leadpipe::sweep::sweep_at(&t.app, later)
            .await
            .unwrap()
            .events,
        1
    );
    assert_eq!(
        cursors::events_checked_to(&t.scope)
            .await
            .unwrap()
            .as_deref(),
        Some(recent.as_str())
    );
    let old_ms = u64::try_from(clock::now_ms() - 10 * 60_000).unwrap();
    let old = EventId::parse(&new_id_at(IdKind::Event, old_ms)).unwrap();
    let leadgen = leadpipe::providers::meta::Leadgen {
        leadgen_id: "7200006".into(),
        page_id: None,
        form_id: None,
        ad_id: None,
        created_time: None,
    };
    let event =
        events::EventRecord::from_leadgen(t.scope.ws(), old.clone(), leadgen, clock::now_rfc3339());
    events::put_new(&t.scope, &event).await.unwrap();
    assert!(t.raw_table_dump().await.contains("EVENTS#RECEIVED"));
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1, "found behind the cursor");
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 2);
    // Ended: off the RECEIVED status listing.
    events::mark_failed(&t.scope, &old, "test", &clock::now_rfc3339())
        .await
        .unwrap();
    assert!(!t.raw_table_dump().await.contains("EVENTS#RECEIVED"));
}

/// The cursor's write, its answer lost: the SDK's retry finds the cursor
/// already there (a failed condition, read as done), the run succeeds, and
/// the next run starts past the event: it is queued once.
#[tokio::test]
async fn a_lost_answer_to_the_cursors_write_is_done_not_a_failure() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    let stuck = t.put_unqueued_leadgen("7200007").await;
    proxy.inject(
        "UpdateItem",
        Some("checkedTo"),
        1,
        leadpipe_tests::Fault::AfterForward {
            status: 500,
            body: r#"{"__type":"InternalFailure","message":"injected"}"#.into(),
        },
    );
    let later = clock::now_ms() + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(proxy.injected(), 1);
    assert_eq!(swept.events, 1);
    assert_eq!(
        cursors::events_checked_to(&t.scope)
            .await
            .unwrap()
            .as_deref(),
        Some(stuck.as_str())
    );
    let again = later + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, again).await.unwrap();
    assert_eq!(swept.events, 0, "past the cursor");
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
}

/// An event written before its status moved to `eventStatus` (its
/// listing entry still carries `status`): the sweeper finds it stuck from
/// the entry alone, the `RECEIVED` filter lists it, and its end moves it
/// over (`eventStatus` set, `status` removed).
#[tokio::test]
async fn an_event_with_its_status_in_the_older_attribute_is_swept_listed_and_moved_over() {
    let t = TestStack::new().await;
    let leadgen = leadpipe::providers::meta::Leadgen {
        leadgen_id: "7200008".into(),
        page_id: None,
        form_id: None,
        ad_id: None,
        created_time: None,
    };
    let event = events::EventRecord::from_leadgen(
        t.scope.ws(),
        EventId::generate(),
        leadgen,
        clock::now_rfc3339(),
    );
    let mut older = serde_json::to_value(&event).unwrap();
    let fields = older.as_object_mut().unwrap();
    let status = fields.remove(events::STATUS).unwrap();
    fields.insert(events::LEGACY_STATUS.into(), status);
    aws_sdk_dynamodb::Client::new(&t.sdk)
        .put_item()
        .table_name(&t.stack.table)
        .set_item(Some(leadpipe::aws::store::to_item(&older).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        events::get(&t.scope, event.id.as_str())
            .await
            .unwrap()
            .unwrap()
            .status,
        events::EventStatus::Received
    );
    assert_eq!(listed_received(&t).await, 1);
    let later = clock::now_ms() + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1, "found from its entry's status");
    events::mark_failed(&t.scope, &event.id, "test", &clock::now_rfc3339())
        .await
        .unwrap();
    let raw = t.raw_table_dump().await;
    assert!(raw.contains("\"eventStatus\": S(\"FAILED\")"), "{raw}");
    for old in ["RECEIVED", "FAILED"] {
        assert!(!raw.contains(&format!("\"status\": S(\"{old}\")")), "{raw}");
    }
    let r = t.admin("GET", "/v1/events?status=FAILED", None).await;
    assert_eq!(r.json()["items"][0]["id"], event.id.as_str());
    assert_eq!(listed_received(&t).await, 0);
}
