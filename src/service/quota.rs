//! Per-workspace quotas: how much is used against each limit, and the dev-container check.

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    app::AppState,
    domain::WorkspaceId,
    error::{Error, QuotaExceeded, Result},
    store,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub current: i64,
    pub limit: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaStatus {
    pub workspace: String,
    pub projects: Usage,
    /// Running and provisioning dev containers; suspended ones are free.
    pub dev_containers: Usage,
}

pub async fn status(state: &AppState, workspace: &WorkspaceId) -> Result<QuotaStatus> {
    let projects = store::projects::count_active(&state.db, workspace.as_str()).await?;
    let containers = store::dev_containers::count_active_in(&state.db, workspace.as_str()).await?;
    Ok(QuotaStatus {
        workspace: workspace.to_string(),
        projects: Usage {
            current: projects,
            limit: i64::from(state.config.quota.max_projects),
        },
        dev_containers: Usage {
            current: containers,
            limit: i64::from(state.config.quota.max_dev_containers),
        },
    })
}

/// Checks that one more dev container of `project_id` may run in `workspace`. Must run inside
/// the transaction that then makes the state change, after taking the workspace lock.
pub async fn check_dev_container(
    state: &AppState,
    conn: &mut PgConnection,
    workspace: &str,
    project_id: &str,
) -> Result<()> {
    store::locks::workspace(conn, workspace).await?;
    let current = store::dev_containers::count_active(conn, workspace, project_id).await?;
    let limit = i64::from(state.config.quota.max_dev_containers);
    if current < limit {
        return Ok(());
    }
    let suggestions = match store::dev_containers::longest_idle(&mut *conn, workspace, 3).await {
        Ok(rows) => {
            let now = chrono::Utc::now();
            rows.into_iter()
                .map(|(project_id, last_active_at)| {
                    json!({
                        "action": "suspend_dev_container",
                        "project_id": project_id,
                        "idle_seconds": (now - last_active_at).num_seconds().max(0),
                    })
                })
                .collect()
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not compute quota suggestions");
            Vec::new()
        }
    };
    Err(Error::QuotaExceeded(QuotaExceeded {
        resource: "dev_containers",
        current,
        limit,
        suggestions,
    }))
}
