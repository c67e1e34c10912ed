//! The Docker engine of this machine.

use std::{process::Stdio, time::Duration};

use async_trait::async_trait;
use bollard::{API_DEFAULT_VERSION, Docker};
use tokio::{process::Command, sync::OnceCell};

use super::{HostOutput, Result, Runner, docker_error, feed_stdin};
use crate::error::{Upstream, UpstreamError, UpstreamKind};

pub struct LocalRunner {
    socket: String,
    /// Connected (and API version negotiated) on first use.
    docker: OnceCell<Docker>,
}

impl LocalRunner {
    pub fn new(socket: &str) -> Self {
        Self {
            socket: socket.to_owned(),
            docker: OnceCell::new(),
        }
    }
}

#[async_trait]
impl Runner for LocalRunner {
    fn describe(&self) -> String {
        format!("local Docker engine at {}", self.socket)
    }

    fn transport(&self) -> Upstream {
        Upstream::Docker
    }

    async fn docker(&self) -> Result<Docker> {
        self.docker
            .get_or_try_init(|| async {
                let docker = Docker::connect_with_unix(&self.socket, 120, API_DEFAULT_VERSION)
                    .map_err(|e| docker_error(Upstream::Docker, e))?;
                // The CLI or this client may be newer than the engine: speak the engine's API.
                docker
                    .negotiate_version()
                    .await
                    .map_err(|e| docker_error(Upstream::Docker, e))
            })
            .await
            .cloned()
    }

    async fn transport_failed(&self) {}

    async fn host_command(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<HostOutput> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                UpstreamError::new(
                    Upstream::Docker,
                    UpstreamKind::Unavailable,
                    format!("cannot run {program}: {e}"),
                )
            })?;
        if let (Some(bytes), Some(pipe)) = (stdin, child.stdin.take()) {
            feed_stdin(pipe, bytes);
        }
        let output = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                UpstreamError::new(
                    Upstream::Docker,
                    UpstreamKind::Timeout,
                    format!("{program} did not finish within {}s", timeout.as_secs()),
                )
            })?
            .map_err(|e| {
                UpstreamError::new(
                    Upstream::Docker,
                    UpstreamKind::Failed,
                    format!("{program} failed: {e}"),
                )
            })?;
        Ok(HostOutput {
            status: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }
}
