//! The cost model of `make bench`: the per-million line from the measured
//! warm durations (as before), and the all-in bill (issue 25 §3): what a
//! lead costs with its logs, queue requests at the batch sizes traffic
//! gives, deliver waiting on a receiver that answers in 300 ms, API Gateway
//! against a Function URL, and the fixed monthly costs of an idle stack —
//! at 10k, 1M and 100M leads a month.
//!
//! Prices are us-east-1 list prices, without free tiers unless a line says
//! so; each one's source page is in BENCHMARKS.md ("Prices and their
//! sources", bench/findings.md).

// Lambda arm64 $0.0000133334 per GB-s and $0.20 per million requests;
// DynamoDB on-demand $0.625 per million write request units and $0.125 per
// million read request units; SQS standard $0.40 per million requests;
// API Gateway HTTP API $1.00 per million; CloudWatch Logs standard ingestion
// $0.50 per GB and storage $0.03 per GB-month; X-Ray $5 per million traces
// recorded; Secrets Manager $0.40 per secret-month; CloudWatch alarms $0.10
// per standard-resolution alarm metric-month.
pub const LAMBDA_GB_S: f64 = 0.000_013_333_4;
pub const LAMBDA_REQ: f64 = 0.20 / 1e6;
pub const DDB_WRU: f64 = 0.625 / 1e6;
pub const DDB_RRU: f64 = 0.125 / 1e6;
pub const SQS_REQ: f64 = 0.40 / 1e6;
pub const APIGW_REQ: f64 = 1.00 / 1e6;
pub const LOGS_INGEST_GB: f64 = 0.50;
pub const LOGS_STORE_GB_MONTH: f64 = 0.03;
pub const XRAY_TRACE: f64 = 5.00 / 1e6;
pub const SECRET_MONTH: f64 = 0.40;
pub const ALARM_MONTH: f64 = 0.10;
pub const MEMORY_GB: f64 = 0.25;

/// AWS calls per lead: (DynamoDB read units, write units, SQS requests).
/// Write units are measured, not counted: `tests/it/cost.rs` runs a lead
/// through the handlers behind the write-unit meter
/// (`tests/support/meter.rs`), which prices every write DynamoDB would bill
/// from the items before and after it. Read units and SQS requests are
/// counted from the code paths.
pub struct Calls {
    pub rru: f64,
    pub wru: f64,
    pub sqs: f64,
}

/// ingest: key read (1 RRU); event put with its one index entry (the
/// events listing: a new event is on no status listing since issue 25),
/// the sharded counter ADD and the workspace's per-minute budget window
/// (4 WRU measured; 5 from workspaces, issue 21, until then); SendMessage
/// (1).
pub const INGEST: Calls = Calls {
    rru: 1.0,
    wru: 4.0,
    sqs: 1.0,
};
/// process (new lead, batches of 10): event read, two identity reads,
/// lead read, history query, subscriptions query (6 RRU); two identity
/// claims, the lead with its two index entries and the event's end, which
/// rewrites no listing entry (its status is in an attribute no index
/// projects) (6 WRU measured since issue 25: 11 for the stage less the
/// delivery, counted per delivery below); receive + delete + send per
/// batch (0.3 SQS requests per lead).
pub const PROCESS: Calls = Calls {
    rru: 6.0,
    wru: 6.0,
    sqs: 0.3,
};
/// per delivery, its first attempt made by `process` (the default, issue
/// 25): its body, the delivery put already claimed (on no index) and the
/// delivered record, which lists it — 5 WRU measured; the destination's
/// health read (1 RRU); no queue hop (0 SQS requests).
pub const DELIVERY: Calls = Calls {
    rru: 1.0,
    wru: 5.0,
    sqs: 0.0,
};
/// per delivery through the deliveries queue (a failed first attempt, a
/// held destination, a static egress IP): in process its body and the
/// delivery with three index entries (5 WRU); in deliver the claim and the
/// conditional end (5 WRU) — 10 WRU measured; delivery, body and
/// subscription reads (3 RRU); send + receive + delete (1.2 SQS requests).
pub const DELIVERY_QUEUED: Calls = Calls {
    rru: 3.0,
    wru: 10.0,
    sqs: 1.2,
};

