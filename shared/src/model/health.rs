//! A subscription's health: how many attempts in a row failed, and whether
//! it is `failing` (held, not hammered).
//!
//! After `LEADPIPE_FAILING_AFTER` failures in a row (default 5) the
//! subscription is `failing`: the delivery whose failure tipped it over is
//! its *probe* and keeps retrying on its schedule, while every other
//! delivery waits (`held`, its message deleted) instead of burning its
//! attempts. The probe's first success ends it: the held deliveries are
//! released in order at a bounded rate (see [`crate::deliver::held`]). If
//! every delivery has failed for `LEADPIPE_DISABLE_AFTER_SECONDS` (default
//! 5 days) the subscription is disabled, keeping its URL and secret.
//!
//! Kept as an item of its own beside the subscription (`HEALTH`), written
//! on failures only: a delivery that succeeds on a healthy subscription
//! writes nothing here (priced by `tests/it/cost.rs`). The success that
//! ends a failing spell leaves only its time (`releasedAtMs`), which the
//! sweeper reads to tell a release under way from a lost one.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::store::{Write, n, s};
use crate::aws::table;
use crate::error::Error;

/// A subscription's health as stored (absent, or holding only the time
/// of its last recovery: healthy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub pk: String,
    pub sk: String,
    /// Attempts that failed in a row.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// When the first of them failed (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure_at_ms: Option<i64>,
    /// Since when the subscription is `failing` (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since_ms: Option<i64>,
    /// The one delivery that keeps retrying while `failing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// When the last failing spell ended and the release of its held
    /// deliveries began (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at_ms: Option<i64>,
    /// When the last of the release's spread-out messages falls due (Unix
    /// ms), written once the release was sent: the sweeper leaves held
    /// deliveries to it until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_until_ms: Option<i64>,
}

impl Health {
    pub fn failing(&self) -> bool {
        self.failing_since_ms.is_some()
    }

    /// Whether `delivery_id` may have to wait: the subscription is failing
    /// and it is not the probe (see `deliver::held::gate`).
    pub fn holds(&self, delivery_id: &str) -> bool {
        self.failing() && self.probe.as_deref() != Some(delivery_id)
    }

    /// Healthy again and its held deliveries' release under way at
    /// `now_ms`, give or take `quiet`: its messages still due (until the
    /// release's last one, plus `quiet`), or the release still being sent
    /// (within `quiet` of its start; past that, with no end written, it
    /// was lost).
    pub fn releasing(&self, now_ms: i64, quiet: std::time::Duration) -> bool {
        let quiet_ms = i64::try_from(quiet.as_millis()).unwrap_or(i64::MAX);
        let until = match (self.release_until_ms, self.released_at_ms) {
            (Some(until), _) => until,
            (None, Some(at)) => at,
            (None, None) => return false,
        };
        !self.failing() && now_ms < until.saturating_add(quiet_ms)
    }
}

/// A subscription's state, as the API and the console show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Active,
    Failing,
    Disabled,
}

impl State {
    pub fn of(enabled: bool, health: Option<&Health>) -> Self {
        match (enabled, health.is_some_and(Health::failing)) {
            (false, _) => State::Disabled,
            (true, true) => State::Failing,
            (true, false) => State::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Failing => "failing",
            State::Disabled => "disabled",
        }
    }
}

pub async fn get(scope: &Scope, sub_id: &str) -> Result<Option<Health>, Error> {
    let key = table::subscription_health(scope.ws(), sub_id);
    scope.store.get(&key.pk, &key.sk).await
}

/// The health of many subscriptions (a listing), by subscription id.
pub async fn get_many(
    scope: &Scope,
    sub_ids: &[&str],
) -> Result<std::collections::HashMap<String, Health>, Error> {
    let keys: Vec<(String, String)> = sub_ids
        .iter()
        .map(|id| {
            let k = table::subscription_health(scope.ws(), id);
            (k.pk, k.sk)
        })
        .collect();
    let mut out = std::collections::HashMap::new();
    for item in scope.store.batch_get(&keys).await? {
        let h: Health = crate::aws::store::from_item(item)?;
        if let Some(id) = h.pk.rsplit("SUB#").next() {
            out.insert(id.to_owned(), h);
        }
    }
    Ok(out)
}

/// What a failed attempt did to its subscription's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Counted; nothing changed state.
    Counted,
    /// This failure made the subscription `failing`, with this delivery
    /// its probe.
    NowFailing,
    /// Every delivery has failed for longer than the span: disable it.
    Disable { failing_for_ms: i64 },
}

/// Counts a failed attempt of `delivery_id` (not a 410, which disables at
/// once).
pub async fn record_failure(
    scope: &Scope,
    sub_id: &str,
    delivery_id: &str,
    now_ms: i64,
) -> Result<AfterFailure, Error> {
    let key = table::subscription_health(scope.ws(), sub_id);
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "ADD consecutiveFailures :one SET firstFailureAtMs = if_not_exists(firstFailureAtMs, :now)",
            None,
            vec![],
            vec![(":one", n(1)), (":now", n(now_ms))],
        )
        .await?;
    let Some(h) = get(scope, sub_id).await? else {
        return Ok(AfterFailure::Counted);
    };
    let first = h.first_failure_at_ms.unwrap_or(now_ms);
    let span = i64::try_from(scope.config.disable_after.as_millis()).unwrap_or(i64::MAX);
    if h.failing() && now_ms - first >= span {
        return Ok(AfterFailure::Disable {
            failing_for_ms: now_ms - first,
        });
    }
    if !h.failing() && h.consecutive_failures >= scope.config.failing_after {
        let moved = scope
            .store
            .update_if(
                &key.pk,
                &key.sk,
                "SET failingSinceMs = :now, probe = :d",
                Some("attribute_not_exists(failingSinceMs)"),
                vec![],
                vec![(":now", n(now_ms)), (":d", s(delivery_id))],
            )
            .await?;
        if moved == Write::Done {
            return Ok(AfterFailure::NowFailing);
        }
    }
    Ok(AfterFailure::Counted)
}

