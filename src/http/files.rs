//! `.../dev-container/files` and `.../dev-container/files/list`: files under `/workspace`.

use axum::{
    Json,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    extract::{ApiBody, ApiPath, ApiQuery, Caller},
    projects::ProjectPath,
    to_completion,
};
use crate::{
    app::AppState,
    error::{ErrorBody, Result},
    service::files::{self, Listing},
};

pub fn routes(max_file_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read_file, write_file, delete_file))
        .routes(routes!(list_files))
        // Uploads may exceed the default body limit, up to the configured file size.
        .layer(DefaultBodyLimit::max(max_file_bytes + 1))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// A path under `/workspace` (absolute, or relative to `/workspace`).
    path: String,
}

/// Reads a file (raw bytes).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/files", tag = "exec",
    params(ProjectPath, PathQuery), security(("bearer" = [])),
    responses(
        (status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = ErrorBody, description = "FILE_NOT_FOUND"),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "PATH_OUTSIDE_WORKSPACE, WRONG_FILE_TYPE"),
    ))]
async fn read_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<impl IntoResponse> {
    let (workspace, project_id) = path.parse(&caller)?;
    let bytes =
        to_completion(
            async move { files::read(&state, &workspace, &project_id, &query.path).await },
        )
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

/// Writes a file (raw request body), creating parent directories. Replaces atomically.
#[utoipa::path(put, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/files", tag = "exec",
    params(ProjectPath, PathQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("bearer" = [])),
    responses((status = 204, description = "Written"), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn write_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    ApiQuery(query): ApiQuery<PathQuery>,
    ApiBody(body): ApiBody,
) -> Result<StatusCode> {
    let (workspace, project_id) = path.parse(&caller)?;
    to_completion(
        async move { files::write(&state, &workspace, &project_id, &query.path, body).await },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a file or directory (recursively). A symlink is removed, not its target.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/files", tag = "exec",
    params(ProjectPath, PathQuery), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<StatusCode> {
    let (workspace, project_id) = path.parse(&caller)?;
    to_completion(async move { files::delete(&state, &workspace, &project_id, &query.path).await })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists a directory.
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/files/list", tag = "exec",
    params(ProjectPath, PathQuery), security(("bearer" = [])),
    responses((status = 200, body = Listing), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_files(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Json<Listing>> {
    let (workspace, project_id) = path.parse(&caller)?;
    Ok(Json(
        to_completion(
            async move { files::list(&state, &workspace, &project_id, &query.path).await },
        )
        .await?,
    ))
}
