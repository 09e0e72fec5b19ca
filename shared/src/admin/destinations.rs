//! A subscription's `kind`, `config` and `mapping` in the admin API: read
//! and checked at save (through the kind's own file under
//! [`crate::deliver::destinations`]), shown on reads with credentials
//! masked. A kind is chosen at creation (`webhook` when absent) and kept.

use serde_json::Value;

use super::input::JsonInput;
use crate::app::App;
use crate::deliver::destinations::{Kind, mapping};
use crate::model::subscriptions::Subscription;

/// Fields that only a webhook has.
pub const WEBHOOK_ONLY: [&str; 5] = ["url", "secret", "headers", "auth", "template"];

/// What a body says of the destination.
#[derive(Debug, Default)]
pub struct DestinationInput {
    /// The kind; `None` for a webhook.
    pub kind: Option<Kind>,
    /// A new config: (kind, config JSON, shown JSON) and the URL reads show.
    pub change: Option<((String, String, String), String)>,
    pub mapping: Option<Option<String>>,
}

/// Reads `kind`, `config` and `mapping`; `current` is the stored
/// subscription on a `PATCH`.
pub async fn read(
    input: &mut JsonInput,
    current: Option<&Subscription>,
    app: &App,
) -> DestinationInput {
    let mut out = DestinationInput::default();
    let stored = current.map(Kind::of);
    let asked = input.string("kind");
    out.kind = match (&asked, stored) {
        (None, Some(k)) => k,
        (None, None) => None,
        (Some(text), _) if text == "webhook" => None,
        (Some(text), _) => match Kind::parse(text) {
            Some(k) => Some(k),
            None => {
                input.issue("kind", format!("must be one of {}", Kind::names()));
                return out;
            }
        },
    };
    if let (Some(stored), Some(_)) = (stored, &asked)
        && stored != out.kind
    {
        input.issue(
            "kind",
            "is chosen when a destination is created; create another to change it",
        );
        return out;
    }
    match out.kind {
        None => {
            for field in ["config", "mapping"] {
                if input.raw(field).is_some_and(|v| !v.is_null()) {
                    input.issue(
                        field,
                        format!(
                            "applies to the native kinds ({}); a webhook uses url, headers, auth and template",
                            Kind::names().trim_start_matches("webhook, ")
                        ),
                    );
                }
            }
        }
        Some(kind) => {
            for field in WEBHOOK_ONLY {
                if input.has(field) {
                    input.issue(
                        field,
                        format!("applies to webhook destinations, not {}", kind.as_str()),
                    );
                }
            }
            read_config(input, kind, current.is_none(), app, &mut out).await;
            read_mapping(input, &mut out);
        }
    }
    out
}

async fn read_config(
    input: &mut JsonInput,
    kind: Kind,
    creating: bool,
    app: &App,
    out: &mut DestinationInput,
) {
    let config = match input.raw("config") {
        None | Some(Value::Null) => {
            if creating {
                input.issue("config", format!("is required for kind {}", kind.as_str()));
            }
            return;
        }
        Some(v) => v.clone(),
    };
    match kind.check_config(app, &config).await {
        Ok(checked) => {
            out.change = Some((
                (
                    kind.as_str().to_owned(),
                    checked.config.to_string(),
                    checked.shown.to_string(),
                ),
                checked.url,
            ));
        }
        Err(issues) => {
            for i in issues {
                input.issue(i.field, i.issue);
            }
        }
    }
}

fn read_mapping(input: &mut JsonInput, out: &mut DestinationInput) {
    match input.raw("mapping").cloned() {
        None => {}
        Some(Value::Null) => out.mapping = Some(None),
        Some(v) => match mapping::check(&v) {
            Ok(pairs) => out.mapping = Some(Some(mapping::to_json(&pairs).to_string())),
            Err(issues) => {
                for i in issues {
                    input.issue(i.field, i.issue);
                }
            }
        },
    }
}

/// `kind`, `config` (credentials masked) and `mapping` (the kind's default
/// when none is set) as reads show them.
pub fn show(sub: &Subscription) -> (String, Option<Value>, Option<Value>) {
    match Kind::of(sub) {
        None => ("webhook".into(), None, None),
        Some(kind) => {
            let config = sub
                .config_shown
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            let pairs = sub
                .mapping
                .as_deref()
                .and_then(mapping::parse_stored)
                .unwrap_or_else(|| kind.default_mapping());
            (kind.as_str().into(), config, Some(mapping::to_json(&pairs)))
        }
    }
}
