//! `leadpipe events …` and `leadpipe deliveries …`, read through the
//! library's own views ([`EventView`], [`DeliveryView`]).

use clap::Subcommand;
use leadpipe::admin::deliveries::DeliveryView;
use leadpipe::admin::events::EventView;
use leadpipe::model::deliveries::DeliveryStatus;
use leadpipe::model::events::{EventStatus, Source};
use leadpipe::rules::ids::IdKind;
use reqwest::Method;
use serde_json::Value;

use super::resources::{done, more};
use super::{check_id, list, show_object};
use crate::ListArgs;
use crate::client::Api;
use crate::error::{CliError, Result};
use crate::output::{Out, Tone, clip};

#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Events, newest first.
    List {
        /// RECEIVED, PROCESSED, DUPLICATE or FAILED.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: ListArgs,
    },
    /// One event, with what the API keeps of its submission.
    Show { id: String },
    /// Send a FAILED event through processing again.
    Replay { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesCmd {
    /// Deliveries, newest first.
    List {
        /// pending, delivered or dead.
        #[arg(long)]
        status: Option<String>,
        /// Only this destination's.
        #[arg(long, value_name = "sub_…")]
        destination: Option<String>,
        #[command(flatten)]
        page: ListArgs,
    },
    /// One delivery with its attempts and the receiver's answers.
    Show { id: String },
    /// A new round of attempts for one delivery.
    Retry { id: String },
    /// Move every dead-lettered message back to its queue.
    Redrive,
}

fn typed<T: serde::de::DeserializeOwned>(items: Vec<Value>) -> Result<Vec<T>> {
    items
        .into_iter()
        .map(|v| {
            serde_json::from_value(v).map_err(|e| {
                CliError::Local(format!("an item the API listed is not understood: {e}"))
            })
        })
        .collect()
}

pub fn source_text(source: &Source) -> String {
    match source.key_id() {
        Some(k) => format!("{}:{k}", source.type_name()),
        None => source.type_name().to_owned(),
    }
}

pub fn event_row(out: Out, e: &EventView) -> Vec<String> {
    vec![
        e.id.to_string(),
        out.status(e.status.as_str()),
        source_text(&e.source),
        e.lead_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "-".into()),
        e.received_at.clone(),
        clip(e.error.as_deref().unwrap_or("-"), 60),
    ]
}

pub const EVENT_HEADERS: [&str; 6] = ["ID", "STATUS", "SOURCE", "LEAD", "RECEIVED", "ERROR"];

pub fn delivery_row(out: Out, d: &DeliveryView) -> Vec<String> {
    let last = d.attempts.last();
    vec![
        d.id.clone(),
        out.status(d.status.as_str()),
        d.event_type.as_str().to_owned(),
        d.subscription_id.clone(),
        d.attempts.len().to_string(),
        last.and_then(|a| a.status_code)
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        d.updated_at.clone(),
    ]
}

pub const DELIVERY_HEADERS: [&str; 7] = [
    "ID",
    "STATUS",
    "EVENT",
    "DESTINATION",
    "ATTEMPTS",
    "LAST CODE",
    "UPDATED",
];