/// The sweeper's reads per lead: each event's item once (a consistent
/// `BatchGetItem` of an item under 4 KB: 1 RRU), its status being on no
/// index entry since issue 25, and its listing entry (~150 B, read with
/// its shards' neighbours: ~0.2 RRU).
pub const SWEEP_RRU: f64 = 1.2;

/// The write units of a new lead with one subscription today (the meter).
pub fn write_units_today() -> f64 {
    INGEST.wru + PROCESS.wru + DELIVERY.wru
}

/// §1's target for the same lead.
pub const WRITE_UNITS_TARGET: f64 = 11.0;

pub fn cost_per_million(
    ingest_ms: f64,
    process_ms: f64,
    deliver_ms: f64,
    subs: f64,
) -> (f64, Vec<(String, f64)>) {
    let lambda = |ms: f64, invocations: f64| {
        1e6 * (ms / 1000.0 * MEMORY_GB * LAMBDA_GB_S * invocations.max(1.0))
            + 1e6 * LAMBDA_REQ * invocations
    };
    let lines = vec![
        ("API Gateway".to_owned(), 1e6 * APIGW_REQ),
        ("Lambda ingest".to_owned(), lambda(ingest_ms, 1.0)),
        (
            "Lambda process (batches of 10)".to_owned(),
            1e6 * process_ms / 1000.0 * MEMORY_GB * LAMBDA_GB_S + 1e6 * LAMBDA_REQ * 0.1,
        ),
        (
            // The attempt deliver's warm run measures, made in process
            // (the first attempt): its duration, no invocation of its own.
            format!("Lambda attempt ×{subs} (in process)"),
            subs * (1e6 * deliver_ms / 1000.0 * MEMORY_GB * LAMBDA_GB_S),
        ),
        (
            "DynamoDB".to_owned(),
            1e6 * ((INGEST.rru + PROCESS.rru + SWEEP_RRU + subs * DELIVERY.rru) * DDB_RRU
                + (INGEST.wru + PROCESS.wru + subs * DELIVERY.wru) * DDB_WRU),
        ),
        (
            "SQS".to_owned(),
            1e6 * (INGEST.sqs + PROCESS.sqs + subs * DELIVERY.sqs) * SQS_REQ,
        ),
    ];
    (lines.iter().map(|(_, v)| v).sum(), lines)
}

/// What the bench measured that the all-in bill uses.
pub struct Measured {
    /// Warm p50 of one record, ms.
    pub ingest_ms: f64,
    pub process_ms: f64,
    /// deliver's warm p50 against a receiver answering in `slow_ms`.
    pub deliver_slow_ms: f64,
    pub slow_ms: u64,
    /// Bytes the functions wrote to stdout/stderr per warm invocation of one
    /// record (their JSON logs at the default level, `info`).
    pub ingest_log: f64,
    pub process_log: f64,
    pub deliver_log: f64,
}

/// Lambda's own JSON log records per invocation (`platform.start` and
/// `platform.report`, log format JSON), as AWS documents them, with a
/// request id and figures of the lengths Lambda writes.
pub fn platform_log_bytes() -> f64 {
    let start = serde_json::json!({"time": "2026-12-04T21:00:00.000Z", "type": "platform.start",
        "record": {"requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa", "version": "$LATEST"}});
    let report = serde_json::json!({"time": "2026-12-04T21:00:00.042Z", "type": "platform.report",
        "record": {"requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa",
            "metrics": {"durationMs": 41.23, "billedDurationMs": 42, "memorySizeMB": 256, "maxMemoryUsedMB": 18},
            "status": "success"}});
    (start.to_string().len() + report.to_string().len() + 2) as f64
}

/// One line of the API's access log (the format in infra/modules/leadpipe/api.tf).
pub fn access_log_bytes() -> f64 {
    let line = serde_json::json!({"requestId": "Q2mJ1jXhoAMEbKQ=", "ip": "203.0.113.9", "method": "POST",
        "route": "POST /v1/hooks/{keyId}", "status": "202", "latencyMs": "31", "error": "-"});
    (line.to_string().len() + 1) as f64
}

