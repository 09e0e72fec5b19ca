//! Upgrading a deployment in place: a table of the first layout (indexes
//! `gsi1`/`gsi2` projecting every attribute, no work index), holding data,
//! gets the current indexes from `bootstrap` (DynamoDB fills them from the
//! items already there), the backfill puts its pending deliveries on the
//! work index, and every listing reads the old data (in the unsharded
//! partitions the first layout wrote) beside the new (in shards).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType,
};
use leadpipe::aws::table::{GSIS, INDEX_INCLUDES, LEGACY_GSI_NAMES};
use leadpipe_local::bootstrap::{self as resources, SecretOverrides, StackNames};
use leadpipe_tests::{ScriptedServer, TestStack};
use serde_json::json;

async fn index_names(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Vec<(String, String)> {
    let t = ddb.describe_table().table_name(table).send().await.unwrap();
    let mut names: Vec<(String, String)> = t
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let p = g.projection().unwrap();
            let mut kept = p.non_key_attributes().to_vec();
            kept.sort();
            (
                g.index_name().unwrap().to_owned(),
                format!("{:?} {}", p.projection_type().unwrap(), kept.join(",")),
            )
        })
        .collect();
    names.sort();
    names
}

/// Turns the table back into the first layout: the old indexes, projecting
/// everything, none of the current ones, and no delivery on the work index.
async fn downgrade(ddb: &aws_sdk_dynamodb::Client, table: &str) {
    let key = |a: &str, k| {
        KeySchemaElement::builder()
            .attribute_name(a)
            .key_type(k)
            .build()
            .unwrap()
    };
    let attr = |a: &str| {
        AttributeDefinition::builder()
            .attribute_name(a)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    for (legacy, gsi) in LEGACY_GSI_NAMES.iter().zip(GSIS) {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(*legacy)
            .key_schema(key(gsi.pk, KeyType::Hash))
            .key_schema(key(gsi.sk, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .unwrap();
        ddb.update_table()
            .table_name(table)
            .attribute_definitions(attr(gsi.pk))
            .attribute_definitions(attr(gsi.sk))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .unwrap();
    }
    for gsi in GSIS {
        let delete = DeleteGlobalSecondaryIndexAction::builder()
            .index_name(gsi.name)
            .build()
            .unwrap();
        ddb.update_table()
            .table_name(table)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().delete(delete).build(),
            )
            .send()
            .await
            .unwrap();
    }
    // What the first layout's code wrote: one listing partition each
    // (`EVENTS`, `LEADS#status#new`, … without a shard), and deliveries
    // without work-index keys.
    let items = ddb.scan().table_name(table).send().await.unwrap();
    for item in items.items() {
        let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
            (item.get("pk"), item.get("sk"))
        else {
            continue;
        };
        for gsi in ["gsi1pk", "gsi2pk"] {
            if let Some(AttributeValue::S(partition)) = item.get(gsi) {
                ddb.update_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S(pk.clone()))
                    .key("sk", AttributeValue::S(sk.clone()))
                    .update_expression("SET #g = :g")
                    .expression_attribute_names("#g", gsi)
                    .expression_attribute_values(":g", AttributeValue::S(unsharded(partition)))
                    .send()
                    .await
                    .unwrap();
            }
        }
        if sk == "DLV" {
            ddb.update_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk.clone()))
                .key("sk", AttributeValue::S(sk.clone()))
                .update_expression("REMOVE gsi3pk, gsi3sk")
                .send()
                .await
                .unwrap();
        }
    }
}

/// A listing partition as the first layout wrote it: `LEADS#s3#status#new`
/// was `LEADS#status#new`, `EVENTS#PROCESSED#s5` was `EVENTS#PROCESSED`.
fn unsharded(partition: &str) -> String {
    partition
        .split('#')
        .filter(|part| {
            !(part.len() > 1
                && part.starts_with('s')
                && part[1..].bytes().all(|b| b.is_ascii_digit()))
        })
        .collect::<Vec<_>>()
        .join("#")
}

