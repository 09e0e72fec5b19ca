//! Workspaces: the unit of isolation (docs/CONTRACT.md §6, Workspaces).
//! Every key, subscription, lead, event and delivery belongs to one, and
//! its stored key says so ([`crate::aws::table::scoped`]).
//!
//! `default` always exists: an existing deployment's items are its items,
//! and the root token without a `Leadpipe-Workspace` header acts in it. Its
//! item is written only once something of it is changed (a rename, its
//! retention); until then it is read as [`Workspace::default_one`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::{Write, s};
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::rules::clock;
use crate::rules::ids::WorkspaceId;

/// How long events, deliveries and attempt logs are kept unless a
/// workspace says otherwise (leads stay until erased).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The longest retention a workspace may ask for (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// Longest name.
pub const MAX_NAME: usize = 100;

/// A workspace as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub pk: String,
    pub sk: String,
    /// On the `WORKSPACES` listing; absent for `default`, which every
    /// listing shows first whether it is stored or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub id: WorkspaceId,
    pub name: String,
    /// Days events, deliveries and attempt logs are kept (DynamoDB TTL).
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// At most this many hook requests a minute across the workspace's
    /// keys; `None` is the deployment's default
    /// ([`crate::Config::workspace_rate_limit_per_minute`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    /// `None` for `default` until it is first changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: String,
}

fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

impl Workspace {
    /// `default` as it is before anything of it was changed.
    pub fn default_one() -> Self {
        let id = WorkspaceId::default_workspace();
        let key = table::workspace(&id);
        Workspace {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: None,
            gsi1sk: None,
            id,
            name: "Default".into(),
            retention_days: DEFAULT_RETENTION_DAYS,
            rate_limit_per_minute: None,
            created_at: None,
            updated_at: String::new(),
        }
    }

    /// Seconds its events, deliveries and attempts are kept.
    pub fn retention_s(&self) -> i64 {
        i64::from(self.retention_days.max(1)) * 86_400
    }

    /// When an item of this workspace written now expires (Unix seconds).
    pub fn expiry_from(&self, now_ms: i64) -> i64 {
        now_ms / 1000 + self.retention_s()
    }
}

/// The editable settings of a workspace, validated.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceChanges {
    pub name: Option<String>,
    pub retention_days: Option<u32>,
    /// `Some(None)`: back to the deployment's default.
    pub rate_limit_per_minute: Option<Option<u32>>,
}

impl WorkspaceChanges {
    fn apply(self, ws: &mut Workspace) {
        if let Some(v) = self.name {
            ws.name = v;
        }
        if let Some(v) = self.retention_days {
            ws.retention_days = v;
        }
        if let Some(v) = self.rate_limit_per_minute {
            ws.rate_limit_per_minute = v;
        }
    }
}

/// Creates a workspace.
pub async fn create(app: &App, changes: WorkspaceChanges) -> Result<Workspace, DataError> {
    let id = WorkspaceId::generate();
    let key = table::workspace(&id);
    let now = clock::now_rfc3339();
    let mut ws = Workspace {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: Some(table::WORKSPACES.into()),
        gsi1sk: Some(id.to_string()),
        id,
        name: String::new(),
        retention_days: DEFAULT_RETENTION_DAYS,
        rate_limit_per_minute: None,
        created_at: Some(now.clone()),
        updated_at: now,
    };
    changes.apply(&mut ws);
    match app.store.put_new(&ws).await? {
        Write::Done => Ok(ws),
        // The id is fresh: an item under it equal to ours is this very
        // write, made again by the SDK after its answer was lost.
        Write::Conflict => match app.store.get::<Workspace>(&ws.pk, &ws.sk).await? {
            Some(stored) if stored == ws => Ok(ws),
            _ => Err(DataError::Conflict(
                "workspace id collision; try again".into(),
            )),
        },
    }
}

/// Reads a workspace; `default` is always found.
pub async fn get(app: &App, id: &WorkspaceId) -> Result<Option<Workspace>, Error> {
    let key = table::workspace(id);
    let stored: Option<Workspace> = app.store.get(&key.pk, &key.sk).await?;
    Ok(match stored {
        Some(ws) => Some(ws),
        None if id.is_default() => Some(Workspace::default_one()),
        None => None,
    })
}

