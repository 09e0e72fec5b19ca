//! `Idempotency-Key`: a repeat within 24 hours gets the first answer and
//! creates nothing new.
//!
//! A request first claims its key with a conditional write; the winner does
//! the work and stores its answer, a repeat replays it. A repeat that
//! arrives while the first is still running gets 409; a claim left behind by
//! a request that died (older than the function's timeout) can be taken
//! over. A key reused with a different body is refused, as Stripe does.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::Scope;
use crate::aws::store::{Write, n};
use crate::aws::table;
use crate::error::Error;
use crate::http::error::ApiError;
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
const SK: &str = "IDEM";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    pk: String,
    sk: String,
    fingerprint: String,
    claimed_at_ms: i64,
    /// Who claimed it (random per request): a claim whose answer was lost
    /// finds its own record on the SDK's retry, not another request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claimant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<Answer>,
    expires_at: i64,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub status: u16,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
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

fn pk(cx: &Scope, key_id: &str, key: &str) -> String {
    table::idempotency(
        cx.ws(),
        key_id,
        &encode_hex(&Sha256::digest(key.as_bytes())),
    )
    .pk
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
    let record = Record {
        pk: pk(cx, key_id, key),
        sk: SK.into(),
        fingerprint: fingerprint.to_owned(),
        claimed_at_ms: now_ms,
        claimant: Some(crate::rules::ids::new_id(
            crate::rules::ids::IdKind::Request,
        )),
        answer: None,
        expires_at: now_ms / 1000 + RETENTION_S,
    };
    // DynamoDB's TTL deletes lazily: an expired record counts as absent.
    let cond = "attribute_not_exists(pk) OR expiresAt < :now";
    let values = HashMap::from([(":now".to_owned(), n(now_ms / 1000))]);
    if cx.store.put_if(&record, cond, values).await? == Write::Done {
        return Ok(Claim::Fresh);
    }
    let Some(existing) = cx.store.get::<Record>(&record.pk, SK).await? else {
        // Released between our write and our read: try once more.
        return match cx.store.put_new(&record).await? {
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
    if now_ms - existing.claimed_at_ms > stale_ms {
        let cond = "claimedAtMs = :then";
        let values = HashMap::from([(":then".to_owned(), n(existing.claimed_at_ms))]);
        if cx.store.put_if(&record, cond, values).await? == Write::Done || mine(cx, &record).await?
        {
            return Ok(Claim::Fresh);
        }
    }
    Err(in_progress())
}

/// Whether the stored claim is `record`'s own (a write whose answer was lost).
async fn mine(cx: &Scope, record: &Record) -> Result<bool, Error> {
    let stored = cx.store.get::<Record>(&record.pk, SK).await?;
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
    let record = Record {
        pk: pk(cx, key_id, key),
        sk: SK.into(),
        fingerprint: fingerprint.to_owned(),
        claimed_at_ms: now_ms,
        claimant: None,
        answer: Some(answer),
        expires_at: now_ms / 1000 + RETENTION_S,
    };
    cx.store.put(&record).await
}

/// Gives a claim up (the work failed; a retry must be able to run).
pub async fn release(cx: &Scope, key_id: &str, key: &str) -> Result<(), Error> {
    cx.store
        .delete(&pk(cx, key_id, key), SK, None, vec![])
        .await
        .map(|_| ())
}
