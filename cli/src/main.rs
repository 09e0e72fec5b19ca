//! `leadpipe`: the operator's command line for a Leadpipe deployment (the
//! admin API of docs/CONTRACT.md §6): keys, destinations, leads (search,
//! CSV export), events, deliveries, `tail` and `listen`. See cli/README.md.

mod client;
mod cmd;
mod config;
mod error;
mod output;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::code;
use crate::output::Out;

#[derive(Debug, Parser)]
#[command(
    name = "leadpipe",
    version,
    about = "Operate a Leadpipe deployment from the shell"
)]
pub struct Cli {
    /// Print JSON (one document; `tail` and `listen`: one object a line).
    #[arg(long, global = true)]
    pub json: bool,
    /// No colour, even on a terminal (also: NO_COLOR).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The API's base URL (else LEADPIPE_URL, else the login file).
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// The workspace to act in, sent as `Leadpipe-Workspace` (else
    /// LEADPIPE_WORKSPACE).
    #[arg(long, global = true, value_name = "ws_…")]
    pub workspace: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a token against the API and keep URL and token in the config
    /// file (mode 0600).
    Login {
        /// Read the token from stdin instead of prompting.
        #[arg(long)]
        token_stdin: bool,
    },
    /// Forget the saved URL and token.
    Logout,
    /// Which API and workspace this shell talks to, and whether it answers.
    Status,
    /// Webhook keys (sources).
    #[command(subcommand, visible_alias = "sources")]
    Keys(cmd::resources::KeysCmd),
    /// Destinations (subscriptions).
    #[command(subcommand, visible_alias = "subscriptions")]
    Destinations(cmd::resources::DestinationsCmd),
    /// Leads: search, show, CSV export.
    #[command(subcommand)]
    Leads(cmd::leads::LeadsCmd),
    /// Inbound events: list, show, replay.
    #[command(subcommand)]
    Events(cmd::activity::EventsCmd),
    /// Outbound deliveries: list, show, retry, redrive.
    #[command(subcommand)]
    Deliveries(cmd::activity::DeliveriesCmd),
    /// Stream new events and deliveries (and their status changes) as they
    /// happen, until Ctrl-C.
    Tail(cmd::tail::TailArgs),
    /// Receive the workspace's deliveries here and forward them, signed as
    /// production signs them, to a local URL; no inbound connection needed.
    Listen(cmd::listen::ListenArgs),
}

/// `--limit`, `--cursor` and `--all` of every list.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Items per page (1–200).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue from a previous page's `nextCursor`.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow every page.
    #[arg(long)]
    pub all: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                code::USAGE
            } else {
                code::OK
            });
        }
    };
    let out = Out::new(cli.json, cli.no_color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("leadpipe: cannot start: {e}");
            return ExitCode::from(code::REFUSED);
        }
    };
    match runtime.block_on(cmd::run(&cli, out)) {
        Ok(()) => ExitCode::from(code::OK),
        Err(e) => {
            if cli.json {
                eprintln!("{}", e.to_json());
            } else {
                eprintln!("leadpipe: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
