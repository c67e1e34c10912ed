//! `devplane_projects`: the registry of projects and the workspace each belongs to.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    pub project_id: String,
    pub workspace: String,
    pub slug: String,
    pub name: String,
    pub coolify_project_uuid: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// The columns of [`ProjectRow`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "project_id, workspace, slug, name, coolify_project_uuid, created_at, updated_at, archived_at"
    };
}

pub async fn get(db: impl PgExecutor<'_>, project_id: &str) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM devplane_projects WHERE project_id = $1"
    ))
    .bind(project_id)
    .fetch_optional(db)
    .await
}

pub async fn get_for_update(
    conn: &mut PgConnection,
    project_id: &str,
) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM devplane_projects WHERE project_id = $1 FOR UPDATE"
    ))
    .bind(project_id)
    .fetch_optional(conn)
    .await
}

pub async fn list(db: impl PgExecutor<'_>, workspace: &str) -> sqlx::Result<Vec<ProjectRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM devplane_projects \
         WHERE workspace = $1 AND archived_at IS NULL ORDER BY created_at, project_id"
    ))
    .bind(workspace)
    .fetch_all(db)
    .await
}

pub async fn count_active(db: impl PgExecutor<'_>, workspace: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM devplane_projects WHERE workspace = $1 AND archived_at IS NULL",
    )
    .bind(workspace)
    .fetch_one(db)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    project_id: &str,
    workspace: &str,
    slug: &str,
    name: &str,
) -> sqlx::Result<ProjectRow> {
    sqlx::query_as(concat!(
        "INSERT INTO devplane_projects (project_id, workspace, slug, name) \
         VALUES ($1, $2, $3, $4) RETURNING ",
        columns!()
    ))
    .bind(project_id)
    .bind(workspace)
    .bind(slug)
    .bind(name)
    .fetch_one(conn)
    .await
}

/// Updates slug and name, and brings an archived project back.
pub async fn update(
    conn: &mut PgConnection,
    project_id: &str,
    slug: &str,
    name: &str,
) -> sqlx::Result<ProjectRow> {
    sqlx::query_as(concat!(
        "UPDATE devplane_projects SET slug = $2, name = $3, archived_at = NULL, updated_at = now() \
         WHERE project_id = $1 RETURNING ",
        columns!()
    ))
    .bind(project_id)
    .bind(slug)
    .bind(name)
    .fetch_one(conn)
    .await
}

pub async fn archive(conn: &mut PgConnection, project_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE devplane_projects SET archived_at = now(), updated_at = now() WHERE project_id = $1",
    )
    .bind(project_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_coolify_project(
    db: impl PgExecutor<'_>,
    project_id: &str,
    coolify_project_uuid: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE devplane_projects SET coolify_project_uuid = $2, updated_at = now() \
         WHERE project_id = $1",
    )
    .bind(project_id)
    .bind(coolify_project_uuid)
    .execute(db)
    .await?;
    Ok(())
}

/// Live projects of a workspace that have no dev container: the ones archiving frees cheaply.
pub async fn without_dev_container(
    db: impl PgExecutor<'_>,
    workspace: &str,
    limit: i64,
) -> sqlx::Result<Vec<ProjectRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM devplane_projects p \
         WHERE p.workspace = $1 AND p.archived_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM fs_project_dev_containers d WHERE d.project_id = p.project_id) \
         ORDER BY p.updated_at LIMIT $2"
    ))
    .bind(workspace)
    .bind(limit)
    .fetch_all(db)
    .await
}