/// A traffic regime: leads a month and the messages an SQS poll returns.
struct Regime {
    leads: f64,
    batch: f64,
}

const REGIMES: [Regime; 3] = [
    // ~1 lead every 4 minutes: every poll returns one message.
    Regime {
        leads: 1e4,
        batch: 1.0,
    },
    // ~0.4 leads/s: still one message a poll.
    Regime {
        leads: 1e6,
        batch: 1.0,
    },
    // ~39 leads/s on average: a few messages a poll (an estimate; at
    // 1,000 leads/s polls come back full, 10).
    Regime {
        leads: 1e8,
        batch: 3.0,
    },
];

/// Fixed monthly costs of a deployed, idle stack (defaults, egress none).
pub fn idle_lines() -> Vec<(&'static str, f64, &'static str)> {
    // Two queues' event source mappings long-poll (20 s) with ~5 pollers
    // each while idle: 2 × 5 × 3 a minute × 43,200 minutes.
    let idle_polls = 2.0 * 5.0 * 3.0 * 43_200.0;
    // The sweeper every 5 minutes: 8,640 runs, each ~26 index queries at
    // 0.5 RRU (one workspace: the work index, the RECEIVED status listing
    // and the events listing past its cursor, each over its shards and
    // legacy partition) and the cursor's read (1 RRU), a 128 MB invocation
    // of ~100 ms, its two platform log records.
    let sweeps = 8_640.0;
    let sweeper = sweeps
        * (26.0 * 0.5 * DDB_RRU
            + DDB_RRU
            + LAMBDA_REQ
            + 0.1 * 0.125 * LAMBDA_GB_S
            + platform_log_bytes() / 1e9 * (LOGS_INGEST_GB + LOGS_STORE_GB_MONTH));
    vec![
        (
            "Secrets Manager: 2 secrets (deployment; admin, read by admin alone)",
            2.0 * SECRET_MONTH,
            "$0.80",
        ),
        (
            "CloudWatch alarms: 9 alarm metrics",
            9.0 * ALARM_MONTH,
            "$0 (the free ten)",
        ),
        (
            "SQS: idle long polls of the two event source mappings (~1.3 M requests)",
            idle_polls * SQS_REQ,
            "$0.12 (1 M requests free)",
        ),
        (
            "Sweeper: 8,640 runs (Lambda, index queries, logs); EventBridge Scheduler",
            sweeper,
            "≈ $0 (Lambda's and the Scheduler's free tiers)",
        ),
        (
            "KMS keys, log groups (empty), API Gateway, DynamoDB (empty, on demand), metric-filter metrics (published only when a line matches)",
            0.0,
            "$0",
        ),
    ]
}

fn money(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else if v >= 0.1 {
        format!("${v:.2}")
    } else {
        format!("${v:.3}")
    }
}

