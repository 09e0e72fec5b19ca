//! `leadpipe leads …`: search, show, and the CSV export (every page the
//! API hands out, with a progress bar on a terminal).

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use leadpipe::rules::ids::IdKind;
use reqwest::Method;

use super::resources::more;
use super::{check_id, list, show_object};
use crate::ListArgs;
use crate::client::Api;
use crate::error::{CliError, Result};
use crate::output::{Out, cell, clip};

#[derive(Debug, Clone, Args)]
pub struct LeadFilter {
    /// Any of the lead's emails (case does not matter).
    #[arg(long)]
    pub email: Option<String>,
    /// Any of the lead's phones, in any spelling.
    #[arg(long)]
    pub phone: Option<String>,
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
}

impl LeadFilter {
    fn query(&self) -> Vec<(&'static str, String)> {
        [
            ("email", &self.email),
            ("phone", &self.phone),
            ("tag", &self.tag),
            ("status", &self.status),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

#[derive(Debug, Subcommand)]
pub enum LeadsCmd {
    /// Search leads.
    List {
        #[command(flatten)]
        filter: LeadFilter,
        #[command(flatten)]
        page: ListArgs,
    },
    /// One lead, with its history.
    Get { id: String },
    /// Every matching lead as CSV (to --output, else stdout).
    Export {
        #[command(flatten)]
        filter: LeadFilter,
        /// The file to write (else stdout).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

pub async fn run(api: &Api, out: Out, c: &LeadsCmd) -> Result<()> {
    match c {
        LeadsCmd::List { filter, page } => {
            let page = list(api, "/v1/leads", filter.query(), page).await?;
            if out.json {
                out.json(&page);
                return Ok(());
            }
            let rows = page
                .items
                .iter()
                .map(|l| {
                    vec![
                        cell(&l["id"]),
                        clip(&cell(&l["email"]), 36),
                        cell(&l["phone"]),
                        clip(&cell(&l["name"]), 28),
                        out.status(&cell(&l["status"])),
                        clip(&cell(&l["tags"]), 30),
                        cell(&l["lastSeenAt"]),
                    ]
                })
                .collect::<Vec<_>>();
            out.table(
                &[
                    "ID",
                    "EMAIL",
                    "PHONE",
                    "NAME",
                    "STATUS",
                    "TAGS",
                    "LAST SEEN",
                ],
                &rows,
            );
            more(out, page.next_cursor.as_deref());
        }
        LeadsCmd::Get { id } => {
            check_id(IdKind::Lead, id, "lead")?;
            let lead = api
                .json(Method::GET, &format!("/v1/leads/{id}"), &[], None)
                .await?;
            show_object(
                out,
                &lead,
                &[
                    "id",
                    "email",
                    "phone",
                    "name",
                    "firstName",
                    "lastName",
                    "status",
                    "tags",
                ],
            );
        }
        LeadsCmd::Export { filter, output } => export(api, out, filter, output.as_deref()).await?,
    }
    Ok(())
}

/// Counts CSV records ended in `bytes` (newlines outside quotes), carrying
/// the quote state across chunks.
fn count_records(bytes: &[u8], in_quotes: &mut bool) -> u64 {
    let mut n = 0;
    for b in bytes {
        match b {
            b'"' => *in_quotes = !*in_quotes,
            b'\n' if !*in_quotes => n += 1,
            _ => {}
        }
    }
    n
}

async fn export(
    api: &Api,
    out: Out,
    filter: &LeadFilter,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let mut sink: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| CliError::Local(format!("cannot write {}: {e}", p.display())),
        )?)),
        None => Box::new(std::io::stdout().lock()),
    };
    let show_bar = !out.json && std::io::stderr().is_terminal();
    let bar = if show_bar {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({binary_bytes}, {elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let (mut rows, mut pages, mut cursor) = (0u64, 0u32, None::<String>);
    loop {
        let mut q = filter.query();
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let mut resp = api
            .send(Method::GET, "/v1/leads/export", &q, None, None)
            .await?;
        let next = resp
            .headers()
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // A later page repeats the header line: skip it.
        let mut skip_header = pages > 0;
        let mut in_quotes = false;
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            CliError::Unavailable(format!("the export stopped: {}", e.without_url()))
        })? {
            let mut data: &[u8] = &chunk;
            if skip_header {
                match data.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        data = &data[i + 1..];
                        skip_header = false;
                    }
                    None => continue,
                }
            }
            rows += count_records(data, &mut in_quotes);
            sink.write_all(data)?;
            bar.inc(data.len() as u64);
            bar.set_message(format!("{} leads", rows.saturating_sub(1)));
        }
        pages += 1;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    sink.flush()?;
    bar.finish_and_clear();
    let leads = rows.saturating_sub(1);
    let summary = serde_json::json!({
        "leads": leads,
        "pages": pages,
        "output": output.map(|p| p.display().to_string()),
    });
    if out.json && output.is_some() {
        out.json(&summary);
    } else if out.json {
        // stdout holds the CSV.
        eprintln!("{summary}");
    } else if let Some(p) = output {
        eprintln!("Exported {leads} leads to {}.", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_count_outside_quotes() {
        let mut q = false;
        assert_eq!(count_records(b"id,name\r\nlead_1,\"a\nb\"\r\n", &mut q), 2);
        assert_eq!(count_records(b"lead_2,\"split", &mut q), 0);
        assert!(q);
        assert_eq!(count_records(b"\nend\"\r\n", &mut q), 1);
    }
}
