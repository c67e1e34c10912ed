//! How the control plane reaches the Docker engine that runs the dev containers.
//!
//! A [`Runner`] hands out a Docker Engine API client for that host and runs host commands
//! (Docker Compose) there. Two implementations:
//! - [`local::LocalRunner`]: the engine on this machine, through its unix socket;
//! - [`ssh::SshRunner`]: a remote engine (the Coolify server), through a pool of multiplexed
//!   OpenSSH master connections with strict host-key checking. The engine's socket is forwarded
//!   over each master, so an exec costs a few API round trips on an open connection: no
//!   `ssh` process, no remote shell, no `docker` CLI start-up per call, and no argument ever
//!   re-interpreted by a shell on the way.
//!
//! Exec itself ([`exec`]) and container resolution ([`containers`]) are written once, against
//! the Engine API, and serve both runners.

pub mod containers;
pub mod exec;
pub mod local;
pub mod ssh;

use std::{future::Future, time::Duration};

use async_trait::async_trait;
use bollard::{Docker, errors::Error as DockerError};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error::{Upstream, UpstreamError, UpstreamKind};

type Result<T> = std::result::Result<T, UpstreamError>;

/// Output of a command run on the Docker host.
#[derive(Debug, Clone)]
pub struct HostOutput {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[async_trait]
pub trait Runner: Send + Sync + 'static {
    /// A short description for logs and `/readyz`, without secrets.
    fn describe(&self) -> String;

    /// The upstream to blame when the path to the engine fails (`SSH` or `DOCKER`).
    fn transport(&self) -> Upstream;

    /// A Docker Engine API client for the host. Cheap; may (re)connect first.
    async fn docker(&self) -> Result<Docker>;

    /// Tells the runner that a client from [`Runner::docker`] failed at the transport level,
    /// so it can check its connections and drop dead ones before the next call.
    async fn transport_failed(&self);

    /// Runs `program args..` on the Docker host, feeding it `stdin`.
    async fn host_command(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<HostOutput>;

    /// Readiness: the engine answers through this runner. Returns its version.
    async fn check(&self) -> Result<String> {
        let version = self.docker().await?.version().await;
        match version {
            Ok(v) => Ok(format!(
                "Docker {} (API {})",
                v.version.unwrap_or_default(),
                v.api_version.unwrap_or_default()
            )),
            Err(e) => Err(docker_error(self.transport(), e)),
        }
    }

    /// Releases connections (graceful shutdown).
    async fn close(&self) {}
}

/// True when the request never got a proper answer from the engine (socket gone, connection
/// refused or reset), as opposed to an answer that says no.
pub fn is_transport_error(e: &DockerError) -> bool {
    !matches!(
        e,
        DockerError::DockerResponseServerError { .. }
            | DockerError::JsonDataError { .. }
            | DockerError::JsonSerdeError { .. }
            | DockerError::RequestTimeoutError
            | DockerError::APIVersionParseError { .. }
    )
}

/// Maps an Engine API failure to our error; `transport` names who to blame for transport ones.
pub fn docker_error(transport: Upstream, e: DockerError) -> UpstreamError {
    match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => {
            let kind = match status_code {
                404 => UpstreamKind::NotFound,
                400 | 409 => UpstreamKind::Rejected,
                503 => UpstreamKind::Unavailable,
                _ => UpstreamKind::Failed,
            };
            UpstreamError::new(Upstream::Docker, kind, format!("{status_code}: {message}"))
        }
        DockerError::RequestTimeoutError => UpstreamError::new(
            Upstream::Docker,
            UpstreamKind::Timeout,
            "the Docker engine did not answer in time",
        ),
        e @ (DockerError::JsonDataError { .. } | DockerError::JsonSerdeError { .. }) => {
            UpstreamError::new(Upstream::Docker, UpstreamKind::BadResponse, e.to_string())
        }
        other => UpstreamError::new(
            transport,
            UpstreamKind::Unavailable,
            format!("cannot reach the Docker engine: {other}"),
        ),
    }
}

/// Runs an idempotent Engine API call, retrying it once on a fresh connection when the first
/// attempt failed in transport (a dead SSH master, say). Calls that start processes must not
/// use this: a broken stream does not prove the process did not run.
pub async fn with_docker<T, F, Fut>(runner: &dyn Runner, call: F) -> Result<T>
where
    F: Fn(Docker) -> Fut,
    Fut: Future<Output = std::result::Result<T, DockerError>>,
{
    match call(runner.docker().await?).await {
        Ok(value) => Ok(value),
        Err(e) if is_transport_error(&e) => {
            tracing::debug!(error = %e, "Docker transport failed; retrying on a fresh connection");
            runner.transport_failed().await;
            call(runner.docker().await?)
                .await
                .map_err(|e| docker_error(runner.transport(), e))
        }
        Err(e) => Err(docker_error(runner.transport(), e)),
    }
}

/// Writes `bytes` to a child's stdin and closes it, concurrently with the caller reading the
/// child's output, so that a large input can never fill a pipe and deadlock both sides.
pub(crate) fn feed_stdin(mut pipe: impl AsyncWrite + Unpin + Send + 'static, bytes: &[u8]) {
    let bytes = bytes.to_vec();
    tokio::spawn(async move {
        let _ = pipe.write_all(&bytes).await;
        let _ = pipe.shutdown().await;
    });
}

/// The last lines of a command's stderr, for error messages.
pub fn stderr_tail(output: &HostOutput) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    lines[start..].join(" | ")
}