#[tokio::test]
async fn a_table_of_the_first_layout_upgrades_in_place() {
    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let crm = ScriptedServer::start().await;
    crm.script("/hook", &[(200, "{}"); 8]);
    let (key, token) = t.create_key(json!({"name": "before the upgrade"})).await;
    t.subscribe(&format!("{}/hook", crm.base_url)).await;
    for n in 0..3 {
        t.post_lead(
            &key,
            &token,
            json!({"email": format!("m{n}@example.com"), "tags": ["old"]}),
        )
        .await;
    }
    // Processed; their deliveries still pending (messages not yet taken).
    t.process_queue().await;

    let ddb = aws_sdk_dynamodb::Client::new(&t.sdk);
    let table = t.stack.table.clone();
    downgrade(&ddb, &table).await;
    let legacy = index_names(&ddb, &table).await;
    assert_eq!(
        legacy.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        LEGACY_GSI_NAMES.to_vec()
    );

    // The upgrade: bootstrap again, as `make dev` or a maintenance run does.
    let stack_name = table.clone(); // the table is named for its stack
    resources::bootstrap(
        &t.sdk,
        &StackNames::new(stack_name.clone()),
        SecretOverrides::default(),
    )
    .await
    .expect("upgrade");
    let upgraded = index_names(&ddb, &table).await;
    let mut include = INDEX_INCLUDES.to_vec();
    include.sort();
    let mut expected: Vec<(String, String)> = LEGACY_GSI_NAMES
        .iter()
        .map(|n| ((*n).to_owned(), "All ".to_owned()))
        .chain(
            GSIS.iter()
                .map(|g| (g.name.to_owned(), format!("Include {}", include.join(",")))),
        )
        .collect();
    expected.sort();
    assert_eq!(upgraded, expected);
    // Idempotent: a second run changes nothing.
    resources::bootstrap(
        &t.sdk,
        &StackNames::new(stack_name),
        SecretOverrides::default(),
    )
    .await
    .expect("second upgrade");
    assert_eq!(index_names(&ddb, &table).await, expected);

    // Deliveries written before the work index are not on it until the
    // backfill puts them there (once; a second run adds nothing).
    let later = leadpipe::rules::clock::now_ms() + 86_400_000;
    assert_eq!(
        leadpipe::sweep::sweep_at(&t.app, later)
            .await
            .unwrap()
            .deliveries,
        0
    );
    let r = t.admin("POST", "/v1/maintenance/backfill", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"deliveries": {"pending": 3, "added": 3}}));
    let r = t.admin("POST", "/v1/maintenance/backfill", None).await;
    assert_eq!(r.json(), json!({"deliveries": {"pending": 3, "added": 0}}));
    assert_eq!(
        leadpipe::sweep::sweep_at(&t.app, later)
            .await
            .unwrap()
            .deliveries,
        3
    );
    t.deliver_queue().await;
    assert_eq!(crm.requests_to("/hook").len(), 3, "each delivered once");

    // Every listing finds what was written before.
    let keys = t.admin("GET", "/v1/keys", None).await.json();
    assert_eq!(keys["items"][0]["id"], key.as_str());
    let events = t
        .admin("GET", "/v1/events?status=PROCESSED", None)
        .await
        .json();
    assert_eq!(events["items"].as_array().unwrap().len(), 3, "{events}");
    let leads = t.admin("GET", "/v1/leads?tag=old", None).await.json();
    assert_eq!(leads["items"].as_array().unwrap().len(), 3, "{leads}");
    let delivered = t
        .admin("GET", "/v1/deliveries?status=delivered", None)
        .await
        .json();
    assert_eq!(
        delivered["items"].as_array().unwrap().len(),
        3,
        "{delivered}"
    );
    // Delivered: off the work index; the sweeper finds nothing.
    assert_eq!(
        leadpipe::sweep::sweep_at(&t.app, later)
            .await
            .unwrap()
            .deliveries,
        0
    );
    // And the pipeline goes on, its new items in shards beside the old
    // ones in the legacy partitions.
    for n in 0..3 {
        t.post_lead(
            &key,
            &token,
            json!({"email": format!("after{n}@example.com"), "tags": ["old"]}),
        )
        .await;
    }
    assert_eq!(t.process_queue().await, 3);
    let items = ddb.scan().table_name(&table).send().await.unwrap();
    let old_leads = items
        .items()
        .iter()
        .filter(|i| i.get("sk") == Some(&AttributeValue::S("LEAD".into())))
        .filter(|i| i.get("gsi1pk") == Some(&AttributeValue::S("LEADS".into())))
        .count();
    assert_eq!(old_leads, 3, "the old leads stay where they were");
    for (path, kind) in [
        ("/v1/leads", "LEAD"),
        ("/v1/leads?tag=old", "LEAD"),
        ("/v1/events", "EVT"),
        ("/v1/events?status=PROCESSED", "EVT"),
        ("/v1/deliveries", "DLV"),
    ] {
        let mut every: Vec<String> = ddb
            .scan()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .filter(|i| i.get("sk") == Some(&AttributeValue::S(kind.into())))
            .filter_map(|i| match i.get("id") {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            })
            .collect();
        every.sort();
        every.reverse();
        assert_eq!(every.len(), 6, "{path}");
        assert_eq!(crate::listing::walk(&t, path, 2).await, every, "{path}");
    }
}

