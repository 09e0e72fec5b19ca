//! Who is calling, in which workspace, and what they may do.
//!
//! * The deployment's admin token is the **root**: it manages workspaces
//!   and their tokens, and acts in the workspace a `Leadpipe-Workspace`
//!   header names, else in `default` (so clients from before workspaces
//!   work unchanged).
//! * A workspace token (`lpt_…`) acts in its own workspace only, on the
//!   same routes: an `admin` reads and writes, a `viewer` reads and never
//!   reveals a token or secret.
//!
//! Every refusal is decided here, in one table ([`need`]).

use lambda_http::Request;

use crate::app::{App, Scope};
use crate::http::error::ApiError;
use crate::http::routes::Action;
use crate::http::{self as h};
use crate::model::audit::Actor;
use crate::model::tokens::{self, Role};
use crate::model::workspaces;
use crate::rules::crypto::constant_time_eq;
use crate::rules::ids::WorkspaceId;

/// The header the root token names its workspace with.
pub const WORKSPACE_HEADER: &str = "leadpipe-workspace";

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// The deployment's admin token.
    Root,
    /// A workspace token.
    Token(Role),
}

/// An authenticated caller, acting in one workspace.
#[derive(Clone)]
pub struct Caller {
    pub scope: Scope,
    pub power: Power,
    pub actor: Actor,
    /// Where the request came from, for the audit trail.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `api` or `console`.
    pub via: &'static str,
}

impl Caller {
    /// The root, in `ws`.
    pub fn root(app: &App, ws: WorkspaceId, req: &Request, via: &'static str) -> Self {
        Caller {
            scope: app.scope(ws),
            power: Power::Root,
            actor: Actor::Root,
            ip: h::source_ip(req),
            user_agent: user_agent(req),
            via,
        }
    }

    /// A workspace token, in its workspace.
    pub fn token(app: &App, token: &tokens::Token, req: &Request, via: &'static str) -> Self {
        Caller {
            scope: app.scope(token.workspace.clone()),
            power: Power::Token(token.role),
            actor: Actor::Token {
                token_id: token.id.to_string(),
                name: token.name.clone(),
            },
            ip: h::source_ip(req),
            user_agent: user_agent(req),
            via,
        }
    }

    pub fn is_root(&self) -> bool {
        self.power == Power::Root
    }

    /// Whether the caller may only read.
    pub fn is_viewer(&self) -> bool {
        self.power == Power::Token(Role::Viewer)
    }

    /// Refuses what this caller may not do (see [`need`]).
    pub fn check(
        &self,
        action: Action,
        method: &str,
        query: &[(String, String)],
    ) -> Result<(), ApiError> {
        match need(action, method, query) {
            Need::Read => Ok(()),
            Need::Write | Need::Reveal if !self.is_viewer() => Ok(()),
            Need::Write => Err(ApiError::Forbidden(
                "this token may only read (role viewer)".into(),
            )),
            Need::Reveal => Err(ApiError::Forbidden(
                "this token may not reveal tokens or secrets (role viewer)".into(),
            )),
            Need::Root if self.is_root() => Ok(()),
            Need::Root => Err(ApiError::Forbidden(
                "only the deployment's admin token may do this".into(),
            )),
        }
    }
}

fn user_agent(req: &Request) -> Option<String> {
    h::header(req.headers(), "user-agent").map(|v| v.chars().take(256).collect())
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
    /// A read that shows a token or secret in clear.
    Reveal,
    /// Deployment-wide: workspaces, tokens, the queues' DLQs, upgrades.
    Root,
}

/// The one table of who may do what.
pub fn need(action: Action, method: &str, query: &[(String, String)]) -> Need {
    use Action::*;
    match action {
        WorkspacesCreate | WorkspacesList | WorkspaceGet | WorkspaceUpdate | WorkspaceDelete
        | TokensCreate | TokensList | TokenRevoke | DlqDepth | DlqRedrive | MaintenanceBackfill => {
            Need::Root
        }
        // A poll claims deliveries: a write, though a GET.
        ListenerPoll => Need::Write,
        _ if super::input::reveal(query).unwrap_or(true) => Need::Reveal,
        _ if method.eq_ignore_ascii_case("GET") => Need::Read,
        _ => Need::Write,
    }
}

/// Authenticates the bearer token of an API request and picks the
/// workspace it acts in.
pub async fn authenticate(app: &App, req: &Request) -> Result<Caller, ApiError> {
    let presented = h::header(req.headers(), "authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthorized)?;
    let named = h::header(req.headers(), WORKSPACE_HEADER);
    if presented.starts_with(tokens::TOKEN_PREFIX) {
        let token = tokens::authenticate(app, presented)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // A token acts in its own workspace; naming another is refused
        // alike whether that workspace exists or not.
        if let Some(named) = named
            && named != token.workspace.as_str()
        {
            return Err(ApiError::Forbidden(
                "a workspace token acts only in its own workspace".into(),
            ));
        }
        return Ok(Caller::token(app, &token, req, "api"));
    }
    let admin = app.admin_secret.get().await?;
    if !constant_time_eq(presented.as_bytes(), admin.admin_token.as_bytes()) {
        return Err(ApiError::Unauthorized);
    }
    let ws = root_workspace(app, named).await?;
    Ok(Caller::root(app, ws, req, "api"))
}

/// The workspace the root acts in: the one `named`, which must exist, or
/// `default`.
pub async fn root_workspace(app: &App, named: Option<&str>) -> Result<WorkspaceId, ApiError> {
    let Some(named) = named else {
        return Ok(WorkspaceId::default_workspace());
    };
    let ws = WorkspaceId::parse(named.trim()).ok_or_else(|| {
        ApiError::Validation(vec![crate::error::FieldIssue::new(
            "Leadpipe-Workspace",
            "must be a workspace id (ws_…) or default",
        )])
    })?;
    match workspaces::settings(app, &ws).await? {
        Some(_) => Ok(ws),
        None => Err(ApiError::NotFound("workspace")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_table_of_needs() {
        assert_eq!(need(Action::KeysList, "GET", &[]), Need::Read);
        assert_eq!(need(Action::KeysCreate, "POST", &[]), Need::Write);
        assert_eq!(need(Action::LeadErase, "POST", &[]), Need::Write);
        assert_eq!(
            need(Action::KeyGet, "GET", &q(&[("reveal", "true")])),
            Need::Reveal
        );
        assert_eq!(
            need(Action::KeyGet, "GET", &q(&[("reveal", "false")])),
            Need::Read
        );
        for root in [
            Action::WorkspacesCreate,
            Action::WorkspacesList,
            Action::TokensCreate,
            Action::TokenRevoke,
            Action::DlqRedrive,
            Action::MaintenanceBackfill,
        ] {
            assert_eq!(need(root, "GET", &[]), Need::Root, "{root:?}");
        }
        assert_eq!(need(Action::WorkspaceCurrent, "GET", &[]), Need::Read);
        assert_eq!(need(Action::AuditList, "GET", &[]), Need::Read);
    }
}
