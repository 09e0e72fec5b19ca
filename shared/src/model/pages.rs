//! Meta pages: one Meta app webhook serves every workspace; each workspace
//! registers its pages (page id and page access token, sealed like every
//! other secret), and a leadgen goes to the workspace that owns its page
//! (optionally to a key of it by form, for that key's default status and
//! tags). A page belongs to one workspace at a time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::app::{App, Scope};
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::Write;
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::rules::clock;
use crate::rules::crypto::DataKey;
use crate::rules::ids::WorkspaceId;

/// Longest page or form id accepted (Meta's are numeric, ~15–17 digits).
pub const MAX_ID: usize = 64;

/// A registered page as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaPage {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub page_id: String,
    pub workspace: WorkspaceId,
    pub name: String,
    /// The page access token, sealed under the data key.
    pub access_token_sealed: String,
    /// Form id → key id: leads of that form take the key's defaults.
    #[serde(default)]
    pub form_keys: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
    /// When the sweep last checked the page with Graph (Unix ms); a page
    /// is checked at most once per [`CHECK_EVERY_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at_ms: Option<i64>,
    /// Why the last check found the page unable to bring leads (its token
    /// refused, the app unsubscribed), and since when (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// When a check last found the page healthy (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_at: Option<String>,
}

/// A page is checked with Graph at most this often (an hour).
pub const CHECK_EVERY_MS: i64 = 3_600_000;

fn token_context(page_id: &str) -> String {
    format!("metapage#{page_id}#token")
}

/// A Meta page id: digits only (Graph's ids), as a string.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_digit())
}

impl MetaPage {
    /// The page access token in clear.
    pub fn access_token(&self, key: &DataKey) -> Result<String, Error> {
        Ok(key.open(&token_context(&self.page_id), &self.access_token_sealed)?)
    }
}

/// What a registration sets.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    /// `None` keeps the stored token (an update of a registered page).
    pub access_token: Option<String>,
    pub form_keys: BTreeMap<String, String>,
}

/// Registers (or updates) a page for this workspace; a page another
/// workspace holds is a conflict.
pub async fn put(scope: &Scope, page_id: &str, r: Registration) -> Result<MetaPage, DataError> {
    let secrets = scope.secrets.get().await?;
    let existing = find(scope.app(), page_id).await?;
    if let Some(other) = &existing
        && &other.workspace != scope.ws()
    {
        return Err(DataError::Conflict(
            "this page is registered by another workspace; remove it there first".into(),
        ));
    }
    let now = clock::now_rfc3339();
    let key = table::meta_page(page_id);
    let sealed = match (&r.access_token, &existing) {
        (Some(t), _) => secrets.data_key.seal(&token_context(page_id), t),
        (None, Some(old)) => old.access_token_sealed.clone(),
        (None, None) => {
            return Err(DataError::invalid(
                "accessToken",
                "is required to register a page",
            ));
        }
    };
    let page = MetaPage {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: Listing::pages(scope.ws()).partition_for(page_id),
        gsi1sk: page_id.to_owned(),
        page_id: page_id.to_owned(),
        workspace: scope.ws().clone(),
        name: r.name,
        access_token_sealed: sealed,
        form_keys: r.form_keys,
        created_at: existing
            .as_ref()
            .map_or_else(|| now.clone(), |p| p.created_at.clone()),
        updated_at: now,
        // A registration (a new token, perhaps the fix) is checked again
        // on the next sweep; a failing page stays failing until then.
        checked_at_ms: None,
        failing_reason: existing.as_ref().and_then(|p| p.failing_reason.clone()),
        failing_since: existing.as_ref().and_then(|p| p.failing_since.clone()),
        healthy_at: existing.as_ref().and_then(|p| p.healthy_at.clone()),
    };
    // Absent, or still this workspace's: another workspace cannot take it
    // between the read and this write.
    let cond = "attribute_not_exists(pk) OR workspace = :ws";
    let values = std::collections::HashMap::from([(
        ":ws".to_owned(),
        crate::aws::store::s(scope.ws().as_str()),
    )]);
    match scope.store.put_if(&page, cond, values).await? {
        Write::Done => Ok(page),
        Write::Conflict => Err(DataError::Conflict(
            "this page is registered by another workspace; remove it there first".into(),
        )),
    }
}

