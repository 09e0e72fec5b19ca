//! The load run's percentiles and reckoning, on made-up times (no clock,
//! no network).

use super::*;

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn lead(t0: Instant, email: &str, sent: u64, accepted: Option<u64>) -> LeadTimes {
    LeadTimes {
        email: email.into(),
        sent: Some(at(t0, sent)),
        accepted: accepted.map(|a| at(t0, a)),
    }
}

fn arrival(t0: Instant, email: &str, kind: &str, times: &[u64]) -> Arrival {
    Arrival {
        email: Some(email.into()),
        event_type: Some(kind.into()),
        at: times.iter().map(|t| at(t0, *t)).collect(),
    }
}

#[test]
fn percentiles_are_nearest_rank() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    let p = Percentiles::of(&values).expect("a sample");
    assert_eq!(p.count, 100);
    assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));

    // Unsorted, small: p50 of 4 is the 2nd, p99 the 4th.
    let p = Percentiles::of(&[40.0, 10.0, 30.0, 20.0]).expect("a sample");
    assert_eq!((p.p50, p.p90, p.p99, p.max), (20.0, 40.0, 40.0, 40.0));

    let one = Percentiles::of(&[7.5]).expect("a sample");
    assert_eq!((one.p50, one.p99, one.max), (7.5, 7.5, 7.5));
    assert_eq!(Percentiles::of(&[]), None);
    assert_eq!(Percentiles::of(&[f64::NAN]), None);
}

#[test]
fn reckoning_matches_leads_to_their_first_copy() {
    let t0 = Instant::now();
    let leads = vec![
        lead(t0, "a@x", 0, Some(20)),
        lead(t0, "b@x", 100, Some(130)),
        // Accepted, never delivered: lost.
        lead(t0, "c@x", 200, Some(210)),
        // Never accepted: not lost, not counted in the latencies.
        lead(t0, "d@x", 300, None),
    ];
    let arrivals = vec![
        arrival(t0, "a@x", "lead.created", &[120]),
        // Two copies under one id, one more under another: 3 copies.
        arrival(t0, "b@x", "lead.created", &[400, 900]),
        arrival(t0, "b@x", "lead.created", &[330]),
        // Another type for the lost lead does not count as its delivery.
        arrival(t0, "c@x", "lead.updated", &[500]),
        // Nobody sent this one.
        arrival(t0, "z@x", "lead.created", &[50]),
    ];
    let r = reckon(t0, &leads, &arrivals);
    assert_eq!((r.sent, r.accepted, r.delivered), (4, 3, 2));
    assert_eq!(r.lost, vec!["c@x".to_owned()]);
    assert!(!r.passed());
    assert_eq!((r.delivered_more_than_once, r.extra_copies), (1, 2));
    assert_eq!(r.unexpected, 1);
    assert_eq!(r.accept_ms.len(), 3);
    let accept = Percentiles::of(&r.accept_ms).expect("accepts");
    assert_eq!((accept.p50, accept.max), (20.0, 30.0));
    // a: 20 → 120; b: 130 → 330 (its earliest copy, not its first id's).
    let mut e2e = r.e2e_ms.clone();
    e2e.sort_by(f64::total_cmp);
    assert_eq!(e2e, vec![100.0, 200.0]);
    assert_eq!(r.first_sent_s, 0.0);
    assert!((r.last_sent_s - 0.3).abs() < 1e-9);
    assert!((r.last_accepted_s - 0.21).abs() < 1e-9);
    assert!((r.last_delivered_s - 0.33).abs() < 1e-9);
    assert!((r.drain_s() - 0.12).abs() < 1e-9);
    // 3 accepted over 0.21 s: 2 gaps.
    assert!((r.accept_rate() - 2.0 / 0.21).abs() < 1e-9);
}

#[test]
fn a_copy_before_the_answer_counts_as_zero_and_nothing_lost_passes() {
    let t0 = Instant::now();
    let leads = vec![lead(t0, "a@x", 0, Some(50)), lead(t0, "b@x", 10, Some(60))];
    let arrivals = vec![
        arrival(t0, "a@x", "lead.created", &[40]),
        arrival(t0, "b@x", "lead.created", &[90]),
    ];
    let r = reckon(t0, &leads, &arrivals);
    assert!(r.passed());
    assert_eq!(r.arrived_before_accept, 1);
    assert_eq!(r.e2e_ms, vec![0.0, 30.0]);
    assert_eq!(r.delivered_more_than_once, 0);
    // Nothing accepted: not a pass, whatever was lost.
    assert!(!reckon(t0, &[lead(t0, "a@x", 0, None)], &arrivals).passed());
}
