//! `Idempotency-Key`: a repeat within 24 hours gets the first answer and
//! creates nothing new.
//!
//! A request first claims its key with a conditional write; the winner does
//! the work and stores its answer, a repeat replays it. A repeat that
//! arrives while the first is still running gets 409; a claim left behind by
//! a request that died (older than the function's timeout) can be taken
//! over. A key reused with a different body is refused, as Stripe does.

use sha2::{Digest, Sha256};

use crate::app::Scope;
use crate::aws::store::Write;
use crate::error::Error;
use crate::http::error::ApiError;
pub use crate::model::idempotency::Answer;
use crate::model::idempotency::{self as records, Record};
use crate::rules::clock;
use crate::rules::crypto::encode_hex;

/// How long an answer is kept.
pub const RETENTION_S: i64 = 24 * 3600;
/// A claim older than this with no answer belongs to a request that died:
/// `ingest`'s timeout as deployed (`LEADPIPE_INGEST_TIMEOUT_SECONDS`; the
/// function may run on after API Gateway gave up at 30 s) and a margin.
/// Until it passes a client's retry gets 409 (found by `make chaos`, which
/// kills the runner mid-request).
pub fn stale_claim(config: &crate::Config) -> std::time::Duration {
    config.ingest_timeout + std::time::Duration::from_secs(5)
}

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// First time: do the work, then [`complete`] or [`release`].
    Fresh,
    /// Seen before: answer this.
    Replay(Answer),
}

/// Checks the header value: 1–255 visible ASCII characters.
pub fn parse_header(value: &str) -> Result<&str, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(v)
}

/// Fingerprint of a request body.
pub fn fingerprint(body: &[u8]) -> String {
    encode_hex(&Sha256::digest(body))
}

/// Claims `key` within a webhook key (`key_id`, in `cx`'s workspace) for a request whose body
/// has `fingerprint`.
pub async fn claim(
    cx: &Scope,
    key_id: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, ApiError> {
    let now_ms = clock::now_ms();
    let mut record = Record::new(
        records::partition(cx, key_id, key),
        fingerprint,
        now_ms,
        now_ms / 1000 + RETENTION_S,
    );
    record.claimant = Some(crate::rules::ids::new_id(
        crate::rules::ids::IdKind::Request,
    ));
    // DynamoDB's TTL deletes lazily: an expired record counts as absent.
    if records::claim_if_free(cx, &record, now_ms / 1000).await? == Write::Done {
        return Ok(Claim::Fresh);
    }
    let Some(existing) = records::read(cx, &record.pk).await? else {
        // Released between our write and our read: try once more.
        return match records::claim_new(cx, &record).await? {
            Write::Done => Ok(Claim::Fresh),
            Write::Conflict if mine(cx, &record).await? => Ok(Claim::Fresh),
            Write::Conflict => Err(in_progress()),
        };
    };
    if existing.fingerprint != fingerprint {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was used with a different body".into(),
        ));
    }
    if let Some(answer) = existing.answer {
        return Ok(Claim::Replay(answer));
    }
    if existing.claimant.is_some() && existing.claimant == record.claimant {
        // Our own claim: the write took, its answer was lost.
        return Ok(Claim::Fresh);
    }
    let stale_ms = i64::try_from(stale_claim(&cx.config).as_millis()).unwrap_or(i64::MAX);
    if now_ms - existing.claimed_at_ms > stale_ms
        && (records::take_over(cx, &record, existing.claimed_at_ms).await? == Write::Done
            || mine(cx, &record).await?)
    {
        return Ok(Claim::Fresh);
    }
    Err(in_progress())
}

/// Whether the stored claim is `record`'s own (a write whose answer was lost).
async fn mine(cx: &Scope, record: &Record) -> Result<bool, Error> {
    let stored = records::read(cx, &record.pk).await?;
    Ok(stored.is_some_and(|s| s.answer.is_none() && s.claimant == record.claimant))
}

fn in_progress() -> ApiError {
    ApiError::Conflict(
        "a request with this Idempotency-Key is still in progress; retry shortly".into(),
    )
}

/// Stores the answer of a fresh claim.
pub async fn complete(
    cx: &Scope,
    key_id: &str,
    key: &str,
    fingerprint: &str,
    answer: Answer,
) -> Result<(), Error> {
    let now_ms = clock::now_ms();
    let mut record = Record::new(
        records::partition(cx, key_id, key),
        fingerprint,
        now_ms,
        now_ms / 1000 + RETENTION_S,
    );
    record.answer = Some(answer);
    records::put_answered(cx, &record).await
}

/// Gives a claim up (the work failed; a retry must be able to run).
pub async fn release(cx: &Scope, key_id: &str, key: &str) -> Result<(), Error> {
    records::remove(cx, &records::partition(cx, key_id, key)).await
}
