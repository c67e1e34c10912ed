//! The one error type of the service and its one JSON shape.
//!
//! Every failure a caller can see is an [`Error`]; it renders as
//! `{"error": "<human message>", "code": "<STABLE_CODE>", ...details}`. Codes are
//! SCREAMING_SNAKE and never change meaning: the AI agent's recovery rules match on them.
//! Upstream failures name the upstream (`COOLIFY_*`, `DOCKER_*`, `SSH_*`, `DATABASE_*`); bad
//! input names the field. Server-side failures are logged once, here, with their cause chain;
//! the body never carries internals or secrets.

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Retry advice for a rate limit whose upstream named no delay.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The system a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Coolify,
    Docker,
    Compose,
    Ssh,
}

impl Upstream {
    fn prefix(self) -> &'static str {
        match self {
            Upstream::Coolify => "COOLIFY",
            Upstream::Docker => "DOCKER",
            Upstream::Compose => "COMPOSE",
            Upstream::Ssh => "SSH",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Upstream::Coolify => "Coolify",
            Upstream::Docker => "Docker",
            Upstream::Compose => "Docker Compose",
            Upstream::Ssh => "SSH",
        }
    }
}

/// How an upstream failed, which decides the status code and the retry advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKind {
    /// Our credentials were refused (a configuration problem, not the caller's).
    Unauthorized,
    /// The upstream does not know a resource we recorded.
    NotFound,
    /// The upstream refused the request as invalid.
    Rejected,
    /// Too many requests; retry after the given delay.
    RateLimited { retry_after: Option<Duration> },
    /// Unreachable or failing (5xx, refused connection): retry later.
    Unavailable,
    /// No answer within our deadline. The operation may still have happened upstream.
    Timeout,
    /// An answer we could not understand.
    BadResponse,
    /// The upstream ran the operation and it failed.
    Failed,
}

