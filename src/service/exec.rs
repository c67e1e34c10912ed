//! `exec` in a project's dev container: validation, resume-within-quota, container
//! resolution (cached, exact label match), the run itself, and activity tracking.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

use base64::Engine;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::{
    app::AppState,
    config::valid_user,
    domain::{ProjectId, WorkspaceId},
    error::{Error, Result},
    runner::{
        containers,
        exec::{self, EXEC_MARKER_VAR, ExecError, ExecOutput, ExecSpec, OutputChunk},
    },
    service::{lifecycle, projects},
    store::{self, dev_containers::DevContainerRow},
};

/// The dev container's own user; others need `exec.allowed_users`.
pub const DEFAULT_USER: &str = "vibn";
pub const DEFAULT_CWD: &str = "/workspace";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// Shell command text, run by `bash -c` in the container exactly as given.
    pub command: String,
    /// Working directory (default `/workspace`).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra environment variables, passed literally.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// Deadline, enforced inside the container; the whole process tree is killed at it.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Cap on stdout + stderr returned; the rest is drained and dropped.
    #[serde(default)]
    pub max_bytes: Option<usize>,
    /// User to run as (default `vibn`).
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecResult {
    pub exit_code: i64,
    /// stdout as UTF-8 (invalid bytes replaced; see `stdout_base64`).
    pub stdout: String,
    pub stderr: String,
    /// The exact bytes, present only when stdout is not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_base64: Option<String>,
    pub truncated: bool,
    pub timed_out: bool,
    pub duration_ms: u64,
}

impl From<ExecOutput> for ExecResult {
    fn from(out: ExecOutput) -> Self {
        let (stdout, stdout_base64) = text_and_bytes(out.stdout);
        let (stderr, stderr_base64) = text_and_bytes(out.stderr);
        Self {
            exit_code: out.exit_code,
            stdout,
            stderr,
            stdout_base64,
            stderr_base64,
            truncated: out.truncated,
            timed_out: out.timed_out,
            duration_ms: out.duration.as_millis() as u64,
        }
    }
}

fn text_and_bytes(bytes: Vec<u8>) -> (String, Option<String>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let bytes = e.into_bytes();
            let exact = base64::engine::general_purpose::STANDARD.encode(&bytes);
            (String::from_utf8_lossy(&bytes).into_owned(), Some(exact))
        }
    }
}

/// Service uuid → id of its running dev container. Entries are verified by use (an exec on a
/// gone container fails and re-resolves) and dropped on every lifecycle change.
#[derive(Default)]
pub struct ContainerCache(Mutex<HashMap<String, String>>);

impl ContainerCache {
    fn get(&self, service_uuid: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(service_uuid)
            .cloned()
    }

