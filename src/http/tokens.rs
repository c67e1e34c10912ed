//! `/v1/workspaces/{workspace}/tokens`: workspace tokens, managed by operators.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    extract::{ApiPath, Caller, OptionalJson},
    projects::WorkspacePath,
};
use crate::{
    app::AppState,
    error::{ErrorBody, Result},
    service::auth::{self, CreatedToken, TokenInfo},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// A note for humans, e.g. "agent for chat 42".
    #[serde(default)]
    label: String,
}

/// Creates a workspace token. The token is in this answer only; it is stored hashed.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/tokens", tag = "tokens",
    params(WorkspacePath), request_body(content = Option<NewToken>), security(("bearer" = [])),
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "OPERATOR_REQUIRED")))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WorkspacePath>,
    OptionalJson(body): OptionalJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>)> {
    caller.0.require_operator()?;
    let workspace = path.parse(&caller)?;
    let created = auth::create_token(&state.db, &workspace, body.label.trim()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Lists the workspace's tokens (never the tokens themselves).
#[utoipa::path(get, path = "/v1/workspaces/{workspace}/tokens", tag = "tokens",
    params(WorkspacePath), security(("bearer" = [])),
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WorkspacePath>,
) -> Result<Json<Vec<TokenInfo>>> {
    caller.0.require_operator()?;
    let workspace = path.parse(&caller)?;
    Ok(Json(auth::list_tokens(&state, &workspace).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    workspace: String,
    token_id: Uuid,
}

/// Revokes a workspace token; it stops working at once.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace}/tokens/{token_id}", tag = "tokens",
    params(TokenPath), security(("bearer" = [])),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TokenPath>,
) -> Result<StatusCode> {
    caller.0.require_operator()?;
    let workspace = WorkspacePath {
        workspace: path.workspace,
    }
    .parse(&caller)?;
    auth::revoke_token(&state, &workspace, path.token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
