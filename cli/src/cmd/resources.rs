//! `leadpipe keys …` and `leadpipe destinations …`.

use clap::Subcommand;
use leadpipe::rules::ids::IdKind;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{check_id, list, show_object};
use crate::ListArgs;
use crate::client::Api;
use crate::error::Result;
use crate::output::{Out, Tone, cell, clip};

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Every key (tokens masked).
    List(ListArgs),
    /// One key.
    Get {
        id: String,
        /// Show the token in full.
        #[arg(long)]
        reveal: bool,
    },
    /// A new key; its token is printed in full, once.
    Create {
        #[arg(long)]
        name: String,
        /// An allowed origin: `example.com` or `*.example.com` (repeat).
        #[arg(long = "domain", value_name = "DOMAIN")]
        domains: Vec<String>,
        /// A hidden form field that only bots fill.
        #[arg(long)]
        honeypot: Option<String>,
        /// A tag every lead of this key gets (repeat).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// The status new leads get.
        #[arg(long)]
        default_status: Option<String>,
        /// Authenticated requests per minute before 429.
        #[arg(long)]
        rate_limit: Option<u32>,
    },
    /// Issue a new token; the old one fails at once.
    Rotate {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DestinationsCmd {
    List(ListArgs),
    Get {
        id: String,
    },
    /// A new destination; its signing secret is printed in full, once.
    Create {
        /// https URL of the receiver.
        #[arg(long)]
        url: String,
        /// An event type to send (repeat; default every type).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        /// Only leads from this source: `key:key_…` or `meta_lead_ads` (repeat).
        #[arg(long = "source", value_name = "SOURCE")]
        sources: Vec<String>,
        #[arg(long)]
        max_attempts: Option<u32>,
    },
    /// Send a synthetic, test-marked lead.created now.
    Test {
        id: String,
    },
    /// A new signing secret; the old one still signs during the grace.
    RotateSecret {
        id: String,
        #[arg(long, default_value_t = 86_400)]
        grace_seconds: u64,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    Delete {
        id: String,
    },
}

const KEY_FIELDS: &[&str] = &[
    "id",
    "name",
    "url",
    "token",
    "allowedDomains",
    "honeypotField",
    "defaultStatus",
    "defaultTags",
    "requestCount",
    "droppedCount",
    "createdAt",
    "updatedAt",
];

pub async fn keys(api: &Api, out: Out, c: &KeysCmd) -> Result<()> {
    match c {
        KeysCmd::List(args) => {
            let page = list(api, "/v1/keys", vec![], args).await?;
            if out.json {
                out.json(&page);
                return Ok(());
            }
            let rows = page
                .items
                .iter()
                .map(|k| {
                    vec![
                        cell(&k["id"]),
                        clip(&cell(&k["name"]), 32),
                        clip(&cell(&k["allowedDomains"]), 40),
                        cell(&k["requestCount"]),
                        cell(&k["lastLeadAt"]),
                        cell(&k["createdAt"]),
                    ]
                })
                .collect::<Vec<_>>();
            out.table(
                &["ID", "NAME", "DOMAINS", "REQUESTS", "LAST LEAD", "CREATED"],
                &rows,
            );
            more(out, page.next_cursor.as_deref());
        }
        KeysCmd::Get { id, reveal } => {
            check_id(IdKind::Key, id, "key")?;
            let q = if *reveal {
                vec![("reveal", "true".to_owned())]
            } else {
                vec![]
            };
            let key = api
                .json(Method::GET, &format!("/v1/keys/{id}"), &q, None)
                .await?;
            show_object(out, &key, KEY_FIELDS);
        }
        KeysCmd::Create {
            name,
            domains,
            honeypot,
            tags,
            default_status,
            rate_limit,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            body.insert("allowedDomains".into(), json!(domains));
            body.insert("defaultTags".into(), json!(tags));
            if let Some(h) = honeypot {
                body.insert("honeypotField".into(), json!(h));
            }
            if let Some(s) = default_status {
                body.insert("defaultStatus".into(), json!(s));
            }
            if let Some(r) = rate_limit {
                body.insert("rateLimitPerMinute".into(), json!(r));
            }
            let key = api
                .json(Method::POST, "/v1/keys", &[], Some(&Value::Object(body)))
                .await?;
            show_object(out, &key, KEY_FIELDS);
            if !out.json {
                eprintln!(
                    "{}",
                    out.paint("The token is shown in full only now: keep it.", Tone::Warn)
                );
            }
        }
        KeysCmd::Rotate { id } => {
            check_id(IdKind::Key, id, "key")?;
            let key = api
                .json(Method::POST, &format!("/v1/keys/{id}/rotate"), &[], None)
                .await?;
            show_object(out, &key, KEY_FIELDS);
        }
        KeysCmd::Delete { id } => {
            check_id(IdKind::Key, id, "key")?;
            api.json(Method::DELETE, &format!("/v1/keys/{id}"), &[], None)
                .await?;
            done(out, json!({"deleted": id}), &format!("Deleted {id}."));
        }
    }
    Ok(())
}

const SUB_FIELDS: &[&str] = &[
    "id",
    "url",
    "events",
    "sources",
    "secret",
    "enabled",
    "disabledReason",
    "maxAttempts",
    "createdAt",
    "updatedAt",
];

pub async fn destinations(api: &Api, out: Out, c: &DestinationsCmd) -> Result<()> {
    let sub_path = |id: &str, tail: &str| format!("/v1/subscriptions/{id}{tail}");
    let value = match c {
        DestinationsCmd::List(args) => {
            let page = list(api, "/v1/subscriptions", vec![], args).await?;
            if out.json {
                out.json(&page);
                return Ok(());
            }
            let rows = page
                .items
                .iter()
                .map(|s| {
                    let state = if s["enabled"].as_bool() == Some(true) {
                        "enabled"
                    } else {
                        "disabled"
                    };
                    vec![
                        cell(&s["id"]),
                        clip(&cell(&s["url"]), 50),
                        clip(&cell(&s["events"]), 30),
                        out.status(state),
                        cell(&s["secret"]),
                    ]
                })
                .collect::<Vec<_>>();
            out.table(&["ID", "URL", "EVENTS", "STATE", "SECRET"], &rows);
            more(out, page.next_cursor.as_deref());
            return Ok(());
        }
        DestinationsCmd::Get { id } => {
            check_id(IdKind::Subscription, id, "destination")?;
            api.json(Method::GET, &sub_path(id, ""), &[], None).await?
        }
        DestinationsCmd::Create {
            url,
            events,
            sources,
            max_attempts,
        } => {
            let mut body = Map::new();
            body.insert("url".into(), json!(url));
            if !events.is_empty() {
                body.insert("events".into(), json!(events));
            }
            if !sources.is_empty() {
                body.insert("sources".into(), json!(sources));
            }
            if let Some(m) = max_attempts {
                body.insert("maxAttempts".into(), json!(m));
            }
            api.json(
                Method::POST,
                "/v1/subscriptions",
                &[],
                Some(&Value::Object(body)),
            )
            .await?
        }
        DestinationsCmd::Test { id } => {
            check_id(IdKind::Subscription, id, "destination")?;
            let r = api
                .json(Method::POST, &sub_path(id, "/test"), &[], None)
                .await?;
            if !out.json && r["delivered"].as_bool() != Some(true) {
                show_object(out, &r, &["delivered", "statusCode", "durationMs", "error"]);
                return Err(crate::error::CliError::Local(
                    "the destination did not take the test delivery".into(),
                ));
            }
            r
        }
        DestinationsCmd::RotateSecret { id, grace_seconds } => {
            check_id(IdKind::Subscription, id, "destination")?;
            api.json(
                Method::POST,
                &sub_path(id, "/rotate-secret"),
                &[],
                Some(&json!({"graceSeconds": grace_seconds})),
            )
            .await?
        }
        DestinationsCmd::Enable { id } | DestinationsCmd::Disable { id } => {
            check_id(IdKind::Subscription, id, "destination")?;
            let enabled = matches!(c, DestinationsCmd::Enable { .. });
            api.json(
                Method::PATCH,
                &sub_path(id, ""),
                &[],
                Some(&json!({"enabled": enabled})),
            )
            .await?
        }
        DestinationsCmd::Delete { id } => {
            check_id(IdKind::Subscription, id, "destination")?;
            api.json(Method::DELETE, &sub_path(id, ""), &[], None)
                .await?;
            done(out, json!({"deleted": id}), &format!("Deleted {id}."));
            return Ok(());
        }
    };
    show_object(out, &value, SUB_FIELDS);
    Ok(())
}

/// Says there is a next page, and how to get it.
pub fn more(out: Out, next: Option<&str>) {
    if let Some(c) = next {
        eprintln!(
            "{}",
            out.paint(&format!("more: --cursor {c} (or --all)"), Tone::Dim)
        );
    }
}

/// The answer of an action with no body.
pub fn done(out: Out, value: Value, text: &str) {
    if out.json {
        out.json(&value);
    } else {
        println!("{text}");
    }
}
