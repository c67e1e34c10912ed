//! Who is calling: operators (any workspace) and workspace tokens (one workspace).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    app::AppState,
    domain::WorkspaceId,
    error::{Error, Result},
    ids, store,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A token from configuration: may act in every workspace.
    Operator,
    /// A workspace token: may act only in its own workspace.
    Workspace(String),
}

impl Principal {
    /// Allows the call in `workspace`. Another workspace answers 404, like a missing one:
    /// a token never learns what exists outside its workspace.
    pub fn authorize(&self, workspace: &WorkspaceId) -> Result<()> {
        match self {
            Principal::Operator => Ok(()),
            Principal::Workspace(own) if own == workspace.as_str() => Ok(()),
            Principal::Workspace(_) => Err(Error::not_found(
                "WORKSPACE_NOT_FOUND",
                "workspace not found",
            )),
        }
    }

    pub fn require_operator(&self) -> Result<()> {
        match self {
            Principal::Operator => Ok(()),
            Principal::Workspace(_) => Err(Error::OperatorRequired),
        }
    }
}

/// Resolves a bearer token. Operator tokens are compared by digest in constant time;
/// workspace tokens are looked up by digest.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal> {
    if token.is_empty() {
        return Err(Error::Unauthorized);
    }
    let digest = ids::token_hash(token);
    if state
        .operator_token_hashes
        .iter()
        .any(|known| ids::digests_equal(known, &digest))
    {
        return Ok(Principal::Operator);
    }
    if !token.starts_with(ids::WORKSPACE_TOKEN_PREFIX) {
        return Err(Error::Unauthorized);
    }
    match store::tokens::workspace_of(&state.db, &digest).await? {
        Some(workspace) => Ok(Principal::Workspace(workspace)),
        None => Err(Error::Unauthorized),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: Uuid,
    pub workspace: String,
    pub label: String,
    /// The token itself. Shown only now; only its hash is stored.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Creates a workspace token (takes the pool, so the CLI can call it without a full app).
pub async fn create_token(
    db: &PgPool,
    workspace: &WorkspaceId,
    label: &str,
) -> Result<CreatedToken> {
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err(Error::validation(
            "label",
            "must be at most 100 characters, no control characters",
        ));
    }
    let token = ids::workspace_token()?;
    let id = Uuid::new_v4();
    let row =
        store::tokens::insert(db, id, workspace.as_str(), &ids::token_hash(&token), label).await?;
    tracing::info!(workspace = %workspace, token_id = %id, "workspace token created");
    Ok(CreatedToken {
        id: row.id,
        workspace: row.workspace,
        label: row.label,
        token,
    })
}

pub async fn list_tokens(state: &AppState, workspace: &WorkspaceId) -> Result<Vec<TokenInfo>> {
    Ok(store::tokens::list(&state.db, workspace.as_str())
        .await?
        .into_iter()
        .map(|t| TokenInfo {
            id: t.id,
            label: t.label,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        })
        .collect())
}

pub async fn revoke_token(state: &AppState, workspace: &WorkspaceId, id: Uuid) -> Result<()> {
    if store::tokens::revoke(&state.db, workspace.as_str(), id).await? {
        tracing::info!(workspace = %workspace, token_id = %id, "workspace token revoked");
        Ok(())
    } else {
        Err(Error::not_found(
            "TOKEN_NOT_FOUND",
            "no live token with this id in this workspace",
        ))
    }
}