pub async fn events(api: &Api, out: Out, c: &EventsCmd) -> Result<()> {
    match c {
        EventsCmd::List { status, page } => {
            let mut q = vec![];
            if let Some(s) = status {
                let upper = s.to_ascii_uppercase();
                if EventStatus::parse(&upper).is_none() {
                    return Err(CliError::Usage(
                        "--status is RECEIVED, PROCESSED, DUPLICATE or FAILED".into(),
                    ));
                }
                q.push(("status", upper));
            }
            let page = list(api, "/v1/events", q, page).await?;
            if out.json {
                out.json(&page);
                return Ok(());
            }
            let rows = typed::<EventView>(page.items)?
                .iter()
                .map(|e| event_row(out, e))
                .collect::<Vec<_>>();
            out.table(&EVENT_HEADERS, &rows);
            more(out, page.next_cursor.as_deref());
        }
        EventsCmd::Show { id } => {
            check_id(IdKind::Event, id, "event")?;
            let e = api
                .json(Method::GET, &format!("/v1/events/{id}"), &[], None)
                .await?;
            show_object(
                out,
                &e,
                &[
                    "id",
                    "status",
                    "source",
                    "leadId",
                    "receivedAt",
                    "processedAt",
                    "error",
                ],
            );
        }
        EventsCmd::Replay { id } => {
            check_id(IdKind::Event, id, "event")?;
            let e = api
                .json(Method::POST, &format!("/v1/events/{id}/replay"), &[], None)
                .await?;
            show_object(out, &e, &["id", "status"]);
        }
    }
    Ok(())
}

pub async fn deliveries(api: &Api, out: Out, c: &DeliveriesCmd) -> Result<()> {
    match c {
        DeliveriesCmd::List {
            status,
            destination,
            page,
        } => {
            let mut q = vec![];
            if let Some(s) = status {
                let st = DeliveryStatus::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
                    CliError::Usage("--status is pending, delivered or dead".into())
                })?;
                q.push(("status", st.as_str().to_owned()));
            }
            if let Some(d) = destination {
                check_id(IdKind::Subscription, d, "destination")?;
                q.push(("subscriptionId", d.clone()));
            }
            let page = list(api, "/v1/deliveries", q, page).await?;
            if out.json {
                out.json(&page);
                return Ok(());
            }
            let rows = typed::<DeliveryView>(page.items)?
                .iter()
                .map(|d| delivery_row(out, d))
                .collect::<Vec<_>>();
            out.table(&DELIVERY_HEADERS, &rows);
            more(out, page.next_cursor.as_deref());
        }
        DeliveriesCmd::Show { id } => {
            check_id(IdKind::Delivery, id, "delivery")?;
            let v = api
                .json(Method::GET, &format!("/v1/deliveries/{id}"), &[], None)
                .await?;
            if out.json {
                out.json(&v);
                return Ok(());
            }
            let d: DeliveryView = serde_json::from_value(v)
                .map_err(|e| CliError::Local(format!("unexpected delivery: {e}")))?;
            out.fields(&[
                ("id", d.id.clone()),
                ("status", out.status(d.status.as_str())),
                ("event", d.event_type.as_str().to_owned()),
                ("destination", d.subscription_id.clone()),
                ("lead", d.lead_id.clone().unwrap_or_else(|| "-".into())),
                ("created", d.created_at.clone()),
                ("updated", d.updated_at.clone()),
            ]);
            let rows = d
                .attempts
                .iter()
                .map(|a| {
                    vec![
                        a.n.to_string(),
                        a.at.clone(),
                        a.status_code
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "-".into()),
                        format!("{} ms", a.duration_ms),
                        clip(a.error.as_deref().unwrap_or("-"), 50),
                        clip(a.response.as_deref().unwrap_or("-"), 50).replace('\n', " "),
                    ]
                })
                .collect::<Vec<_>>();
            println!();
            out.table(&["#", "AT", "CODE", "TOOK", "ERROR", "ANSWER"], &rows);
        }
        DeliveriesCmd::Retry { id } => {
            check_id(IdKind::Delivery, id, "delivery")?;
            let v = api
                .json(
                    Method::POST,
                    &format!("/v1/deliveries/{id}/retry"),
                    &[],
                    None,
                )
                .await?;
            show_object(out, &v, &["id", "status"]);
        }
        DeliveriesCmd::Redrive => {
            let v = api.json(Method::POST, "/v1/dlq/redrive", &[], None).await?;
            let text = format!(
                "Moved {} message(s) back; dropped {}.",
                v["moved"], v["dropped"]
            );
            done(out, v, &out.paint(&text, Tone::Good));
        }
    }
    Ok(())
}
