//! Dead-letter queues: moving what landed there back to work.
//!
//! SQS's StartMessageMoveTask is not available everywhere (emulators), so
//! messages are moved the portable way: receive, send to the source queue,
//! delete. Safe to run twice at once, and to crash half-way:
//!
//! * a dead delivery is reopened with a conditional write before its
//!   message moves, so of two copies of its message (two redrives, or a
//!   crash that parked it twice) only one goes back to work; a message for
//!   a delivery that is delivered (a manual retry got through) or gone is
//!   dropped — it would only send again what was received;
//! * a message is moved at most once per run: one that fails again while
//!   the run goes on lands in the DLQ as a new message with the same body,
//!   and stays there for the next run.

use std::collections::HashSet;

use crate::app::App;
use crate::aws::queue::{DeliveriesMessage, Depth};
use crate::error::Error;
use crate::model::deliveries::{self, DeliveryStatus};
use crate::rules::clock;

/// At most this many messages are moved by one call.
pub const MAX_MOVED: usize = 10_000;

/// How many messages a redrive moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    pub leads: usize,
    pub deliveries: usize,
}

/// What one redrive did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Run {
    pub moved: Moved,
    /// Messages deleted without moving: their delivery was delivered,
    /// deleted, reopened by another copy, or is still under way.
    pub dropped: usize,
}

/// Both DLQs' depths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Depths {
    pub leads: Depth,
    pub deliveries: Depth,
}

/// How many messages wait in each DLQ (SQS's approximate counts).
pub async fn depths(app: &App) -> Result<Depths, Error> {
    let (leads, deliveries) = tokio::join!(
        app.queue.depth(&app.config.leads_dlq_url),
        app.queue.depth(&app.config.deliveries_dlq_url),
    );
    Ok(Depths {
        leads: leads?,
        deliveries: deliveries?,
    })
}

/// Moves every message of both DLQs back to its source queue.
pub async fn redrive(app: &App) -> Result<Run, Error> {
    let (leads, dropped_leads) = move_all(
        app,
        &app.config.leads_dlq_url,
        &app.config.leads_queue_url,
        false,
    )
    .await?;
    let (deliveries, dropped) = move_all(
        app,
        &app.config.deliveries_dlq_url,
        &app.config.deliveries_queue_url,
        true,
    )
    .await?;
    Ok(Run {
        moved: Moved { leads, deliveries },
        dropped: dropped + dropped_leads,
    })
}

/// What to do with one dead-lettered message.
enum Verdict {
    Move,
    Drop,
}

/// A deliveries-DLQ message moves when its delivery is dead (reopened by
/// this call) or pending but stalled (SQS gave up on it while the delivery
/// waited); anything unreadable moves too, so it is not silently lost.
async fn delivery_verdict(app: &App, body: &str) -> Result<Verdict, Error> {
    let Some(DeliveriesMessage::Attempt {
        workspace,
        delivery_id,
    }) = DeliveriesMessage::parse(body)
    else {
        return Ok(Verdict::Move);
    };
    let scope = &app.scope(workspace);
    let Some(d) = deliveries::get(scope, &delivery_id).await? else {
        return Ok(Verdict::Drop);
    };
    Ok(match d.status {
        DeliveryStatus::Pending
            if d.stalled(clock::now_ms(), crate::deliver::stall_after(&app.config)) =>
        {
            Verdict::Move
        }
        DeliveryStatus::Pending => Verdict::Drop,
        DeliveryStatus::Delivered => Verdict::Drop,
        DeliveryStatus::Dead => match deliveries::reopen(scope, &d).await? {
            Some(_) => Verdict::Move,
            None => Verdict::Drop,
        },
    })
}

async fn move_all(
    app: &App,
    from: &str,
    to: &str,
    deliveries: bool,
) -> Result<(usize, usize), Error> {
    let sqs = app.queue.client().await;
    let mut seen = HashSet::new();
    let (mut moved, mut dropped) = (0, 0);
    while moved < MAX_MOVED {
        let out = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(10)
            .visibility_timeout(120)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| Error::queue("ReceiveMessage", e))?;
        let messages = out.messages.unwrap_or_default();
        // Only messages this run already moved: the rest is for next time.
        if messages
            .iter()
            .all(|m| seen.contains(m.body.as_deref().unwrap_or_default()))
        {
            break;
        }
        for m in messages {
            let body = m.body.clone().unwrap_or_default();
            if !seen.insert(body.clone()) {
                continue;
            }
            let verdict = if deliveries {
                delivery_verdict(app, &body).await?
            } else {
                Verdict::Move
            };
            if let Verdict::Move = verdict {
                sqs.send_message()
                    .queue_url(to)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| Error::queue("SendMessage", e))?;
                moved += 1;
            } else {
                dropped += 1;
            }
            if let Some(handle) = m.receipt_handle {
                sqs.delete_message()
                    .queue_url(from)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| Error::queue("DeleteMessage", e))?;
            }
        }
    }
    Ok((moved, dropped))
}
