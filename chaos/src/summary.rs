//! The JSON summary of a run: what was configured, what was injected (by
//! kind), what the operator did and what the reckoning found.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Config;
use crate::admin::{Operator, Queues};
use crate::driver::Sent;
use crate::graph::Graph;
use crate::proxy::Proxy;
use crate::receivers::Receiver;
use crate::reconcile::Reconciled;

pub struct Parts<'a> {
    pub cfg: &'a Config,
    pub run_id: &'a str,
    pub duration: Duration,
    pub settle_took: f64,
    pub settled: bool,
    pub proxy: &'a Proxy,
    pub generations: usize,
    pub emulator_notes: &'a [Value],
    pub graph: &'a Graph,
    pub receivers: &'a [Receiver],
    pub events_log: &'a [Value],
    pub sent: &'a Sent,
    pub queues: &'a Queues,
    pub operator: &'a Operator,
    pub reconciled: &'a Reconciled,
}

pub fn summary(p: Parts<'_>) -> Value {
    let cfg = p.cfg;
    let (by_kind, by_op) = p.proxy.counts();
    let (conditional_faults, conditional_writes) = p.proxy.conditional();
    let r = &cfg.rates;
    json!({
        "run": p.run_id,
        "mode": cfg.name,
        "durationSeconds": crate::secs(p.duration),
        "windowSeconds": cfg.window.as_secs(),
        "settleSeconds": p.settle_took,
        "settled": p.settled,
        "config": {
            "leads": cfg.leads, "metaShare": cfg.meta_share, "duplicateShare": cfg.duplicate_share,
            "concurrency": cfg.concurrency,
            "rates": {"throttle": r.throttle, "transactionConflict": r.tx_conflict,
                      "http500": r.error_500, "reset": r.reset,
                      "http500AfterForward": r.after_500, "resetAfterForward": r.after_reset,
                      "latency": r.latency, "latencyMs": [r.latency_ms.0, r.latency_ms.1],
                      "lostAnswerConditionalWrite": r.lost_conditional,
                      "ofWhichSdkRetriesFail": r.lost_conditional_surfaced},
            "receiveVisibilityOverride": cfg.receive_visibility,
            "retryBaseMs": cfg.retry_base_ms, "retryMaxMs": cfg.retry_max_ms,
            "retryUnitMs": crate::RETRY_UNIT_MS,
            "crmA": {"maxAttempts": cfg.max_attempts},
            "crmB": {"retrySchedule": cfg.dying_schedule, "longOutage": [cfg.long_outage.0, cfg.long_outage.1]},
            "slowSeconds": cfg.slow_seconds,
            "giveUpAfterSeconds": cfg.give_up_after.as_secs(),
            "graphGonePerMille": cfg.gone_per_mille,
            "productionSweeperGeneration": cfg.production_sweeper_generation,
            "runner": cfg.runner_program.display().to_string(),
        },
        "injected": {
            "proxy": by_kind,
            "proxyByOperation": by_op,
            "lostAnswersOnConditionalWrites": conditional_faults,
            "conditionalWritesForwarded": conditional_writes,
            "proxyForwarded": p.proxy.forwarded(),
            "proxyCallsFailedInOutage": p.proxy.failed_in_outage(),
            "runnerKills": cfg.runner_kills.len(),
            "runnerGenerations": p.generations,
            "emulatorRestarts": p.emulator_notes,
            "graph": p.graph.counts(),
            "receivers": p.receivers.iter().map(|r| (r.name.clone(), r.endpoint.counts())).collect::<BTreeMap<_, _>>(),
        },
        "sqsLedger": p.proxy.ledger(|l| json!({"sent": l.sent, "deleted": l.deleted,
            "deletedAfterSqsRedrive": l.deleted_after_move, "aliveByQueue": l.live_by_queue()})),
        "operator": p.operator.to_json(),
        "timeline": p.events_log,
        "driver": {
            "hookRequests": p.sent.hooks.len(),
            "metaNotifications": p.sent.metas.len(),
            "answers": p.sent.answers,
            "attempts": p.sent.hooks.iter().map(|h| u64::from(h.attempts)).sum::<u64>()
                + p.sent.metas.iter().map(|m| u64::from(m.attempts)).sum::<u64>(),
            "neverAccepted": p.sent.hooks.iter().filter(|h| h.event_id.is_none()).map(|h| json!({"seq": h.seq, "last": h.last_answer}))
                .chain(p.sent.metas.iter().filter(|m| !m.accepted).map(|m| json!({"leadgens": m.leadgen_ids, "last": m.last_answer})))
                .collect::<Vec<_>>(),
            "metaAnsweredDuplicates": p.sent.metas.iter().map(|m| m.said_duplicates).sum::<u64>(),
        },
        "queuesAtEnd": {"leads": p.queues.leads.len(), "leadsDlq": p.queues.leads_dlq.len(),
                        "deliveries": p.queues.deliveries.len(), "deliveriesDlq": p.queues.deliveries_dlq.len()},
        "reconciled": p.reconciled.to_json(),
    })
}

