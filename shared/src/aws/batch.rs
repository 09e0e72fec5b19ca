//! SQS batches with partial failures, as Lambda's event source mapping
//! runs them (`ReportBatchItemFailures`): every record of a batch runs
//! concurrently; a record that must be tried again is reported as a batch
//! item failure, with its visibility set to its own delay so SQS redelivers
//! it then rather than after the queue's long default.

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

use crate::app::App;

/// What became of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished (or nothing left to do): delete the message.
    Done,
    /// Try again after `delay` (zero: at once, towards the DLQ).
    Retry { delay: Duration, reason: String },
}

/// Runs `each` over every record of `event` at once and answers with the
/// failures; `queue_url` is the queue the records came from.
pub async fn run<'a, F, Fut>(
    app: &App,
    queue_url: &str,
    event: &'a SqsEvent,
    each: F,
) -> SqsBatchResponse
where
    F: Fn(&'a SqsMessage) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let outcomes = futures::future::join_all(event.records.iter().map(each)).await;
    let mut response = SqsBatchResponse::default();
    let mut delays = Vec::new();
    for (record, outcome) in event.records.iter().zip(outcomes) {
        if let Outcome::Retry { delay, .. } = outcome {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
            if let Some(handle) = &record.receipt_handle {
                delays.push((handle.clone(), delay));
            }
        }
    }
    set_visibility(app, queue_url, delays).await;
    response
}

async fn set_visibility(app: &App, queue_url: &str, delays: Vec<(String, Duration)>) {
    let calls = delays.into_iter().map(|(handle, delay)| async move {
        let result = app
            .queue
            .client()
            .await
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .visibility_timeout(crate::rules::retry::visibility_seconds(delay))
            .send()
            .await;
        if let Err(e) = result {
            let e = crate::error::Error::queue("ChangeMessageVisibility", e);
            tracing::warn!(error = %e, "could not set a retry delay");
        }
    });
    futures::future::join_all(calls).await;
}

/// How many times SQS has handed this record out (1 on the first try).
pub fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}
