//! SQS: the leads queue (ingest → process) and the deliveries queue
//! (process → deliver), and the messages each carries.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};

use crate::aws::LazyClient;
use crate::error::{AwsErrorKind, Error};
use crate::rules::ids::{CauseId, EventId, LeadId};

/// The message `ingest` puts on the leads queue: which event to process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadMessage {
    pub event_id: EventId,
}

/// The message that hands `process` a fan-out that failed where it started:
/// a lead edited through the admin API, whose edit stands and whose
/// `lead.updated` deliveries must still be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOutMessage {
    pub lead_id: LeadId,
    pub cause_id: CauseId,
}

/// The message on the deliveries queue: which delivery to attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    pub delivery_id: String,
}

/// How many messages a queue holds (SQS's approximate counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Depth {
    pub waiting: u64,
    pub in_flight: u64,
}

/// The SQS client, built on first use and kept.
#[derive(Clone, Debug)]
pub struct Queue {
    client: LazyClient<Client>,
}

impl Queue {
    pub fn new(client: LazyClient<Client>) -> Self {
        Queue { client }
    }

    pub async fn client(&self) -> &Client {
        self.client.get().await
    }

    /// A queue's approximate depth: messages waiting and messages in flight.
    pub async fn depth(&self, queue_url: &str) -> Result<Depth, Error> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client()
            .await
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| Error::queue("GetQueueAttributes", e))?;
        let attrs = out.attributes.unwrap_or_default();
        let count = |a: A| {
            attrs
                .get(&a)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(Depth {
            waiting: count(A::ApproximateNumberOfMessages),
            in_flight: count(A::ApproximateNumberOfMessagesNotVisible),
        })
    }

    /// Sends one JSON message.
    pub async fn send<T: Serialize>(&self, queue_url: &str, message: &T) -> Result<String, Error> {
        let body = serde_json::to_string(message).map_err(|e| Error::Data(e.to_string()))?;
        let out = self
            .client()
            .await
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| Error::queue("SendMessage", e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    /// Sends many JSON messages, ten to a request, all requests at once.
    /// Fails when any message could not be sent (after one retry of the
    /// entries SQS refused).
    pub async fn send_all<T: Serialize>(
        &self,
        queue_url: &str,
        messages: &[T],
    ) -> Result<(), Error> {
        let bodies = messages
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Data(e.to_string()))?;
        let sends = bodies
            .chunks(10)
            .map(|chunk| self.send_chunk(queue_url, chunk));
        futures::future::try_join_all(sends).await?;
        Ok(())
    }

    async fn send_chunk(&self, queue_url: &str, bodies: &[String]) -> Result<(), Error> {
        let mut pending: Vec<(String, &String)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i.to_string(), b))
            .collect();
        for attempt in 0..2 {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(*body)
                        .build()
                        .map_err(|e| Error::request("sqs", "SendMessageBatch", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client()
                .await
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| Error::queue("SendMessageBatch", e))?;
            let failed: Vec<String> = out.failed.iter().map(|f| f.id.clone()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            pending.retain(|(id, _)| failed.contains(id));
            if attempt == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        Err(Error::Aws {
            service: "sqs",
            op: "SendMessageBatch",
            kind: AwsErrorKind::Other,
            message: format!("{} messages refused twice", pending.len()),
        })
    }
}
