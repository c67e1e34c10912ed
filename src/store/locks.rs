//! Postgres advisory locks: the only locks of the service, so several replicas sharing one
//! database coordinate without any in-process state.
//!
//! Both are transaction-scoped: they are released at commit or rollback, and also when the
//! connection dies with its process, which is what makes a crashed provisioner's lock free.

use sqlx::PgConnection;

/// Serialises quota checks and the state changes they guard within one workspace.
pub async fn workspace(conn: &mut PgConnection, workspace: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('devplane.workspace:' || $1, 0))")
        .bind(workspace)
        .execute(conn)
        .await?;
    Ok(())
}

/// Tries to take the lifecycle lock of one project (ensure, suspend, resume, delete,
/// reconciliation). Returns false when another transaction, anywhere, holds it.
pub async fn try_project(conn: &mut PgConnection, project_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('devplane.project:' || $1, 0))",
    )
    .bind(project_id)
    .fetch_one(conn)
    .await
}
