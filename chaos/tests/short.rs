//! The short chaos run of `make test`: 60 leads, every fault kind for
//! seconds, then the drain and the reckoning (about two minutes). The
//! runner is this package's own binary (`leadpipe-chaos local`), which
//! cargo builds before this test.

use std::path::PathBuf;

use leadpipe_chaos::{Config, run, summary};

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
    for n in r.notes.iter().chain(r.duplicates.examples.iter()) {
        println!("note: {n}");
    }
    for f in summary::figures(&outcome.summary) {
        println!("{f}");
    }
    println!("summary: {}", outcome.summary_path.display());
    println!("{}", r.line());
    let s = &outcome.summary;
    assert!(r.accepted > 0, "nothing was accepted: {}", r.line());
    // The new counting ran: every lead.created × subscription was looked
    // for, conditional writes lost their answers, and the restart replayed
    // only live messages.
    assert_eq!(r.deliveries_expected, 2 * r.distinct_leads, "{}", r.line());
    assert!(
        s["injected"]["lostAnswersOnConditionalWrites"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "no lost answer on a conditional write: {}",
        s["injected"]
    );
    assert!(
        s["injected"]["emulatorRestarts"][0]["sqsSendsOfDeletedMessagesLeftOut"]
            .as_u64()
            .is_some(),
        "the restart did not filter the replay: {}",
        s["injected"]["emulatorRestarts"]
    );
    assert!(r.passed(), "{:?}: {}", r.failures(), r.line());
}
