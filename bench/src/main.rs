//! `make bench`: every Leadpipe function, built in the release profile
//! Lambda runs, started under a local Lambda Runtime API with the emulator
//! behind it, measured side by side with an empty function built the same
//! way: init (exec → first `next`), first invocation, warm p50/p99, max RSS,
//! binary and zip size. Then a cost model per million leads, and the
//! criterion figures, into BENCHMARKS.md.

mod cold_path;
mod cost;
mod cpu_limit;
mod fixtures;
mod report;
mod runtime_api;

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fixtures::{drain, http_event, make_events, sqs_event, start_receiver};
use report::{criterion_estimates, report, steps_report};

use leadpipe::config::vars;
use leadpipe::model::keys::{self, KeyChanges};
use leadpipe::model::subscriptions::{self, SubChanges};
use leadpipe::{App, Config};
use leadpipe_local::bootstrap::{self as resources, SecretOverrides, StackNames};
use runtime_api::RuntimeApi;
use serde_json::{Value, json};

const VERIFY_TOKEN: &str = "bench-verify-token";
/// The receiver's answer time in the slow-receiver run (a CRM's typical).
const SLOW_MS: u64 = 300;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One function's figures.
#[derive(Default, Clone)]
struct Figures {
    init_ms: Vec<f64>,
    first_ms: Vec<f64>,
    warm_ms: Vec<f64>,
    rss_kb: u64,
    binary_bytes: u64,
    zip_bytes: Option<u64>,
    errors: usize,
    /// Bytes written to stdout and stderr (the JSON logs) per warm invocation.
    log_bytes: f64,
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

struct Harness {
    bin_dir: PathBuf,
    zip_dir: PathBuf,
    env: Vec<(String, String)>,
    cold: usize,
    warm: usize,
    /// Runs every process under this CPU quota (the cold-path run).
    limit: Option<Arc<cpu_limit::CpuLimit>>,
}

impl Harness {
    fn command(&self, name: &str, api: &RuntimeApi, capture: bool) -> tokio::process::Command {
        let out = || {
            if capture {
                Stdio::piped()
            } else {
                Stdio::null()
            }
        };
        let binary = self.bin_dir.join(name);
        let mut cmd = match &self.limit {
            Some(limit) => {
                let (program, args) = limit.wrap(&binary);
                let mut c = tokio::process::Command::new(program);
                c.args(args);
                c
            }
            None => tokio::process::Command::new(binary),
        };
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .stdin(Stdio::null())
            .stdout(out())
            .stderr(out())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `init-phases` `runs` times in fresh processes with the
    /// functions' environment; the median of each step, in order.
    async fn cold_start_steps(&self, runs: usize) -> Vec<(String, f64)> {
        let mut steps: Vec<(String, Vec<f64>)> = Vec::new();
        for _ in 0..runs {
            let out = tokio::process::Command::new(self.bin_dir.join("init-phases"))
                .env_clear()
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stderr(Stdio::null())
                .output()
                .await;
            let Ok(out) = out.inspect_err(|e| eprintln!("bench: init-phases: {e}")) else {
                return Vec::new();
            };
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let Some((step, ms)) = line.split_once('\t') else {
                    continue;
                };
                let Ok(ms) = ms.parse::<f64>() else { continue };
                match steps.iter_mut().find(|(s, _)| s == step) {
                    Some((_, v)) => v.push(ms),
                    None => steps.push((step.to_owned(), vec![ms])),
                }
            }
        }
        steps
            .into_iter()
            .map(|(s, v)| (s, percentile(&v, 0.5)))
            .collect()
    }

