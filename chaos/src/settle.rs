//! After the fault window: waiting for the stack to drain, the operator
//! redriving what died, until nothing is queued, pending, dead or stuck.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use leadpipe::App;
use leadpipe::aws::pagination::{Page, PageRequest};
use leadpipe_local::bootstrap::Stack;

use crate::admin::{Admin, Operator};
use crate::proxy::Proxy;

/// True while a delivery is `pending` or an event `RECEIVED` (a filtered
/// listing may return empty pages with a cursor: follow them).
async fn work_left(app: &App) -> bool {
    use leadpipe::model::{deliveries, events};
    let scope = app.default_scope();
    let pending = Some(deliveries::DeliveryStatus::Pending);
    let received = Some(events::EventStatus::Received);
    any_listed(async |page| deliveries::list(&scope, None, pending, &page).await).await
        || any_listed(async |page| events::list(&scope, received, &page).await).await
}

/// Whether a listing holds anything, its cursor followed past empty pages;
/// a listing that cannot be read counts as holding something.
async fn any_listed<T>(
    list: impl AsyncFn(PageRequest) -> Result<Page<T>, leadpipe::error::DataError>,
) -> bool {
    let mut cursor = None;
    loop {
        let page = PageRequest {
            limit: 200,
            cursor: cursor.take(),
        };
        match list(page).await {
            Ok(p) if !p.items.is_empty() => return true,
            Ok(p) => match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => return false,
            },
            Err(_) => return true,
        }
    }
}

/// Messages in a queue: visible, in flight and delayed.
async fn depth(app: &App, url: &str) -> Result<u64, String> {
    let sqs = app.queue.client().await;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetQueueAttributes: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?;
    let a = attrs.attributes.unwrap_or_default();
    let n = |k: QueueAttributeName| a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok(n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        + n(QueueAttributeName::ApproximateNumberOfMessagesDelayed))
}

/// How the settling went.
pub struct Settled {
    pub settled: bool,
    /// (leads queue, deliveries queue, leads DLQ, deliveries DLQ) at the end.
    pub depths: (u64, u64, u64, u64),
}

/// Waits until both queues and both DLQs are empty, no delivery pending
/// and no event `RECEIVED`, twice in a row; the operator redrives the DLQs
/// (and retries dead deliveries) whenever the work queues are empty and a
/// DLQ is not, at most every 10 s.
pub async fn settle(
    direct: &App,
    stack: &Stack,
    admin: &Admin,
    operator: &mut Operator,
    proxy: &Proxy,
    deadline: Instant,
    log: &impl Fn(&str),
) -> Result<Settled, String> {
    let mut quiet = 0;
    let mut depths = (0, 0, 0, 0);
    let mut last_redrive: Option<Instant> = None;
    while Instant::now() < deadline {
        // A busy emulator may not answer in time: look again, never give
        // up the run for it.
        let read = async {
            Ok::<_, String>((
                depth(direct, &stack.leads_queue_url).await?,
                depth(direct, &stack.deliveries_queue_url).await?,
                depth(direct, &stack.leads_dlq_url).await?,
                depth(direct, &stack.deliveries_dlq_url).await?,
            ))
        };
        depths = match read.await {
            Ok(d) => d,
            Err(e) => {
                log(&format!("settling: queue depths unreadable ({e}); again"));
                quiet = 0;
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        log(&format!(
            "settling: leads queue {}, deliveries queue {}, leads DLQ {}, deliveries DLQ {}, calls in flight at the proxy {:?}",
            depths.0,
            depths.1,
            depths.2,
            depths.3,
            proxy.in_flight()
        ));
        let work_queues_empty = depths.0 == 0 && depths.1 == 0;
        let dlqs_empty = depths.2 == 0 && depths.3 == 0;
        let dead = work_queues_empty
            && dlqs_empty
            && admin
                .call(
                    reqwest::Method::GET,
                    "/v1/deliveries?status=dead&limit=1",
                    None,
                )
                .await
                .is_ok_and(|(_, v)| v["items"].as_array().is_some_and(|a| !a.is_empty()));
        if work_queues_empty
            && (!dlqs_empty || dead)
            && last_redrive.is_none_or(|t| t.elapsed() > Duration::from_secs(10))
        {
            last_redrive = Some(Instant::now());
            match operator.act(admin).await {
                Ok(n) => log(&format!(
                    "operator: {n} dead; so far {}",
                    operator.to_json()
                )),
                Err(e) => log(&format!("operator: {e}")),
            }
            quiet = 0;
        } else if work_queues_empty && dlqs_empty && !dead && !work_left(direct).await {
            quiet += 1;
            if quiet >= 2 {
                return Ok(Settled {
                    settled: true,
                    depths,
                });
            }
        } else {
            quiet = 0;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(Settled {
        settled: false,
        depths,
    })
}
