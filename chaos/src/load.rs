//! `make latency` and `make load` (issue 25 §2 and §6): leads at a target
//! rate through the local stack, timed from the sender's first byte to the
//! receiver's first copy.
//!
//! It reuses the chaos run's pieces with no fault in them: moto (the local
//! stack's patched server), the local stack as a child process
//! ([`crate::runner`], `LEADPIPE_LOCAL_BIN`: `make` points it at the release
//! build), a key and one subscription through the admin API
//! ([`crate::admin`]), one healthy [`crate::receivers::Receiver`] on
//! 127.0.0.1 that verifies signatures and records when each copy arrived,
//! and the hooks [`crate::driver`] (distinct addresses, paced at the target
//! rate, at most `concurrency` requests open, retried with the same
//! `Idempotency-Key` on 5xx, 429 or no answer). It then waits for every
//! accepted lead's `lead.created` (at most `settle`) and reckons by address
//! ([`stats`]): sent, accepted, delivered, lost, copies beyond the first,
//! p50/p90/p99/max of accept latency (first send → 2xx, retries included)
//! and of end-to-end latency (2xx → first copy received), the rates
//! achieved and how long the backlog took to drain. It measures whatever
//! the pipeline does (one SQS hop or two); nothing here knows its stages.

pub mod cli;
pub mod stats;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use leadpipe::aws::resources::{DELIVERIES_QUEUE, LEADS_QUEUE};
use leadpipe_local::bootstrap::StackNames;
use serde_json::{Value, json};

use crate::admin::Admin;
use crate::receivers::Receiver;
use crate::runner::RunnerSpec;
use stats::{LeadTimes, Percentiles, Reckoning};

/// A load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `latency` or `load`: names the JSON file.
    pub name: String,
    pub leads: usize,
    /// Target leads a second.
    pub rate: f64,
    /// Sending stops this long after it began, whatever is left unsent.
    pub send_for: Option<Duration>,
    /// Requests open at once, at most.
    pub concurrency: usize,
    /// The longest wait for the last deliveries once sending ends.
    pub settle: Duration,
    /// `LEADPIPE_POLLERS` of the stack: concurrent batches per queue.
    pub pollers: usize,
    pub out_dir: PathBuf,
    pub runner_program: PathBuf,
    pub runner_args: Vec<String>,
}

/// The end of a load run.
pub struct LoadOutcome {
    pub reckoning: Reckoning,
    pub report: Value,
    pub markdown: String,
    pub json_path: PathBuf,
}

/// The workspace's hook budget a minute for a run at `rate`: twice the
/// traffic, or off (0) past the largest budget the stack accepts.
pub fn workspace_budget(rate: f64) -> u32 {
    let needed = (rate * 60.0 * 2.0).ceil();
    let max = f64::from(leadpipe::rules::rate::MAX_PER_MINUTE);
    if needed > max {
        0
    } else {
        (needed as u32).max(leadpipe::config::DEFAULT_WORKSPACE_RATE_LIMIT)
    }
}

