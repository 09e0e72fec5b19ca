//! `make chaos`: a bounded fault-injection run against the local stack that
//! reckons every accepted lead and every delivery at the end.
//!
//! The pieces, each in its module:
//!
//! * [`config`] — what a run is made of, and its timeline;
//! * [`emulator`] — moto on a fixed port, restartable, its state carried
//!   over by moto's recorder (SQS: only the messages alive);
//! * [`proxy`] — the fault proxy between Leadpipe and moto (throttling,
//!   transaction conflicts, 500s, resets and latency, before and after
//!   forwarding; lost answers on conditional writes; outages) and its SQS
//!   ledger;
//! * [`runner`] — the local stack as a child process, SIGKILLed and started
//!   again (one generation with the sweeper at its production grace);
//! * [`receivers`] and [`graph`] — webhook receivers and the Graph API
//!   stand-in, each switchable to refuse, answer 503 or answer too late;
//!   Graph answers a share of leadgens as deleted;
//! * [`driver`] — the leads, through hooks and signed Meta notifications,
//!   retried as real senders retry;
//! * [`admin`] — the admin API and the operator (retry, redrive);
//! * [`settle`] — the wait for the stack to drain, redriving what died;
//! * [`reconcile`] — the reckoning and the line it prints;
//! * [`load`] — not a fault run: `make latency` and `make load` (issue 25
//!   §2, §6) time leads through the healthy stack with the same pieces.
//!
//! [`run`] plays a [`Config`]'s timeline: faults on, the driver paced over
//! the fault window, outages (one longer than crm-b's retry schedule, so
//! its deliveries die and are redriven), kills and the emulator restart at
//! fixed fractions of the window, then faults off, a bounded wait for the
//! queues to drain, and the reckoning. A JSON summary of everything
//! injected goes to `<out_dir>/summary-<mode>.json`.

pub mod admin;
pub mod config;
pub mod driver;
pub mod emulator;
pub mod graph;
pub mod load;
pub mod proxy;
pub mod receivers;
pub mod reconcile;
pub mod runner;
pub mod settle;
pub mod summary;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use leadpipe::App;
use leadpipe_local::bootstrap::{self as resources, SecretOverrides, Stack, StackNames};
use serde_json::{Value, json};

pub use config::{Action, Config, RETRY_UNIT_MS, timeline};

use admin::{Admin, Operator, Queues};
use emulator::Moto;
use proxy::{FaultRates, Proxy};
use receivers::{Mode, Receiver};
use reconcile::Reconciled;
use runner::{Runner, RunnerSpec};

/// The end of a run.
pub struct Outcome {
    pub reconciled: Reconciled,
    pub summary_path: PathBuf,
    pub summary: Value,
}

fn token(n: usize) -> String {
    (0..n).map(|_| fastrand::alphanumeric()).collect()
}

