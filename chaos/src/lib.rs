//! `make chaos`: a bounded fault-injection run against the local stack that
//! reckons every accepted lead at the end.
//!
//! The pieces, each in its module:
//!
//! * [`emulator`] — moto on a fixed port, restartable, its state carried
//!   over by moto's recorder;
//! * [`proxy`] — the fault proxy between Leadpipe and moto (throttling,
//!   transaction conflicts, 500s, resets and latency, before and after
//!   forwarding; outages);
//! * [`runner`] — the local stack as a child process, SIGKILLed and started
//!   again;
//! * [`receivers`] and [`graph`] — webhook receivers and the Graph API
//!   stand-in, each switchable to refuse, answer 503 or answer too late;
//! * [`driver`] — the leads, through hooks and signed Meta notifications,
//!   retried as real senders retry;
//! * [`reconcile`] — the reckoning and the one line it prints.
//!
//! [`run`] plays a [`Config`]'s timeline: faults on, the driver paced over
//! the fault window, outages, kills and the emulator restart at fixed
//! fractions of the window, then faults off, a bounded wait for the queues
//! to drain, and the reckoning. A JSON summary of everything injected goes
//! to `<out_dir>/summary.json`.

pub mod driver;
pub mod emulator;
pub mod graph;
pub mod proxy;
pub mod receivers;
pub mod reconcile;
pub mod runner;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use leadpipe::App;
use leadpipe_local::bootstrap::{self as resources, SecretOverrides, Stack, StackNames};
use serde_json::{Value, json};

use emulator::Moto;
use proxy::{FaultRates, Proxy};
use receivers::{Mode, Receiver};
use reconcile::{Admin, Queues, Reconciled};
use runner::{Runner, RunnerSpec};

/// Everything a run is made of.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: &'static str,
    pub leads: usize,
    /// Faults, outages and kills happen within this window; the leads are
    /// sent over its first 85 %.
    pub window: Duration,
    /// The longest wait for the queues to drain once faults stop.
    pub settle: Duration,
    pub meta_share: f64,
    pub duplicate_share: f64,
    pub concurrency: usize,
    pub rates: FaultRates,
    /// When to SIGKILL the runner, as fractions of the window.
    pub runner_kills: Vec<f64>,
    /// When to restart the emulator, as fractions of the window.
    pub emulator_restarts: Vec<f64>,
    /// `VisibilityTimeout` added to ReceiveMessage (see [`proxy`]).
    pub receive_visibility: Option<i64>,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub max_attempts: u32,
    /// How late a slow endpoint answers (the sender's timeout is 10 s).
    pub slow_seconds: u64,
    /// A sender gives a request up after this long without a 2xx (the
    /// full run's emulator restart is an outage of a minute or more; form
    /// backends and Zapier-style tools retry for longer than that).
    pub give_up_after: Duration,
    pub receiver_error_share: f64,
    pub graph_error_share: f64,
    pub out_dir: PathBuf,
    pub runner_program: PathBuf,
    pub runner_args: Vec<String>,
}

impl Config {
    /// `make chaos`: 2,000 leads, a 6-minute fault window with receiver
    /// outages of about a minute, three runner kills, one emulator restart
    /// (early: its replay takes ~15 ms a call, and every message ever sent
    /// comes back); up to 30 minutes to settle (it ends when drained: moto
    /// manages a few leads a second on a small machine).
    pub fn full(out_dir: PathBuf, runner_program: PathBuf, runner_args: Vec<String>) -> Self {
        Config {
            name: "full",
            leads: 2000,
            window: Duration::from_secs(360),
            settle: Duration::from_secs(1800),
            meta_share: 0.3,
            duplicate_share: 0.03,
            concurrency: 24,
            rates: FaultRates {
                throttle: 0.04,
                tx_conflict: 0.05,
                error_500: 0.015,
                reset: 0.015,
                after_500: 0.01,
                after_reset: 0.01,
                latency: 0.05,
                latency_ms: (20, 400),
            },
            runner_kills: vec![0.2, 0.5, 0.78],
            emulator_restarts: vec![0.15],
            receive_visibility: None,
            retry_base_ms: 1000,
            retry_max_ms: 15000,
            max_attempts: 10,
            slow_seconds: 12,
            give_up_after: Duration::from_secs(180),
            receiver_error_share: 0.02,
            graph_error_share: 0.03,
            out_dir,
            runner_program,
            runner_args,
        }
    }

