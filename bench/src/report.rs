//! BENCHMARKS.md's tables: the functions side by side, the per-million
//! cost line, criterion's figures, the cold-start steps.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::cost::{DELIVERY, DELIVERY_QUEUED, INGEST, PROCESS, cost_per_million};
use crate::{Figures, percentile};

pub fn steps_report(steps: &[(String, f64)]) -> String {
    if steps.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Where a cold start goes\n\nEach step a function's `main` and first request take, timed in one fresh process \
(`bench/src/bin/init-phases.rs`, median of 5, same environment and emulator). Steps marked *main* count in Lambda's init; \
*first use* steps run on the first request that needs them, or in the background warm-up the functions start after `main`.\n\n\
| step | ms |\n|---|---|\n",
    );
    for (step, ms) in steps {
        s.push_str(&format!("| {step} | {ms:.2} |\n"));
    }
    s
}

/// Criterion's point estimates (ns) from `target/criterion/**/new/estimates.json`.
pub fn criterion_estimates(dir: &Path) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<(String, f64)>, base: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    let est = p.join("estimates.json");
                    if let Some(v) = std::fs::read_to_string(est)
                        .ok()
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                        && let Some(ns) = v["median"]["point_estimate"].as_f64()
                    {
                        let name = p
                            .parent()
                            .and_then(|q| q.strip_prefix(base).ok())
                            .map(|q| q.display().to_string())
                            .unwrap_or_default();
                        out.push((name, ns));
                    }
                } else if p.file_name().is_some_and(|n| n != "report" && n != "base") {
                    walk(&p, out, base);
                }
            }
        }
    }
    walk(dir, &mut out, dir);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cpu}, {cores} cores, {}", std::env::consts::ARCH)
}

fn today() -> String {
    leadpipe::rules::clock::now_rfc3339()[..10].to_owned()
}

pub fn report(
    results: &[(String, &'static str, Figures)],
    criterion: &[(String, f64)],
    cold: usize,
    warm: usize,
) -> String {
    let by: HashMap<&str, &Figures> = results.iter().map(|(n, _, f)| (n.as_str(), f)).collect();
    let mut s = String::new();
    s.push_str("# Leadpipe benchmarks\n\n");
    s.push_str(&format!("Measured {} on {} by `make bench`: each function's release build runs under a local Lambda Runtime API \
(the real protocol), with moto's server behind it, beside an empty function built the same way. {cold} fresh processes per function \
(init = exec → first `GET /next`; first invocation includes TLS/connection set-up and the secret fetch), then {warm} warm invocations \
in one process. Durations include the emulator's latency, which is higher than DynamoDB's and SQS's; ratios are taken in the same run.\n\n",
        today(), machine()));
    s.push_str("| function | init ms (median) | first invocation ms (median) | warm p50 ms | warm p99 ms | max RSS MB | binary MB | zip MB | log B / invocation | errors |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (name, baseline, f) in results {
        let b = by.get(baseline).copied();
        let cell = |v: f64, bv: Option<f64>| match bv {
            Some(bv) if bv > 0.0 => format!("{v:.2} / {bv:.2} (×{:.2})", v / bv),
            _ => format!("{v:.2}"),
        };
        let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} |\n",
            cell(
                percentile(&f.init_ms, 0.5),
                b.map(|b| percentile(&b.init_ms, 0.5))
            ),
            cell(
                percentile(&f.first_ms, 0.5),
                b.map(|b| percentile(&b.first_ms, 0.5))
            ),
            cell(
                percentile(&f.warm_ms, 0.5),
                b.map(|b| percentile(&b.warm_ms, 0.5))
            ),
            cell(
                percentile(&f.warm_ms, 0.99),
                b.map(|b| percentile(&b.warm_ms, 0.99))
            ),
            cell(
                f.rss_kb as f64 / 1024.0,
                b.map(|b| b.rss_kb as f64 / 1024.0)
            ),
            cell(mb(f.binary_bytes), b.map(|b| mb(b.binary_bytes))),
            f.zip_bytes
                .map(|z| format!("{:.2}", mb(z)))
                .unwrap_or_else(|| "-".into()),
            f.log_bytes,
            f.errors,
        ));
    }
    s.push_str("\nCells read `function / baseline (×ratio)`; the baseline of the HTTP functions is an empty `lambda_http` function, of `process` and `deliver` an empty `lambda_runtime` SQS consumer. Binaries are this machine's (x86_64); zips are `make package`'s (arm64), when present.\n");

    let warm = |n: &str| {
        by.get(n)
            .map(|f| percentile(&f.warm_ms, 0.5))
            .unwrap_or(f64::NAN)
    };
    s.push_str("\n## Cost per million leads\n\nFrom the warm p50 durations above (256 MB, arm64 prices), the AWS calls per lead counted from the code paths, and published us-east-1 prices (Lambda arm64 $0.0000133334/GB-s and $0.20/M requests, DynamoDB on-demand $0.625/M WRU and $0.125/M RRU, SQS $0.40/M requests, API Gateway HTTP API $1.00/M).\n\n");
    s.push_str("| per lead | DynamoDB RRU | DynamoDB WRU | SQS requests |\n|---|---|---|---|\n");
    s.push_str(&format!("| ingest | {} | {} | {} |\n| process | {} | {} | {} |\n| each delivery, first attempt made by process (the default) | {} | {} | {} |\n| each delivery through the deliveries queue | {} | {} | {} |\n\n",
        INGEST.rru, INGEST.wru, INGEST.sqs, PROCESS.rru, PROCESS.wru, PROCESS.sqs, DELIVERY.rru, DELIVERY.wru, DELIVERY.sqs,
        DELIVERY_QUEUED.rru, DELIVERY_QUEUED.wru, DELIVERY_QUEUED.sqs));
    for subs in [1.0, 3.0] {
        let (total, lines) =
            cost_per_million(warm("ingest"), warm("process"), warm("deliver"), subs);
        s.push_str(&format!(
            "**{subs} subscription(s): ${total:.2} per million leads** — "
        ));
        s.push_str(
            &lines
                .iter()
                .map(|(n, v)| format!("{n} ${v:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        s.push_str("\n\n");
    }
    if !criterion.is_empty() {
        s.push_str("## Pure hot paths (criterion, median)\n\n| bench | time |\n|---|---|\n");
        for (name, ns) in criterion {
            let t = if *ns >= 1e6 {
                format!("{:.2} ms", ns / 1e6)
            } else if *ns >= 1e3 {
                format!("{:.2} µs", ns / 1e3)
            } else {
                format!("{ns:.0} ns")
            };
            s.push_str(&format!("| {name} | {t} |\n"));
        }
    }
    s
}