/// Runs `cfg` and reckons. `Err` only when the harness itself cannot run.
pub async fn run(cfg: LoadConfig) -> Result<LoadOutcome, String> {
    let started = Instant::now();
    let log = |msg: &str| println!("[load {:>6.1}s] {msg}", started.elapsed().as_secs_f64());
    std::fs::create_dir_all(&cfg.out_dir).map_err(|e| format!("{}: {e}", cfg.out_dir.display()))?;
    let run_id = crate::token(6).to_lowercase();
    let machine_at_start = machine();

    let mut moto = tokio::task::spawn_blocking(move || {
        leadpipe_local::Emulator::start_on_free_port("127.0.0.1", None)
    })
    .await
    .map_err(|e| e.to_string())??;
    let receiver = Receiver::start("crm", 0.0)
        .await
        .map_err(|e| format!("receiver: {e}"))?;
    let api_port = leadpipe_local::free_port().map_err(|e| e.to_string())?;
    let base_url = format!("http://127.0.0.1:{api_port}");
    let admin_token = format!("adm_load_{}", crate::token(24));
    let budget = workspace_budget(cfg.rate);
    let stack_name = "load".to_owned();
    let spec = RunnerSpec {
        program: cfg.runner_program.clone(),
        args: cfg.runner_args.clone(),
        env: [
            crate::runner::stack_env(&moto.endpoint, api_port, &stack_name, &admin_token),
            vec![
                ("LEADPIPE_ALLOW_PRIVATE_TARGETS".into(), "1".into()),
                ("LEADPIPE_PUBLIC_URL".into(), base_url.clone()),
                ("LEADPIPE_DEV_STATE".into(), "off".into()),
                ("LEADPIPE_POLLERS".into(), cfg.pollers.to_string()),
                (
                    "LEADPIPE_WORKSPACE_RATE_LIMIT_PER_MINUTE".into(),
                    budget.to_string(),
                ),
                ("RUST_LOG".into(), "warn".into()),
            ],
        ]
        .concat(),
        dir: cfg.out_dir.clone(),
        base_url: base_url.clone(),
    };
    let runner = spec.start(0, Duration::from_secs(120)).await?;
    log(&format!(
        "stack up on {base_url} ({}), moto {}, receiver {}",
        cfg.runner_program.display(),
        moto.endpoint,
        receiver.endpoint.url()
    ));

    let admin = Admin::new(&base_url, &admin_token);
    let (key_id, key_token) = setup(&admin, &run_id, &receiver).await?;
    let depths = Depths::start(&moto.endpoint, &stack_name).await;

    let spread = Duration::from_secs_f64(cfg.leads as f64 / cfg.rate.max(0.001));
    log(&format!(
        "sending {} leads at {} a second ({:.1}s), at most {} open; pollers {}, workspace budget {}",
        cfg.leads,
        cfg.rate,
        spread.as_secs_f64(),
        cfg.concurrency,
        cfg.pollers,
        if budget == 0 {
            "off".to_owned()
        } else {
            format!("{budget}/min")
        }
    ));
    let t0 = Instant::now();
    let sent = crate::driver::drive(crate::driver::Plan {
        run: run_id.clone(),
        base_url: base_url.clone(),
        key_id,
        key_token,
        meta_app_secret: String::new(),
        leads: cfg.leads,
        meta_share: 0.0,
        duplicate_share: 0.0,
        spread,
        concurrency: cfg.concurrency,
        give_up_after: Duration::from_secs(60),
        stop_after: cfg.send_for,
    })
    .await;
    let leads: Vec<LeadTimes> = sent
        .hooks
        .iter()
        .map(|h| LeadTimes {
            email: h.email.clone(),
            sent: h.first_sent,
            accepted: h.accepted_at.filter(|_| h.event_id.is_some()),
        })
        .collect();
    let accepted = leads.iter().filter(|l| l.accepted.is_some()).count();
    let tried = leads.iter().filter(|l| l.sent.is_some()).count();
    log(&format!(
        "sending done in {:.1}s: {accepted} accepted of {tried} sent ({} planned); answers {:?}",
        sent.elapsed.as_secs_f64(),
        leads.len(),
        sent.answers
    ));

    // Every accepted lead's first copy, or the settle deadline.
    let deadline = Instant::now() + cfg.settle;
    let mut reckoning = stats::reckon(t0, &leads, &arrivals(&receiver));
    while !reckoning.lost.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        reckoning = stats::reckon(t0, &leads, &arrivals(&receiver));
    }
    // A moment more for late copies (duplicates) before the last count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reckoning = stats::reckon(t0, &leads, &arrivals(&receiver));
    let max_depths = depths.stop().await;
    log(&format!(
        "{} of {accepted} delivered, lost {}",
        reckoning.delivered,
        reckoning.lost.len()
    ));
    runner.kill().await;
    moto.kill();

    let mut report = report(&cfg, &reckoning, &sent.answers, max_depths, budget);
    report["machineAtStart"] = json!(machine_at_start);
    let markdown = markdown(&cfg, &reckoning);
    let json_path = cfg.out_dir.join(format!("{}.json", cfg.name));
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    Ok(LoadOutcome {
        reckoning,
        report,
        markdown,
        json_path,
    })
}

/// A key and one subscription (every event type) to `receiver`.
async fn setup(
    admin: &Admin,
    run_id: &str,
    receiver: &Receiver,
) -> Result<(String, String), String> {
    let key = crate::admin::create_key(admin, &format!("load {run_id}")).await?;
    let body = json!({"url": format!("{}/hooks/crm", receiver.endpoint.url()), "events": ["*"], "enabled": true});
    let (status, sub) = admin
        .call(reqwest::Method::POST, "/v1/subscriptions", Some(body))
        .await?;
    let Some(secret) = sub["secret"].as_str() else {
        return Err(format!("POST /v1/subscriptions answered {status}: {sub}"));
    };
    receiver.set_secret(secret);
    Ok(key)
}

/// The queues' depth (visible + in flight), sampled every second; the
/// largest seen is the backlog.
struct Depths {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<[i64; 2]>,
}