/// Every figure of a run, one per line, from its summary (what `make
/// chaos` prints and RELIABILITY.md reports).
pub fn figures(s: &Value) -> Vec<String> {
    let rc = &s["reconciled"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let d = &rc["duplicates"];
    let op = &s["operator"];
    let mut out = vec![
        format!(
            "leads accepted {} (hooks {}, Meta leadgens {}); never accepted (sender gave up) {}",
            n(&rc["accepted"]),
            n(&rc["acceptedHooks"]),
            n(&rc["acceptedMetaLeadgens"]),
            n(&rc["neverAccepted"])
        ),
        format!(
            "leads ended: as a lead found by its address {} ({} distinct), FAILED with reason {} {}, lost {}, addresses with two leads {}",
            n(&rc["leads"]),
            n(&rc["distinctLeads"]),
            n(&rc["failed"]),
            rc["failedReasons"],
            rc["lostLeads"].as_array().map_or(0, Vec::len),
            rc["addressesWithTwoLeads"].as_array().map_or(0, Vec::len)
        ),
        format!(
            "deliveries (lead.created × subscription): expected {}, delivered {}, dead {} (redriven: {} retried by id, {} moved by {} DLQ redrive(s)), delivered after redrive {}, lost {}",
            n(&rc["deliveriesExpected"]),
            n(&rc["delivered"]),
            n(&rc["deadSeen"]),
            n(&op["retriedById"]),
            n(&op["movedDeliveries"]),
            n(&op["redrives"]),
            n(&rc["deliveredAfterRedrive"]),
            rc["lostDeliveries"].as_array().map_or(0, Vec::len)
        ),
        format!(
            "duplicated: same webhook-id after a slow answer {}, near a kill/restart {}, other {} (allowed {}), second webhook-id for one event {}; total {} (window allows {})",
            n(&d["sameIdAfterSlowAnswer"]),
            n(&d["sameIdNearDisruption"]),
            n(&d["sameIdOther"]),
            n(&d["otherAllowed"]),
            n(&d["secondIdForOneEvent"]),
            n(&d["total"]),
            n(&d["allowed"])
        ),
        format!(
            "receivers: bad signatures {}, one webhook-id with two bodies {}",
            n(&rc["badSignatures"]),
            n(&rc["conflictingBodies"])
        ),
        format!("faults injected by the proxy: {}", s["injected"]["proxy"]),
        format!(
            "lost answers on conditional writes: {}",
            s["injected"]["lostAnswersOnConditionalWrites"]
        ),
        format!(
            "runner SIGKILLs {}, emulator restarts {}",
            n(&s["injected"]["runnerKills"]),
            s["injected"]["emulatorRestarts"]
        ),
        format!("Graph stand-in: {}", s["injected"]["graph"]),
        format!("receivers by mode: {}", s["injected"]["receivers"]),
        format!("SQS ledger: {}", s["sqsLedger"]),
        format!(
            "leads redriven from the leads DLQ {}; settled {} after {}s",
            n(&op["movedLeads"]),
            s["settled"],
            s["settleSeconds"]
        ),
    ];
    for f in rc["failures"].as_array().into_iter().flatten() {
        out.push(format!("FAILS: {}", f.as_str().unwrap_or("?")));
    }
    out
}