/// Items as the code before issue 12's splits wrote them — a delivery with
/// its body inline, a lead without `createdBy` and its `lead.created`
/// stored apart, an event with a large submission inline, identities
/// without a claim — are read and finished as they are.
#[tokio::test]
async fn items_written_before_the_splits_are_read_as_they_are() {
    use leadpipe::aws::table;
    use leadpipe::model::history::{self, HistoryEntry, LeadEventType};
    use leadpipe::model::leads;
    use serde_json::Value;

    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let crm = ScriptedServer::start().await;
    crm.script("/hook", &[(200, "{}"); 8]);
    let (key, token) = t.create_key(json!({"name": "k"})).await;
    t.subscribe(&format!("{}/hook", crm.base_url)).await;
    let raw = |pk: String, sk: &'static str| {
        let store = t.app.store.clone();
        async move { store.get::<Value>(&pk, sk).await.unwrap() }
    };

    // An event with a large submission, put back inline.
    let fields: serde_json::Map<String, Value> = (0..10)
        .map(|i| (format!("f{i}"), json!("y".repeat(300))))
        .collect();
    let mut body = json!({"email": "old@example.com"});
    body.as_object_mut().unwrap().extend(fields);
    let evt = t.post_lead(&key, &token, body).await;
    let k = table::event(&leadpipe::rules::ids::WorkspaceId::default(), &evt);
    let input = raw(k.pk.clone(), "INPUT").await.expect("kept apart");
    let mut event = raw(k.pk.clone(), "EVT").await.unwrap();
    event["input"] = input["input"].clone();
    event.as_object_mut().unwrap().remove("inputApart");
    t.app.store.put(&event).await.unwrap();
    t.app
        .store
        .delete(&k.pk, "INPUT", None, vec![])
        .await
        .unwrap();
    t.process_queue().await;
    let e = t.event(&evt).await;
    assert_eq!(e["status"], "PROCESSED", "{e}");
    let lead_id = e["leadId"].as_str().unwrap().to_owned();
    let lead = t
        .admin("GET", &format!("/v1/leads/{lead_id}"), None)
        .await
        .json();
    assert_eq!(lead["customFields"].as_object().unwrap().len(), 10);

    // Its delivery, with the body inline and no body item.
    let dlv = t.admin("GET", "/v1/deliveries", None).await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = table::delivery(&leadpipe::rules::ids::WorkspaceId::default(), &dlv);
    let frozen = raw(d.pk.clone(), "BODY").await.expect("body apart");
    let mut delivery = raw(d.pk.clone(), "DLV").await.unwrap();
    delivery["payload"] = frozen["payload"].clone();
    t.app.store.put(&delivery).await.unwrap();
    t.app
        .store
        .delete(&d.pk, "BODY", None, vec![])
        .await
        .unwrap();
    // The lead changes, and its fan-out runs again before the send (a
    // message redelivered across the upgrade): the body frozen inline is
    // what goes out, not one made from the lead as it is now.
    let mut changed = leads::get(&t.scope, &lead_id).await.unwrap().unwrap();
    changed.first_name = Some("Changed".into());
    t.app.store.put(&changed).await.unwrap();
    assert_eq!(
        leadpipe::process::process_event(&t.scope, &evt, 2).await,
        leadpipe::aws::batch::Outcome::Done
    );
    t.deliver_queue().await;
    let sent = crm.requests_to("/hook");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        serde_json::from_slice::<Value>(&sent[0].body).unwrap(),
        serde_json::from_str::<Value>(frozen["payload"].as_str().unwrap()).unwrap()
    );

    // The lead without `createdBy`, its `lead.created` stored apart.
    let mut record = leads::get(&t.scope, &lead_id).await.unwrap().unwrap();
    let cause = record.created_by.take().expect("createdBy");
    t.app.store.put(&record).await.unwrap();
    let stored = HistoryEntry::new(
        &leadpipe::rules::ids::WorkspaceId::default(),
        &record.id,
        LeadEventType::Created,
        &cause,
        &record.created_at,
    );
    t.app.store.put(&stored).await.unwrap();
    let kinds: Vec<_> = history::history(&t.scope, &lead_id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.kind)
        .collect();
    assert_eq!(kinds, vec![LeadEventType::Created]);
    // Its fan-out run again (a redelivered message) sends nothing new.
    assert_eq!(
        leadpipe::process::process_event(&t.scope, &evt, 2).await,
        leadpipe::aws::batch::Outcome::Done
    );
    t.deliver_queue().await;
    assert_eq!(crm.requests_to("/hook").len(), 1);

    // Identities without a claim: one finds its lead, one whose lead is
    // gone is removed by the next event for that address.
    let ident = table::email_identity(
        &leadpipe::rules::ids::WorkspaceId::default(),
        "old@example.com",
    );
    let mut identity = raw(ident.pk.clone(), "IDENT").await.unwrap();
    let obj = identity.as_object_mut().unwrap();
    obj.remove("claim");
    obj.remove("claimedBy");
    t.app.store.put(&identity).await.unwrap();
    let stale = table::email_identity(
        &leadpipe::rules::ids::WorkspaceId::default(),
        "gone@example.com",
    );
    t.app
        .store
        .put(&json!({"pk": stale.pk, "sk": stale.sk, "leadId": "lead_01jsaaaaaaaaaaaaaaaaaaaaaa"}))
        .await
        .unwrap();
    let again = t
        .post_lead(&key, &token, json!({"email": "old@example.com"}))
        .await;
    let gone = t
        .post_lead(&key, &token, json!({"email": "gone@example.com"}))
        .await;
    t.process_queue().await;
    let a = t.event(&again).await;
    assert_eq!(
        (a["status"].as_str(), a["leadId"].as_str()),
        (Some("DUPLICATE"), Some(lead_id.as_str()))
    );
    let g = t.event(&gone).await;
    assert_eq!(g["status"], "PROCESSED", "{g}");
    assert_ne!(g["leadId"], "lead_01jsaaaaaaaaaaaaaaaaaaaaaa");
}

