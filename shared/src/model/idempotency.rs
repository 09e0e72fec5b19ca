//! Idempotency records: one per (webhook key, `Idempotency-Key` value, or
//! a provider's own lead id), in the key's workspace: the claim of the
//! first request and, once it is done, its answer. The protocol that reads
//! and writes them is [`crate::ingest::idempotency`]; this module is the
//! only writer of the items.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::Scope;
use crate::aws::store::{Write, n};
use crate::aws::table;
use crate::error::Error;
use crate::rules::crypto::encode_hex;

/// The sort key of every record.
const SK: &str = "IDEM";

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub status: u16,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A record as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub pk: String,
    pub sk: String,
    pub fingerprint: String,
    pub claimed_at_ms: i64,
    /// Who claimed it (random per request): a claim whose answer was lost
    /// finds its own record on the SDK's retry, not another request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// DynamoDB TTL (Unix seconds).
    pub expires_at: i64,
}

/// The partition of the record for `key` under webhook key `key_id`: the
/// SHA-256 of the value (any bytes a client sends stay out of the key).
pub fn partition(scope: &Scope, key_id: &str, key: &str) -> String {
    table::idempotency(
        scope.ws(),
        key_id,
        &encode_hex(&Sha256::digest(key.as_bytes())),
    )
    .pk
}

impl Record {
    /// A record at `pk`.
    pub fn new(pk: String, fingerprint: &str, claimed_at_ms: i64, expires_at: i64) -> Self {
        Record {
            pk,
            sk: SK.into(),
            fingerprint: fingerprint.to_owned(),
            claimed_at_ms,
            claimant: None,
            answer: None,
            expires_at,
        }
    }
}

/// Claims where no record is, or only an expired one (DynamoDB's TTL
/// deletes lazily).
pub async fn claim_if_free(scope: &Scope, record: &Record, now_s: i64) -> Result<Write, Error> {
    let values = HashMap::from([(":now".to_owned(), n(now_s))]);
    scope
        .store
        .put_if(
            record,
            "attribute_not_exists(pk) OR expiresAt < :now",
            values,
        )
        .await
}

/// Claims where no record is at all.
pub async fn claim_new(scope: &Scope, record: &Record) -> Result<Write, Error> {
    scope.store.put_new(record).await
}

/// Takes over a claim still as it was read (claimed at `then_ms`).
pub async fn take_over(scope: &Scope, record: &Record, then_ms: i64) -> Result<Write, Error> {
    let values = HashMap::from([(":then".to_owned(), n(then_ms))]);
    scope
        .store
        .put_if(record, "claimedAtMs = :then", values)
        .await
}

/// The record at `pk`, if any.
pub async fn read(scope: &Scope, pk: &str) -> Result<Option<Record>, Error> {
    scope.store.get(pk, SK).await
}

/// Stores a record with its answer.
pub async fn put_answered(scope: &Scope, record: &Record) -> Result<(), Error> {
    scope.store.put(record).await
}

/// Removes the record at `pk` (a claim given up).
pub async fn remove(scope: &Scope, pk: &str) -> Result<(), Error> {
    scope.store.delete(pk, SK, None, vec![]).await.map(|_| ())
}
