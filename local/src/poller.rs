//! Queue pollers that behave like Lambda's SQS event source mapping: receive
//! up to `batch_size` messages, hand them to the function's handler as one
//! `SqsEvent`, delete the ones it did not report as failures, and leave the
//! failures to SQS (their visibility as the handler set it; after
//! `maxReceiveCount` receives, SQS's redrive moves them to the DLQ).

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use leadpipe::App;

/// Receives one batch and runs it through `handler`; returns how many
/// messages it received. `wait` is the long-poll time in seconds.
pub async fn poll_once<F, Fut>(
    app: &App,
    queue_url: &str,
    batch_size: i32,
    wait: i32,
    handler: &F,
) -> Result<usize, String>
where
    F: Fn(App, SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let sqs = app.queue.client().await;
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(batch_size)
        .wait_time_seconds(wait)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| leadpipe::Error::queue("ReceiveMessage", e).to_string())?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let mut event = SqsEvent::default();
    for m in &messages {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        record.attributes = m
            .attributes
            .as_ref()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        record.event_source = Some("aws:sqs".into());
        event.records.push(record);
    }
    let response = handler(app.clone(), event).await;
    let failed: HashSet<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.message_id.as_ref().is_some_and(|id| failed.contains(id)))
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_receipt_handle(m.receipt_handle.clone())
                .build()
                .ok()
        })
        .collect();
    if !entries.is_empty() {
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| leadpipe::Error::queue("DeleteMessageBatch", e).to_string())?;
    }
    Ok(messages.len())
}

/// Polls until `stop` turns true.
pub async fn run<F, Fut>(
    app: App,
    queue_url: String,
    batch_size: i32,
    handler: F,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    F: Fn(App, SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => break,
            result = poll_once(&app, &queue_url, batch_size, 1, &handler) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, queue = %queue_url, "poll failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// What [`take_all`] does with the messages it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Delete them: the queue is emptied.
    Delete,
    /// Leave them in flight for `visibility` seconds (a test reads what was
    /// queued, and nothing else consumes it meanwhile).
    Hide { visibility: i32 },
}

/// Receives every visible message of a queue and returns their JSON bodies
/// (a body that is not JSON is `null`). One helper for the tests, the bench
/// and anything else that must look inside a queue.
pub async fn take_all(
    app: &App,
    queue_url: &str,
    taken: Taken,
) -> Result<Vec<serde_json::Value>, String> {
    let sqs = app.queue.client().await;
    let mut out = Vec::new();
    loop {
        let mut receive = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10);
        if let Taken::Hide { visibility } = taken {
            receive = receive.visibility_timeout(visibility);
        }
        let messages = receive
            .send()
            .await
            .map_err(|e| leadpipe::Error::queue("ReceiveMessage", e).to_string())?
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return Ok(out);
        }
        for m in messages {
            out.push(
                m.body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(serde_json::Value::Null),
            );
            if taken == Taken::Delete
                && let Some(handle) = m.receipt_handle
            {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| leadpipe::Error::queue("DeleteMessage", e).to_string())?;
            }
        }
    }
}