pub(crate) fn secs(d: Duration) -> f64 {
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
    let rec = recording.clone();
    let mut moto = Some(
        tokio::task::spawn_blocking(move || Moto::start_on_free_port(&rec))
            .await
            .map_err(|e| e.to_string())??,
    );
    let moto_port = moto.as_ref().map_or(0, |m| m.port);
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
    let graph = graph::Graph::start(
        &run_id,
        &page_token,
        cfg.graph_error_share,
        cfg.gone_per_mille,
    )
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
        env: [
            runner::stack_env(&proxy.url(), api_port, &stack_name, &admin_token),
            vec![
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
                ("LEADPIPE_RETRY_UNIT_MS".into(), RETRY_UNIT_MS.to_string()),
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
        ]
        .concat(),
        dir: cfg.out_dir.clone(),
        base_url: base_url.clone(),
    };
    let production = spec.with_production_sweeper();
    let spec_for = |generation: usize| {
        if generation == cfg.production_sweeper_generation {
            &production
        } else {
            &spec
        }
    };
    let mut generation = 0usize;
    let mut runner: Option<Runner> = Some(
        spec_for(generation)
            .start(generation, Duration::from_secs(90))
            .await?,
    );
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
    let (key_id, key_token, subscriptions) =
        admin::setup(&admin, &run_id, &receivers, &cfg).await?;
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
        stop_after: None,
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
    let mut disruptions: Vec<Instant> = Vec::new();
    let mut operator = Operator::default();
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
                disruptions.push(Instant::now());
                if let Some(r) = runner.take() {
                    r.kill().await;
                }
                let killed = Instant::now();
                generation += 1;
                let production = generation == cfg.production_sweeper_generation;
                log(&format!(
                    "runner SIGKILLed; starting generation {generation}{}",
                    if production {
                        " (sweeper at its production grace and interval)"
                    } else {
                        ""
                    }
                ));
                runner = Some(
                    spec_for(generation)
                        .start(generation, Duration::from_secs(90))
                        .await?,
                );
                let down = secs(killed.elapsed());
                log(&format!("runner generation {generation} up after {down}s"));
                events_log.push(
                    json!({"t": t, "what": "runner SIGKILL", "downSeconds": down,
                                       "generation": generation, "productionSweeper": production}),
                );
            }
            Action::RestartEmulator => {
                disruptions.push(Instant::now());
                let note = emulator::restart(&mut moto, moto_port, &recording, &proxy, &log).await;
                disruptions.push(Instant::now());
                events_log
                    .push(json!({"t": t, "what": "emulator restart", "detail": note.clone()}));
                emulator_notes.push(note);
            }
            Action::Redrive => {
                let what = match operator.act(&admin).await {
                    Ok(n) => format!(
                        "operator: {n} dead deliveries; so far {}",
                        operator.to_json()
                    ),
                    Err(e) => format!("operator could not act: {e}"),
                };
                log(&what);
                events_log.push(json!({"t": t, "what": what}));
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

    let settled = settle::settle(
        &direct,
        &stack,
        &admin,
        &mut operator,
        &proxy,
        Instant::now() + cfg.settle,
        &log,
    )
    .await?;
    let settle_took = secs(faults_off.elapsed());
    log(&format!(
        "{} after {settle_took}s (queues and DLQs {:?})",
        if settled.settled {
            "settled"
        } else {
            "NOT settled by the deadline"
        },
        settled.depths
    ));

    // The reckoning on a still picture: the runner stops, the queues are
    // read (which hides their messages for 15 minutes), then a last runner
    // serves the admin API with nothing left for its pollers to move.
    if let Some(r) = runner.take() {
        r.kill().await;
    }
    let queues = Queues {
        leads: admin::peek_queue(&direct, &stack.leads_queue_url).await?,
        leads_dlq: admin::peek_queue(&direct, &stack.leads_dlq_url).await?,
        deliveries: admin::peek_queue(&direct, &stack.deliveries_queue_url).await?,
        deliveries_dlq: admin::peek_queue(&direct, &stack.deliveries_dlq_url).await?,
    };
    generation += 1;
    let last = spec.start(generation, Duration::from_secs(90)).await?;
    let sub_ids: Vec<String> = subscriptions.iter().map(|s| s.0.clone()).collect();
    let views = admin::read_views(&admin, &sub_ids).await;
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
            operator: &operator,
            disruptions: &disruptions,
            gone_per_mille: cfg.gone_per_mille,
        },
        &views,
    )
    .await?;
    log("reconciled");
    if !settled.settled {
        reconciled.notes.push(format!(
            "not settled within {:?}: queue depths {:?}",
            cfg.settle, settled.depths
        ));
    }

    let summary = summary::summary(summary::Parts {
        cfg: &cfg,
        run_id: &run_id,
        duration: started.elapsed(),
        settle_took,
        settled: settled.settled,
        proxy: &proxy,
        generations: generation + 1,
        emulator_notes: &emulator_notes,
        graph: &graph,
        receivers: &receivers,
        events_log: &events_log,
        sent: &sent,
        queues: &queues,
        operator: &operator,
        reconciled: &reconciled,
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
