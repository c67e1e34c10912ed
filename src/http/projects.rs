//! `/v1/workspaces/{workspace}/projects` and `/v1/workspaces/{workspace}/quota`.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{ApiJson, ApiPath, Caller};
use crate::{
    app::AppState,
    domain::{self, ProjectId, Slug, WorkspaceId},
    error::{ErrorBody, Result},
    service::{
        projects::{self, Project},
        quota::{self, QuotaStatus},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_project, archive_project))
        .routes(routes!(list_projects))
        .routes(routes!(get_quota))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WorkspacePath {
    /// The workspace slug.
    pub workspace: String,
}

impl WorkspacePath {
    pub fn parse(&self, caller: &Caller) -> Result<WorkspaceId> {
        let workspace = WorkspaceId::parse(&self.workspace)?;
        caller.0.authorize(&workspace)?;
        Ok(workspace)
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    /// The workspace slug.
    pub workspace: String,
    /// The project id (fixed to one workspace at registration).
    pub project_id: String,
}

impl ProjectPath {
    pub fn parse(&self, caller: &Caller) -> Result<(WorkspaceId, ProjectId)> {
        let workspace = WorkspaceId::parse(&self.workspace)?;
        caller.0.authorize(&workspace)?;
        Ok((workspace, ProjectId::parse(&self.project_id)?))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProject {
    /// A DNS label: it becomes part of hostnames and Docker names.
    slug: String,
    name: String,
}

/// Registers a project (idempotent), within the workspace's project cap.
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/projects/{project_id}", tag = "projects",
    params(ProjectPath), request_body = RegisterProject, security(("bearer" = [])),
    responses(
        (status = 201, body = Project, description = "Registered now"),
        (status = 200, body = Project, description = "Already registered (updated if the name changed)"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "PROJECT_NOT_FOUND: the id belongs to another workspace"),
        (status = 402, body = ErrorBody, description = "QUOTA_EXCEEDED with resource, current, limit, suggestions"),
        (status = 409, body = ErrorBody, description = "SLUG_TAKEN or SLUG_IN_USE"),
        (status = 422, body = ErrorBody),
    ))]
async fn register_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    ApiJson(body): ApiJson<RegisterProject>,
) -> Result<(StatusCode, Json<Project>)> {
    let (workspace, project_id) = path.parse(&caller)?;
    let slug = Slug::parse(&body.slug)?;
    let name = domain::parse_name(&body.name)?;
    let registered = projects::register(&state, &workspace, &project_id, &slug, &name).await?;
    let status = if registered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(registered.project)))
}

/// Lists the workspace's live projects.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/projects", tag = "projects",
    params(WorkspacePath), security(("bearer" = [])),
    responses((status = 200, body = Vec<Project>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WorkspacePath>,
) -> Result<Json<Vec<Project>>> {
    let workspace = path.parse(&caller)?;
    Ok(Json(projects::list(&state, &workspace).await?))
}

/// Archives a project, freeing its place in the quota. Refused while it has a dev container.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/projects/{project_id}", tag = "projects",
    params(ProjectPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "PROJECT_HAS_DEV_CONTAINER"),
    ))]
async fn archive_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
) -> Result<StatusCode> {
    let (workspace, project_id) = path.parse(&caller)?;
    projects::archive(&state, &workspace, &project_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Usage against the workspace's limits.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/quota", tag = "projects",
    params(WorkspacePath), security(("bearer" = [])),
    responses((status = 200, body = QuotaStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_quota(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WorkspacePath>,
) -> Result<Json<QuotaStatus>> {
    let workspace = path.parse(&caller)?;
    Ok(Json(quota::status(&state, &workspace).await?))
}