    /// The test's run: 60 leads, every fault for seconds, then up to
    /// 150 s to drain (it ends as soon as the queues are empty).
    pub fn short(out_dir: PathBuf, runner_program: PathBuf, runner_args: Vec<String>) -> Self {
        Config {
            name: "short",
            leads: 60,
            window: Duration::from_secs(18),
            settle: Duration::from_secs(150),
            concurrency: 8,
            runner_kills: vec![0.3, 0.65],
            emulator_restarts: vec![0.45],
            receive_visibility: Some(12),
            retry_base_ms: 200,
            retry_max_ms: 2000,
            slow_seconds: 11,
            give_up_after: Duration::from_secs(20),
            ..Config::full(out_dir, runner_program, runner_args)
        }
    }
}

/// True while a delivery is `pending` or an event `RECEIVED` (a filtered
/// listing may return empty pages with a cursor: follow them).
async fn work_left(app: &App) -> bool {
    use leadpipe::aws::pagination::PageRequest;
    use leadpipe::model::{deliveries, events};
    let mut cursor = None;
    loop {
        let page = PageRequest {
            limit: 200,
            cursor: cursor.take(),
        };
        match deliveries::list(
            &app.default_scope(),
            None,
            Some(deliveries::DeliveryStatus::Pending),
            &page,
        )
        .await
        {
            Ok(p) if !p.items.is_empty() => return true,
            Ok(p) => match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            },
            Err(_) => return true,
        }
    }
    let one = PageRequest {
        limit: 1,
        cursor: None,
    };
    events::list(
        &app.default_scope(),
        Some(events::EventStatus::Received),
        &one,
    )
    .await
    .map_or(true, |p| !p.items.is_empty())
}

/// The end of a run.
pub struct Outcome {
    pub reconciled: Reconciled,
    pub summary_path: PathBuf,
    pub summary: Value,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Receiver(usize, Mode),
    Graph(Mode),
    KillRunner,
    RestartEmulator,
}

fn timeline(cfg: &Config) -> Vec<(f64, Action)> {
    let slow = Mode::Slow {
        seconds: cfg.slow_seconds,
    };
    let retry_after = (cfg.retry_max_ms / 1000).clamp(1, 10);
    let unavailable = Mode::Unavailable { retry_after };
    let mut t = vec![
        // crm-b: refused, then 503 + Retry-After, then too slow.
        (0.10, Action::Receiver(1, Mode::Refused)),
        (0.25, Action::Receiver(1, Mode::Healthy)),
        (0.38, Action::Receiver(1, unavailable)),
        (0.48, Action::Receiver(1, Mode::Healthy)),
        (0.55, Action::Receiver(1, slow)),
        (0.60, Action::Receiver(1, Mode::Healthy)),
        // crm-a: shorter troubles.
        (0.30, Action::Receiver(0, slow)),
        (0.33, Action::Receiver(0, Mode::Healthy)),
        (0.70, Action::Receiver(0, unavailable)),
        (0.75, Action::Receiver(0, Mode::Healthy)),
        (0.80, Action::Receiver(0, Mode::Refused)),
        (0.85, Action::Receiver(0, Mode::Healthy)),
        // The Graph API.
        (0.15, Action::Graph(Mode::Refused)),
        (0.22, Action::Graph(Mode::Healthy)),
        (0.40, Action::Graph(unavailable)),
        (0.46, Action::Graph(Mode::Healthy)),
        (0.64, Action::Graph(slow)),
        (0.68, Action::Graph(Mode::Healthy)),
    ];
    t.extend(cfg.runner_kills.iter().map(|f| (*f, Action::KillRunner)));
    t.extend(
        cfg.emulator_restarts
            .iter()
            .map(|f| (*f, Action::RestartEmulator)),
    );
    t.sort_by(|a, b| a.0.total_cmp(&b.0));
    t
}