/// Each line of the all-in bill per month, at 10k, 1M and 100M leads, for
/// `wru` write units a lead.
pub fn monthly(m: &Measured, wru: f64) -> Vec<(String, [f64; 3])> {
    let platform = platform_log_bytes();
    let access = access_log_bytes();
    let idle: f64 = idle_lines().iter().map(|(_, v, _)| v).sum();
    let mut rows: Vec<(String, [f64; 3])> = Vec::new();
    let mut push = |name: &str, f: &dyn Fn(&Regime) -> f64| {
        let mut v = [0.0; 3];
        for (i, r) in REGIMES.iter().enumerate() {
            v[i] = f(r);
        }
        rows.push((name.to_owned(), v));
    };
    push("fixed: idle stack", &|_| idle);
    push("API Gateway HTTP API ($1.00/M requests)", &|r| {
        r.leads * APIGW_REQ
    });
    push("Lambda ingest", &|r| {
        r.leads * (m.ingest_ms / 1000.0 * MEMORY_GB * LAMBDA_GB_S + LAMBDA_REQ)
    });
    push("Lambda process", &|r| {
        r.leads * (m.process_ms / 1000.0 * MEMORY_GB * LAMBDA_GB_S + LAMBDA_REQ / r.batch)
    });
    // process waits on the first attempt as deliver did: the records of a
    // batch at once, so about one wait a batch; no invocation of its own.
    push(
        "Lambda process waiting on the first attempt (300 ms receiver)",
        &|r| r.leads * (m.deliver_slow_ms / r.batch / 1000.0 * MEMORY_GB * LAMBDA_GB_S),
    );
    push(&format!("DynamoDB writes ({wru:.0} WRU a lead)"), &|r| {
        r.leads * wru * DDB_WRU
    });
    push(
        &format!(
            "DynamoDB reads ({:.0} RRU a lead)",
            INGEST.rru + PROCESS.rru + SWEEP_RRU + DELIVERY.rru
        ),
        &|r| r.leads * (INGEST.rru + PROCESS.rru + SWEEP_RRU + DELIVERY.rru) * DDB_RRU,
    );
    push("SQS (1 send + 2/b, one hop)", &|r| {
        r.leads * (1.0 + 2.0 / r.batch) * SQS_REQ
    });
    push("CloudWatch Logs (ingest + 30 days stored)", &|r| {
        let bytes = m.ingest_log
            + m.process_log
            + m.deliver_log
            + platform * (1.0 + 1.0 / r.batch)
            + access;
        r.leads * bytes / 1e9 * (LOGS_INGEST_GB + LOGS_STORE_GB_MONTH)
    });
    push("X-Ray (off by default)", &|_| 0.0);
    rows
}

