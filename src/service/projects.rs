//! The project registry: which workspace owns a project, its slug, and the project quota.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::{
    app::AppState,
    domain::{ProjectId, Slug, WorkspaceId},
    error::{Error, QuotaExceeded, Result},
    store::{self, projects::ProjectRow},
};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Project {
    pub project_id: String,
    pub workspace: String,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ProjectRow> for Project {
    fn from(row: ProjectRow) -> Self {
        Self {
            project_id: row.project_id,
            workspace: row.workspace,
            slug: row.slug,
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub struct Registered {
    pub project: Project,
    /// False when the project was already registered (the call was a no-op or an update).
    pub created: bool,
}

/// The live project `project_id` of `workspace`; 404 for a missing, archived or foreign one.
pub async fn require(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<ProjectRow> {
    match store::projects::get(&state.db, project_id.as_str()).await? {
        Some(row) if row.workspace == workspace.as_str() && row.archived_at.is_none() => Ok(row),
        _ => Err(Error::project_not_found()),
    }
}

/// Registers a project (idempotent). The project cap is checked under the workspace lock, in
/// the same transaction as the insert, so concurrent registrations never pass it.
pub async fn register(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    slug: &Slug,
    name: &str,
) -> Result<Registered> {
    let mut tx = state.db.begin().await?;
    store::locks::workspace(&mut tx, workspace.as_str()).await?;
    let existing = store::projects::get_for_update(&mut tx, project_id.as_str()).await?;
    let (row, created) = match existing {
        Some(row) if row.workspace != workspace.as_str() => return Err(Error::project_not_found()),
        Some(row) if row.archived_at.is_none() => {
            if row.slug == slug.as_str() && row.name == name {
                return Ok(Registered {
                    project: row.into(),
                    created: false,
                });
            }
            if row.slug != slug.as_str()
                && store::dev_containers::get(&mut *tx, project_id.as_str())
                    .await?
                    .is_some()
            {
                return Err(Error::conflict(
                    "SLUG_IN_USE",
                    "the slug names the running dev container's networks and preview URLs; delete the dev container before renaming",
                ));
            }
            let row = store::projects::update(&mut tx, project_id.as_str(), slug.as_str(), name)
                .await
                .map_err(slug_conflict)?;
            (row, false)
        }
        // A dev container the TypeScript module recorded (no registry row yet) fixes the
        // workspace too.
        None if store::dev_containers::get(&mut *tx, project_id.as_str())
            .await?
            .is_some_and(|row| row.workspace != workspace.as_str()) =>
        {
            return Err(Error::project_not_found());
        }
        archived_or_new => {
            let limit = state.config.quota.max_projects;
            let current = store::projects::count_active(&mut *tx, workspace.as_str()).await?;
            if current >= i64::from(limit) {
                drop(tx);
                return Err(
                    project_quota_exceeded(state, workspace, current, i64::from(limit)).await,
                );
            }
            let row = match archived_or_new {
                Some(_) => {
                    store::projects::update(&mut tx, project_id.as_str(), slug.as_str(), name).await
                }
                None => {
                    store::projects::insert(
                        &mut tx,
                        project_id.as_str(),
                        workspace.as_str(),
                        slug.as_str(),
                        name,
                    )
                    .await
                }
            }
            .map_err(slug_conflict)?;
            (row, true)
        }
    };
    tx.commit().await?;
    if created {
        tracing::info!(workspace = %workspace, project_id = %project_id, "project registered");
    }
    Ok(Registered {
        project: row.into(),
        created,
    })
}

fn slug_conflict(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("devplane_projects_slug_key") => {
            Error::conflict("SLUG_TAKEN", "another live project already uses this slug")
        }
        _ => Error::Database(e),
    }
}

async fn project_quota_exceeded(
    state: &AppState,
    workspace: &WorkspaceId,
    current: i64,
    limit: i64,
) -> Error {
    let suggestions = match store::projects::without_dev_container(&state.db, workspace.as_str(), 3).await {
        Ok(rows) => rows
            .into_iter()
            .map(|p| json!({"action": "archive_project", "project_id": p.project_id, "slug": p.slug}))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not compute quota suggestions");
            Vec::new()
        }
    };
    Error::QuotaExceeded(QuotaExceeded {
        resource: "projects",
        current,
        limit,
        suggestions,
    })
}

pub async fn list(state: &AppState, workspace: &WorkspaceId) -> Result<Vec<Project>> {
    Ok(store::projects::list(&state.db, workspace.as_str())
        .await?
        .into_iter()
        .map(Project::from)
        .collect())
}

/// Archives a project, freeing its place in the quota. Refused while it has a dev container.
pub async fn archive(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<()> {
    let mut tx = state.db.begin().await?;
    store::locks::workspace(&mut tx, workspace.as_str()).await?;
    match store::projects::get_for_update(&mut tx, project_id.as_str()).await? {
        Some(row) if row.workspace == workspace.as_str() && row.archived_at.is_none() => {}
        _ => return Err(Error::project_not_found()),
    }
    if store::dev_containers::get(&mut *tx, project_id.as_str())
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "PROJECT_HAS_DEV_CONTAINER",
            "delete the project's dev container before archiving it",
        ));
    }
    store::projects::archive(&mut tx, project_id.as_str()).await?;
    tx.commit().await?;
    tracing::info!(workspace = %workspace, project_id = %project_id, "project archived");
    Ok(())
}