/// Items and messages as the code before workspaces wrote them — a key
/// without `workspace`, events and deliveries without expiry, untagged
/// queue messages — are the `default` workspace's, read and finished as
/// they are, with no step.
#[tokio::test]
async fn items_and_messages_from_before_workspaces_are_the_default_workspaces() {
    use leadpipe::aws::table;
    use leadpipe::rules::ids::WorkspaceId;
    use serde_json::Value;

    let t = TestStack::with_config(|c| c.allow_private_targets = true).await;
    let crm = ScriptedServer::start().await;
    crm.script("/hook", &[(200, "{}"); 4]);
    t.subscribe(&format!("{}/hook", crm.base_url)).await;
    let (key, token) = t.create_key(json!({"name": "old key"})).await;
    // The key as it was stored: no `workspace` attribute.
    let k = table::webhook_key(&key);
    let mut stored: Value = t.app.store.get(&k.pk, &k.sk).await.unwrap().unwrap();
    stored.as_object_mut().unwrap().remove("workspace");
    t.app.store.put(&stored).await.unwrap();
    assert_eq!(
        t.admin("GET", &format!("/v1/keys/{key}"), None)
            .await
            .status,
        200
    );
    // A lead posted with it; its event put back as before (no expiry, no
    // workspace) and its message replaced by the untagged shape.
    let evt = t
        .post_lead(&key, &token, json!({"email": "before@example.com"}))
        .await;
    let e = table::event(&WorkspaceId::default(), &evt);
    let mut event: Value = t.app.store.get(&e.pk, &e.sk).await.unwrap().unwrap();
    event.as_object_mut().unwrap().remove("expiresAt");
    t.app.store.put(&event).await.unwrap();
    let taken = t.drain_leads_queue().await;
    assert_eq!(taken.len(), 1);
    let sqs = aws_sdk_sqs::Client::new(&t.sdk);
    // The drained message reappears after its visibility; purge it and
    // send the old shape instead.
    sqs.purge_queue()
        .queue_url(&t.stack.leads_queue_url)
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&t.stack.leads_queue_url)
        .message_body(json!({"eventId": evt}).to_string())
        .send()
        .await
        .unwrap();
    t.process_queue().await;
    let shown = t.event(&evt).await;
    assert_eq!(shown["status"], "PROCESSED", "{shown}");
    // Its delivery's message in the old shape too.
    let dlv = t.admin("GET", "/v1/deliveries", None).await.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sqs.purge_queue()
        .queue_url(&t.stack.deliveries_queue_url)
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&t.stack.deliveries_queue_url)
        .message_body(json!({"deliveryId": dlv}).to_string())
        .send()
        .await
        .unwrap();
    t.deliver_queue().await;
    let d = t
        .admin("GET", &format!("/v1/deliveries/{dlv}"), None)
        .await
        .json();
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(crm.requests_to("/hook").len(), 1);
    // Everything is default's: listed there, and in no other workspace.
    let leads = t
        .admin("GET", "/v1/leads?email=before@example.com", None)
        .await
        .json();
    assert_eq!(leads["items"].as_array().unwrap().len(), 1);
    let ws = t
        .admin("POST", "/v1/workspaces", Some(json!({"name": "new"})))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = format!("Bearer {}", t.admin_token);
    let other = t
        .call(
            "GET",
            &format!("/v1/keys/{key}"),
            &[("authorization", &auth), ("leadpipe-workspace", &ws)],
            "",
        )
        .await;
    assert_eq!(other.status, 404);
}
