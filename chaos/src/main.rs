//! `make chaos`: see the crate docs (`src/lib.rs`) and README.
//!
//! ```text
//! leadpipe-chaos [--short] [--leads N] [--window SECS] [--settle SECS] [--out DIR]
//! leadpipe-chaos local      # the local stack, as leadpipe-local runs it
//! leadpipe-chaos load …     # make latency / make load (src/load/cli.rs)
//! ```
//!
//! The runner it starts is `LEADPIPE_LOCAL_BIN` when set, else itself with
//! `local`. Exit status: 0 when the run passed, 1 when it failed (a lost lead
//! or delivery, two leads for one address, a bad signature, duplicates
//! beyond the stated window), 2 when the harness could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use leadpipe_chaos::{Config, run, runner, summary};

fn usage() -> ExitCode {
    eprintln!(
        "usage: leadpipe-chaos [--short] [--leads N] [--window SECS] [--settle SECS] [--out DIR] [--no-emulator-restart] | local"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("local") {
        return runner::run_local_stack().await;
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut out = PathBuf::from(target).join("chaos");
    let (program, runner_args) = match std::env::var("LEADPIPE_LOCAL_BIN") {
        Ok(p) if !p.is_empty() => (PathBuf::from(p), vec![]),
        _ => match std::env::current_exe() {
            Ok(p) => (p, vec!["local".to_owned()]),
            Err(e) => {
                eprintln!("leadpipe-chaos: cannot find my own binary: {e}");
                return ExitCode::from(2);
            }
        },
    };
    if args.first().map(String::as_str) == Some("load") {
        let out = out.with_file_name("load");
        return leadpipe_chaos::load::cli::main(&args[1..], out, program, runner_args).await;
    }
    let short = args.iter().any(|a| a == "--short");
    let mut leads = None;
    let mut window = None;
    let mut settle = None;
    let mut no_restart = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Option<u64> {
            let v = it.next().and_then(|v| v.parse().ok());
            if v.is_none() {
                eprintln!("leadpipe-chaos: {name} needs a number");
            }
            v
        };
        match a.as_str() {
            "--short" => {}
            "--no-emulator-restart" => no_restart = true,
            "--leads" => match num("--leads") {
                Some(n) => leads = Some(n as usize),
                None => return usage(),
            },
            "--window" => match num("--window") {
                Some(n) => window = Some(Duration::from_secs(n)),
                None => return usage(),
            },
            "--settle" => match num("--settle") {
                Some(n) => settle = Some(Duration::from_secs(n)),
                None => return usage(),
            },
            "--out" => match it.next() {
                Some(d) => out = PathBuf::from(d),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let mut cfg = if short {
        Config::short(out, program, runner_args)
    } else {
        Config::full(out, program, runner_args)
    };
    if let Some(n) = leads {
        cfg.leads = n;
    }
    if let Some(w) = window {
        cfg.window = w;
    }
    if let Some(s) = settle {
        cfg.settle = s;
    }
    if no_restart {
        cfg.emulator_restarts.clear();
    }
    match run(cfg).await {
        Ok(outcome) => {
            let r = &outcome.reconciled;
            println!();
            for n in &r.notes {
                println!("note: {n}");
            }
            for l in r.lost_leads.iter().take(20) {
                println!("LOST lead: {l}");
            }
            for l in r.lost_deliveries.iter().take(20) {
                println!("LOST delivery: {l}");
            }
            for e in &r.duplicates.examples {
                println!("duplicate: {e}");
            }
            if r.lost() > 40 {
                println!(
                    "… {} in all: see {}",
                    r.lost(),
                    outcome.summary_path.display()
                );
            }
            for f in summary::figures(&outcome.summary) {
                println!("{f}");
            }
            println!("summary: {}", outcome.summary_path.display());
            println!("{}", r.line());
            if r.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("leadpipe-chaos: {e}");
            ExitCode::from(2)
        }
    }
}
