//! `/v1/workspaces/{workspace}/projects/{project_id}/dev-container`: the lifecycle.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    extract::{ApiPath, ApiQuery, Caller, OptionalJson},
    projects::ProjectPath,
    to_completion,
};
use crate::{
    app::AppState,
    error::{ErrorBody, Result},
    service::lifecycle::{self, DevContainer, Ensured},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ensure, status, delete))
        .routes(routes!(suspend))
        .routes(routes!(resume))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EnsureBody {
    /// Create the service without starting it (it then costs no quota).
    #[serde(default)]
    no_start: bool,
}

/// Ensures the project has a dev container: returns it (resuming it if suspended) or creates
/// it within quota. Safe to call on every chat turn; concurrent calls create one service.
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container", tag = "dev-container",
    params(ProjectPath), request_body(content = Option<EnsureBody>), security(("bearer" = [])),
    responses(
        (status = 201, body = Ensured, description = "Created now"),
        (status = 200, body = Ensured, description = "Existed"),
        (status = 402, body = ErrorBody, description = "QUOTA_EXCEEDED (resource dev_containers) with suggestions"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "DEV_CONTAINER_BUSY"),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
async fn ensure(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    OptionalJson(body): OptionalJson<EnsureBody>,
) -> Result<(StatusCode, Json<Ensured>)> {
    let (workspace, project_id) = path.parse(&caller)?;
    let ensured = to_completion(async move {
        lifecycle::ensure(&state, &workspace, &project_id, body.no_start).await
    })
    .await?;
    let status = if ensured.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ensured)))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Also ask the orchestrator for the live state.
    #[serde(default)]
    live: bool,
}

/// The dev container's recorded state, preview URLs, and (with `live=true`) its live state.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container", tag = "dev-container",
    params(ProjectPath, StatusQuery), security(("bearer" = [])),
    responses((status = 200, body = DevContainer), (status = 404, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> Result<Json<DevContainer>> {
    let (workspace, project_id) = path.parse(&caller)?;
    Ok(Json(
        lifecycle::status(&state, &workspace, &project_id, query.live).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct StateBody {
    state: String,
}

/// Suspends the dev container: its containers are removed, its volumes kept.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/suspend", tag = "dev-container",
    params(ProjectPath), security(("bearer" = [])),
    responses((status = 200, body = StateBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
) -> Result<Json<StateBody>> {
    let (workspace, project_id) = path.parse(&caller)?;
    let state =
        to_completion(async move { lifecycle::suspend(&state, &workspace, &project_id).await })
            .await?;
    Ok(Json(StateBody { state }))
}

/// Resumes the dev container, within the workspace's dev-container cap.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/resume", tag = "dev-container",
    params(ProjectPath), security(("bearer" = [])),
    responses((status = 200, body = StateBody), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
) -> Result<Json<StateBody>> {
    let (workspace, project_id) = path.parse(&caller)?;
    let state =
        to_completion(async move { lifecycle::resume(&state, &workspace, &project_id).await })
            .await?;
    Ok(Json(StateBody { state }))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Also delete the volumes (the user's `/workspace`). Default false.
    #[serde(default)]
    delete_volumes: bool,
}

/// Deletes the dev container. Its volumes survive unless `delete_volumes=true`.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container", tag = "dev-container",
    params(ProjectPath, DeleteQuery), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode> {
    let (workspace, project_id) = path.parse(&caller)?;
    to_completion(async move {
        lifecycle::delete(&state, &workspace, &project_id, query.delete_volumes).await
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