impl Depths {
    async fn start(endpoint: &str, stack: &str) -> Self {
        let sqs = aws_sdk_sqs::Client::new(&leadpipe_local::sdk_config(endpoint).await);
        let names = StackNames::new(stack);
        let mut urls = Vec::new();
        for q in [&LEADS_QUEUE, &DELIVERIES_QUEUE] {
            let url = sqs.get_queue_url().queue_name(names.queue(q)).send().await;
            urls.push(url.ok().and_then(|u| u.queue_url));
        }
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut max = [0i64; 2];
            while !*stopped.borrow() {
                for (i, url) in urls.iter().enumerate() {
                    let Some(url) = url else { continue };
                    max[i] = max[i].max(depth(&sqs, url).await);
                }
                tokio::select! {
                    _ = stopped.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            max
        });
        Depths { stop, task }
    }

    async fn stop(self) -> [i64; 2] {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> i64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let Ok(out) = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
    else {
        return 0;
    };
    let attrs = out.attributes.unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|a| attrs.get(a).and_then(|v| v.parse::<i64>().ok()))
    .sum()
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!("{model}, {cores} cores, load average {load}")
}

fn report(
    cfg: &LoadConfig,
    r: &Reckoning,
    answers: &std::collections::BTreeMap<String, u64>,
    max_depths: [i64; 2],
    budget: u32,
) -> Value {
    let pct = |v: &[f64]| Percentiles::of(v).map_or(Value::Null, Percentiles::to_json);
    json!({
        "name": cfg.name,
        "machine": machine(),
        "emulator": "moto (the local stack's patched server)",
        "runner": cfg.runner_program.display().to_string(),
        "target": {"leads": cfg.leads, "sendForSeconds": cfg.send_for.map(|d| d.as_secs_f64()), "ratePerSecond": cfg.rate, "concurrency": cfg.concurrency,
                   "pollers": cfg.pollers, "settleSeconds": cfg.settle.as_secs(),
                   "workspaceBudgetPerMinute": budget},
        "sent": r.sent, "accepted": r.accepted, "delivered": r.delivered, "lost": r.lost.len(),
        "lostExamples": r.lost.iter().take(20).collect::<Vec<_>>(),
        "deliveredMoreThanOnce": r.delivered_more_than_once, "extraCopies": r.extra_copies,
        "unexpectedArrivals": r.unexpected, "arrivedBeforeAccept": r.arrived_before_accept,
        "answers": answers,
        "sendRatePerSecond": round2(r.send_rate()),
        "acceptRatePerSecond": round2(r.accept_rate()),
        "deliveryRatePerSecond": round2(r.delivery_rate()),
        "secondsToLastAccept": round2(r.last_accepted_s - r.first_sent_s),
        "drainSecondsAfterLastAccept": round2(r.drain_s()),
        "maxQueueDepth": {"leads": max_depths[0], "deliveries": max_depths[1]},
        "acceptLatency": pct(&r.accept_ms),
        "endToEndLatency": pct(&r.e2e_ms),
        "passed": r.passed(),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The run as a markdown table, for BENCHMARKS.md.
pub fn markdown(cfg: &LoadConfig, r: &Reckoning) -> String {
    let row = |name: &str, v: &[f64]| match Percentiles::of(v) {
        Some(p) => format!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            p.count, p.p50, p.p90, p.p99, p.max
        ),
        None => format!("| {name} | 0 | – | – | – | – |\n"),
    };
    format!(
        "| run | target | sent | accepted | delivered | lost | delivered more than once | send rate /s | accept rate /s | delivery rate /s | drain after last accept |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n\
         | {name} | {leads} at {rate}/s, ≤ {conc} open | {sent} | {acc} | {del} | {lost} | {dup} | {sr:.1} | {ar:.1} | {dr:.1} | {drain:.1} s |\n\n\
         | latency (ms) | n | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n{a}{e}",
        name = cfg.name,
        leads = cfg.leads,
        rate = cfg.rate,
        conc = cfg.concurrency,
        sent = r.sent,
        acc = r.accepted,
        del = r.delivered,
        lost = r.lost.len(),
        dup = r.delivered_more_than_once,
        sr = r.send_rate(),
        ar = r.accept_rate(),
        dr = r.delivery_rate(),
        drain = r.drain_s(),
        a = row("accept (first send → 202)", &r.accept_ms),
        e = row("end to end (202 → first POST received)", &r.e2e_ms),
    )
}

/// What the receiver saw, as the reckoning reads it.
fn arrivals(receiver: &crate::receivers::Receiver) -> Vec<stats::Arrival> {
    receiver.arrivals().iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_workspace_budget_covers_the_rate_or_is_off() {
        use leadpipe::config::DEFAULT_WORKSPACE_RATE_LIMIT;
        // 20/s: the default budget (100/s) already covers twice the rate.
        assert_eq!(super::workspace_budget(20.0), DEFAULT_WORKSPACE_RATE_LIMIT);
        assert_eq!(super::workspace_budget(200.0), 24_000);
        // 1,000/s is past the largest budget (30,000 a minute): off.
        assert_eq!(super::workspace_budget(1000.0), 0);
    }
}