/// A success: the subscription is healthy again. Writes only when it was
/// not (`health` as read before the attempt); true when it was `failing`.
/// Ending a failing spell leaves only when it ended (`releasedAtMs`, the
/// same one write as deleting the item), so the sweeper can tell held
/// deliveries the release is moving from those a lost release left.
pub async fn record_success(scope: &Scope, health: Option<&Health>) -> Result<bool, Error> {
    let Some(h) = health.filter(|h| h.consecutive_failures > 0 || h.failing()) else {
        return Ok(false);
    };
    if !h.failing() {
        // Failures counted, never failing: forgotten, unless a failing
        // spell began since the read (the condition). A release's time
        // is kept while the sweeper may still need it.
        let not_failing = Some("attribute_not_exists(failingSinceMs)");
        if h.released_at_ms.is_some() {
            scope
                .store
                .update_if(
                    &h.pk,
                    &h.sk,
                    "REMOVE consecutiveFailures, firstFailureAtMs",
                    not_failing,
                    vec![],
                    vec![],
                )
                .await?;
        } else {
            scope
                .store
                .delete(&h.pk, &h.sk, not_failing, vec![])
                .await?;
        }
        return Ok(false);
    }
    let released = Health {
        pk: h.pk.clone(),
        sk: h.sk.clone(),
        released_at_ms: Some(crate::rules::clock::now_ms()),
        ..Health::default()
    };
    scope.store.put(&released).await?;
    Ok(true)
}

/// Notes that the release begun by [`record_success`] was sent, its last
/// message due at `until_ms` (not over a failing spell begun since).
pub async fn release_sent(scope: &Scope, sub_id: &str, until_ms: i64) -> Result<(), Error> {
    let key = table::subscription_health(scope.ws(), sub_id);
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET releaseUntilMs = :u",
            Some("attribute_exists(releasedAtMs) AND attribute_not_exists(failingSinceMs)"),
            vec![],
            vec![(":u", n(until_ms))],
        )
        .await
        .map(|_| ())
}

/// Makes `delivery_id` the probe of a failing subscription, when it has
/// none or its probe is `stale` (no longer pending); false when another
/// took it first or the subscription is not failing any more.
pub async fn take_probe(
    scope: &Scope,
    sub_id: &str,
    delivery_id: &str,
    stale: Option<&str>,
) -> Result<bool, Error> {
    let key = table::subscription_health(scope.ws(), sub_id);
    let (condition, mut values) = match stale {
        Some(old) => (
            "attribute_exists(failingSinceMs) AND (attribute_not_exists(probe) OR probe = :old)",
            vec![(":old", s(old))],
        ),
        None => (
            "attribute_exists(failingSinceMs) AND attribute_not_exists(probe)",
            vec![],
        ),
    };
    values.push((":d", s(delivery_id)));
    let moved = scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET probe = :d",
            Some(condition),
            vec![],
            values,
        )
        .await?;
    Ok(moved == Write::Done)
}

/// The probe `delivery_id` died (its schedule spent): no probe, until the
/// next delivery takes it over.
pub async fn drop_probe(scope: &Scope, sub_id: &str, delivery_id: &str) -> Result<(), Error> {
    let key = table::subscription_health(scope.ws(), sub_id);
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "REMOVE probe",
            Some("probe = :d"),
            vec![],
            vec![(":d", s(delivery_id))],
        )
        .await
        .map(|_| ())
}

/// Forgets a subscription's health (it was disabled, or deleted).
pub async fn clear(scope: &Scope, sub_id: &str) -> Result<(), Error> {
    let key = table::subscription_health(scope.ws(), sub_id);
    scope
        .store
        .delete(&key.pk, &key.sk, None, vec![])
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_probe_of_a_failing_subscription_is_sent() {
        let healthy = Health::default();
        assert!(!healthy.holds("dlv_a"));
        let failing = Health {
            failing_since_ms: Some(1),
            probe: Some("dlv_a".into()),
            ..Health::default()
        };
        assert!(!failing.holds("dlv_a"));
        assert!(failing.holds("dlv_b"));
        assert_eq!(State::of(true, Some(&failing)), State::Failing);
        assert_eq!(State::of(false, Some(&failing)), State::Disabled);
        assert_eq!(State::of(true, None), State::Active);
        assert_eq!(State::of(true, Some(&healthy)), State::Active);
    }

    #[test]
    fn a_release_holds_its_deliveries_until_its_messages_are_due_or_it_was_lost() {
        let quiet = std::time::Duration::from_secs(60);
        let sent = Health {
            released_at_ms: Some(1_000),
            release_until_ms: Some(901_000),
            ..Health::default()
        };
        assert!(sent.releasing(900_000, quiet));
        assert!(sent.releasing(960_999, quiet));
        assert!(!sent.releasing(961_000, quiet));
        // Begun, its end never written: lost once `quiet` has passed.
        let begun = Health {
            released_at_ms: Some(1_000),
            ..Health::default()
        };
        assert!(begun.releasing(60_999, quiet));
        assert!(!begun.releasing(61_000, quiet));
        // A failing spell since: held by it, not by the release.
        let failing = Health {
            failing_since_ms: Some(2_000),
            ..sent.clone()
        };
        assert!(!failing.releasing(2_000, quiet));
        assert!(!Health::default().releasing(0, quiet));
    }
}