/// The page a leadgen names, whichever workspace holds it.
pub async fn find(app: &App, page_id: &str) -> Result<Option<MetaPage>, Error> {
    if !valid_id(page_id) {
        return Ok(None);
    }
    let key = table::meta_page(page_id);
    app.store.get(&key.pk, &key.sk).await
}

/// A page of this workspace.
pub async fn get(scope: &Scope, page_id: &str) -> Result<Option<MetaPage>, Error> {
    Ok(find(scope.app(), page_id)
        .await?
        .filter(|p| &p.workspace == scope.ws()))
}

/// This workspace's pages, by id.
pub async fn list(scope: &Scope, page: &PageRequest) -> Result<Page<MetaPage>, DataError> {
    scope
        .store
        .query_page(&Listing::pages(scope.ws()), page, false)
        .await
}

/// Every page of this workspace (the sweep's health check).
pub async fn all(scope: &Scope) -> Result<Vec<MetaPage>, Error> {
    let mut out = Vec::new();
    let mut page = PageRequest {
        limit: crate::aws::pagination::MAX_LIMIT,
        cursor: None,
    };
    loop {
        let got = list(scope, &page).await.map_err(DataError::into_internal)?;
        out.extend(got.items);
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Removes a page of this workspace.
pub async fn delete(scope: &Scope, page_id: &str) -> Result<(), DataError> {
    if get(scope, page_id).await?.is_none() {
        return Err(DataError::NotFound("page"));
    }
    let key = table::meta_page(page_id);
    let values = vec![(":ws", crate::aws::store::s(scope.ws().as_str()))];
    match scope
        .store
        .delete(&key.pk, &key.sk, Some("workspace = :ws"), values)
        .await?
    {
        Write::Done => Ok(()),
        Write::Conflict => Err(DataError::NotFound("page")),
    }
}

/// Claims this page's health check as of `now` (Unix ms): true when it was
/// not checked within [`CHECK_EVERY_MS`] and this caller is the one to
/// check it (two sweeps at once check it once).
pub async fn claim_check(scope: &Scope, page_id: &str, now: i64) -> Result<bool, Error> {
    let key = table::meta_page(page_id);
    let w = scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET checkedAtMs = :now",
            Some("workspace = :ws AND (attribute_not_exists(checkedAtMs) OR checkedAtMs <= :due)"),
            vec![],
            vec![
                (":now", crate::aws::store::n(now)),
                (":due", crate::aws::store::n(now - CHECK_EVERY_MS)),
                (":ws", crate::aws::store::s(scope.ws().as_str())),
            ],
        )
        .await?;
    Ok(w == Write::Done)
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Healthy before and now, or failing before and now.
    Unchanged,
    /// Failing since this check.
    Failing,
    /// Healthy again.
    Recovered,
}

/// Records a check's finding: `failing` is the reason, `None` for a
/// healthy page. A page failing before keeps its `failingSince`.
pub async fn record_health(
    scope: &Scope,
    page: &MetaPage,
    failing: Option<&str>,
) -> Result<Transition, Error> {
    let key = table::meta_page(&page.page_id);
    let ws = (":ws", crate::aws::store::s(scope.ws().as_str()));
    let now = crate::aws::store::s(clock::now_rfc3339());
    let (expression, values, transition) = match (failing, &page.failing_reason) {
        (None, before) => (
            "SET healthyAt = :at REMOVE failingReason, failingSince",
            vec![ws, (":at", now)],
            if before.is_some() {
                Transition::Recovered
            } else {
                Transition::Unchanged
            },
        ),
        (Some(reason), before) => (
            "SET failingReason = :reason, failingSince = if_not_exists(failingSince, :since)",
            vec![
                ws,
                (":reason", crate::aws::store::s(reason)),
                (":since", now),
            ],
            if before.is_some() {
                Transition::Unchanged
            } else {
                Transition::Failing
            },
        ),
    };
    // Only while the page is still this workspace's.
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            expression,
            Some("workspace = :ws"),
            vec![],
            values,
        )
        .await?;
    Ok(transition)
}
