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

/// How far past an event's id a run must look to read it past the cursor:
/// the grace, and never less than a late write's bound (120 s), and a
/// second.
fn window_ms(t: &TestStack) -> i64 {
    grace_ms(t).max(120_000) + 1_000
}

/// Where the default workspace's events cursor stands.
async fn cursor_of(t: &TestStack) -> Option<String> {
    cursors::events_checked_to(&t.scope).await.unwrap()
}

/// An event id made `ago_ms` ago.
fn id_from(ago_ms: i64) -> EventId {
    let ms = u64::try_from(clock::now_ms() - ago_ms).unwrap();
    EventId::parse(&new_id_at(IdKind::Event, ms)).unwrap()
}

/// `item` written as it is, past the model (a layout older code wrote).
async fn put_raw(t: &TestStack, item: &serde_json::Value) {
    aws_sdk_dynamodb::Client::new(&t.sdk)
        .put_item()
        .table_name(&t.stack.table)
        .set_item(Some(leadpipe::aws::store::to_item(item).unwrap()))
        .send()
        .await
        .unwrap();
}

/// `event` with its status in `status`, as events were written before
/// `eventStatus`.
fn with_older_status(event: &events::EventRecord) -> serde_json::Value {
    let mut older = serde_json::to_value(event).unwrap();
    let fields = older.as_object_mut().unwrap();
    let status = fields.remove(events::STATUS).unwrap();
    fields.insert(events::LEGACY_STATUS.into(), status);
    older
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
    assert_eq!(cursor_of(&t).await.as_deref(), Some(first.as_str()));
    // Its message is SQS's to keep now: the next run, even a grace later,
    // does not send it again.
    let second = t.put_unqueued_leadgen("7200002").await;
    let again = clock::now_ms() + 2 * grace_ms(&t) + 2_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, again).await.unwrap();
    assert_eq!(swept.events, 1, "only the event after the cursor");
    assert_eq!(cursor_of(&t).await.as_deref(), Some(second.as_str()));
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
    let cursor = cursor_of(&t).await.unwrap();
    assert!(cursor.as_str() < stuck.as_str(), "held before it: {cursor}");
    let past = later + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, past).await.unwrap();
    assert_eq!(swept.events, 1, "queued once the mark is old");
    assert_eq!(cursor_of(&t).await.as_deref(), Some(stuck.as_str()));
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
        cursor_of(&t).await.as_deref(),
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
    assert_eq!(cursor_of(&t).await.as_deref(), Some(recent.as_str()));
    let old = id_from(10 * 60_000);
    let event = t.leadgen_event("7200006", old.clone());
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
    assert_eq!(cursor_of(&t).await.as_deref(), Some(stuck.as_str()));
    let again = later + grace_ms(&t) + 1_000;
    let swept = leadpipe::sweep::sweep_at(&t.app, again).await.unwrap();
    assert_eq!(swept.events, 0, "past the cursor");
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
}

/// An event written before its status moved to `eventStatus` (its
/// listing entry still carries `status`, and it is on the `RECEIVED`
/// status listing, as that code put every new event): the sweeper queues
/// it once, from the status listing, and its cursor passes it; the
/// `RECEIVED` filter lists it; its end moves it over (`eventStatus` set,
/// `status` removed).
#[tokio::test]
async fn an_event_with_its_status_in_the_older_attribute_is_swept_listed_and_moved_over() {
    let t = TestStack::new().await;
    let event = t.leadgen_event("7200008", EventId::generate());
    let mut older = with_older_status(&event);
    let fields = older.as_object_mut().unwrap();
    // As that code wrote it: on the RECEIVED status listing too.
    let listing = leadpipe::aws::table::Listing::events_by_status(t.scope.ws(), "RECEIVED");
    fields.insert(
        "gsi2pk".into(),
        listing.partition_for(event.id.as_str()).into(),
    );
    fields.insert("gsi2sk".into(), event.id.as_str().into());
    put_raw(&t, &older).await;
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
    assert_eq!(swept.events, 1, "queued once, from the status listing");
    assert_eq!(
        cursor_of(&t).await.as_deref(),
        Some(event.id.as_str()),
        "the cursor passed it"
    );
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

/// An event on both listings (written late under an id the cursor has not
/// reached yet) is the status listing's to queue: the cursor's scan passes
/// it instead of meeting that scan's mark and holding there.
#[tokio::test]
async fn an_event_on_both_listings_does_not_hold_the_cursor() {
    let t = TestStack::new().await;
    let late = id_from(5 * 60_000);
    let event = t.leadgen_event("7200009", late.clone());
    events::put_new(&t.scope, &event).await.unwrap();
    let later = clock::now_ms() + window_ms(&t);
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1, "queued once, by the status listing");
    let cursor = cursor_of(&t).await.unwrap();
    assert!(cursor.as_str() >= late.as_str(), "{cursor} passed {late}");
    // Still RECEIVED (its message waits in the queue): the next run's scan
    // starts past it, and a new stranded event is queued.
    let next = t.put_unqueued_leadgen("7200010").await;
    let again = clock::now_ms() + 2 * window_ms(&t);
    let swept = leadpipe::sweep::sweep_at(&t.app, again).await.unwrap();
    assert_eq!(
        swept.events, 2,
        "the late one again (a grace later), and the new one"
    );
    assert_eq!(cursor_of(&t).await.as_deref(), Some(next.as_str()));
}