impl UpstreamKind {
    fn suffix(self) -> &'static str {
        match self {
            UpstreamKind::Unauthorized => "UNAUTHORIZED",
            UpstreamKind::NotFound => "NOT_FOUND",
            UpstreamKind::Rejected => "REJECTED",
            UpstreamKind::RateLimited { .. } => "RATE_LIMITED",
            UpstreamKind::Unavailable => "UNAVAILABLE",
            UpstreamKind::Timeout => "TIMEOUT",
            UpstreamKind::BadResponse => "BAD_RESPONSE",
            UpstreamKind::Failed => "FAILED",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            UpstreamKind::RateLimited { .. } | UpstreamKind::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            UpstreamKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

/// A failure of a system we depend on. `message` must never contain a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} {}: {message}", .upstream.name(), .kind.suffix().to_lowercase().replace('_', " "))]
pub struct UpstreamError {
    pub upstream: Upstream,
    pub kind: UpstreamKind,
    pub message: String,
    /// The request may have been carried out although we saw no success (a timeout, a 5xx,
    /// an unreadable answer). Creations that fail this way are looked for before retrying.
    pub outcome_unknown: bool,
}

impl UpstreamError {
    pub fn new(upstream: Upstream, kind: UpstreamKind, message: impl Into<String>) -> Self {
        Self {
            upstream,
            kind,
            message: message.into(),
            outcome_unknown: matches!(kind, UpstreamKind::Timeout | UpstreamKind::BadResponse),
        }
    }

    /// Marks the failure as one after which the upstream may still have acted.
    pub fn outcome_unknown(mut self, unknown: bool) -> Self {
        self.outcome_unknown = unknown;
        self
    }

    pub fn code(&self) -> String {
        format!("{}_{}", self.upstream.prefix(), self.kind.suffix())
    }
}

/// A quota refusal: HTTP 402 with the seed's payload plus suggestions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaExceeded {
    /// `projects` or `dev_containers`.
    pub resource: &'static str,
    pub current: i64,
    pub limit: i64,
    /// What the caller could do to make room, e.g. suspend its longest-idle containers.
    pub suggestions: Vec<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this route needs an operator token")]
    OperatorRequired,
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    /// Bad input: 422 naming the field (or 400 for bodies that are not JSON at all).
    #[error("{field}: {message}")]
    Invalid {
        status: StatusCode,
        code: &'static str,
        field: String,
        message: String,
    },
    #[error("{} quota exceeded ({current}/{limit})", .0.resource, current = .0.current, limit = .0.limit)]
    QuotaExceeded(QuotaExceeded),
    /// The request conflicts with the current state; `details` are merged into the body.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Map<String, Value>,
    },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid("VALIDATION_FAILED", field, message)
    }

    /// A 422 with a more specific code than `VALIDATION_FAILED`.
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn bad_body(message: impl Into<String>) -> Self {
        Self::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_BODY",
            field: "body".into(),
            message: message.into(),
        }
    }

    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "TOO_LARGE",
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn project_not_found() -> Self {
        Self::not_found("PROJECT_NOT_FOUND", "project not found in this workspace")
    }

    pub fn dev_container_not_found() -> Self {
        Self::not_found(
            "DEV_CONTAINER_NOT_FOUND",
            "this project has no dev container; ensure one first",
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::OperatorRequired => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Invalid { status, .. } => *status,
            Error::QuotaExceeded(_) => StatusCode::PAYMENT_REQUIRED,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Upstream(e) => e.kind.status(),
            Error::Database(e) if database_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> String {
        match self {
            Error::Unauthorized => "UNAUTHORIZED".into(),
            Error::OperatorRequired => "OPERATOR_REQUIRED".into(),
            Error::MethodNotAllowed => "METHOD_NOT_ALLOWED".into(),
            Error::NotFound { code, .. }
            | Error::Invalid { code, .. }
            | Error::Conflict { code, .. } => (*code).into(),
            Error::QuotaExceeded(_) => "QUOTA_EXCEEDED".into(),
            Error::Upstream(e) => e.code(),
            Error::Database(e) if database_unavailable(e) => "DATABASE_UNAVAILABLE".into(),
            Error::Database(_) | Error::Internal(_) => "INTERNAL".into(),
        }
    }

    /// The JSON body, without logging. Used by the HTTP layer and the SSE error event.
    pub fn body(&self) -> Value {
        let message = match self {
            Error::Database(e) if database_unavailable(e) => "the database is unavailable".into(),
            Error::Database(_) | Error::Internal(_) => "internal error".into(),
            other => other.to_string(),
        };
        let mut body = Map::new();
        body.insert("error".into(), Value::String(message));
        body.insert("code".into(), Value::String(self.code()));
        match self {
            Error::Invalid { field, .. } => {
                body.insert("field".into(), Value::String(field.clone()));
            }
            Error::QuotaExceeded(q) => {
                if let Value::Object(fields) = json!(q) {
                    body.extend(fields);
                }
            }
            Error::Conflict { details, .. } => body.extend(details.clone()),
            Error::Upstream(e) => {
                body.insert("upstream".into(), json!(e.upstream.name()));
                if let UpstreamKind::RateLimited { retry_after } = e.kind {
                    let secs = retry_after.unwrap_or(DEFAULT_RETRY_AFTER).as_secs().max(1);
                    body.insert("retry_after_secs".into(), json!(secs));
                }
            }
            _ => {}
        }
        Value::Object(body)
    }
}

fn database_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    )
}

/// The JSON error body, as documented in the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A human-readable message.
    pub error: String,
    /// A stable SCREAMING_SNAKE code, e.g. `QUOTA_EXCEEDED`, `PROJECT_NOT_FOUND`.
    pub code: String,
    /// For bad input: the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // Logged once, with the full cause chain; the body stays generic for internals.
            tracing::error!(code = %self.code(), error = ?self, "request failed");
        } else {
            tracing::debug!(code = %self.code(), error = %self, "request refused");
        }
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            Error::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::Upstream(UpstreamError {
                kind:
                    UpstreamKind::RateLimited {
                        retry_after: Some(d),
                    },
                ..
            }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(d.as_secs().max(1)));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_body_has_the_seeds_fields() {
        let body = Error::QuotaExceeded(QuotaExceeded {
            resource: "projects",
            current: 3,
            limit: 3,
            suggestions: vec![],
        })
        .body();
        assert_eq!(body["code"], "QUOTA_EXCEEDED");
        assert_eq!(body["resource"], "projects");
        assert_eq!(body["current"], 3);
        assert_eq!(body["limit"], 3);
        assert!(body["error"].is_string());
        assert!(body["suggestions"].is_array());
    }

    #[test]
    fn upstream_codes_name_the_upstream() {
        let e = Error::from(UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::Timeout,
            "no answer within 15s",
        ));
        assert_eq!(e.code(), "COOLIFY_TIMEOUT");
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(e.body()["upstream"], "Coolify");
    }

    #[test]
    fn internal_details_stay_out_of_the_body() {
        let body = Error::internal("secret path /etc/shadow").body();
        assert_eq!(body["error"], "internal error");
        assert!(!body.to_string().contains("shadow"));
    }
}