/// Workspaces, oldest first, `default` at the head of the first page.
pub async fn list(app: &App, page: &PageRequest) -> Result<Page<Workspace>, DataError> {
    let mut listed: Page<Workspace> = app
        .store
        .query_page(&Listing::workspaces(), page, false)
        .await?;
    if page.cursor.is_none() {
        let default = get(app, &WorkspaceId::default_workspace())
            .await?
            .unwrap_or_else(Workspace::default_one);
        listed.items.insert(0, default);
    }
    Ok(listed)
}

/// Every workspace id (the sweeper visits each).
pub async fn all_ids(app: &App) -> Result<Vec<WorkspaceId>, Error> {
    let mut ids = vec![WorkspaceId::default_workspace()];
    let mut page = PageRequest {
        limit: crate::aws::pagination::MAX_LIMIT,
        cursor: None,
    };
    loop {
        let got: Page<Workspace> = app
            .store
            .query_page(&Listing::workspaces(), &page, false)
            .await
            .map_err(DataError::into_internal)?;
        ids.extend(got.items.into_iter().map(|w| w.id));
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(ids),
        }
    }
}

/// Applies `changes`, unless someone changed the workspace meanwhile.
pub async fn update(
    app: &App,
    id: &WorkspaceId,
    changes: WorkspaceChanges,
) -> Result<Workspace, DataError> {
    let mut ws = get(app, id)
        .await?
        .ok_or(DataError::NotFound("workspace"))?;
    let previous = ws.updated_at.clone();
    changes.apply(&mut ws);
    ws.updated_at = clock::now_after(&previous);
    // `default`'s first write creates its item; later ones, like every
    // other workspace's, are conditional on the version read.
    let (cond, values) = if previous.is_empty() {
        ("attribute_not_exists(pk)", HashMap::new())
    } else {
        (
            "attribute_exists(pk) AND updatedAt = :prev",
            HashMap::from([(":prev".to_owned(), s(previous))]),
        )
    };
    match app.store.put_if(&ws, cond, values).await? {
        Write::Done => Ok(ws),
        Write::Conflict => Err(DataError::Conflict(
            "the workspace changed while this request ran; read it again and retry".into(),
        )),
    }
}

/// Removes a workspace's own item (its contents are the caller's: see
/// [`crate::admin::workspaces`]). `default` cannot be removed.
pub async fn remove(app: &App, id: &WorkspaceId) -> Result<(), DataError> {
    if id.is_default() {
        return Err(DataError::Conflict(
            "the default workspace cannot be deleted".into(),
        ));
    }
    let key = table::workspace(id);
    match app
        .store
        .delete(&key.pk, &key.sk, Some("attribute_exists(pk)"), vec![])
        .await?
    {
        Write::Done => Ok(()),
        Write::Conflict => Err(DataError::NotFound("workspace")),
    }
}

/// When an item of `ws` written now expires (Unix seconds): its
/// retention from now (events, deliveries, attempt logs).
pub async fn expiry(app: &App, ws: &WorkspaceId) -> Result<i64, Error> {
    let days = settings(app, ws)
        .await?
        .map_or(DEFAULT_RETENTION_DAYS, |w| w.retention_days);
    Ok(clock::now_ms() / 1000 + i64::from(days.max(1)) * 86_400)
}

/// Whether an item with this expiry is gone: DynamoDB's TTL deletes
/// within days of the time, not at it, so readers treat a passed expiry
/// as deleted.
pub fn expired(expires_at: Option<i64>) -> bool {
    expires_at.is_some_and(|t| t <= clock::now_ms() / 1000)
}

/// A workspace's settings, read at most once a minute per container: the
/// hook path reads them on every request (retention, rate limit), and a
/// change reaching every container within a minute is soon enough.
pub async fn settings(app: &App, id: &WorkspaceId) -> Result<Option<Workspace>, Error> {
    use std::sync::{Mutex, OnceLock};
    type Cached = HashMap<WorkspaceId, (i64, Option<Workspace>)>;
    static CACHE: OnceLock<Mutex<Cached>> = OnceLock::new();
    const TTL_MS: i64 = 60_000;
    let now = clock::now_ms();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(map) = cache.lock()
        && let Some((at, ws)) = map.get(id)
        && now - at < TTL_MS
    {
        return Ok(ws.clone());
    }
    let ws = get(app, id).await?;
    if let Ok(mut map) = cache.lock() {
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(id.clone(), (now, ws.clone()));
    }
    Ok(ws)
}
