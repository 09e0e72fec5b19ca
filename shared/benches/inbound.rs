#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The ingest handler's pure path: parse a body, apply the field rules,
//! validate and normalise (no I/O).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leadpipe::rules::inbound::normalise::Region;
use leadpipe::rules::inbound::{LeadInput, parse_body};
const US: Region = Region::US;
use std::hint::black_box;

const JSON: &[u8] = br#"{"name": "Alex Customer", "email": " Alex@Example.com ", "phone": "+1 (415) 555-0123",
 "tags": "webinar, q4", "utm_source": "google", "utm_campaign": "spring-sale", "company": "Acme Inc",
 "message": "Hi, I would like a demo of your product next week."}"#;
const FORM: &[u8] = b"first_name=Ann&last_name=Lee&email=ann%40example.org&phone_number=%28415%29+555-0123&tags%5B%5D=a&tags%5B%5D=b&utm_source=newsletter";

fn ingest_pure_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1));
    group.bench_function("json: parse + validate + normalise", |b| {
        b.iter(|| {
            let fields = parse_body(Some("application/json"), black_box(JSON)).unwrap();
            LeadInput::from_fields(fields, US, Some("company_url")).unwrap()
        })
    });
    group.bench_function("form: parse + validate + normalise", |b| {
        b.iter(|| {
            let fields =
                parse_body(Some("application/x-www-form-urlencoded"), black_box(FORM)).unwrap();
            LeadInput::from_fields(fields, US, None).unwrap()
        })
    });
    group.finish();
}

/// `process`'s pure path for a returning lead: the Graph-style fields
/// normalised, then merged into the existing lead.
fn process_pure_path(c: &mut Criterion) {
    use leadpipe::model::events::{LeadDefaults, Source};
    use leadpipe::model::leads::LeadRecord;
    let defaults = LeadDefaults {
        status: "unassigned".into(),
        tags: vec!["landing".into()],
    };
    let source = Source::Webhook {
        key_id: "key_01m821j0admzq24kmv73teegtk".into(),
    };
    let first = LeadInput::from_fields(
        parse_body(Some("application/json"), JSON).unwrap(),
        US,
        None,
    )
    .unwrap();
    let existing = LeadRecord::new(
        &leadpipe::rules::ids::WorkspaceId::default(),
        leadpipe::rules::ids::LeadId::generate(),
        &first,
        &defaults,
        source,
        "2026-11-01T10:00:00.000Z",
    );
    let mut group = c.benchmark_group("process");
    group.throughput(Throughput::Elements(1));
    group.bench_function("normalise + merge into an existing lead", |b| {
        b.iter(|| {
            let fields = parse_body(Some("application/json"), black_box(JSON)).unwrap();
            let input = LeadInput::from_fields(fields, US, None).unwrap();
            let mut lead = existing.clone();
            lead.merge(&input, &defaults, "2026-11-22T10:00:00.000Z")
        })
    });
    group.finish();
}

criterion_group!(benches, ingest_pure_path, process_pure_path);
criterion_main!(benches);
