//! A client for the parts of Coolify's REST API (v4) the lifecycle needs.
//!
//! Written against Coolify's own OpenAPI document and controller code (see
//! `../shared/reference/coolify-api.md`): state changes are POST-only, `docker_compose_raw`
//! is strict standard base64 with padding, creates answer 201 `{uuid}`, a 422's `errors` has
//! no fixed shape, status strings are matched by prefix and lag behind reality, and 429
//! carries `Retry-After`. Every call has a deadline; every failure becomes a typed
//! [`UpstreamError`]. The API token is marked sensitive and never logged.

mod types;

use std::time::Duration;

use base64::Engine;
use reqwest::{
    Method, StatusCode, Url,
    header::{self, HeaderMap, HeaderValue},
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use types::*;

use crate::error::{Upstream, UpstreamError, UpstreamKind};

type Result<T> = std::result::Result<T, UpstreamError>;

#[derive(Clone)]
pub struct CoolifyClient {
    http: reqwest::Client,
    /// `<instance>/api/v1/`
    api: Url,
}

impl std::fmt::Debug for CoolifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoolifyClient")
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }
}

/// What a start or stop request found: Coolify answers 400 when there is nothing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Queued,
    AlreadyDone,
}

impl CoolifyClient {
    pub fn new(
        base_url: &str,
        token: &SecretString,
        timeout: Duration,
        connect_timeout: Duration,
    ) -> std::result::Result<Self, String> {
        let mut api = Url::parse(base_url).map_err(|e| format!("invalid Coolify URL: {e}"))?;
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        api = api
            .join("api/v1/")
            .map_err(|e| format!("invalid Coolify URL: {e}"))?;

        let mut auth = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
            .map_err(|_| "the Coolify API token contains characters not allowed in a header")?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        // Without it Laravel renders some errors (429, 405, 500) as HTML.
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));

        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .user_agent(concat!("devplane/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { http, api })
    }

    /// `GET /version`: the plain version string, e.g. `4.3.11`.
    pub async fn version(&self) -> Result<String> {
        let response = self.send(Method::GET, "version", &[], None).await?;
        let text = response.text().await.map_err(read_error)?;
        Ok(text.trim().trim_matches('"').to_owned())
    }

    /// `GET /health` (no auth needed; we send it anyway): `OK` when Coolify is up.
    pub async fn health(&self) -> Result<()> {
        self.send(Method::GET, "health", &[], None).await.map(drop)
    }

    pub async fn list_projects(&self) -> Result<Vec<Project>> {
        self.json(Method::GET, "projects", &[], None).await
    }

    pub async fn get_project(&self, uuid: &str) -> Result<Project> {
        self.json(
            Method::GET,
            &format!("projects/{}", segment(uuid)),
            &[],
            None,
        )
        .await
    }

    /// `POST /projects` → the new project's uuid (Coolify adds a `production` environment).
    pub async fn create_project(&self, name: &str, description: &str) -> Result<String> {
        let body = serde_json::json!({ "name": name, "description": description });
        let created: Created = self
            .json(Method::POST, "projects", &[], Some(&body))
            .await?;
        Ok(created.uuid)
    }

    /// `POST /services` with a raw compose file → the new service's uuid.
    pub async fn create_service(&self, request: &CreateService<'_>) -> Result<String> {
        let body = serde_json::json!({
            "project_uuid": request.project_uuid,
            "server_uuid": request.server_uuid,
            "environment_name": request.environment_name,
            "environment_uuid": request.environment_uuid,
            "name": request.name,
            "description": request.description,
            "docker_compose_raw": encode_compose(request.compose),
            "instant_deploy": request.instant_deploy,
        });
        let created: Created = self
            .json(Method::POST, "services", &[], Some(&body))
            .await?;
        Ok(created.uuid)
    }

    pub async fn list_services(&self) -> Result<Vec<Service>> {
        self.json(Method::GET, "services", &[], None).await
    }

    pub async fn get_service(&self, uuid: &str) -> Result<Service> {
        self.json(
            Method::GET,
            &format!("services/{}", segment(uuid)),
            &[],
            None,
        )
        .await
    }

    /// `POST /services/{uuid}/start`. Coolify queues the start and returns at once.
    pub async fn start_service(&self, uuid: &str) -> Result<Transition> {
        self.transition(uuid, "start", &[], Some("already running"))
            .await
    }

    /// `POST /services/{uuid}/stop`: `docker stop` then `docker rm -f`; volumes are kept.
    pub async fn stop_service(&self, uuid: &str) -> Result<Transition> {
        self.transition(
            uuid,
            "stop",
            &[("docker_cleanup", "false")],
            Some("already stopped"),
        )
        .await
    }

    /// `POST /services/{uuid}/restart`: a start with a stop first (never "nothing to do").
    pub async fn restart_service(&self, uuid: &str) -> Result<()> {
        self.transition(uuid, "restart", &[], None).await.map(drop)
    }

    /// `DELETE /services/{uuid}`: queued; volumes go only when asked.
    pub async fn delete_service(&self, uuid: &str, delete_volumes: bool) -> Result<()> {
        let query = [
            (
                "delete_volumes",
                if delete_volumes { "true" } else { "false" },
            ),
            ("delete_configurations", "true"),
            ("delete_connected_networks", "true"),
            ("docker_cleanup", "false"),
        ];
        self.json::<Message>(
            Method::DELETE,
            &format!("services/{}", segment(uuid)),
            &query,
            None,
        )
        .await
        .map(drop)
    }

    pub async fn get_server(&self, uuid: &str) -> Result<Server> {
        self.json(
            Method::GET,
            &format!("servers/{}", segment(uuid)),
            &[],
            None,
        )
        .await
    }

    async fn transition(
        &self,
        uuid: &str,
        action: &str,
        query: &[(&str, &str)],
        nothing_to_do: Option<&str>,
    ) -> Result<Transition> {
        let path = format!("services/{}/{action}", segment(uuid));
        match self.json::<Message>(Method::POST, &path, query, None).await {
            Ok(_) => Ok(Transition::Queued),
            // Coolify answers 400 "Service is already running/stopped." when there is
            // nothing to do; the state we asked for holds, so it is not a failure.
            Err(e)
                if e.kind == UpstreamKind::Rejected
                    && nothing_to_do
                        .is_some_and(|text| e.message.to_lowercase().contains(text)) =>
            {
                Ok(Transition::AlreadyDone)
            }
            Err(e) => Err(e),
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T> {
        let response = self.send(method, path, query, body).await?;
        let bytes = response.bytes().await.map_err(read_error)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            UpstreamError::new(
                Upstream::Coolify,
                UpstreamKind::BadResponse,
                format!("unreadable answer to {path}: {e}"),
            )
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let url = self.api.join(path).map_err(|e| {
            UpstreamError::new(
                Upstream::Coolify,
                UpstreamKind::Rejected,
                format!("bad path {path}: {e}"),
            )
        })?;
        let mut request = self.http.request(method.clone(), url);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&e, path))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        Err(status_error(status, retry_after, &text, &method, path))
    }
}

