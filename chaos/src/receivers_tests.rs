//! Tests of the receivers' book: what counts as received, duplicated
//! and badly signed.

use super::*;

fn signed(key: &[u8], id: &str, body: &str) -> Request {
    let ts = "1700000000";
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", id.parse().expect("id"));
    headers.insert("webhook-timestamp", ts.parse().expect("ts"));
    headers.insert(
        "webhook-signature",
        format!("v1,{sig}").parse().expect("sig"),
    );
    Request {
        path_and_query: "/hooks/crm".into(),
        headers,
        body: Bytes::from(body.to_owned()),
    }
}

/// A receiver whose secret is `k`, not listening (its book is fed
/// directly).
fn receiver() -> Receiver {
    let (mode, _) = watch::channel(Mode::Healthy);
    Receiver {
        name: "crm".into(),
        endpoint: Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            mode,
            by_mode: Arc::new(Mutex::new(BTreeMap::new())),
        },
        book: Arc::new(Mutex::new(Book::default())),
        secret: Arc::new(Mutex::new(Some(b"k".to_vec()))),
    }
}

const CREATED: &str = r#"{"type":"lead.created","lead":{"id":"lead_1"}}"#;

#[test]
fn a_resend_after_a_slow_answer_is_a_duplicate_and_a_second_id_too() {
    let r = receiver();
    let key = b"k";
    let slow = Mode::Slow { seconds: 11 };
    let answer =
        |id: &str, mode: Mode| receive(&r.book, &r.secret, signed(key, id, CREATED), mode, 0.0).0;
    assert_eq!(answer("dlv_1", slow), 200);
    assert_eq!(answer("dlv_1", Mode::Healthy), 200);
    assert_eq!(answer("dlv_2", Mode::Healthy), 200);
    let report = r.report();
    assert_eq!(report.duplicates.len(), 1);
    assert!(report.duplicates[0].after_slow_only);
    assert_eq!(report.extra_ids, vec!["dlv_2".to_owned()]);
    assert_eq!(report.received_leads["lead_1"].len(), 2);
    assert_eq!((report.slow_processed, report.bad_signatures), (1, 0));
}

#[test]
fn a_bad_signature_is_refused_and_counted_and_not_received() {
    let r = receiver();
    let answer = receive(
        &r.book,
        &r.secret,
        signed(b"other", "dlv_1", CREATED),
        Mode::Healthy,
        0.0,
    );
    assert_eq!(answer.0, 401);
    let report = r.report();
    assert_eq!((report.bad_signatures, report.received_ids), (1, 0));
    assert!(report.received_leads.is_empty());
}
