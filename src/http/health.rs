//! `/healthz` (the process is up), `/readyz` (its dependencies answer now), and the API docs.

use std::time::Duration;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

use crate::{app::AppState, config::RunnerKind};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// The Swagger UI at `/docs` (assets bundled into the binary: works offline) and the
/// document at `/openapi.json`.
pub fn docs(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi)).with_state(())
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    version: &'static str,
}

/// Liveness: answers as long as the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    ok: bool,
    detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Present when not ready, as in every error body.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    database: Check,
    orchestrator: Check,
    /// The SSH runner's path to the Docker host (only with the `ssh` runner).
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh: Option<Check>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

async fn check<F, T, E>(work: F) -> Check
where
    F: Future<Output = Result<T, E>>,
    T: ToString,
    E: std::fmt::Display,
{
    match tokio::time::timeout(CHECK_TIMEOUT, work).await {
        Ok(Ok(detail)) => Check {
            ok: true,
            detail: detail.to_string(),
        },
        Ok(Err(e)) => Check {
            ok: false,
            detail: e.to_string(),
        },
        Err(_) => Check {
            ok: false,
            detail: format!("no answer within {}s", CHECK_TIMEOUT.as_secs()),
        },
    }
}

/// Readiness: the database, the orchestrator and (with the SSH runner) the SSH path answer now.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Readiness, description = "Every dependency answers"),
    (status = 503, body = Readiness, description = "A dependency does not answer; `code` is NOT_READY"),
))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = check(async {
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&state.db)
            .await
            .map(|_| "reachable")
    });
    let orchestrator = check(state.orchestrator.check());
    let ssh = async {
        match state.config.runner.kind {
            RunnerKind::Ssh => Some(check(state.runner.check()).await),
            RunnerKind::Local => None,
        }
    };
    let (database, orchestrator, ssh) = tokio::join!(database, orchestrator, ssh);
    let ready = database.ok && orchestrator.ok && ssh.as_ref().is_none_or(|c| c.ok);
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        code: (!ready).then_some("NOT_READY"),
        error: (!ready).then(|| "a dependency does not answer".to_owned()),
        database,
        orchestrator,
        ssh,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
