//! Meta data-deletion requests (the app's data-deletion callback): each is
//! kept under its confirmation code so the status URL Meta shows the person
//! can say what became of it. Deployment wide (one Meta app serves every
//! workspace): stored in the default workspace's scope. The person's Meta
//! user id is not kept.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::table;
use crate::error::Error;

/// Longest confirmation code accepted in a status URL.
pub const MAX_CODE: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionRequest {
    pub pk: String,
    pub sk: String,
    pub confirmation_code: String,
    /// `completed`: everything Leadpipe could match was erased.
    pub state: String,
    pub received_at: String,
    pub completed_at: String,
    /// Leads erased for this request.
    pub leads_erased: usize,
}

/// A confirmation code as Leadpipe makes them: lowercase hex.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CODE && code.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Records a request (a repeat of the same request writes the same item).
pub async fn put(scope: &Scope, request: DeletionRequest) -> Result<DeletionRequest, Error> {
    let key = table::meta_deletion(&request.confirmation_code);
    let request = DeletionRequest {
        pk: key.pk,
        sk: key.sk,
        ..request
    };
    scope.store.put(&request).await?;
    Ok(request)
}

/// A request by its confirmation code.
pub async fn get(scope: &Scope, code: &str) -> Result<Option<DeletionRequest>, Error> {
    if !valid_code(code) {
        return Ok(None);
    }
    let key = table::meta_deletion(code);
    scope.store.get(&key.pk, &key.sk).await
}
