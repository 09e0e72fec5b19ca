//! `leadpipe tail`: new events and deliveries, and each status change of
//! them, as they happen (the newest pages read every `--interval`), until
//! Ctrl-C or SIGTERM.

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;
use leadpipe::admin::deliveries::DeliveryView;
use leadpipe::admin::events::EventView;
use serde_json::json;

use super::activity::{delivery_row, event_row, source_text};
use crate::client::{Api, Page};
use crate::error::{CliError, Result};
use crate::output::{Out, Tone};

#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Seconds between looks.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Only events.
    #[arg(long, conflicts_with = "deliveries_only")]
    pub events_only: bool,
    /// Only deliveries.
    #[arg(long)]
    pub deliveries_only: bool,
    /// Also print what is already there (the newest page) at the start.
    #[arg(long)]
    pub existing: bool,
}

/// Statuses seen, by id; forgets the oldest past a bound.
struct Seen {
    status: HashMap<String, String>,
}

impl Seen {
    const MAX: usize = 5_000;

    /// True when `id` is new or its status changed.
    fn changed(&mut self, id: &str, status: &str) -> bool {
        if self.status.len() > Self::MAX {
            // Ids sort by time: keep the newer half.
            let mut ids: Vec<String> = self.status.keys().cloned().collect();
            ids.sort();
            for old in &ids[..ids.len() / 2] {
                self.status.remove(old);
            }
        }
        match self.status.insert(id.to_owned(), status.to_owned()) {
            Some(prev) => prev != status,
            None => true,
        }
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub async fn run(api: &Api, out: Out, args: &TailArgs) -> Result<()> {
    if !(0.2..=60.0).contains(&args.interval) {
        return Err(CliError::Usage("--interval is 0.2 to 60 seconds".into()));
    }
    let every = Duration::from_secs_f64(args.interval);
    let mut seen = Seen {
        status: HashMap::new(),
    };
    let mut first = true;
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        match look(api, out, args, &mut seen, first && !args.existing).await {
            Ok(()) if first => {
                first = false;
                // Said once the starting point is read: what follows is new.
                if out.json {
                    out.json_line(&json!({"type": "ready", "url": api.base().as_str()}));
                } else {
                    eprintln!(
                        "{}",
                        out.paint(
                            &format!("Tailing {} (Ctrl-C to stop)…", api.base()),
                            Tone::Dim
                        )
                    );
                }
            }
            Ok(()) => {}
            Err(
                e @ CliError::Api {
                    status: 401 | 403 | 404,
                    ..
                },
            ) => return Err(e),
            Err(e) => eprintln!("{}", out.paint(&format!("(will retry) {e}"), Tone::Warn)),
        }
        tokio::select! {
            _ = &mut stop => return Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn look(api: &Api, out: Out, args: &TailArgs, seen: &mut Seen, quiet: bool) -> Result<()> {
    let q = [("limit", "50".to_owned())];
    if !args.deliveries_only {
        let page: Page<EventView> = api.get("/v1/events", &q).await?;
        for e in page.items.iter().rev() {
            if seen.changed(e.id.as_str(), e.status.as_str()) && !quiet {
                if out.json {
                    out.json_line(&json!({"type": "event", "event": e}));
                } else {
                    let row = event_row(out, e);
                    println!(
                        "{}  {}  {}  {}  {}  {}",
                        out.paint("event   ", Tone::Bold),
                        row[0],
                        row[1],
                        source_text(&e.source),
                        row[3],
                        if row[5] == "-" { "" } else { &row[5] }
                    );
                }
            }
        }
    }
    if !args.events_only {
        let page: Page<DeliveryView> = api.get("/v1/deliveries", &q).await?;
        for d in page.items.iter().rev() {
            if seen.changed(&d.id, d.status.as_str()) && !quiet {
                if out.json {
                    out.json_line(&json!({"type": "delivery", "delivery": d}));
                } else {
                    let row = delivery_row(out, d);
                    println!(
                        "{}  {}  {}  {}  → {}  attempts {}",
                        out.paint("delivery", Tone::Bold),
                        row[0],
                        row[1],
                        row[2],
                        row[3],
                        row[4]
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_new_ids_or_new_statuses() {
        let mut s = Seen {
            status: HashMap::new(),
        };
        assert!(s.changed("evt_1", "RECEIVED"));
        assert!(!s.changed("evt_1", "RECEIVED"));
        assert!(s.changed("evt_1", "PROCESSED"));
        for i in 0..(Seen::MAX + 2) {
            s.changed(&format!("evt_{i:08}"), "X");
        }
        assert!(s.status.len() <= Seen::MAX + 1);
    }
}
