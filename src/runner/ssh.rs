//! A remote Docker engine over multiplexed SSH (the `openssh` crate, native mux).
//!
//! The runner keeps a small pool of OpenSSH master connections to the host. Host keys are
//! checked strictly against the configured known_hosts file. On every master, the engine's
//! unix socket is forwarded to a local socket, and a Docker API client talks through it:
//! forwarded streams are not sessions, so they do not count against sshd's `MaxSessions`;
//! host commands (Docker Compose) do, and are gated per master by a semaphore of that size.
//!
//! A master that dies is noticed by a health check, or by the first call that fails on it,
//! and rebuilt with capped exponential backoff; a call never waits longer than the connect
//! timeout for a host that is down.

use std::{
    num::NonZeroUsize,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bollard::{API_DEFAULT_VERSION, Docker};
use openssh::{ControlPersist, ForwardType, KnownHosts, Session, SessionBuilder, Socket, Stdio};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{HostOutput, Result, Runner, feed_stdin};
use crate::{
    config::SshConfig,
    error::{Upstream, UpstreamError, UpstreamKind},
};

/// Longest pause between reconnection attempts of one master.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How long the health check waits for the engine's answer through a master.
const HEALTH_PING_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SshRunner {
    config: SshConfig,
    masters: Vec<Master>,
    next: AtomicUsize,
}

struct Master {
    index: usize,
    /// The live connection, if any. Swapped whole; readers clone the `Arc`.
    current: Mutex<Option<Arc<Connection>>>,
    /// Serialises reconnection attempts and holds the backoff state.
    reconnect: tokio::sync::Mutex<Backoff>,
    /// Session channels in use on this master (sshd's `MaxSessions`).
    sessions: Semaphore,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    not_before: Option<Instant>,
    last_error: Option<UpstreamError>,
}

struct Connection {
    session: Session,
    docker: Docker,
}

impl SshRunner {
    /// Builds the pool and starts its health checks; connections open on first use.
    pub fn start(config: SshConfig, shutdown: CancellationToken) -> Arc<Self> {
        let masters = (0..config.connections)
            .map(|index| Master {
                index,
                current: Mutex::new(None),
                reconnect: tokio::sync::Mutex::new(Backoff::default()),
                sessions: Semaphore::new(config.max_sessions),
            })
            .collect();
        let runner = Arc::new(Self {
            config,
            masters,
            next: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&runner);
        let interval = Duration::from_secs(runner.config.health_interval_secs.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let Some(runner) = weak.upgrade() else { break };
                runner.health_check().await;
            }
        });
        runner
    }

    fn destination(&self) -> String {
        self.config.host.clone().unwrap_or_default()
    }

    fn pick(&self) -> &Master {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.masters.len();
        &self.masters[i]
    }

    fn live(master: &Master) -> Option<Arc<Connection>> {
        master
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn replace(master: &Master, connection: Option<Arc<Connection>>) -> Option<Arc<Connection>> {
        std::mem::replace(
            &mut *master
                .current
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            connection,
        )
    }

    /// The master's live connection, connecting first if needed (and allowed by backoff).
    async fn connection(&self, master: &Master) -> Result<Arc<Connection>> {
        if let Some(live) = Self::live(master) {
            return Ok(live);
        }
        let mut backoff = master.reconnect.lock().await;
        if let Some(live) = Self::live(master) {
            return Ok(live); // someone else reconnected while we waited
        }
        if let Some(not_before) = backoff.not_before
            && Instant::now() < not_before
        {
            let last = backoff.last_error.clone().unwrap_or_else(|| {
                UpstreamError::new(Upstream::Ssh, UpstreamKind::Unavailable, "reconnecting")
            });
            return Err(last);
        }
        match self.connect(master.index).await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                Self::replace(master, Some(connection.clone()));
                if backoff.failures > 0 {
                    tracing::info!(master = master.index, "SSH master reconnected");
                }
                *backoff = Backoff::default();
                Ok(connection)
            }
            Err(e) => {
                backoff.failures += 1;
                let delay =
                    Duration::from_millis(100u64 << backoff.failures.min(5)).min(MAX_BACKOFF);
                backoff.not_before = Some(Instant::now() + delay);
                backoff.last_error = Some(e.clone());
                tracing::warn!(master = master.index, error = %e, retry_in_ms = delay.as_millis() as u64, "SSH connection failed");
                Err(e)
            }
        }
    }

    async fn connect(&self, index: usize) -> Result<Connection> {
        let c = &self.config;
        let mut builder = SessionBuilder::default();
        builder
            .user(c.user.clone())
            .port(c.port)
            .known_hosts_check(KnownHosts::Strict)
            .connect_timeout(Duration::from_secs(c.connect_timeout_secs))
            .server_alive_interval(Duration::from_secs(15))
            .control_directory(&c.control_dir)
            // The health check's ping resets the idle timer while we live; after a crash
            // the orphaned master exits on its own instead of lingering forever.
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new((c.health_interval_secs as usize).saturating_mul(4).max(60))
                    .unwrap_or(NonZeroUsize::MIN),
            ));
        if let Some(key) = &c.key_path {
            builder.keyfile(key);
        }
        if let Some(known_hosts) = &c.known_hosts_path {
            builder.user_known_hosts_file(known_hosts);
        }
        // Bounded even if ssh ignored ConnectTimeout (e.g. a host that accepts and stalls).
        let limit = Duration::from_secs(c.connect_timeout_secs + 2);
        let session = tokio::time::timeout(limit, builder.connect_mux(self.destination()))
            .await
            .map_err(|_| ssh_error(UpstreamKind::Timeout, "connecting timed out"))?
            .map_err(|e| {
                ssh_error(
                    UpstreamKind::Unavailable,
                    format!("cannot connect: {}", error_chain(&e)),
                )
            })?;

        let local: PathBuf = session
            .control_socket()
            .parent()
            .map(|dir| dir.join(format!("docker-{index}.sock")))
            .ok_or_else(|| ssh_error(UpstreamKind::Failed, "control socket has no directory"))?;
        session
            .request_port_forward(
                ForwardType::Local,
                Socket::UnixSocket {
                    path: local.clone().into(),
                },
                Socket::UnixSocket {
                    path: PathBuf::from(&c.docker_socket).into(),
                },
            )
            .await
            .map_err(|e| {
                ssh_error(
                    UpstreamKind::Failed,
                    format!("cannot forward the Docker socket: {}", error_chain(&e)),
                )
            })?;

        let local = local.to_string_lossy().into_owned();
        let docker = Docker::connect_with_unix(&local, 120, API_DEFAULT_VERSION)
            .map_err(|e| {
                ssh_error(
                    UpstreamKind::Failed,
                    format!("forwarded socket unusable: {e}"),
                )
            })?
            .negotiate_version()
            .await
            .map_err(|e| {
                UpstreamError::new(
                    Upstream::Docker,
                    UpstreamKind::Unavailable,
                    format!("the Docker engine does not answer through SSH: {e}"),
                )
            })?;
        tracing::info!(master = index, host = %self.destination(), "SSH master connected");
        Ok(Connection { session, docker })
    }

    /// Drops masters whose mux check fails, then reconnects them in the background.
    async fn health_check(&self) {
        for master in &self.masters {
            if let Some(connection) = Self::live(master) {
                // A ping of the engine through the forwarded socket checks the whole path, and
                // opens a channel: that is what resets the master's idle timer (a mux check
                // alone does not), so a master in use never idles out.
                let ping = tokio::time::timeout(HEALTH_PING_TIMEOUT, connection.docker.ping());
                if matches!(ping.await, Ok(Ok(_))) || connection.session.check().await.is_ok() {
                    continue;
                }
                tracing::warn!(master = master.index, "SSH master is gone; reconnecting");
                Self::replace(master, None);
            }
            let _ = self.connection(master).await;
        }
    }

    /// Checks every live master now, dropping dead ones (after a transport failure).
    async fn drop_dead(&self) {
        for master in &self.masters {
            if let Some(connection) = Self::live(master)
                && connection.session.check().await.is_err()
            {
                tracing::warn!(master = master.index, "SSH master is gone");
                Self::replace(master, None);
            }
        }
    }
}

