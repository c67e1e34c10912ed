//! `devplane_workspace_tokens`: hashed workspace-scoped bearer tokens.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub workspace: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    workspace: &str,
    token_hash: &[u8],
    label: &str,
) -> sqlx::Result<TokenRow> {
    sqlx::query_as(
        "INSERT INTO devplane_workspace_tokens (id, workspace, token_hash, label) \
         VALUES ($1, $2, $3, $4) RETURNING id, workspace, label, created_at, revoked_at",
    )
    .bind(id)
    .bind(workspace)
    .bind(token_hash)
    .bind(label)
    .fetch_one(db)
    .await
}

/// The workspace of a live token with this hash.
pub async fn workspace_of(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT workspace FROM devplane_workspace_tokens \
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

pub async fn list(db: impl PgExecutor<'_>, workspace: &str) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(
        "SELECT id, workspace, label, created_at, revoked_at FROM devplane_workspace_tokens \
         WHERE workspace = $1 ORDER BY created_at, id",
    )
    .bind(workspace)
    .fetch_all(db)
    .await
}

/// Revokes a token of this workspace; false when there is no such live token.
pub async fn revoke(db: impl PgExecutor<'_>, workspace: &str, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE devplane_workspace_tokens SET revoked_at = now() \
         WHERE id = $1 AND workspace = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(workspace)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