/// Coolify checks `base64_encode(base64_decode(s, true)) === s`: standard alphabet, padded,
/// no line breaks.
pub fn encode_compose(compose: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(compose.as_bytes())
}

/// Uuids come from our database or from Coolify; keep them to one path segment regardless.
fn segment(uuid: &str) -> String {
    uuid.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn transport_error(e: &reqwest::Error, path: &str) -> UpstreamError {
    if e.is_timeout() {
        UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::Timeout,
            format!("no answer to {path} in time"),
        )
    } else if e.is_connect() {
        // Nothing reached Coolify: the request certainly did not happen.
        UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::Unavailable,
            format!("cannot connect for {path}"),
        )
        .outcome_unknown(false)
    } else {
        UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::Unavailable,
            format!("request {path} failed: {}", without_url(e)),
        )
        .outcome_unknown(true)
    }
}

fn read_error(e: reqwest::Error) -> UpstreamError {
    let kind = if e.is_timeout() {
        UpstreamKind::Timeout
    } else {
        UpstreamKind::BadResponse
    };
    UpstreamError::new(
        Upstream::Coolify,
        kind,
        format!("reading the answer failed: {}", without_url(&e)),
    )
}

/// reqwest's messages include the URL; ours is not secret, but keep messages short and stable.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}

fn status_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
    method: &Method,
    path: &str,
) -> UpstreamError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let describe = |what: &str| {
        let mut text = format!("{method} {path}: {what} ({status})");
        if !message.is_empty() {
            text.push_str(": ");
            text.push_str(&message);
        }
        text
    };
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::Unauthorized,
            describe("the API token was refused"),
        ),
        StatusCode::NOT_FOUND => UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::NotFound,
            describe("not found"),
        ),
        StatusCode::TOO_MANY_REQUESTS => UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::RateLimited { retry_after },
            describe("rate limited"),
        ),
        s if s.is_server_error() => UpstreamError::new(
            Upstream::Coolify,
            UpstreamKind::Unavailable,
            describe("server error"),
        )
        .outcome_unknown(true),
        _ => {
            // 400/409/422: `errors` has no fixed shape (map of lists, plain string, list).
            let mut text = describe("rejected");
            if let Some(errors) = parsed.as_ref().and_then(|v| v.get("errors")) {
                text.push_str(&format!("; errors: {}", validation_summary(errors)));
            }
            UpstreamError::new(Upstream::Coolify, UpstreamKind::Rejected, text)
        }
    }
}

/// Flattens a 422 `errors` value of any shape into one line.
fn validation_summary(errors: &Value) -> String {
    match errors {
        Value::Object(map) => map
            .iter()
            .map(|(field, v)| format!("{field}: {}", validation_summary(v)))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Array(items) => items
            .iter()
            .map(validation_summary)
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_is_padded_standard_base64_on_one_line() {
        let encoded = encode_compose("services:\n  a:\n    image: x?\n");
        assert!(!encoded.contains('\n'));
        assert!(encoded.ends_with('='));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&encoded)
            .unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(decoded),
            encoded
        );
    }

    #[test]
    fn validation_errors_of_every_shape_are_summarised() {
        let map = serde_json::json!({"name": ["too long"], "docker_compose_raw": "not base64"});
        let text = validation_summary(&map);
        assert!(text.contains("name: too long") && text.contains("docker_compose_raw: not base64"));
        assert_eq!(validation_summary(&serde_json::json!(["a", "b"])), "a, b");
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let e = status_error(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(7)),
            r#"{"message":"Too Many Attempts."}"#,
            &Method::POST,
            "services",
        );
        assert_eq!(
            e.kind,
            UpstreamKind::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(!e.outcome_unknown);
        let e = status_error(
            StatusCode::BAD_GATEWAY,
            None,
            "<html>",
            &Method::POST,
            "services",
        );
        assert_eq!(e.kind, UpstreamKind::Unavailable);
        assert!(e.outcome_unknown);
        let e = status_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            r#"{"message":"Validation failed.","errors":{"x":["y"]}}"#,
            &Method::POST,
            "services",
        );
        assert_eq!(e.kind, UpstreamKind::Rejected);
        assert!(e.message.contains("x: y"));
    }
}
