//! `leadpipe-chaos load …`: the arguments of a load run.
//!
//! ```text
//! leadpipe-chaos load [--name NAME] [--leads N | --duration SECS] [--rate PER_SECOND]
//!                     [--concurrency N] [--pollers N] [--settle SECS] [--out DIR]
//! ```
//!
//! `--duration` sets the leads to rate × duration when `--leads` is not
//! given, and stops sending after that long: a stack that cannot keep the
//! rate is sent fewer leads, and the run says what it sustained. Exit status: 0 when nothing accepted was lost, 1 when something
//! was (or nothing was accepted), 2 when the harness could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{LoadConfig, run};

const USAGE: &str = "usage: leadpipe-chaos load [--name NAME] [--leads N | --duration SECS] [--rate PER_SECOND] \
                     [--concurrency N] [--pollers N] [--settle SECS] [--out DIR]";

/// Parses `args` (after `load`) over the defaults: 1,000 leads at 20 a
/// second, 32 open, 5 pollers (the five batches at once an SQS event
/// source mapping starts with), 120 s to settle.
pub fn parse(
    args: &[String],
    out_dir: PathBuf,
    program: PathBuf,
    runner_args: Vec<String>,
) -> Result<LoadConfig, String> {
    // The stack runs in the output folder: a relative path would not
    // name the same program there.
    let program = std::fs::canonicalize(&program).unwrap_or(program);
    let mut cfg = LoadConfig {
        name: "latency".into(),
        leads: 1000,
        rate: 20.0,
        send_for: None,
        concurrency: 32,
        settle: Duration::from_secs(120),
        pollers: 5,
        out_dir,
        runner_program: program,
        runner_args,
    };
    let mut leads = None;
    let mut duration = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<f64, String> {
            it.next()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| format!("{name} needs a positive number\n{USAGE}"))
        };
        match a.as_str() {
            "--leads" => leads = Some(value("--leads")? as usize),
            "--duration" => duration = Some(value("--duration")?),
            "--rate" => cfg.rate = value("--rate")?,
            "--concurrency" => cfg.concurrency = value("--concurrency")? as usize,
            "--pollers" => cfg.pollers = (value("--pollers")? as usize).clamp(1, 16),
            "--settle" => cfg.settle = Duration::from_secs_f64(value("--settle")?),
            "--name" => cfg.name = it.next().ok_or(USAGE)?.clone(),
            "--out" => cfg.out_dir = PathBuf::from(it.next().ok_or(USAGE)?),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    cfg.leads = match (leads, duration) {
        (Some(n), _) => n,
        (None, Some(d)) => (cfg.rate * d).round() as usize,
        (None, None) => cfg.leads,
    };
    cfg.send_for = duration.map(Duration::from_secs_f64);
    if cfg.leads == 0 || cfg.concurrency == 0 {
        return Err(format!("nothing to send\n{USAGE}"));
    }
    Ok(cfg)
}

/// Runs `leadpipe-chaos load …` and prints the tables.
pub async fn main(
    args: &[String],
    out_dir: PathBuf,
    program: PathBuf,
    runner_args: Vec<String>,
) -> ExitCode {
    let cfg = match parse(args, out_dir, program, runner_args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(cfg).await {
        Ok(outcome) => {
            println!("\n{}", outcome.markdown);
            for l in outcome.reckoning.lost.iter().take(20) {
                println!("LOST (accepted, never received): {l}");
            }
            println!("json: {}", outcome.json_path.display());
            if outcome.reckoning.passed() {
                ExitCode::SUCCESS
            } else {
                println!(
                    "FAILED: {} accepted lead(s) never received, {} accepted",
                    outcome.reckoning.lost.len(),
                    outcome.reckoning.accepted
                );
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("leadpipe-chaos load: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn parsed(s: &str) -> Result<LoadConfig, String> {
        parse(&args(s), "out".into(), "bin".into(), vec![])
    }

    #[test]
    fn duration_sets_the_leads_unless_they_are_given() {
        let c = parsed("--rate 1000 --duration 60 --concurrency 64").expect("parses");
        assert_eq!((c.leads, c.rate, c.concurrency), (60_000, 1000.0, 64));
        assert_eq!(c.send_for, Some(Duration::from_secs(60)));
        let c = parsed("--leads 1500 --rate 20 --duration 60").expect("parses");
        assert_eq!(c.leads, 1500);
        let c = parsed("").expect("defaults");
        assert_eq!((c.leads, c.rate, c.name.as_str()), (1000, 20.0, "latency"));
        assert_eq!(c.send_for, None);
        let c = parsed("--name load --pollers 99").expect("parses");
        assert_eq!((c.name.as_str(), c.pollers), ("load", 16));
    }

    #[test]
    fn bad_arguments_are_refused() {
        for bad in [
            "--rate",
            "--rate 0",
            "--rate x",
            "--leads -3",
            "--bogus",
            "--name",
        ] {
            assert!(parsed(bad).is_err(), "{bad} was accepted");
        }
    }
}
