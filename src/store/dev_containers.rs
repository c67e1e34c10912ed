//! `fs_project_dev_containers` (the seed's table, extended by migration 0003) and the one
//! statement on `fs_dev_servers` the lifecycle needs.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DevContainerRow {
    pub project_id: String,
    pub workspace: String,
    /// NULL while a create is pending (an intent); see migration 0003.
    pub service_uuid: Option<String>,
    pub image: String,
    pub state: String,
    pub last_active_at: DateTime<Utc>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub intent_id: Option<String>,
    pub intent_attempted_at: Option<DateTime<Utc>>,
    pub orchestrator: Option<String>,
    pub preview_tokens: Option<Vec<String>>,
    pub compose: Option<String>,
}

/// The columns of [`DevContainerRow`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "project_id, workspace, service_uuid, image, state, last_active_at, suspended_at, \
         created_at, intent_id, intent_attempted_at, orchestrator, preview_tokens, compose"
    };
}

pub async fn get(
    db: impl PgExecutor<'_>,
    project_id: &str,
) -> sqlx::Result<Option<DevContainerRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM fs_project_dev_containers WHERE project_id = $1"
    ))
    .bind(project_id)
    .fetch_optional(db)
    .await
}

/// A creation about to be attempted, recorded before the orchestrator is called.
pub struct NewIntent<'a> {
    pub project_id: &'a str,
    pub workspace: &'a str,
    pub image: &'a str,
    pub state: &'a str,
    pub intent_id: &'a str,
    pub orchestrator: &'a str,
    pub preview_tokens: &'a [String],
    pub compose: &'a str,
}

pub async fn insert_intent(
    conn: &mut PgConnection,
    intent: &NewIntent<'_>,
) -> sqlx::Result<DevContainerRow> {
    sqlx::query_as(concat!(
        "INSERT INTO fs_project_dev_containers \
         (project_id, workspace, service_uuid, image, state, intent_id, intent_attempted_at, \
          orchestrator, preview_tokens, compose) \
         VALUES ($1, $2, NULL, $3, $4, $5, now(), $6, $7, $8) RETURNING ",
        columns!()
    ))
    .bind(intent.project_id)
    .bind(intent.workspace)
    .bind(intent.image)
    .bind(intent.state)
    .bind(intent.intent_id)
    .bind(intent.orchestrator)
    .bind(intent.preview_tokens)
    .bind(intent.compose)
    .fetch_one(conn)
    .await
}

/// Notes that a create request for this intent is about to be sent (again).
pub async fn mark_attempt(
    db: impl PgExecutor<'_>,
    project_id: &str,
    intent_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE fs_project_dev_containers SET intent_attempted_at = now(), updated_at = now() \
         WHERE project_id = $1 AND intent_id = $2 AND service_uuid IS NULL",
    )
    .bind(project_id)
    .bind(intent_id)
    .execute(db)
    .await?;
    Ok(())
}

/// How long a create request of this pending intent may still be running upstream: `window`
/// after its last attempt, measured on the database's clock (one clock for every replica).
pub async fn intent_window_left(
    db: impl PgExecutor<'_>,
    project_id: &str,
    intent_id: &str,
    window: std::time::Duration,
) -> sqlx::Result<std::time::Duration> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM \
                (intent_attempted_at + make_interval(secs => $3) - now())))::float8 \
         FROM fs_project_dev_containers \
         WHERE project_id = $1 AND intent_id = $2 AND service_uuid IS NULL",
    )
    .bind(project_id)
    .bind(intent_id)
    .bind(window.as_secs_f64())
    .fetch_optional(db)
    .await?
    .flatten();
    Ok(std::time::Duration::from_secs_f64(seconds.unwrap_or(0.0)))
}

/// Records the service created for a pending intent. False if the intent is no longer pending.
pub async fn record_service(
    db: impl PgExecutor<'_>,
    project_id: &str,
    intent_id: &str,
    service_uuid: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE fs_project_dev_containers SET service_uuid = $3, updated_at = now() \
         WHERE project_id = $1 AND intent_id = $2 AND service_uuid IS NULL",
    )
    .bind(project_id)
    .bind(intent_id)
    .bind(service_uuid)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives up a pending intent that created nothing.
pub async fn delete_pending(
    db: impl PgExecutor<'_>,
    project_id: &str,
    intent_id: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM fs_project_dev_containers \
         WHERE project_id = $1 AND intent_id = $2 AND service_uuid IS NULL",
    )
    .bind(project_id)
    .bind(intent_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the row (its dev servers go with it: ON DELETE CASCADE).
pub async fn delete(db: impl PgExecutor<'_>, project_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM fs_project_dev_containers WHERE project_id = $1")
        .bind(project_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_state(db: impl PgExecutor<'_>, project_id: &str, state: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE fs_project_dev_containers SET state = $2, updated_at = now() WHERE project_id = $1",
    )
    .bind(project_id)
    .bind(state)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_suspended(db: impl PgExecutor<'_>, project_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE fs_project_dev_containers \
         SET state = 'suspended', suspended_at = now(), updated_at = now() WHERE project_id = $1",
    )
    .bind(project_id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_running(db: impl PgExecutor<'_>, project_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE fs_project_dev_containers \
         SET state = 'running', suspended_at = NULL, last_active_at = now(), updated_at = now() \
         WHERE project_id = $1",
    )
    .bind(project_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records activity; the first exec that returns also flips `provisioning` to `running`.
pub async fn touch_activity(db: impl PgExecutor<'_>, project_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE fs_project_dev_containers \
         SET last_active_at = now(), \
             state = CASE WHEN state = 'provisioning' THEN 'running' ELSE state END \
         WHERE project_id = $1",
    )
    .bind(project_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Dev containers of a workspace that hold a place in the quota (running or provisioning),
/// not counting `excluding`.
pub async fn count_active(
    conn: &mut PgConnection,
    workspace: &str,
    excluding: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM fs_project_dev_containers \
         WHERE workspace = $1 AND state IN ('running', 'provisioning') AND project_id <> $2",
    )
    .bind(workspace)
    .bind(excluding)
    .fetch_one(conn)
    .await
}

pub async fn count_active_in(db: impl PgExecutor<'_>, workspace: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM fs_project_dev_containers \
         WHERE workspace = $1 AND state IN ('running', 'provisioning')",
    )
    .bind(workspace)
    .fetch_one(db)
    .await
}

/// The longest-idle active (running or provisioning) containers of a workspace: what a caller
/// over quota can suspend.
pub async fn longest_idle(
    db: impl PgExecutor<'_>,
    workspace: &str,
    limit: i64,
) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT project_id, last_active_at FROM fs_project_dev_containers \
         WHERE workspace = $1 AND state IN ('running', 'provisioning') \
         ORDER BY last_active_at, project_id LIMIT $2",
    )
    .bind(workspace)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Rows created through an intent (this service's own), pending or not, for reconciliation.
pub async fn with_intent(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<DevContainerRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM fs_project_dev_containers WHERE intent_id IS NOT NULL"
    ))
    .fetch_all(db)
    .await
}

pub async fn intent_recorded(db: impl PgExecutor<'_>, intent_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM fs_project_dev_containers WHERE intent_id = $1)",
    )
    .bind(intent_id)
    .fetch_one(db)
    .await
}

/// The seed leaves dev servers `starting` forever when their container stops; a suspended
/// container has no processes, so its servers are stopped.
pub async fn stop_dev_servers(db: impl PgExecutor<'_>, project_id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE fs_dev_servers SET state = 'stopped', stopped_at = now() \
         WHERE project_id = $1 AND state IN ('starting', 'running')",
    )
    .bind(project_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
