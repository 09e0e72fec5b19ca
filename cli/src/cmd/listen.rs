//! `leadpipe listen --forward-to http://localhost:PORT/path`: creates a
//! listener (see `leadpipe::listen`), prints its signing secret, long-polls
//! its deliveries, POSTs each to the local URL with the headers and body
//! the API signed (exactly what production sends), reports each answer
//! back, and deletes the listener when stopped (Ctrl-C, SIGTERM).

use std::time::{Duration, Instant};

use clap::Args;
use leadpipe::deliver::send::RESPONSE_SNIPPET_BYTES;
use leadpipe::listen::{Forward, ForwardResult, Forwards, Listener, MAX_WAIT_S};
use reqwest::Method;
use serde_json::{Value, json};

use super::tail::stop_signal;
use crate::client::Api;
use crate::error::{CliError, Result};
use crate::output::{Out, Tone};

#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Where to POST each delivery (http://localhost:PORT/path).
    #[arg(long, value_name = "URL")]
    pub forward_to: String,
    /// Only these event types (repeat; default every type).
    #[arg(long = "event", value_name = "TYPE")]
    pub events: Vec<String>,
    /// Only leads from this source: `key:key_…` or `meta_lead_ads` (repeat).
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// The listener's name, shown as its URL `leadpipe-listen://NAME`.
    #[arg(long, default_value = "cli")]
    pub name: String,
}

/// How long the local receiver gets, as production gives a receiver.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(api: &Api, out: Out, args: &ListenArgs) -> Result<()> {
    let target = url::Url::parse(&args.forward_to)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--forward-to {:?} must be an http(s) URL",
                args.forward_to
            ))
        })?;
    let local = reqwest::Client::builder()
        .user_agent(concat!("leadpipe/", env!("CARGO_PKG_VERSION")))
        .timeout(FORWARD_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::Local(format!("HTTP client: {e}")))?;
    let mut body = json!({"name": args.name});
    if !args.events.is_empty() {
        body["events"] = json!(args.events);
    }
    if !args.sources.is_empty() {
        body["sources"] = json!(args.sources);
    }
    let created = api
        .json(Method::POST, "/v1/listeners", &[], Some(&body))
        .await?;
    let listener: Listener = serde_json::from_value(created)
        .map_err(|e| CliError::Local(format!("unexpected listener: {e}")))?;
    if out.json {
        out.json_line(&json!({"type": "ready", "listenerId": listener.id,
            "secret": listener.secret, "forwardTo": target.as_str()}));
    } else {
        println!(
            "{} forwarding deliveries to {target}",
            out.paint("Ready!", Tone::Good)
        );
        println!(
            "Your signing secret is {} (listener {}; Ctrl-C to stop)",
            out.paint(&listener.secret, Tone::Bold),
            listener.id
        );
    }
    let stop = stop_signal();
    tokio::pin!(stop);
    let poll_path = format!("/v1/listeners/{}/deliveries", listener.id);
    let poll_query = [("waitSeconds", MAX_WAIT_S.to_string())];
    let outcome = loop {
        let poll = api.send(
            Method::GET,
            &poll_path,
            &poll_query,
            None,
            Some(Duration::from_secs(MAX_WAIT_S + 15)),
        );
        let resp = tokio::select! {
            _ = &mut stop => break Ok(()),
            r = poll => r,
        };
        let batch: Forwards = match resp {
            Ok(r) => match r.json().await {
                Ok(b) => b,
                Err(e) => {
                    warn(out, &format!("unreadable poll answer: {}", e.without_url()));
                    continue;
                }
            },
            Err(
                e @ CliError::Api {
                    status: 401 | 403 | 404,
                    ..
                },
            ) => break Err(e),
            Err(e) => {
                warn(out, &format!("(will retry) {e}"));
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        for f in batch.items {
            let result = forward(&local, &target, &f).await;
            report(out, &f, &result);
            let ack = serde_json::to_value(&result).unwrap_or(Value::Null);
            if let Err(e) = api
                .json(
                    Method::POST,
                    &format!("/v1/listeners/{}/ack", listener.id),
                    &[],
                    Some(&ack),
                )
                .await
            {
                warn(out, &format!("could not report {}: {e}", f.delivery_id));
            }
        }
    };
    // Removed however the loop ended: a listener left behind would hold
    // deliveries nobody collects.
    match api
        .json(
            Method::DELETE,
            &format!("/v1/listeners/{}", listener.id),
            &[],
            None,
        )
        .await
    {
        Ok(_) if !out.json => eprintln!("Listener {} removed.", listener.id),
        Ok(_) => out.json_line(&json!({"type": "stopped", "listenerId": listener.id})),
        Err(e) => warn(
            out,
            &format!("could not remove listener {}: {e}", listener.id),
        ),
    }
    outcome
}

fn warn(out: Out, text: &str) {
    eprintln!("{}", out.paint(text, Tone::Warn));
}

/// POSTs one delivery to the local receiver, exactly as signed.
async fn forward(client: &reqwest::Client, target: &url::Url, f: &Forward) -> ForwardResult {
    let started = Instant::now();
    let mut req = client.post(target.clone()).body(f.body.clone());
    for (name, value) in &f.headers {
        req = req.header(name, value);
    }
    let mut result = ForwardResult {
        delivery_id: f.delivery_id.clone(),
        attempt: f.attempt,
        claim: f.claim.clone(),
        status_code: None,
        duration_ms: 0,
        error: None,
        response: None,
    };
    match req.send().await {
        Ok(mut resp) => {
            result.status_code = Some(resp.status().as_u16());
            let mut snippet = Vec::new();
            while snippet.len() < RESPONSE_SNIPPET_BYTES {
                match resp.chunk().await {
                    Ok(Some(c)) => snippet.extend_from_slice(
                        &c[..c.len().min(RESPONSE_SNIPPET_BYTES - snippet.len())],
                    ),
                    _ => break,
                }
            }
            result.response =
                (!snippet.is_empty()).then(|| String::from_utf8_lossy(&snippet).into_owned());
        }
        Err(e) => {
            result.error = Some(if e.is_timeout() {
                format!("timed out after {} s", FORWARD_TIMEOUT.as_secs())
            } else if e.is_connect() {
                "could not connect to the local receiver".into()
            } else {
                format!("request failed: {}", e.without_url())
            });
        }
    }
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

fn report(out: Out, f: &Forward, r: &ForwardResult) {
    if out.json {
        out.json_line(&json!({"type": "forward", "deliveryId": f.delivery_id,
            "eventType": f.event_type, "attempt": f.attempt, "statusCode": r.status_code,
            "durationMs": r.duration_ms, "error": r.error}));
        return;
    }
    let (text, tone) = match (r.status_code, &r.error) {
        (Some(c), _) if (200..300).contains(&c) => (c.to_string(), Tone::Good),
        (Some(c), _) => (c.to_string(), Tone::Bad),
        (None, e) => (e.clone().unwrap_or_default(), Tone::Bad),
    };
    println!(
        "{}  {}  {}  → {} ({} ms)",
        f.event_type,
        f.delivery_id,
        out.paint(&format!("attempt {}", f.attempt), Tone::Dim),
        out.paint(&text, tone),
        r.duration_ms
    );
}
