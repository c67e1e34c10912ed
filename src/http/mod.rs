//! The HTTP surface: REST routes under `/v1`, health, the OpenAPI document and its docs page.
//! Handlers are thin: they parse, authorise, call the service layer and shape the answer.

mod dev_containers;
mod exec;
pub mod extract;
mod files;
mod health;
mod projects;
mod tokens;

use std::{future::Future, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    http::{HeaderName, Request, Response, header},
    response::IntoResponse,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::TraceLayer,
};
use tracing::{Level, Span};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::router::OpenApiRouter;

use crate::{app::AppState, error::Error};

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "devplane",
        description = "Control plane for per-project AI dev containers. Every error is \
            `{error, code, ...details}` with a stable `code`; see the README for the list.",
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody)),
    tags(
        (name = "projects", description = "The project registry and quotas"),
        (name = "tokens", description = "Workspace tokens (operator only)"),
        (name = "dev-container", description = "Dev container lifecycle"),
        (name = "exec", description = "Commands and files inside a dev container"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// The routes and the OpenAPI document generated from them.
fn api(max_file_bytes: usize) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(projects::routes())
        .merge(tokens::routes())
        .merge(dev_containers::routes())
        .merge(exec::routes())
        .merge(files::routes(max_file_bytes))
        .split_for_parts()
}

/// The OpenAPI document, as `devplane openapi` prints it and `/openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api(crate::config::FilesConfig::default().max_bytes).1
}

pub fn router(state: AppState) -> Router {
    let (routes, openapi) = api(state.config.files.max_bytes);
    routes
        .merge(health::docs(openapi))
        .fallback(|| async { Error::not_found("ROUTE_NOT_FOUND", "no such route") })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(1 << 20))
        .layer(CatchPanicLayer::custom(|_| {
            Error::internal("handler panicked").into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("");
                    // The path only: query strings may carry file paths, never worth logging.
                    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(|response: &Response<Body>, latency: Duration, _span: &Span| {
                    tracing::event!(Level::INFO, status = response.status().as_u16(), latency_ms = latency.as_millis() as u64, "response");
                }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION]))
        .with_state(state)
}

/// Runs a service call in its own task, so that a client hanging up cannot cancel it halfway
/// (between an orchestrator call and the database write, say).
pub(crate) async fn to_completion<T, F>(work: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    tokio::spawn(work)
        .await
        .map_err(|e| Error::internal(format!("task failed: {e}")))?
}
