//! SQS: the leads queue (ingest → process) and the deliveries queue
//! (process → deliver), and the messages each carries.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};

use crate::aws::LazyClient;
use crate::error::{AwsErrorKind, Error};
use crate::rules::ids::{CauseId, EventId, LeadId, WorkspaceId};

/// Every message on the leads queue, tagged by `type`, parsed once where
/// the batch is read ([`LeadsMessage::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum LeadsMessage {
    /// `ingest`: an event to process.
    Event {
        workspace: WorkspaceId,
        event_id: EventId,
    },
    /// A fan-out that failed where it started: a lead edited through the
    /// admin API, whose edit stands and whose `lead.updated` deliveries
    /// must still be made.
    FanOut {
        workspace: WorkspaceId,
        lead_id: LeadId,
        cause_id: CauseId,
    },
}

/// The shapes written before messages were tagged (no `type`, no
/// workspace: the default workspace's), read during an upgrade.
#[derive(Deserialize)]
#[serde(untagged, rename_all = "camelCase")]
enum LegacyLeadsMessage {
    FanOut {
        #[serde(rename = "leadId")]
        lead_id: LeadId,
        #[serde(rename = "causeId")]
        cause_id: CauseId,
    },
    Event {
        #[serde(rename = "eventId")]
        event_id: EventId,
    },
}

impl LeadsMessage {
    /// A message body, in today's shape or the one before.
    pub fn parse(body: &str) -> Option<Self> {
        if let Ok(m) = serde_json::from_str::<Self>(body) {
            return Some(m);
        }
        Some(
            match serde_json::from_str::<LegacyLeadsMessage>(body).ok()? {
                LegacyLeadsMessage::Event { event_id } => LeadsMessage::Event {
                    workspace: WorkspaceId::default_workspace(),
                    event_id,
                },
                LegacyLeadsMessage::FanOut { lead_id, cause_id } => LeadsMessage::FanOut {
                    workspace: WorkspaceId::default_workspace(),
                    lead_id,
                    cause_id,
                },
            },
        )
    }

    pub fn workspace(&self) -> &WorkspaceId {
        match self {
            LeadsMessage::Event { workspace, .. } | LeadsMessage::FanOut { workspace, .. } => {
                workspace
            }
        }
    }
}

/// Every message on the deliveries queue, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum DeliveriesMessage {
    /// A delivery to attempt.
    Attempt {
        workspace: WorkspaceId,
        delivery_id: String,
    },
}

impl DeliveriesMessage {
    pub fn attempt(workspace: &WorkspaceId, delivery_id: &str) -> Self {
        DeliveriesMessage::Attempt {
            workspace: workspace.clone(),
            delivery_id: delivery_id.to_owned(),
        }
    }

    /// A message body, in today's shape or the one before (`{"deliveryId"}`,
    /// the default workspace's).
    pub fn parse(body: &str) -> Option<Self> {
        if let Ok(m) = serde_json::from_str::<Self>(body) {
            return Some(m);
        }
        #[derive(Deserialize)]
        struct Legacy {
            #[serde(rename = "deliveryId")]
            delivery_id: String,
        }
        let legacy: Legacy = serde_json::from_str(body).ok()?;
        Some(Self::attempt(
            &WorkspaceId::default_workspace(),
            &legacy.delivery_id,
        ))
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_old_shapes_are_the_default_workspaces() {
        let ws = WorkspaceId::generate();
        let evt = EventId::generate();
        let m = LeadsMessage::Event {
            workspace: ws.clone(),
            event_id: evt.clone(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains("\"type\":\"event\""), "{text}");
        assert!(text.contains("\"eventId\""), "{text}");
        assert_eq!(LeadsMessage::parse(&text), Some(m));
        let old = format!("{{\"eventId\":\"{evt}\"}}");
        assert_eq!(
            LeadsMessage::parse(&old),
            Some(LeadsMessage::Event {
                workspace: WorkspaceId::default_workspace(),
                event_id: evt
            })
        );
        let lead = LeadId::generate();
        let old = format!("{{\"leadId\":\"{lead}\",\"causeId\":\"chg_x\"}}");
        assert!(matches!(
            LeadsMessage::parse(&old),
            Some(LeadsMessage::FanOut { workspace, .. }) if workspace.is_default()
        ));
        for junk in ["", "{}", "[]", "{\"type\":\"event\"}", "{\"eventId\":7}"] {
            assert_eq!(LeadsMessage::parse(junk), None, "{junk}");
        }
        let d = DeliveriesMessage::attempt(&ws, "dlv_1");
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(DeliveriesMessage::parse(&text), Some(d));
        assert_eq!(
            DeliveriesMessage::parse("{\"deliveryId\":\"dlv_2\"}"),
            Some(DeliveriesMessage::attempt(
                &WorkspaceId::default_workspace(),
                "dlv_2"
            ))
        );
        assert_eq!(DeliveriesMessage::parse("{}"), None);
    }
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

    /// Sends many JSON messages, ten to a request, eight requests at once.
    /// Fails when any message could not be sent (after one retry of the
    /// entries SQS refused).
    pub async fn send_all<T: Serialize>(
        &self,
        queue_url: &str,
        messages: &[T],
    ) -> Result<(), Error> {
        let timed: Vec<(&T, u32)> = messages.iter().map(|m| (m, 0)).collect();
        self.send_all_delayed(queue_url, &timed).await
    }

    /// Sends messages, each hidden for its delay (seconds, at most 900: SQS's
    /// `DelaySeconds`), in batches of ten.
    pub async fn send_all_delayed<T: Serialize>(
        &self,
        queue_url: &str,
        messages: &[(T, u32)],
    ) -> Result<(), Error> {
        let bodies = messages
            .iter()
            .map(|(m, delay)| serde_json::to_string(m).map(|b| (b, (*delay).min(900))))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Data(e.to_string()))?;
        // Eight requests in flight at most: a sweep of thousands queues
        // hundreds of batches, which need not all wait on one connection
        // pool (or one emulator) at once.
        for wave in bodies.chunks(80) {
            let sends = wave
                .chunks(10)
                .map(|chunk| self.send_chunk(queue_url, chunk));
            futures::future::try_join_all(sends).await?;
        }
        Ok(())
    }

    async fn send_chunk(&self, queue_url: &str, bodies: &[(String, u32)]) -> Result<(), Error> {
        let mut pending: Vec<(String, &(String, u32))> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i.to_string(), b))
            .collect();
        for attempt in 0..2 {
            let entries = pending
                .iter()
                .map(|(id, (body, delay))| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body)
                        .set_delay_seconds((*delay > 0).then_some(*delay as i32))
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