/// A workspace's first run writes its cursor even when it finds nothing,
/// so a sweeper away for days afterwards still reads from there, not a
/// day back from its own time.
#[tokio::test]
async fn a_sweeper_away_for_days_reads_on_from_its_cursor() {
    let t = TestStack::new().await;
    let days_ago = clock::now_ms() - 3 * 86_400_000;
    leadpipe::sweep::sweep_at(&t.app, days_ago).await.unwrap();
    assert!(cursor_of(&t).await.is_some());
    // Written on time two days ago (so on no status listing), its message
    // lost, while no sweeper ran.
    let id = id_from(2 * 86_400_000);
    let event = t.leadgen_event("7200011", id.clone());
    put_raw(&t, &serde_json::to_value(&event).unwrap()).await;
    let swept = leadpipe::sweep::sweep_at(&t.app, clock::now_ms())
        .await
        .unwrap();
    assert_eq!(swept.events, 1);
    assert_eq!(cursor_of(&t).await.as_deref(), Some(id.as_str()));
}

/// `?status=RECEIVED` filters the items read: a page reads on (up to five
/// pages of the listing) until it is full; past that it may come back
/// empty with a cursor, and following the cursor finds the rest.
#[tokio::test]
async fn a_status_filter_reads_on_and_its_cursor_finds_the_rest() {
    let t = TestStack::new().await;
    let received = t.put_unqueued_leadgen("7200012").await;
    for n in 0..7 {
        let id = t.put_unqueued_leadgen(&format!("72000{}", 20 + n)).await;
        events::mark_failed(&t.scope, &id, "test", &clock::now_rfc3339())
            .await
            .unwrap();
    }
    let r = t
        .admin("GET", "/v1/events?status=RECEIVED&limit=1", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
    let cursor = page["nextCursor"]
        .as_str()
        .expect("a cursor past the 5 read");
    let r = t
        .admin(
            "GET",
            &format!("/v1/events?status=RECEIVED&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    let page = r.json();
    assert_eq!(page["items"][0]["id"], received.as_str(), "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    // Within five pages: found at once.
    let r = t
        .admin("GET", "/v1/events?status=RECEIVED&limit=3", None)
        .await;
    assert_eq!(r.json()["items"][0]["id"], received.as_str());
}

/// An event whose entry carries `status: RECEIVED` but which is on no
/// status listing (a layout between the two changes wrote such events):
/// the cursor's scan reads its item and queues it.
#[tokio::test]
async fn an_older_entry_saying_received_off_the_status_listing_is_swept() {
    let t = TestStack::new().await;
    let event = t.leadgen_event("7200030", EventId::generate());
    let older = with_older_status(&event);
    put_raw(&t, &older).await;
    let later = clock::now_ms() + window_ms(&t);
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1);
    assert_eq!(cursor_of(&t).await.as_deref(), Some(event.id.as_str()));
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
}

/// A `FAILED` event reopened before the cursor reached it (on both
/// listings): queued once, by the status listing, and the cursor passes
/// it.
#[tokio::test]
async fn a_reopened_event_ahead_of_the_cursor_is_queued_once_and_passed() {
    let t = TestStack::new().await;
    let event = t.put_unqueued_leadgen("7200031").await;
    events::mark_failed(&t.scope, &event, "Graph said no", &clock::now_rfc3339())
        .await
        .unwrap();
    events::reopen_failed(&t.scope, &event).await.unwrap();
    let later = clock::now_ms() + window_ms(&t);
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1, "once");
    assert_eq!(
        cursor_of(&t).await.as_deref(),
        Some(event.as_str()),
        "passed, not held"
    );
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
}

/// One workspace whose events cannot be read (every `Query` of its
/// listings refused) never keeps another's stuck event from being queued;
/// the run still fails, for the sweeper's error alarm.
#[tokio::test]
async fn a_workspace_that_cannot_be_read_never_stops_the_others() {
    let (t, proxy) = TestStack::behind_proxy(Default::default(), |_| {}).await;
    let r = t
        .admin(
            "POST",
            "/v1/workspaces",
            Some(serde_json::json!({"name": "broken"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let ws = r.json()["id"].as_str().unwrap().to_owned();
    let broken = t
        .app
        .scope(leadpipe::rules::ids::WorkspaceId::parse(&ws).unwrap());
    let theirs = t.leadgen_event("7200040", EventId::generate());
    let theirs = events::EventRecord {
        pk: leadpipe::aws::table::event(broken.ws(), theirs.id.as_str()).pk,
        gsi1pk: leadpipe::aws::table::Listing::events(broken.ws())
            .partition_for(theirs.id.as_str()),
        workspace: broken.ws().clone(),
        ..theirs
    };
    events::put_new(&broken, &theirs).await.unwrap();
    let ours = t.put_unqueued_leadgen("7200041").await;
    proxy.inject(
        "Query",
        Some(&format!("W#{ws}#")),
        1_000,
        leadpipe_tests::Fault::server_error(),
    );
    let later = clock::now_ms() + window_ms(&t);
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await;
    assert!(swept.is_err(), "the run fails: {swept:?}");
    assert!(proxy.injected() > 0);
    assert_eq!(
        cursor_of(&t).await.as_deref(),
        Some(ours.as_str()),
        "the default workspace's stuck event was queued"
    );
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 1);
    proxy.clear();
    let swept = leadpipe::sweep::sweep_at(&t.app, later).await.unwrap();
    assert_eq!(swept.events, 1, "the other's, once it can be read");
    assert_eq!(t.queue_depth(&t.stack.leads_queue_url).await, 2);
}
