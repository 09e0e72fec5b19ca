//! Webhook keys: the credentials a form or a Zapier step uses to push leads
//! in (docs/CONTRACT.md §6, Keys). A key's token is stored encrypted under the data
//! key, shown in full only on creation, rotation and `?reveal=true`, and
//! compared in constant time.
//!
//! Request and drop counts are hot under a burst, so they are not attributes
//! of the key item: each increment lands on one of `counter_shards` items
//! with distinct partition keys, and a read sums them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::app::{App, Scope};
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::{Write, from_item, n, s};
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::providers::Provider;
use crate::rules::clock;
use crate::rules::crypto::{self, DataKey};
use crate::rules::ids::{KeyId, WorkspaceId};
use crate::rules::inbound::origin::DomainPattern;
use crate::rules::rate;

pub const TOKEN_PREFIX: &str = "wh_live_";

/// A key's stored allow-list holds an entry that does not parse; requests
/// with that key are refused until the list is saved again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {entry} of the key's stored allowedDomains does not parse")]
pub struct UnreadableAllowList {
    /// Its index (the value is not repeated: it came from storage, unchecked).
    pub entry: usize,
}

/// A webhook key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookKey {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    /// The workspace the key's leads go to (absent on keys from before
    /// workspaces: the default one's).
    #[serde(default)]
    pub workspace: WorkspaceId,
    pub id: KeyId,
    pub name: String,
    /// The token, sealed under the data key (see [`crate::rules::crypto`]).
    pub token_sealed: String,
    /// `wh_live_abcd…`, what list views show.
    pub token_hint: String,
    pub allowed_domains: Vec<String>,
    pub honeypot_field: Option<String>,
    pub default_status: String,
    pub default_tags: Vec<String>,
    /// At most this many requests a minute (see [`crate::rules::rate`]);
    /// absent on keys saved before limits existed, which is "no limit".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    /// What kind of source the key is (absent on keys saved before
    /// providers existed: `webhook`).
    #[serde(default)]
    pub provider: Provider,
    /// The provider's own secret (a signing secret, Turnstile's secret
    /// key), sealed like the token; never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_secret_sealed: Option<String>,
    /// An API access token the provider's leads are fetched with
    /// (LinkedIn), sealed; never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_token_sealed: Option<String>,
    /// Where a browser goes after a `form` submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn token_context(id: &str) -> String {
    format!("key#{id}#token")
}

/// A fresh token: `wh_live_` and 32 random bytes, base64url (43 characters).
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", crypto::random_token(32))
}

/// `wh_live_abcd…`: enough to recognise a token, not to use it.
pub fn mask(token: &str) -> String {
    let rest = token.strip_prefix(TOKEN_PREFIX).unwrap_or(token);
    let shown: String = rest.chars().take(4).collect();
    format!("{TOKEN_PREFIX}{shown}…")
}

impl WebhookKey {
    /// The token in clear.
    pub fn token(&self, key: &DataKey) -> Result<String, Error> {
        Ok(key.open(&token_context(&self.id), &self.token_sealed)?)
    }

    /// The allow-list, parsed. Entries were checked at save time, so one
    /// that no longer parses means the stored list is not what was saved
    /// (edited by hand, written by another version): the whole list is
    /// unreadable. Skipping such entries instead would turn a list of only
    /// bad entries into the empty list, which allows every origin.
    pub fn domain_patterns(&self) -> Result<Vec<DomainPattern>, UnreadableAllowList> {
        self.allowed_domains
            .iter()
            .enumerate()
            .map(|(i, d)| DomainPattern::parse(d).map_err(|_| UnreadableAllowList { entry: i }))
            .collect()
    }

    /// True when `presented` is this key's token (constant time).
    pub fn token_matches(&self, key: &DataKey, presented: &str) -> Result<bool, Error> {
        let token = self.token(key)?;
        Ok(crypto::constant_time_eq(
            token.as_bytes(),
            presented.as_bytes(),
        ))
    }
}

/// The editable settings of a key, validated.
#[derive(Debug, Clone, Default)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub honeypot_field: Option<Option<String>>,
    pub default_status: Option<String>,
    pub default_tags: Option<Vec<String>>,
    /// `Some(None)` removes the limit.
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub provider: Option<Provider>,
    /// In clear; sealed when applied. `Some(None)` removes it.
    pub provider_secret: Option<Option<String>>,
    /// In clear; sealed when applied. `Some(None)` removes it.
    pub provider_token: Option<Option<String>>,
    pub redirect_url: Option<Option<String>>,
}

impl KeyChanges {
    /// Applies the changes to `key` (the provider fields: see
    /// [`KeyChanges::apply_sealed`], in [`super::key_sources`]).
    pub fn apply(self, key: &mut WebhookKey) {
        if let Some(v) = self.name {
            key.name = v;
        }
        if let Some(v) = self.allowed_domains {
            key.allowed_domains = v;
        }
        if let Some(v) = self.honeypot_field {
            key.honeypot_field = v;
        }
        if let Some(v) = self.default_status {
            key.default_status = v;
        }
        if let Some(v) = self.default_tags {
            key.default_tags = v;
        }
        if let Some(v) = self.rate_limit_per_minute {
            key.rate_limit_per_minute = v;
        }
    }
}

