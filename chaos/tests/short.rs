//! The short chaos run of `make test`: ~120 leads, every fault kind for
//! seconds, under a minute. The runner is this package's own binary
//! (`leadpipe-chaos local`), which cargo builds before this test.

use std::path::PathBuf;

use leadpipe_chaos::{Config, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_chaos_run_loses_nothing() {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let cfg = Config::short(
        target.join("chaos"),
        PathBuf::from(env!("CARGO_BIN_EXE_leadpipe-chaos")),
        vec!["local".into()],
    );
    let outcome = run(cfg).await.expect("the chaos harness runs");
    let r = &outcome.reconciled;
    for l in r.lost_leads.iter().chain(r.lost_deliveries.iter()).take(30) {
        println!("LOST {l}");
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    println!("summary: {}", outcome.summary_path.display());
    println!("{}", r.line());
    assert!(r.accepted > 0, "nothing was accepted: {}", r.line());
    assert_eq!(r.conflicting_bodies, 0, "one webhook-id carried two bodies");
    assert_eq!(r.lost(), 0, "{}", r.line());
}
