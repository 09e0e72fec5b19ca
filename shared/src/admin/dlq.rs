//! Dead-letter queues: moving what landed there back to work.
//!
//! SQS's StartMessageMoveTask is not available everywhere (emulators), so
//! messages are moved the portable way: receive, send to the source queue,
//! delete. A moved delivery starts a new round of attempts.

use crate::app::App;
use crate::aws::queue::DeliveryMessage;
use crate::error::Error;
use crate::model::deliveries;

/// At most this many messages are moved by one call.
pub const MAX_MOVED: usize = 10_000;

/// How many messages a redrive moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    pub leads: usize,
    pub deliveries: usize,
}

/// Moves every message of both DLQs back to its source queue.
pub async fn redrive(app: &App) -> Result<Moved, Error> {
    let leads = move_all(
        app,
        &app.config.leads_dlq_url,
        &app.config.leads_queue_url,
        false,
    )
    .await?;
    let deliveries = move_all(
        app,
        &app.config.deliveries_dlq_url,
        &app.config.deliveries_queue_url,
        true,
    )
    .await?;
    Ok(Moved { leads, deliveries })
}

async fn move_all(
    app: &App,
    from: &str,
    to: &str,
    reopen_deliveries: bool,
) -> Result<usize, Error> {
    let sqs = app.queue.client().await;
    let mut moved = 0;
    while moved < MAX_MOVED {
        let out = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| Error::queue("ReceiveMessage", e))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let body = m.body.clone().unwrap_or_default();
            if reopen_deliveries && let Ok(msg) = serde_json::from_str::<DeliveryMessage>(&body) {
                deliveries::reopen(app, &msg.delivery_id).await?;
            }
            sqs.send_message()
                .queue_url(to)
                .message_body(body)
                .send()
                .await
                .map_err(|e| Error::queue("SendMessage", e))?;
            if let Some(handle) = m.receipt_handle {
                sqs.delete_message()
                    .queue_url(from)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| Error::queue("DeleteMessage", e))?;
            }
            moved += 1;
        }
    }
    Ok(moved)
}