fn ssh_error(kind: UpstreamKind, message: impl Into<String>) -> UpstreamError {
    UpstreamError::new(Upstream::Ssh, kind, message)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl Runner for SshRunner {
    fn describe(&self) -> String {
        format!(
            "Docker engine at {}@{}:{} over SSH ({} masters)",
            self.config.user,
            self.destination(),
            self.config.port,
            self.masters.len()
        )
    }

    fn transport(&self) -> Upstream {
        Upstream::Ssh
    }

    async fn docker(&self) -> Result<Docker> {
        let first = self.pick();
        match self.connection(first).await {
            Ok(c) => Ok(c.docker.clone()),
            Err(e) => {
                // Another master may still be up.
                for master in &self.masters {
                    if master.index != first.index
                        && let Some(c) = Self::live(master)
                    {
                        return Ok(c.docker.clone());
                    }
                }
                Err(e)
            }
        }
    }

    async fn transport_failed(&self) {
        self.drop_dead().await;
    }

    async fn host_command(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<HostOutput> {
        let master = self.pick();
        let connection = self.connection(master).await?;
        let _permit = master
            .sessions
            .acquire()
            .await
            .map_err(|_| ssh_error(UpstreamKind::Unavailable, "shutting down"))?;
        let run = async {
            let mut command = connection.session.command(program);
            // Arguments are escaped for the remote shell by the crate; our programs and
            // arguments are fixed strings and uuids, and bulk input goes through stdin.
            command
                .args(args)
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = command.spawn().await.map_err(|e| {
                ssh_error(
                    UpstreamKind::Unavailable,
                    format!("cannot start {program}: {}", error_chain(&e)),
                )
            })?;
            if let (Some(bytes), Some(pipe)) = (stdin, child.stdin().take()) {
                feed_stdin(pipe, bytes);
            }
            child.wait_with_output().await.map_err(|e| {
                ssh_error(
                    UpstreamKind::Failed,
                    format!("{program} failed: {}", error_chain(&e)),
                )
            })
        };
        let output = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => {
                self.drop_dead().await;
                return Err(e);
            }
            Err(_) => {
                return Err(ssh_error(
                    UpstreamKind::Timeout,
                    format!("{program} did not finish within {}s", timeout.as_secs()),
                ));
            }
        };
        Ok(HostOutput {
            status: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }

    async fn close(&self) {
        for master in &self.masters {
            if let Some(connection) = Self::replace(master, None)
                && let Ok(connection) = Arc::try_unwrap(connection)
                && let Err(e) = connection.session.close().await
            {
                tracing::debug!(master = master.index, error = %e, "closing SSH master");
            }
        }
    }
}