/// Creates a key; returns it with its token in clear.
pub async fn create(scope: &Scope, changes: KeyChanges) -> Result<(WebhookKey, String), DataError> {
    let secrets = scope.secrets.get().await?;
    let id = KeyId::generate();
    let item = table::webhook_key(&id);
    let token = new_token();
    let now = clock::now_rfc3339();
    let mut key = WebhookKey {
        pk: item.pk,
        sk: item.sk,
        gsi1pk: Listing::keys(scope.ws()).partition_for(&id),
        gsi1sk: id.to_string(),
        workspace: scope.ws().clone(),
        token_sealed: secrets.data_key.seal(&token_context(&id), &token),
        token_hint: mask(&token),
        id,
        name: String::new(),
        allowed_domains: vec![],
        honeypot_field: None,
        default_status: "unassigned".into(),
        default_tags: vec![],
        rate_limit_per_minute: None,
        provider: Provider::Webhook,
        provider_secret_sealed: None,
        provider_token_sealed: None,
        redirect_url: None,
        created_at: now.clone(),
        updated_at: now,
    };
    changes.apply_sealed(&mut key, &secrets.data_key)?;
    match scope.store.put_new(&key).await? {
        Write::Done => Ok((key, token)),
        Write::Conflict => Err(DataError::Conflict("key id collision; try again".into())),
    }
}

/// Reads a key of this workspace; a malformed id, or another workspace's
/// key, is simply not found.
pub async fn get(scope: &Scope, id: &str) -> Result<Option<WebhookKey>, Error> {
    Ok(find(scope.app(), id)
        .await?
        .filter(|k| &k.workspace == scope.ws()))
}

/// Reads a key by the id its hook URL names, whatever its workspace (the
/// hook's only way in: the key says which workspace it acts in).
pub async fn find(app: &App, id: &str) -> Result<Option<WebhookKey>, Error> {
    let Some(id) = KeyId::parse(id) else {
        return Ok(None);
    };
    let key = table::webhook_key(id.as_str());
    app.store.get(&key.pk, &key.sk).await
}

pub async fn list(scope: &Scope, page: &PageRequest) -> Result<Page<WebhookKey>, DataError> {
    scope
        .store
        .query_page(&Listing::keys(scope.ws()), page, true)
        .await
}

/// Writes `key` back if nobody changed it since `previous_updated_at`.
async fn save(scope: &Scope, key: &WebhookKey, previous_updated_at: &str) -> Result<(), DataError> {
    let cond = "attribute_exists(pk) AND updatedAt = :prev";
    let values = HashMap::from([(":prev".to_owned(), s(previous_updated_at))]);
    match scope.store.put_if(key, cond, values).await? {
        Write::Done => Ok(()),
        Write::Conflict => Err(DataError::Conflict(
            "the key changed while this request ran; read it again and retry".into(),
        )),
    }
}

fn bump(key: &mut WebhookKey) -> String {
    let next = clock::now_after(&key.updated_at);
    std::mem::replace(&mut key.updated_at, next)
}

pub async fn update(scope: &Scope, id: &str, changes: KeyChanges) -> Result<WebhookKey, DataError> {
    let (key, secrets) = tokio::join!(get(scope, id), scope.secrets.get());
    let mut key = key?.ok_or(DataError::NotFound("key"))?;
    changes.apply_sealed(&mut key, &secrets?.data_key)?;
    let previous = bump(&mut key);
    save(scope, &key, &previous).await?;
    Ok(key)
}

/// Issues a new token; the old one stops working at once.
pub async fn rotate(scope: &Scope, id: &str) -> Result<(WebhookKey, String), DataError> {
    let secrets = scope.secrets.get().await?;
    let mut key = get(scope, id).await?.ok_or(DataError::NotFound("key"))?;
    let token = new_token();
    key.token_sealed = secrets.data_key.seal(&token_context(&key.id), &token);
    key.token_hint = mask(&token);
    let previous = bump(&mut key);
    save(scope, &key, &previous).await?;
    Ok((key, token))
}

pub async fn delete(scope: &Scope, id: &str) -> Result<(), DataError> {
    if get(scope, id).await?.is_none() {
        return Err(DataError::NotFound("key"));
    }
    let key = table::webhook_key(id);
    match scope
        .store
        .delete(&key.pk, &key.sk, Some("attribute_exists(pk)"), vec![])
        .await?
    {
        Write::Done => {}
        Write::Conflict => return Err(DataError::NotFound("key")),
    }
    // The counter shards go too; a failure here leaves only orphan counters.
    let shards = (0..scope.config.counter_shards).map(|n| {
        let shard = table::key_counter(scope.ws(), id, n);
        async move { scope.store.delete(&shard.pk, &shard.sk, None, vec![]).await }
    });
    for result in futures::future::join_all(shards).await {
        if let Err(e) = result {
            tracing::warn!(error = %e, key_id = id, "could not delete a counter shard");
        }
    }
    Ok(())
}