/// The all-in section of BENCHMARKS.md.
pub fn all_in_report(m: &Measured) -> String {
    let platform = platform_log_bytes();
    let access = access_log_bytes();
    let mut s = String::from("\n## All-in cost (issue 25 §3)\n\n");
    s.push_str(&format!(
        "Measured in this run: the functions' JSON logs at the default level (`info`), bytes written per warm invocation of one record — \
ingest **{:.0} B**, process **{:.0} B**, deliver **{:.0} B**; Lambda's own `platform.start` + `platform.report` records **{platform:.0} B** per invocation \
and one API access-log line **{access:.0} B** (sized from their documented shapes); deliver's warm p50 against a receiver that answers in \
{} ms: **{:.1} ms** (the records of a batch are sent concurrently, so a batch of *b* deliveries bills about one wait). \
Tracing is **off** by default (`tracing = false`: PassThrough): $0. On, X-Ray records a trace per invocation — ingest and process \
(which makes the first attempt; deliver runs only for the next ones): 2 per lead when each poll holds one message, **{}** per million leads at $5 per million traces (100,000 a month free); its default sampling \
(the first request each second, then 5 %) brings that to ~{} per million at steady high rates.\n\n",
        m.ingest_log, m.process_log, m.deliver_log, m.slow_ms, m.deliver_slow_ms,
        money(2.0 * XRAY_TRACE * 1e6),
        money(2.0 * 0.05 * XRAY_TRACE * 1e6)
    ));
    s.push_str(
        "Per month, us-east-1 list prices without free tiers (the idle line's free-tier figure is in \"Idle and static-IP costs\"); \
one subscription; *b* = messages an SQS poll returns.\n\n",
    );
    s.push_str("| line | 10k leads/month (b = 1) | 1M leads/month (b = 1) | 100M leads/month (b ≈ 3) |\n|---|---|---|---|\n");
    let wru = write_units_today();
    let rows = |wru: f64| monthly(m, wru);
    let today = rows(wru);
    let mut totals = [0.0; 3];
    for (name, v) in &today {
        s.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            money(v[0]),
            money(v[1]),
            money(v[2])
        ));
        for i in 0..3 {
            totals[i] += v[i];
        }
    }
    s.push_str(&format!(
        "| **total a month** | **{}** | **{}** | **{}** |\n",
        money(totals[0]),
        money(totals[1]),
        money(totals[2])
    ));
    let per_m = |t: f64, leads: f64| t / leads * 1e6;
    s.push_str(&format!(
        "| **per million leads, {wru:.0} WRU** | {} | {} | {} |\n",
        money(per_m(totals[0], 1e4)),
        money(per_m(totals[1], 1e6)),
        money(per_m(totals[2], 1e8))
    ));
    let target: Vec<f64> = (0..3)
        .map(|i| rows(WRITE_UNITS_TARGET).iter().map(|(_, v)| v[i]).sum())
        .collect();
    s.push_str(&format!(
        "| per million leads at {WRITE_UNITS_TARGET:.0} WRU (§1's target) | {} | {} | {} |\n",
        money(per_m(target[0], 1e4)),
        money(per_m(target[1], 1e6)),
        money(per_m(target[2], 1e8))
    ));
    s.push_str(&format!(
        "| per million leads at {WRITE_UNITS_TARGET:.0} WRU with a Function URL instead of API Gateway | {} | {} | {} |\n",
        money(per_m(target[0] - 1e4 * APIGW_REQ, 1e4)),
        money(per_m(target[1] - 1e6 * APIGW_REQ, 1e6)),
        money(per_m(target[2] - 1e8 * APIGW_REQ, 1e8))
    ));
    let ddb_share = 1e6 * wru * DDB_WRU;
    s.push_str(&format!(
        "\nEach write unit is $0.625 per million leads: {wru:.0} WRU are {} of a million leads' bill, {WRITE_UNITS_TARGET:.0} WRU {}. \
SQS per lead: **{:.1} requests** when each poll holds one message (1 lead a minute), **{:.1}** at 1,000 leads/s (polls of 10), \
beside the idle long polls counted in the fixed line. At 10k leads a month the fixed line is most of the bill; \
the free tiers (1M Lambda requests and 400,000 GB-s, 1M SQS requests, 5 GB of logs, ten alarms) would cover nearly all of it.\n",
        money(ddb_share),
        money(1e6 * WRITE_UNITS_TARGET * DDB_WRU),
        1.0 + 2.0,
        1.0 + 2.0 / 10.0,
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured() -> Measured {
        Measured {
            ingest_ms: 25.0,
            process_ms: 70.0,
            deliver_slow_ms: 340.0,
            slow_ms: 300,
            ingest_log: 400.0,
            process_log: 300.0,
            deliver_log: 300.0,
        }
    }

    fn total(rows: &[(String, [f64; 3])], i: usize) -> f64 {
        rows.iter().map(|(_, v)| v[i]).sum()
    }

    #[test]
    fn each_write_unit_moves_a_million_leads_by_its_price() {
        let m = measured();
        let (today, target) = (monthly(&m, write_units_today()), monthly(&m, 11.0));
        let saved = total(&today, 1) - total(&target, 1);
        assert!(
            (saved - (write_units_today() - 11.0) * 0.625).abs() < 1e-9,
            "{saved}"
        );
    }

    #[test]
    fn batching_cuts_queue_requests_and_the_idle_stack_is_fixed() {
        let m = measured();
        let rows = monthly(&m, write_units_today());
        let line = |prefix: &str| rows.iter().find(|(n, _)| n.starts_with(prefix)).unwrap().1;
        let sqs = line("SQS");
        // One hop: 3 requests a lead at one message a poll, 1 + 2/3 at three.
        assert!((sqs[1] - 3.0 * 0.40).abs() < 1e-9, "{sqs:?}");
        assert!(
            (sqs[2] / 100.0 - (1.0 + 2.0 / 3.0) * 0.40).abs() < 1e-9,
            "{sqs:?}"
        );
        let fixed = line("fixed");
        assert!(
            fixed[0] == fixed[2] && fixed[0] > 2.0 && fixed[0] < 2.5,
            "{fixed:?}"
        );
        // process waits on the receiver once per batch, not per delivery.
        let deliver = line("Lambda process waiting");
        assert!(deliver[2] / 100.0 < deliver[1] / 2.0, "{deliver:?}");
    }

    #[test]
    fn platform_and_access_log_records_have_their_documented_size() {
        assert!((250.0..450.0).contains(&platform_log_bytes()));
        assert!((100.0..250.0).contains(&access_log_bytes()));
    }
}
