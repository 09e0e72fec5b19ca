//! Workspace API tokens: `Authorization: Bearer lpt_…` acts inside one
//! workspace, as an `admin` (reads and writes) or a `viewer` (reads only;
//! never reveals a token or secret). Shown once, when created; stored as a
//! SHA-256 digest (a token is 256 random bits: a digest is enough, and a
//! table dump reveals nothing usable), compared in constant time, read on
//! every request so a revoked token stops at once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::Write;
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::rules::clock;
use crate::rules::crypto::{self, constant_time_eq, encode_hex};
use crate::rules::ids::{TokenId, WorkspaceId};

/// Every workspace token starts so; the 26 characters after it are its id.
pub const TOKEN_PREFIX: &str = "lpt_";
const ID_LEN: usize = 26;

/// What a workspace token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and writes inside its workspace.
    Admin,
    /// Reads only; reveals no token or secret.
    Viewer,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// A token as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub id: TokenId,
    pub workspace: WorkspaceId,
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the whole token.
    pub digest: String,
    /// `lpt_abcd…`: enough to recognise it in a list.
    pub hint: String,
    pub created_at: String,
}

fn digest(token: &str) -> String {
    encode_hex(&Sha256::digest(token.as_bytes()))
}

/// The id a presented token names, if it is shaped like one.
pub fn id_of(presented: &str) -> Option<TokenId> {
    let rest = presented.strip_prefix(TOKEN_PREFIX)?;
    let ulid = rest.get(..ID_LEN)?;
    TokenId::parse(&format!("tok_{ulid}"))
}

/// Creates a token; returns it with the token in clear (shown once).
pub async fn create(
    app: &App,
    ws: &WorkspaceId,
    name: String,
    role: Role,
) -> Result<(Token, String), DataError> {
    let id = TokenId::generate();
    let ulid = id.as_str().trim_start_matches("tok_");
    let secret = format!("{TOKEN_PREFIX}{ulid}{}", crypto::random_token(32));
    let key = table::token(id.as_str());
    let token = Token {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: Listing::tokens(ws).partition_for(id.as_str()),
        gsi1sk: id.to_string(),
        workspace: ws.clone(),
        name,
        role,
        digest: digest(&secret),
        hint: format!("{}…", &secret[..TOKEN_PREFIX.len() + 4]),
        created_at: clock::now_rfc3339(),
        id,
    };
    match app.store.put_new(&token).await? {
        Write::Done => Ok((token, secret)),
        // The id is fresh: an item under it whose digest is ours is this
        // very write, made again by the SDK after its answer was lost.
        Write::Conflict => match app.store.get::<Token>(&token.pk, &token.sk).await? {
            Some(stored) if constant_time_eq(stored.digest.as_bytes(), token.digest.as_bytes()) => {
                Ok((token, secret))
            }
            _ => Err(DataError::Conflict("token id collision; try again".into())),
        },
    }
}

/// The token `presented` is, when it is a live one (constant-time digest
/// compare); `None` for anything else, alike.
pub async fn authenticate(app: &App, presented: &str) -> Result<Option<Token>, Error> {
    let Some(id) = id_of(presented) else {
        return Ok(None);
    };
    let key = table::token(id.as_str());
    let Some(token) = app.store.get::<Token>(&key.pk, &key.sk).await? else {
        return Ok(None);
    };
    let ok = constant_time_eq(digest(presented).as_bytes(), token.digest.as_bytes());
    Ok(ok.then_some(token))
}

/// A token of `ws` (another workspace's is not found, as a missing one).
pub async fn get(app: &App, ws: &WorkspaceId, id: &str) -> Result<Option<Token>, Error> {
    let Some(id) = TokenId::parse(id) else {
        return Ok(None);
    };
    let key = table::token(id.as_str());
    Ok(app
        .store
        .get::<Token>(&key.pk, &key.sk)
        .await?
        .filter(|t| &t.workspace == ws))
}

/// A workspace's tokens, oldest first.
pub async fn list(
    app: &App,
    ws: &WorkspaceId,
    page: &PageRequest,
) -> Result<Page<Token>, DataError> {
    app.store
        .query_page(&Listing::tokens(ws), page, false)
        .await
}

/// Revokes a token of `ws` at once.
pub async fn revoke(app: &App, ws: &WorkspaceId, id: &str) -> Result<(), DataError> {
    let token = get(app, ws, id)
        .await?
        .ok_or(DataError::NotFound("token"))?;
    let key = table::token(token.id.as_str());
    match app
        .store
        .delete(&key.pk, &key.sk, Some("attribute_exists(pk)"), vec![])
        .await?
    {
        Write::Done => Ok(()),
        Write::Conflict => Err(DataError::NotFound("token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_id_and_nothing_else_does() {
        let id = TokenId::generate();
        let ulid = id.as_str().trim_start_matches("tok_");
        let token = format!("{TOKEN_PREFIX}{ulid}{}", crypto::random_token(32));
        assert_eq!(id_of(&token), Some(id));
        for junk in [
            "",
            "lpt_",
            "lpt_short",
            "wh_live_abc",
            "lpt_ABCDEFGHJKMNPQRSTVWXYZ0123",
        ] {
            assert_eq!(id_of(junk), None, "{junk}");
        }
        // Multi-byte input never panics on a char boundary.
        assert_eq!(id_of("lpt_ééééééééééééééééééééééééééé"), None);
    }

    #[test]
    fn digests_differ_per_token() {
        assert_ne!(digest("lpt_a"), digest("lpt_b"));
        assert_eq!(digest("lpt_a").len(), 64);
    }
}