// ----- rate limit -----

/// Whether a request may go on under its key's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the limit: try again in this many seconds (nothing was written).
    Limited {
        retry_after_s: u64,
    },
}

/// Counts a request against its workspace's budget and its key's limit for
/// this minute, both in one item (`{ws}RATE#{minute}`: the workspace's
/// total and one count per key), so the two limits cost one conditional
/// write per admitted request, and a refused one writes nothing. With
/// neither limit set nothing is written.
pub async fn admit(scope: &Scope, key: &WebhookKey) -> Result<Admission, Error> {
    let ws_limit = match crate::model::workspaces::settings(scope.app(), scope.ws()).await? {
        Some(w) => w.rate_limit_per_minute,
        None => None,
    }
    .unwrap_or(scope.config.workspace_rate_limit_per_minute);
    let key_limit = key.rate_limit_per_minute;
    if ws_limit == 0 && key_limit.is_none() {
        return Ok(Admission::Admitted);
    }
    let window = rate::Window::at(clock::now_ms());
    let item = table::workspace_rate_window(scope.ws(), window.index);
    let mut conditions = Vec::new();
    let mut values = vec![(":one", n(1)), (":exp", n(window.expires_at_s))];
    if ws_limit > 0 {
        conditions.push("(attribute_not_exists(#n) OR #n < :wslimit)");
        values.push((":wslimit", n(i64::from(ws_limit))));
    }
    if let Some(limit) = key_limit {
        conditions.push("(attribute_not_exists(#k) OR #k < :keylimit)");
        values.push((":keylimit", n(i64::from(limit))));
    }
    // The key's count is an attribute of its own, named by the key id.
    let counted = scope
        .store
        .update_if_owned_names(
            &item.pk,
            &item.sk,
            "ADD #n :one, #k :one SET #ttl = :exp",
            Some(&conditions.join(" AND ")),
            vec![
                ("#n".to_owned(), "n".to_owned()),
                ("#k".to_owned(), format!("k_{}", key.id)),
                ("#ttl".to_owned(), table::TTL_ATTRIBUTE.to_owned()),
            ],
            values,
        )
        .await?;
    match counted {
        Write::Done => Ok(Admission::Admitted),
        Write::Conflict => Ok(Admission::Limited {
            retry_after_s: window.retry_after_s,
        }),
    }
}

// ----- counters -----

/// A key's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Requests accepted (`requestCount`).
    Requests,
    /// Requests dropped by the honeypot (`droppedCount`).
    Dropped,
}

impl Counter {
    /// The attribute it is kept in.
    pub fn attribute(self) -> &'static str {
        match self {
            Counter::Requests => "requestCount",
            Counter::Dropped => "droppedCount",
        }
    }
}

/// Adds one to a key's counter on a
/// random shard.
pub async fn count(scope: &Scope, id: &str, counter: Counter) -> Result<(), Error> {
    count_by(scope, id, counter, 1).await
}

/// Adds `delta` to a key's counter on a random shard (reads sum the shards,
/// so a correction may land on any of them).
pub async fn count_by(scope: &Scope, id: &str, counter: Counter, delta: i64) -> Result<(), Error> {
    let mut b = [0u8; 4];
    crypto::fill_random(&mut b);
    let shard = u32::from_le_bytes(b) % scope.config.counter_shards;
    let key = table::key_counter(scope.ws(), id, shard);
    scope
        .store
        .add(&key.pk, &key.sk, &[(counter.attribute(), delta)])
        .await
}

/// The summed counters of each key: `(requestCount, droppedCount)`.
pub async fn counts(scope: &Scope, ids: &[&str]) -> Result<HashMap<String, (i64, i64)>, Error> {
    let shards = scope.config.counter_shards;
    let mut index = HashMap::new();
    let mut keys = Vec::new();
    for id in ids {
        for n in 0..shards {
            let shard = table::key_counter(scope.ws(), id, n);
            index.insert(shard.pk.clone(), (*id).to_owned());
            keys.push((shard.pk, shard.sk));
        }
    }
    let mut totals: HashMap<String, (i64, i64)> =
        ids.iter().map(|id| ((*id).to_owned(), (0, 0))).collect();
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Shard {
        pk: String,
        #[serde(default)]
        request_count: i64,
        #[serde(default)]
        dropped_count: i64,
    }
    for item in scope.store.batch_get(&keys).await? {
        let shard: Shard = from_item(item)?;
        if let Some(id) = index.get(&shard.pk)
            && let Some(t) = totals.get_mut(id)
        {
            t.0 += shard.request_count;
            t.1 += shard.dropped_count;
        }
    }
    Ok(totals)
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