fn token(n: usize) -> String {
    (0..n).map(|_| fastrand::alphanumeric()).collect()
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// Runs `cfg` and reckons. `Err` only when the harness itself cannot run.
pub async fn run(cfg: Config) -> Result<Outcome, String> {
    let started = Instant::now();
    let run_id = token(6).to_lowercase();
    std::fs::create_dir_all(&cfg.out_dir).map_err(|e| format!("{}: {e}", cfg.out_dir.display()))?;
    let log = |msg: &str| println!("[chaos {:>6.1}s] {msg}", started.elapsed().as_secs_f64());
    let recording = emulator::recording_path(&cfg.out_dir);
    let _ = std::fs::remove_file(&recording);

    // The emulator, recording from the start.
    let moto_port = leadpipe_local::free_port().map_err(|e| e.to_string())?;
    let rec = recording.clone();
    let mut moto = Some(
        tokio::task::spawn_blocking(move || Moto::start(moto_port, &rec))
            .await
            .map_err(|e| e.to_string())??,
    );
    let moto_url = format!("http://127.0.0.1:{moto_port}");
    if let Some(m) = &moto {
        m.start_recording().await?;
    }
    log(&format!(
        "moto on {moto_url}, recording to {}",
        recording.display()
    ));

    let proxy = Proxy::start(&moto_url, cfg.receive_visibility)
        .await
        .map_err(|e| format!("proxy: {e}"))?;
    let page_token = format!("chaos-page-{}", token(12));
    let graph = graph::Graph::start(&run_id, &page_token, cfg.graph_error_share)
        .await
        .map_err(|e| format!("graph stand-in: {e}"))?;
    let mut receivers = Vec::new();
    for name in ["crm-a", "crm-b"] {
        receivers.push(
            Receiver::start(name, cfg.receiver_error_share)
                .await
                .map_err(|e| format!("receiver {name}: {e}"))?,
        );
    }
    log(&format!(
        "proxy {}, graph {}, receivers {} {}",
        proxy.url(),
        graph.url(),
        receivers[0].endpoint.url(),
        receivers[1].endpoint.url()
    ));

    // The runner.
    let api_port = leadpipe_local::free_port().map_err(|e| e.to_string())?;
    let base_url = format!("http://127.0.0.1:{api_port}");
    let admin_token = format!("adm_chaos_{}", token(24));
    let app_secret = token(32);
    let verify_token = token(16);
    let stack_name = "chaos".to_owned();
    let spec = RunnerSpec {
        program: cfg.runner_program.clone(),
        args: cfg.runner_args.clone(),
        env: vec![
            ("AWS_ENDPOINT_URL".into(), proxy.url()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("LEADPIPE_ADDR".into(), format!("127.0.0.1:{api_port}")),
            ("LEADPIPE_STACK".into(), stack_name.clone()),
            ("LEADPIPE_ADMIN_TOKEN".into(), admin_token.clone()),
            ("LEADPIPE_META_APP_SECRET".into(), app_secret.clone()),
            ("LEADPIPE_META_VERIFY_TOKEN".into(), verify_token.clone()),
            ("LEADPIPE_META_PAGE_TOKEN".into(), page_token.clone()),
            ("LEADPIPE_META_GRAPH_URL".into(), graph.url()),
            ("LEADPIPE_ALLOW_PRIVATE_TARGETS".into(), "1".into()),
            ("LEADPIPE_PUBLIC_URL".into(), base_url.clone()),
            (
                "LEADPIPE_RETRY_BASE_MS".into(),
                cfg.retry_base_ms.to_string(),
            ),
            ("LEADPIPE_RETRY_MAX_MS".into(), cfg.retry_max_ms.to_string()),
            // Schedules counted in 10 ms units: `maxAttempts` keeps the
            // back-off above to the millisecond, and the default schedule
            // (27.6 h) lasts 16.5 minutes.
            ("LEADPIPE_RETRY_UNIT_MS".into(), "10".into()),
            // Lead back-off at the delivery cap, and a sweeper that looks
            // every few seconds for what is stuck past a short grace: a run
            // lasts minutes, not the hours the defaults are made for.
            (
                "LEADPIPE_LEAD_RETRY_MAX_MS".into(),
                cfg.retry_max_ms.to_string(),
            ),
            (
                "LEADPIPE_SWEEP_GRACE_SECONDS".into(),
                (cfg.retry_max_ms / 1000 * 3).max(10).to_string(),
            ),
            ("LEADPIPE_SWEEP_INTERVAL_SECONDS".into(), "5".into()),
            ("LEADPIPE_DELIVERY_STALL_SECONDS".into(), "15".into()),
            ("LEADPIPE_POLLERS".into(), "3".into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
        dir: cfg.out_dir.clone(),
        base_url: base_url.clone(),
    };
    let mut generation = 0usize;
    let mut runner: Option<Runner> = Some(spec.start(generation, Duration::from_secs(90)).await?);
    log(&format!(
        "runner up on {base_url} ({})",
        cfg.runner_program.display()
    ));

    // The stack's resources, seen straight (no proxy): queue URLs for the
    // settle check, the DLQs and markers for the reckoning.
    let sdk = leadpipe_local::sdk_config(&moto_url).await;
    let overrides = SecretOverrides {
        admin_token: Some(admin_token.clone()),
        meta_app_secret: Some(app_secret.clone()),
        meta_verify_token: Some(verify_token.clone()),
        meta_page_token: Some(page_token.clone()),
        meta_app_id: None,
    };
    let stack: Stack = resources::bootstrap(&sdk, &StackNames::new(&stack_name), overrides)
        .await
        .map_err(|e| format!("bootstrap (direct): {e}"))?;
    let direct = App::new(stack.config(), &sdk);

    // A key and one subscription per receiver, through the admin API.
    let admin = Admin::new(&base_url, &admin_token);
    let (status, key) = admin
        .call(
            reqwest::Method::POST,
            "/v1/keys",
            Some(json!({"name": format!("chaos {run_id}")})),
        )
        .await?;
    let (Some(key_id), Some(key_token)) = (key["id"].as_str(), key["token"].as_str()) else {
        return Err(format!("POST /v1/keys answered {status}: {key}"));
    };
    let (key_id, key_token) = (key_id.to_owned(), key_token.to_owned());
    let mut subscriptions = Vec::new();
    for r in &receivers {
        let body = json!({"url": format!("{}/hooks/{}", r.endpoint.url(), r.name), "events": ["*"],
                          "maxAttempts": cfg.max_attempts, "enabled": true});
        let (status, sub) = admin
            .call(reqwest::Method::POST, "/v1/subscriptions", Some(body))
            .await?;
        let (Some(id), Some(secret)) = (sub["id"].as_str(), sub["secret"].as_str()) else {
            return Err(format!("POST /v1/subscriptions answered {status}: {sub}"));
        };
        r.set_secret(secret);
        subscriptions.push((id.to_owned(), r.clone()));
    }
    log(&format!(
        "key {key_id}, subscriptions {:?}",
        subscriptions.iter().map(|s| &s.0).collect::<Vec<_>>()
    ));

    // Faults on; traffic; the timeline.
    proxy.set_rates(cfg.rates);
    let window_start = Instant::now();
    let plan = driver::Plan {
        run: run_id.clone(),
        base_url: base_url.clone(),
        key_id,
        key_token,
        meta_app_secret: app_secret.clone(),
        leads: cfg.leads,
        meta_share: cfg.meta_share,
        duplicate_share: cfg.duplicate_share,
        spread: cfg.window.mul_f64(0.85),
        concurrency: cfg.concurrency,
        give_up_after: cfg.give_up_after,
    };
    let driving = tokio::spawn(driver::drive(plan));
    log(&format!(
        "faults on: {} leads over {:.0}s ({:.0}% Meta)",
        cfg.leads,
        cfg.window.as_secs_f64() * 0.85,
        cfg.meta_share * 100.0
    ));
    let mut events_log: Vec<Value> = Vec::new();
    let mut emulator_notes: Vec<Value> = Vec::new();
    for (at, action) in timeline(&cfg) {
        tokio::time::sleep_until((window_start + cfg.window.mul_f64(at)).into()).await;
        let t = secs(window_start.elapsed());
        match action {
            Action::Receiver(i, mode) => {
                receivers[i].endpoint.set_mode(mode);
                log(&format!("receiver {} → {mode:?}", receivers[i].name));
                events_log.push(json!({"t": t, "what": format!("receiver {} {}", receivers[i].name, mode.name())}));
            }
            Action::Graph(mode) => {
                graph.set_mode(mode);
                log(&format!("graph → {mode:?}"));
                events_log.push(json!({"t": t, "what": format!("graph {}", mode.name())}));
            }
            Action::KillRunner => {
                if let Some(r) = runner.take() {
                    r.kill().await;
                }
                let killed = Instant::now();
                generation += 1;
                log(&format!(
                    "runner SIGKILLed; starting generation {generation}"
                ));
                runner = Some(spec.start(generation, Duration::from_secs(90)).await?);
                let down = secs(killed.elapsed());
                log(&format!("runner generation {generation} up after {down}s"));
                events_log.push(json!({"t": t, "what": "runner SIGKILL", "downSeconds": down, "generation": generation}));
            }
            Action::RestartEmulator => {
                let note = restart_emulator(&mut moto, moto_port, &recording, &proxy, &log).await;
                events_log
                    .push(json!({"t": t, "what": "emulator restart", "detail": note.clone()}));
                emulator_notes.push(note);
            }
        }
    }
    tokio::time::sleep_until((window_start + cfg.window).into()).await;

    // Faults off.
    proxy.set_rates(FaultRates::NONE);
    proxy.set_outage(false);
    graph.set_mode(Mode::Healthy);
    for r in &receivers {
        r.endpoint.set_mode(Mode::Healthy);
    }
    let faults_off = Instant::now();
    log("faults off; waiting for the driver's last retries");
    let sent = driving.await.map_err(|e| format!("driver: {e}"))?;
    log(&format!(
        "driver done in {:.1}s: {} hook requests, {} Meta notifications",
        sent.elapsed.as_secs_f64(),
        sent.hooks.len(),
        sent.metas.len()
    ));

    // Settle: both queues empty (visible, in flight, delayed) twice in a row.
    let settle_deadline = Instant::now() + cfg.settle;
    let sqs = direct.queue.client().await;
    let mut quiet = 0;
    let mut settled = false;
    let mut last_depths = (0, 0);
    while Instant::now() < settle_deadline {
        let mut total = Vec::new();
        for url in [&stack.leads_queue_url, &stack.deliveries_queue_url] {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "GetQueueAttributes: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                })?;
            let a = attrs.attributes.unwrap_or_default();
            let n =
                |k: QueueAttributeName| a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            total.push(
                n(QueueAttributeName::ApproximateNumberOfMessages)
                    + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    + n(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
            );
        }
        last_depths = (total[0], total[1]);
        log(&format!(
            "settling: leads queue {}, deliveries queue {}, calls in flight at the proxy {:?}",
            total[0],
            total[1],
            proxy.in_flight()
        ));
        // Empty queues are not the end while a delivery is pending or an
        // event RECEIVED with no message: the sweeper still has work.
        if total.iter().all(|n| *n == 0) && !work_left(&direct).await {
            quiet += 1;
            if quiet >= 2 {
                settled = true;
                break;
            }
        } else {
            quiet = 0;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let settle_took = secs(faults_off.elapsed());
    log(&format!(
        "{} after {settle_took}s (leads queue {}, deliveries queue {})",
        if settled {
            "settled"
        } else {
            "NOT settled by the deadline"
        },
        last_depths.0,
        last_depths.1
    ));

    // The reckoning on a still picture: the runner stops, the queues are
    // read (which hides their messages for 15 minutes), then a last runner
    // serves the admin API with nothing left for its pollers to move.
    if let Some(r) = runner.take() {
        r.kill().await;
    }
    let queues = Queues {
        leads: reconcile::peek_queue(&direct, &stack.leads_queue_url).await?,
        leads_dlq: reconcile::peek_queue(&direct, &stack.leads_dlq_url).await?,
        deliveries: reconcile::peek_queue(&direct, &stack.deliveries_queue_url).await?,
        deliveries_dlq: reconcile::peek_queue(&direct, &stack.deliveries_dlq_url).await?,
    };
    generation += 1;
    let last = spec.start(generation, Duration::from_secs(90)).await?;
    let sub_ids: Vec<String> = subscriptions.iter().map(|s| s.0.clone()).collect();
    let views = reconcile::read_views(&admin, &sub_ids).await;
    last.kill().await;
    let views = views?;
    log(&format!(
        "read {} events, {} leads; queues: leads {}, leads DLQ {}, deliveries {}, deliveries DLQ {}",
        views.events.len(),
        views.leads.len(),
        queues.leads.len(),
        queues.leads_dlq.len(),
        queues.deliveries.len(),
        queues.deliveries_dlq.len()
    ));
    let mut reconciled = reconcile::reconcile(
        reconcile::Inputs {
            run: &run_id,
            sent: &sent,
            admin: &admin,
            app: &direct,
            subscriptions: &subscriptions,
            queues: &queues,
        },
        &views,
    )
    .await?;
    log("reconciled");
    if !settled {
        reconciled.notes.push(format!(
            "not settled within {:?}: queue depths {last_depths:?}",
            cfg.settle
        ));
    }

    let (by_kind, by_op) = proxy.counts();
    let summary = json!({
        "run": run_id,
        "mode": cfg.name,
        "durationSeconds": secs(started.elapsed()),
        "windowSeconds": cfg.window.as_secs(),
        "settleSeconds": settle_took,
        "settled": settled,
        "config": {
            "leads": cfg.leads, "metaShare": cfg.meta_share, "duplicateShare": cfg.duplicate_share,
            "concurrency": cfg.concurrency,
            "rates": {"throttle": cfg.rates.throttle, "transactionConflict": cfg.rates.tx_conflict,
                      "http500": cfg.rates.error_500, "reset": cfg.rates.reset,
                      "http500AfterForward": cfg.rates.after_500, "resetAfterForward": cfg.rates.after_reset,
                      "latency": cfg.rates.latency, "latencyMs": [cfg.rates.latency_ms.0, cfg.rates.latency_ms.1]},
            "receiveVisibilityOverride": cfg.receive_visibility,
            "retryBaseMs": cfg.retry_base_ms, "retryMaxMs": cfg.retry_max_ms,
            "maxAttempts": cfg.max_attempts, "slowSeconds": cfg.slow_seconds,
            "giveUpAfterSeconds": cfg.give_up_after.as_secs(),
            "runner": cfg.runner_program.display().to_string(),
        },
        "injected": {
            "proxy": by_kind,
            "proxyByOperation": by_op,
            "proxyForwarded": proxy.forwarded(),
            "proxyCallsFailedInOutage": proxy.failed_in_outage(),
            "runnerKills": cfg.runner_kills.len(),
            "runnerGenerations": generation + 1,
            "emulatorRestarts": emulator_notes,
            "graph": graph.counts(),
            "receivers": receivers.iter().map(|r| (r.name.clone(), r.endpoint.counts())).collect::<BTreeMap<_, _>>(),
        },
        "timeline": events_log,
        "driver": {
            "hookRequests": sent.hooks.len(),
            "metaNotifications": sent.metas.len(),
            "answers": sent.answers,
            "attempts": sent.hooks.iter().map(|h| u64::from(h.attempts)).sum::<u64>()
                + sent.metas.iter().map(|m| u64::from(m.attempts)).sum::<u64>(),
            "neverAccepted": sent.hooks.iter().filter(|h| h.event_id.is_none()).map(|h| json!({"seq": h.seq, "last": h.last_answer}))
                .chain(sent.metas.iter().filter(|m| !m.accepted).map(|m| json!({"leadgens": m.leadgen_ids, "last": m.last_answer})))
                .collect::<Vec<_>>(),
            "metaAnsweredDuplicates": sent.metas.iter().map(|m| m.said_duplicates).sum::<u64>(),
        },
        "queuesAtEnd": {"leads": queues.leads.len(), "leadsDlq": queues.leads_dlq.len(),
                        "deliveries": queues.deliveries.len(), "deliveriesDlq": queues.deliveries_dlq.len()},
        "reconciled": reconciled.to_json(),
    });
    let summary_path = cfg.out_dir.join(format!("summary-{}.json", cfg.name));
    std::fs::write(
        &summary_path,
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", summary_path.display()))?;
    proxy.stop();
    if let Some(m) = moto.take() {
        let _ = tokio::task::spawn_blocking(move || m.kill()).await;
    }
    Ok(Outcome {
        reconciled,
        summary_path,
        summary,
    })
}

/// Restarts moto on the same port and replays its recording, the proxy
/// refusing connections meanwhile. Says what happened (and why not, when it
/// could not).
async fn restart_emulator(
    moto: &mut Option<Moto>,
    port: u16,
    recording: &std::path::Path,
    proxy: &Proxy,
    log: &impl Fn(&str),
) -> Value {
    let began = Instant::now();
    proxy.set_outage(true);
    let Some(old) = moto.take() else {
        proxy.set_outage(false);
        return json!({"done": false, "why": "no emulator to restart"});
    };
    let text = match old.download_recording().await {
        Ok(t) => t,
        Err(e) => {
            // Without the recording a restart would wipe the state: keep
            // the old server and make it an outage only.
            let why = format!(
                "cannot download moto's recording ({e}): an outage of the endpoint instead of a restart"
            );
            log(&why);
            tokio::time::sleep(Duration::from_secs(3)).await;
            *moto = Some(old);
            proxy.set_outage(false);
            return json!({"done": false, "why": why, "outageSeconds": secs(began.elapsed())});
        }
    };
    let filtered = emulator::state_changing(&text);
    let _ = tokio::task::spawn_blocking(move || old.kill()).await;
    let rec = recording.to_path_buf();
    let fresh = tokio::task::spawn_blocking(move || {
        // The old process may hold the port a moment.
        let mut last = String::new();
        for _ in 0..50 {
            match Moto::start(port, &rec) {
                Ok(m) => return Ok(m),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    })
    .await;
    let fresh = match fresh.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(m) => m,
        Err(e) => {
            let why = format!("moto did not start again: {e}");
            log(&why);
            proxy.set_outage(false);
            return json!({"done": false, "why": why});
        }
    };
    let replay_start = Instant::now();
    let (kept, dropped) = (filtered.kept, filtered.dropped);
    log(&format!(
        "emulator restarted; replaying {kept} state-changing calls ({dropped} reads/receives/deletes dropped)"
    ));
    let replayed = fresh.upload_and_replay(filtered.text).await;
    let replay_s = secs(replay_start.elapsed());
    let recording_again = fresh.start_recording().await;
    *moto = Some(fresh);
    proxy.set_outage(false);
    let outage = secs(began.elapsed());
    match (replayed, recording_again) {
        (Ok(()), Ok(())) => {
            log(&format!(
                "replay done in {replay_s}s; endpoint back after {outage}s"
            ));
            json!({"done": true, "replayed": kept, "droppedFromReplay": dropped, "replaySeconds": replay_s, "outageSeconds": outage})
        }
        (a, b) => {
            let why = format!("replay failed: {:?} / {:?}", a.err(), b.err());
            log(&why);
            json!({"done": false, "why": why, "outageSeconds": outage})
        }
    }
}
