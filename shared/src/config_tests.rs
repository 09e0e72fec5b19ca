//! `config`'s tests: every variable read, defaulted and refused as documented.

use super::*;
use std::collections::HashMap;

fn base() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        (vars::TABLE, "t"),
        (vars::LEADS_QUEUE_URL, "http://q/leads"),
        (vars::DELIVERIES_QUEUE_URL, "http://q/deliveries"),
        (vars::LEADS_DLQ_URL, "http://q/leads-dlq"),
        (vars::DELIVERIES_DLQ_URL, "http://q/deliveries-dlq"),
        (vars::SECRET_ID, "s"),
    ])
}

fn load(map: &HashMap<&'static str, &'static str>) -> Result<Config, Error> {
    Config::from_lookup(|k| map.get(k).map(|v| v.to_string()))
}

#[test]
fn defaults() {
    let c = load(&base()).unwrap();
    assert_eq!(c.default_region, Region::US);
    assert_eq!(c.retry_base, Duration::from_secs(1));
    assert_eq!(c.retry_max, Duration::from_secs(15));
    assert_eq!(c.reengage_after, Duration::from_secs(30 * 86_400));
    assert!(!c.allow_private_targets);
    assert_eq!(c.meta_graph_url, "https://graph.facebook.com/v25.0");
}

#[test]
fn missing_and_bad_values_are_named() {
    let mut m = base();
    m.remove(vars::TABLE);
    assert!(load(&m).unwrap_err().to_string().contains("LEADPIPE_TABLE"));
    let mut m = base();
    m.insert(vars::DEFAULT_REGION, "Narnia");
    assert!(
        load(&m)
            .unwrap_err()
            .to_string()
            .contains("LEADPIPE_DEFAULT_REGION")
    );
    let mut m = base();
    m.insert(vars::RETRY_BASE_MS, "soon");
    assert!(
        load(&m)
            .unwrap_err()
            .to_string()
            .contains("LEADPIPE_RETRY_BASE_MS")
    );
}

#[test]
fn claim_windows_follow_the_function_timeouts() {
    let c = load(&base()).unwrap();
    assert_eq!(c.ingest_timeout, Duration::from_secs(10));
    assert_eq!(crate::deliver::lease(&c), Duration::from_secs(40));
    let mut m = base();
    m.insert(vars::DELIVER_TIMEOUT_S, "900");
    m.insert(vars::INGEST_TIMEOUT_S, "900");
    let c = load(&m).unwrap();
    assert!(crate::deliver::lease(&c) > Duration::from_secs(900));
    assert!(crate::ingest::idempotency::stale_claim(&c) > Duration::from_secs(900));
    assert!(crate::deliver::stall_after(&c) > crate::deliver::lease(&c));
    for bad in ["0", "901", "soon"] {
        let mut m = base();
        m.insert(vars::DELIVER_TIMEOUT_S, bad);
        assert!(load(&m).is_err(), "{bad}");
    }
}

#[test]
fn the_first_attempt_fits_in_process() {
    let c = load(&base()).unwrap();
    assert_eq!(c.first_attempt, Some(Duration::from_secs(3)));
    assert_eq!(c.process_timeout, Duration::from_secs(30));
    let mut m = base();
    m.insert(vars::FIRST_ATTEMPT_MS, "0");
    assert_eq!(load(&m).unwrap().first_attempt, None);
    for (first, process) in [("10001", "900"), ("6000", "10"), ("soon", "30")] {
        let mut m = base();
        m.insert(vars::FIRST_ATTEMPT_MS, first);
        m.insert(vars::PROCESS_TIMEOUT_S, process);
        assert!(load(&m).is_err(), "{first} within {process} s");
    }
}

#[test]
fn region_is_case_insensitive() {
    let mut m = base();
    m.insert(vars::DEFAULT_REGION, "de");
    assert_eq!(load(&m).unwrap().default_region, Region::DE);
}