    fn insert(&self, service_uuid: &str, container: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service_uuid.to_owned(), container.to_owned());
    }

    pub fn forget(&self, service_uuid: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(service_uuid);
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks a request against the limits and turns it into a spec. Every field is named.
pub fn validate(state: &AppState, request: &ExecRequest) -> Result<ExecSpec> {
    let limits = &state.config.exec;
    if request.command.trim().is_empty() {
        return Err(Error::validation("command", "must not be empty"));
    }
    if request.command.contains('\0') {
        return Err(Error::validation("command", "must not contain NUL bytes"));
    }
    if request.command.len() > limits.max_command_bytes {
        return Err(Error::too_large(
            "command",
            format!(
                "is {} bytes; the limit is {}",
                request.command.len(),
                limits.max_command_bytes
            ),
        ));
    }
    let cwd = request
        .cwd
        .clone()
        .unwrap_or_else(|| DEFAULT_CWD.to_owned());
    if !cwd.starts_with('/') || cwd.contains('\0') || cwd.len() > 4096 {
        return Err(Error::validation(
            "cwd",
            "must be an absolute path without NUL bytes",
        ));
    }
    let mut env = Vec::new();
    let mut env_bytes = 0usize;
    for (name, value) in request.env.iter().flatten() {
        if !is_env_name(name) || name == EXEC_MARKER_VAR {
            return Err(Error::validation(
                format!("env.{name}"),
                "names are letters, digits and '_', not starting with a digit (VIBN_EXEC_ID is reserved)",
            ));
        }
        if value.contains('\0') {
            return Err(Error::validation(
                format!("env.{name}"),
                "must not contain NUL bytes",
            ));
        }
        env_bytes += name.len() + value.len() + 2;
        env.push((name.clone(), value.clone()));
    }
    if env.len() > 256 || env_bytes > limits.max_command_bytes {
        return Err(Error::too_large(
            "env",
            "too many or too large environment variables",
        ));
    }
    let timeout_ms = request.timeout_ms.unwrap_or(limits.default_timeout_ms);
    if timeout_ms == 0 || timeout_ms > limits.max_timeout_ms {
        return Err(Error::validation(
            "timeout_ms",
            format!("must be between 1 and {}", limits.max_timeout_ms),
        ));
    }
    let max_bytes = request.max_bytes.unwrap_or(limits.default_max_bytes);
    if max_bytes == 0 || max_bytes > limits.max_output_bytes {
        return Err(Error::validation(
            "max_bytes",
            format!("must be between 1 and {}", limits.max_output_bytes),
        ));
    }
    let user = request
        .user
        .clone()
        .unwrap_or_else(|| DEFAULT_USER.to_owned());
    if !valid_user(&user) {
        return Err(Error::validation("user", "is not a valid user name"));
    }
    if !limits.allowed_users.contains(&user) {
        return Err(Error::invalid(
            "USER_NOT_ALLOWED",
            "user",
            format!("running as {user:?} is not allowed by this deployment (exec.allowed_users)"),
        ));
    }
    Ok(ExecSpec {
        argv: vec!["/bin/bash".into(), "-c".into(), request.command.clone()],
        user,
        cwd,
        env,
        stdin: None,
        timeout: Duration::from_millis(timeout_ms),
        max_bytes,
    })
}

/// The checks every in-container operation starts with.
pub async fn prepare(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<DevContainerRow> {
    projects::require(state, workspace, project_id).await?;
    lifecycle::ready_for_exec(state, workspace, project_id).await
}

/// Runs `spec` in the dev container of `row` and records the activity.
pub async fn run(
    state: &AppState,
    row: &DevContainerRow,
    spec: &ExecSpec,
    sink: Option<mpsc::Sender<OutputChunk>>,
) -> Result<ExecOutput> {
    let service_uuid = row
        .service_uuid
        .as_deref()
        .ok_or_else(Error::dev_container_not_found)?;
    let mut retried = false;
    let output = loop {
        let container = resolve(state, service_uuid).await?;
        match exec::run(state.runner.as_ref(), &container, spec, sink.clone()).await {
            Ok(output) => break output,
            Err(ExecError::ContainerUnavailable(reason)) if !retried => {
                // The cached container is gone (restarted, recreated): look again, once.
                tracing::debug!(service_uuid, %reason, "dev container changed; resolving again");
                state.containers.forget(service_uuid);
                retried = true;
            }
            Err(ExecError::ContainerUnavailable(reason)) => {
                state.containers.forget(service_uuid);
                return Err(Error::conflict(
                    "DEV_CONTAINER_NOT_RUNNING",
                    format!("the dev container is not running: {reason}"),
                ));
            }
            Err(ExecError::Upstream(e)) => return Err(e.into()),
        }
    };
    // The command ran: its output goes back even if recording the activity fails, so that
    // nobody retries a command that already happened.
    if let Err(e) = store::dev_containers::touch_activity(&state.db, &row.project_id).await {
        tracing::warn!(project_id = %row.project_id, error = %e, "could not record exec activity");
    }
    Ok(output)
}

/// The running container of a service: cached, else found by exact labels, waiting a while
/// for one that is still starting (Coolify starts services asynchronously).
async fn resolve(state: &AppState, service_uuid: &str) -> Result<String> {
    if let Some(id) = state.containers.get(service_uuid) {
        return Ok(id);
    }
    let deadline = Instant::now() + Duration::from_millis(state.config.exec.container_wait_ms);
    loop {
        if let Some(id) =
            containers::running_dev_container(state.runner.as_ref(), service_uuid).await?
        {
            state.containers.insert(service_uuid, &id);
            return Ok(id);
        }
        if Instant::now() >= deadline {
            return Err(Error::conflict(
                "DEV_CONTAINER_NOT_RUNNING",
                "the dev container did not come up in time; check its status or resume it",
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
