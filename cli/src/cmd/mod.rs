//! The commands, one module per group; [`run`] dispatches.

pub mod activity;
pub mod leads;
pub mod listen;
pub mod resources;
pub mod tail;

use std::io::{BufRead, IsTerminal, Write};

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, Page};
use crate::config::{self, FileConfig, Target};
use crate::error::{CliError, Result};
use crate::output::Out;
use crate::{Cli, Command, ListArgs};

pub async fn run(cli: &Cli, out: Out) -> Result<()> {
    let api = || -> Result<Api> {
        Api::new(config::target(
            cli.url.as_deref(),
            cli.workspace.as_deref(),
        )?)
    };
    match &cli.command {
        Command::Login { token_stdin } => login(cli, out, *token_stdin).await,
        Command::Logout => {
            let removed = config::remove()?;
            if out.json {
                out.json(&json!({"removed": removed}));
            } else if removed {
                println!("Logged out.");
            } else {
                println!("Not logged in.");
            }
            Ok(())
        }
        Command::Status => status(&api()?, out).await,
        Command::Keys(c) => resources::keys(&api()?, out, c).await,
        Command::Destinations(c) => resources::destinations(&api()?, out, c).await,
        Command::Leads(c) => leads::run(&api()?, out, c).await,
        Command::Events(c) => activity::events(&api()?, out, c).await,
        Command::Deliveries(c) => activity::deliveries(&api()?, out, c).await,
        Command::Tail(a) => tail::run(&api()?, out, a).await,
        Command::Listen(a) => listen::run(&api()?, out, a).await,
    }
}

/// Reads the token (stdin, or a prompt with echo off on a terminal).
fn read_token(from_stdin: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let interactive = !from_stdin && stdin.is_terminal();
    if interactive {
        eprint!("Admin token: ");
        let _ = std::io::stderr().flush();
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if interactive {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    read?;
    let token = line.trim().to_owned();
    if token.is_empty() {
        return Err(CliError::Usage("no token given".into()));
    }
    Ok(token)
}

async fn login(cli: &Cli, out: Out, token_stdin: bool) -> Result<()> {
    let saved = config::load()?;
    let url_text = cli
        .url
        .clone()
        .or_else(|| std::env::var("LEADPIPE_URL").ok().filter(|u| !u.is_empty()))
        .or(saved.url.clone())
        .ok_or_else(|| {
            CliError::Usage("give the API's URL: leadpipe login --url https://…".into())
        })?;
    let url = config::parse_url(&url_text)?;
    let token = read_token(token_stdin)?;
    let workspace = cli.workspace.clone().or(saved.workspace);
    let api = Api::new(Target {
        url: url.clone(),
        token: token.clone(),
        workspace: workspace.clone(),
    })?;
    // Any authorised read proves the token.
    api.json(Method::GET, "/v1/keys", &[("limit", "1".into())], None)
        .await?;
    let path = config::save(&FileConfig {
        url: Some(url.to_string()),
        token: Some(token),
        workspace,
    })?;
    if out.json {
        out.json(&json!({"url": url.as_str(), "config": path.display().to_string()}));
    } else {
        println!(
            "Logged in to {url} (saved in {}, mode 0600).",
            path.display()
        );
    }
    Ok(())
}

async fn status(api: &Api, out: Out) -> Result<()> {
    let health = api.json(Method::GET, "/healthz", &[], None).await?;
    api.json(Method::GET, "/v1/keys", &[("limit", "1".into())], None)
        .await?;
    if out.json {
        out.json(&json!({"url": api.base().as_str(), "health": health, "authorized": true}));
    } else {
        println!(
            "{} answers (version {}); the token is accepted.",
            api.base(),
            health["version"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// One page, or every page with `--all`.
pub async fn list(
    api: &Api,
    path: &str,
    mut query: Vec<(&'static str, String)>,
    args: &ListArgs,
) -> Result<Page<Value>> {
    if let Some(l) = args.limit {
        query.push(("limit", l.to_string()));
    } else if args.all {
        query.push(("limit", "200".into()));
    }
    let mut cursor = args.cursor.clone();
    let mut items = Vec::new();
    loop {
        let mut q = query.clone();
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let page: Page<Value> = api.get(path, &q).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(c) if args.all => cursor = Some(c),
            next => {
                return Ok(Page {
                    items,
                    next_cursor: next,
                });
            }
        }
    }
}

/// Prints what an action answered: JSON, or its fields.
pub fn show_object(out: Out, value: &Value, order: &[&str]) {
    if out.json {
        out.json(value);
        return;
    }
    let Some(map) = value.as_object() else {
        println!("{value}");
        return;
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for k in order {
        if let Some(v) = map.get(*k) {
            pairs.push((k, display(v)));
        }
    }
    for (k, v) in map {
        if !order.contains(&k.as_str()) {
            pairs.push((k.as_str(), display(v)));
        }
    }
    out.fields(&pairs);
}

fn display(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_)
            if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) =>
        {
            serde_json::to_string(v).unwrap_or_default()
        }
        other => crate::output::cell(other),
    }
}

/// Refuses an id that cannot be one of `kind` before asking the API.
pub fn check_id(kind: leadpipe::rules::ids::IdKind, id: &str, what: &str) -> Result<()> {
    if leadpipe::rules::ids::is_valid(kind, id) {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "{id:?} is not a {what} id (they look like {}…)",
            kind.prefix()
        )))
    }
}