    /// Starts a fresh process; returns it with its init time. With `logs`,
    /// what it writes to stdout and stderr is counted there.
    async fn start(
        &self,
        name: &str,
        logs: Option<Arc<AtomicU64>>,
    ) -> Result<(tokio::process::Child, RuntimeApi, f64), String> {
        let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut child = self
            .command(name, &api, logs.is_some())
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        if let Some(counter) = logs {
            count_bytes(
                child.stdout.take().and_then(|o| o.into_owned_fd().ok()),
                counter.clone(),
            );
            count_bytes(
                child.stderr.take().and_then(|e| e.into_owned_fd().ok()),
                counter,
            );
        }
        let deadline = started + Duration::from_secs(20);
        loop {
            if let Some(at) = api.first_next() {
                return Ok((child, api, ms(at.saturating_duration_since(started))));
            }
            if let Some(e) = api.init_error() {
                return Err(format!("{name} failed to initialise: {e}"));
            }
            if Instant::now() > deadline {
                return Err(format!("{name} never asked for work"));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    async fn measure(
        &self,
        name: &str,
        events: &mut dyn Iterator<Item = String>,
    ) -> Result<Figures, String> {
        let mut f = Figures {
            binary_bytes: std::fs::metadata(self.bin_dir.join(name))
                .map(|m| m.len())
                .unwrap_or(0),
            zip_bytes: std::fs::metadata(self.zip_dir.join(name).join("bootstrap.zip"))
                .map(|m| m.len())
                .ok(),
            ..Figures::default()
        };
        let limit = Duration::from_secs(30);
        for _ in 0..self.cold {
            let (mut child, api, init) = self.start(name, None).await?;
            f.init_ms.push(init);
            let event = events.next().ok_or("out of events")?;
            let (d, answer) = api.invoke(&event, limit).await?;
            f.errors += usize::from(!answer_ok(&answer));
            f.first_ms.push(ms(d));
            if let Some(pid) = child.id() {
                f.rss_kb = f.rss_kb.max(rss_kb(pid));
            }
            let _ = child.kill().await;
        }
        let logs = Arc::new(AtomicU64::new(0));
        let (mut child, api, _) = self.start(name, Some(logs.clone())).await?;
        let first = events.next().ok_or("out of events")?;
        api.invoke(&first, limit).await?;
        // The first event's lines (warm-up) are not counted.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = logs.load(Ordering::Relaxed);
        for _ in 0..self.warm {
            let event = events.next().ok_or("out of events")?;
            let (d, answer) = api.invoke(&event, limit).await?;
            f.errors += usize::from(!answer_ok(&answer));
            f.warm_ms.push(ms(d));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        f.log_bytes = (logs.load(Ordering::Relaxed) - before) as f64 / self.warm.max(1) as f64;
        if let Some(pid) = child.id() {
            f.rss_kb = f.rss_kb.max(rss_kb(pid));
        }
        let _ = child.kill().await;
        Ok(f)
    }
}

/// Adds what `pipe` carries to `counter` until it closes (a thread of its
/// own, blocking reads).
fn count_bytes<P: Into<Option<std::os::fd::OwnedFd>>>(pipe: P, counter: Arc<AtomicU64>) {
    use std::io::Read;
    let Some(fd) = pipe.into() else { return };
    let mut file = std::fs::File::from(fd);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
}

fn answer_ok(a: &runtime_api::Answer) -> bool {
    if !a.ok {
        return false;
    }
    match serde_json::from_slice::<Value>(&a.body) {
        Ok(v) => match v.get("statusCode").and_then(Value::as_u64) {
            Some(code) => code < 500,
            None => v
                .get("batchItemFailures")
                .and_then(Value::as_array)
                .is_none_or(|f| f.is_empty()),
        },
        Err(_) => false,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let harness_cold = env_usize("LEADPIPE_BENCH_COLD", 20);
    let harness_warm = env_usize("LEADPIPE_BENCH_WARM", 200);
    let started = Instant::now();

    // The emulator and a fresh stack.
    let emulator = tokio::task::spawn_blocking(|| {
        leadpipe_local::Emulator::start_on_free_port("127.0.0.1", None)
    })
    .await
    .map_err(|e| e.to_string())??;
    let endpoint = emulator.endpoint.clone();
    let sdk = leadpipe_local::sdk_config(&endpoint).await;
    let secret = SecretOverrides {
        meta_verify_token: Some(VERIFY_TOKEN.into()),
        ..SecretOverrides::default()
    };
    let stack = resources::bootstrap(&sdk, &StackNames::new("leadpipe-bench"), secret)
        .await
        .map_err(|e| e.to_string())?;
    let mut config: Config = stack.config();
    config.allow_private_targets = true;
    let app = App::new(config, &sdk);

    // A receiver for deliver, a key and a subscription.
    let receiver_delay = Arc::new(AtomicU64::new(0));
    let receiver = start_receiver(receiver_delay.clone()).await?;
    let (key, key_model) = keys::create(
        &app.default_scope(),
        KeyChanges {
            name: Some("bench".into()),
            ..KeyChanges::default()
        },
    )
    .await
    .map(|(k, t)| (t, k))
    .map_err(|e| format!("{e:?}"))?;
    let key_id = key_model.id.clone();
    subscriptions::create(
        &app.default_scope(),
        SubChanges {
            url: Some(format!("{receiver}/hook")),
            ..SubChanges::default()
        },
    )
    .await
    .map_err(|e| format!("{e:?}"))?;

    let mut env: Vec<(String, String)> = stack
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.extend([
        ("AWS_ENDPOINT_URL".to_owned(), endpoint.clone()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
        (vars::ALLOW_PRIVATE_TARGETS.to_owned(), "1".to_owned()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]);
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let h = Harness {
        bin_dir: std::env::var("LEADPIPE_BENCH_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| target.join("release")),
        zip_dir: target.join("lambda"),
        env,
        cold: harness_cold,
        warm: harness_warm,
        limit: None,
    };
    let per_function = harness_cold + harness_warm + 1;
    let admin_token = stack.admin_secret.admin_token.clone();

    let mut results: Vec<(String, &'static str, Figures)> = Vec::new();
    let hook = |n: usize| {
        http_event(
            "POST",
            "/v1/hooks/{keyId}",
            &format!("/v1/hooks/{key_id}"),
            "",
            json!({"content-type": "application/json", "x-webhook-token": key}),
            Some(json!({"name": "Bench Lead", "email": format!("bench{n}@example.com"), "phone": "+1 415 555 0123",
                        "tags": "bench", "utm_source": "bench"}).to_string()),
        )
    };
    eprintln!("bench: baseline-http");
    results.push((
        "baseline-http".into(),
        "",
        h.measure("baseline-http", &mut (0..).map(hook)).await?,
    ));
    eprintln!("bench: ingest");
    results.push((
        "ingest".into(),
        "baseline-http",
        h.measure("ingest", &mut (1_000_000..).map(hook)).await?,
    ));
    let verify = http_event(
        "GET",
        "/v1/providers/meta/webhook",
        "/v1/providers/meta/webhook",
        &format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"),
        json!({}),
        None,
    );
    eprintln!("bench: meta-verify");
    results.push((
        "meta-verify".into(),
        "baseline-http",
        h.measure("meta-verify", &mut std::iter::repeat(verify))
            .await?,
    ));
    let admin = http_event(
        "GET",
        "/v1/keys/{id}",
        &format!("/v1/keys/{key_id}"),
        "",
        json!({"authorization": format!("Bearer {admin_token}")}),
        None,
    );
    eprintln!("bench: admin");
    results.push((
        "admin".into(),
        "baseline-http",
        h.measure("admin", &mut std::iter::repeat(admin)).await?,
    ));

    // process: fresh RECEIVED events, made by the ingest handler in-process.
    eprintln!("bench: preparing {per_function} events for process");
    let made = Instant::now();
    let event_ids = make_events(&app, &key_id, &key, 0, per_function * 2).await?;
    eprintln!(
        "bench: made {} events in {:.0} s",
        event_ids.len(),
        made.elapsed().as_secs_f64()
    );
    drain(&app, &stack.leads_queue_url).await;
    let mut ids = event_ids.into_iter();
    let process_event = |id: String| sqs_event(&json!({"eventId": id}));
    eprintln!("bench: baseline-sqs");
    results.push((
        "baseline-sqs".into(),
        "",
        h.measure(
            "baseline-sqs",
            &mut ids.by_ref().take(per_function).map(process_event),
        )
        .await?,
    ));
    eprintln!("bench: process");
    results.push((
        "process".into(),
        "baseline-sqs",
        h.measure("process", &mut ids.by_ref().map(process_event))
            .await?,
    ));

    // deliver: the deliveries process just fanned out.
    let delivery_ids = drain(&app, &stack.deliveries_queue_url).await;
    eprintln!("bench: deliver ({} deliveries queued)", delivery_ids.len());
    let mut dids = delivery_ids.into_iter().map(|b| sqs_event(&b));
    results.push((
        "deliver".into(),
        "baseline-sqs",
        h.measure("deliver", &mut dids).await?,
    ));

    // deliver against a receiver answering in SLOW_MS (issue 25 §3): fresh
    // deliveries, fanned out by the process binary, sent by deliver.
    let slow = Harness {
        bin_dir: h.bin_dir.clone(),
        zip_dir: h.zip_dir.clone(),
        env: h.env.clone(),
        cold: env_usize("LEADPIPE_BENCH_SLOW_COLD", 3),
        warm: env_usize("LEADPIPE_BENCH_SLOW_WARM", 30),
        limit: None,
    };
    let slow_ids = make_events(&app, &key_id, &key, 1_000_000, slow.cold + slow.warm + 1).await?;
    drain(&app, &stack.leads_queue_url).await;
    let (mut fanout, api, _) = h.start("process", None).await?;
    for id in slow_ids {
        api.invoke(&process_event(id), Duration::from_secs(30))
            .await?;
    }
    let _ = fanout.kill().await;
    let slow_deliveries = drain(&app, &stack.deliveries_queue_url).await;
    eprintln!(
        "bench: deliver against a {SLOW_MS} ms receiver ({} deliveries queued)",
        slow_deliveries.len()
    );
    receiver_delay.store(SLOW_MS, Ordering::Relaxed);
    let slow_deliver = slow
        .measure(
            "deliver",
            &mut slow_deliveries.into_iter().map(|b| sqs_event(&b)),
        )
        .await?;
    receiver_delay.store(0, Ordering::Relaxed);

    let limited = Box::pin(cold_path::run(&h, &app, &stack, &key_id, &key, &results)).await;

    eprintln!("bench: cold-start steps (init-phases)");
    let steps = h.cold_start_steps(5).await;
    let criterion = criterion_estimates(&target.join("criterion"));
    let mut report = report(&results, &criterion, harness_cold, harness_warm);
    let figures = |n: &str| {
        results
            .iter()
            .find(|(name, _, _)| name == n)
            .map(|(_, _, f)| f)
    };
    let warm_p50 = |n: &str| figures(n).map_or(f64::NAN, |f| percentile(&f.warm_ms, 0.5));
    let log = |n: &str| figures(n).map_or(f64::NAN, |f| f.log_bytes);
    report.push_str(&cost::all_in_report(&cost::Measured {
        ingest_ms: warm_p50("ingest"),
        process_ms: warm_p50("process"),
        deliver_slow_ms: percentile(&slow_deliver.warm_ms, 0.5),
        slow_ms: SLOW_MS,
        ingest_log: log("ingest"),
        process_log: log("process"),
        deliver_log: log("deliver"),
    }));
    report.push_str(&limited);
    report.push_str(&steps_report(&steps));
    // The analysis written after reading the figures: targets, fixes, next steps.
    if let Ok(findings) = std::fs::read_to_string(root.join("bench/findings.md")) {
        report.push_str(&findings);
    }
    println!("{report}");
    std::fs::write(root.join("BENCHMARKS.md"), &report).map_err(|e| e.to_string())?;
    eprintln!(
        "bench: done in {:.0} s; BENCHMARKS.md written",
        started.elapsed().as_secs_f64()
    );
    let _ = tokio::task::spawn_blocking(move || emulator.stop()).await;
    Ok(())
}
