#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `deliver`'s pure path: render a body (default or template) and sign it,
//! for a typical lead (~1 KiB) and a 40 KiB one; and HMAC-SHA256 against raw
//! SHA-256 on the same bytes.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use leadpipe::admin::subscriptions::sample_context;
use leadpipe::rules::signing::{SigningKey, new_secret, sign};
use leadpipe::rules::templates::render;
use sha2::{Digest, Sha256};
use std::hint::black_box;

const TEMPLATE: &str = r#"{"properties": {"email": "{{lead.email}}", "firstname": "{{lead.firstName}}",
  "lastname": "{{lead.lastName}}", "phone": "{{lead.phone}}", "company": "{{lead.customFields.company}}",
  "notes": "{{lead.customFields.notes}}", "lead_source": "Leadpipe"}}"#;

fn payload(notes_len: usize) -> String {
    let mut ctx = sample_context();
    ctx["lead"]["customFields"]["notes"] = serde_json::json!("n".repeat(notes_len));
    ctx.to_string()
}

fn render_and_sign(c: &mut Criterion) {
    let key = SigningKey::parse(&new_secret()).unwrap();
    let keys = [key];
    let mut group = c.benchmark_group("deliver");
    for (name, notes) in [("1KiB", 300usize), ("40KiB", 40 * 1024)] {
        let body = payload(notes);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("default body + sign {name}"), |b| {
            b.iter(|| {
                sign(
                    &keys,
                    "dlv_01m821j823swxazs1ayc004cmb",
                    1_795_451_485,
                    black_box(body.as_bytes()),
                )
            })
        });
        let ctx: serde_json::Value = serde_json::from_str(&body).unwrap();
        group.bench_function(format!("template render + sign {name}"), |b| {
            b.iter(|| {
                let rendered = render(TEMPLATE, black_box(&ctx));
                sign(
                    &keys,
                    "dlv_01m821j823swxazs1ayc004cmb",
                    1_795_451_485,
                    rendered.as_bytes(),
                )
            })
        });
    }
    group.finish();

    let data = vec![0x5au8; 40 * 1024];
    let mut group = c.benchmark_group("hash 40KiB");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("hmac-sha256", |b| {
        b.iter(|| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(b"0123456789abcdef0123456789abcdef").unwrap();
            mac.update(black_box(&data));
            mac.finalize().into_bytes()
        })
    });
    group.bench_function("sha256", |b| b.iter(|| Sha256::digest(black_box(&data))));
    group.finish();
}

criterion_group!(benches, render_and_sign);
criterion_main!(benches);
