//! The cold path on a small Lambda (issue 25 §5): each function's init and
//! first invocation in fresh processes held to the CPU share Lambda gives a
//! 256 MB function (`cpu_limit`), beside the same run's unlimited figures.

use std::sync::Arc;
use std::time::Duration;

use leadpipe::App;
use leadpipe_local::bootstrap::Stack;
use serde_json::json;

use crate::cpu_limit::{CpuLimit, MB_PER_VCPU};
use crate::fixtures::{drain, http_event, make_events, sqs_event};
use crate::{Figures, Harness, VERIFY_TOKEN, percentile};

const MEMORY_MB: f64 = 256.0;

/// Runs the limited cold starts; the report's section (empty, with the
/// reason on stderr, when no CPU limit can be set here).
pub async fn run(
    h: &Harness,
    app: &App,
    stack: &Stack,
    key_id: &str,
    key: &str,
    unlimited: &[(String, &'static str, Figures)],
) -> String {
    match measure(h, app, stack, key_id, key).await {
        Ok((limit, figures)) => report(&limit, &figures, unlimited),
        Err(e) => {
            eprintln!("bench: cold path under a CPU limit skipped: {e}");
            String::new()
        }
    }
}

async fn measure(
    h: &Harness,
    app: &App,
    stack: &Stack,
    key_id: &str,
    key: &str,
) -> Result<(Arc<CpuLimit>, Vec<(String, Figures)>), String> {
    let limit = Arc::new(CpuLimit::create(
        &format!("leadpipe-bench-{}", std::process::id()),
        MEMORY_MB / MB_PER_VCPU,
    )?);
    let limited = Harness {
        bin_dir: h.bin_dir.clone(),
        zip_dir: h.zip_dir.clone(),
        env: h.env.clone(),
        cold: crate::env_usize("LEADPIPE_BENCH_LIMITED_COLD", 5),
        warm: 0,
        limit: Some(limit.clone()),
    };
    let per = limited.cold + 1;
    let mut out = Vec::new();

    let hook = |n: usize| {
        http_event(
            "POST",
            "/v1/hooks/{keyId}",
            &format!("/v1/hooks/{key_id}"),
            "",
            json!({"content-type": "application/json", "x-webhook-token": key}),
            Some(json!({"name": "Cold Lead", "email": format!("cold{n}@example.com"), "phone": "+1 415 555 0123",
                        "tags": "bench", "utm_source": "bench"}).to_string()),
        )
    };
    let verify = http_event(
        "GET",
        "/v1/providers/meta/webhook",
        "/v1/providers/meta/webhook",
        &format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"),
        json!({}),
        None,
    );
    let admin = http_event(
        "GET",
        "/v1/keys/{id}",
        &format!("/v1/keys/{key_id}"),
        "",
        json!({"authorization": format!("Bearer {}", stack.admin_secret.admin_token)}),
        None,
    );
    for (name, events) in [
        ("baseline-http", (0..per).map(hook).collect::<Vec<_>>()),
        ("ingest", (2_000_000..2_000_000 + per).map(hook).collect()),
        ("meta-verify", vec![verify; per]),
        ("admin", vec![admin; per]),
    ] {
        eprintln!("bench: {name} under {}", limit.how);
        out.push((
            name.to_owned(),
            limited.measure(name, &mut events.into_iter()).await?,
        ));
    }
    drain(app, &stack.leads_queue_url).await;

    // process: fresh events; deliver: the deliveries process fans out.
    let ids = make_events(app, key_id, key, 2_000_000, 2 * per).await?;
    drain(app, &stack.leads_queue_url).await;
    let process_event = |id: String| sqs_event(&json!({"eventId": id}));
    let mut ids = ids.into_iter();
    for name in ["baseline-sqs", "process"] {
        eprintln!("bench: {name} under {}", limit.how);
        let mut events = ids.by_ref().take(per).map(process_event);
        out.push((name.to_owned(), limited.measure(name, &mut events).await?));
    }
    let deliveries = drain(app, &stack.deliveries_queue_url).await;
    eprintln!(
        "bench: deliver under {} ({} deliveries)",
        limit.how,
        deliveries.len()
    );
    out.push((
        "deliver".to_owned(),
        limited
            .measure(
                "deliver",
                &mut deliveries.into_iter().map(|b| sqs_event(&b)),
            )
            .await?,
    ));
    // The group is removed once its last process has gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok((limit, out))
}

fn report(
    limit: &CpuLimit,
    figures: &[(String, Figures)],
    unlimited: &[(String, &'static str, Figures)],
) -> String {
    let mut s = format!(
        "\n## The cold path under a CPU limit (issue 25 §5)\n\nEach function's release build in {} fresh processes held to \
{:.1} % of one CPU — the share Lambda gives a {MEMORY_MB:.0} MB function (one vCPU at {MB_PER_VCPU:.0} MB) — by a {}; \
the process enters the group before it `exec`s the binary, so init is limited too. Beside it, the unlimited figures of the table above \
(same run, same emulator). Init = exec → first `GET /next`; first invocation includes the SDK configuration, TLS set-up, the secret \
fetch and the first calls.\n\n\
| function | init ms, limited (median) | init ms, unlimited | first invocation ms, limited (median) | first invocation ms, unlimited | errors |\n|---|---|---|---|---|---|\n",
        figures.first().map_or(0, |(_, f)| f.init_ms.len()),
        limit.share * 100.0,
        limit.how
    );
    for (name, f) in figures {
        let u = unlimited
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, f)| f);
        let med = |v: &[f64]| percentile(v, 0.5);
        s.push_str(&format!(
            "| {name} | {:.2} | {} | {:.2} | {} | {} |\n",
            med(&f.init_ms),
            u.map_or("-".into(), |u| format!("{:.2}", med(&u.init_ms))),
            med(&f.first_ms),
            u.map_or("-".into(), |u| format!("{:.2}", med(&u.first_ms))),
            f.errors
        ));
    }
    s
}
