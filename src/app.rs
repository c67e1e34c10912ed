//! The application: its shared state, how it is built from configuration, and how it serves.

use std::{ops::Deref, sync::Arc, time::Duration};

use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{Config, OrchestratorKind, RunnerKind},
    coolify::CoolifyClient,
    ids,
    orchestrator::{Orchestrator, coolify::CoolifyOrchestrator, docker::DockerOrchestrator},
    runner::{Runner, local::LocalRunner, ssh::SshRunner},
    service::{exec::ContainerCache, lifecycle},
    store,
};

/// Everything a request handler, an MCP tool or a background loop needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub config: Config,
    pub db: PgPool,
    pub orchestrator: Arc<dyn Orchestrator>,
    pub runner: Arc<dyn Runner>,
    /// Resolved dev container per service uuid; dropped on every lifecycle change.
    pub containers: ContainerCache,
    /// SHA-256 of each operator token, compared in constant time.
    pub operator_token_hashes: Vec<Vec<u8>>,
    /// Lifecycle calls that hold a project lock at once. Each holds a database connection
    /// while it works, so this stays well under the pool size: no pool starvation.
    pub lifecycle_slots: Semaphore,
    /// Cancelled on shutdown; every background loop watches it.
    pub shutdown: CancellationToken,
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl AppState {
    /// Builds the state: database pool, runner, orchestrator. Nothing is contacted yet
    /// except what `migrate_on_start` needs.
    pub fn build(config: Config, shutdown: CancellationToken) -> Result<Self, StartError> {
        let url =
            config.database.url.as_ref().ok_or_else(|| {
                StartError::Setup("database.url (DATABASE_URL) is required".into())
            })?;
        let db = store::pool(
            url.expose_secret(),
            config.database.max_connections,
            Duration::from_millis(config.database.acquire_timeout_ms),
        )?;

        let runner: Arc<dyn Runner> = match config.runner.kind {
            RunnerKind::Local => Arc::new(LocalRunner::new(&config.docker.socket)),
            RunnerKind::Ssh => SshRunner::start(config.ssh.clone(), shutdown.clone()),
        };
        let orchestrator: Arc<dyn Orchestrator> = match config.orchestrator.kind {
            OrchestratorKind::Coolify => {
                let c = &config.coolify;
                let (Some(url), Some(token), Some(server)) = (&c.url, &c.api_token, &c.server_uuid)
                else {
                    return Err(StartError::Setup(
                        "the coolify orchestrator needs coolify.url, coolify.api_token and coolify.server_uuid".into(),
                    ));
                };
                let client = CoolifyClient::new(
                    url,
                    token,
                    config.coolify_timeout(),
                    Duration::from_millis(c.connect_timeout_ms),
                )
                .map_err(StartError::Setup)?;
                Arc::new(CoolifyOrchestrator::new(
                    client,
                    server.clone(),
                    c.environment_name.clone(),
                    config.orchestrator.deployment_id.clone(),
                ))
            }
            OrchestratorKind::Docker => Arc::new(DockerOrchestrator::new(
                runner.clone(),
                config.orchestrator.deployment_id.clone(),
            )),
        };

        let operator_token_hashes = config
            .auth
            .operator_tokens
            .iter()
            .map(|t| ids::token_hash(t.expose_secret()))
            .collect();
        // A lifecycle call holds at most two connections (its lock and its work): a third of
        // the pool leaves the rest for everything else.
        let lifecycle_slots = Semaphore::new((config.database.max_connections / 3).max(1) as usize);
        Ok(Self(Arc::new(App {
            config,
            db,
            orchestrator,
            runner,
            containers: ContainerCache::default(),
            operator_token_hashes,
            lifecycle_slots,
            shutdown,
        })))
    }

    /// Runs the service until `shutdown` is cancelled: migrations (when configured), the
    /// reconciler, and the HTTP server on `listener`.
    pub async fn serve(self, listener: TcpListener) -> Result<(), StartError> {
        if self.config.database.migrate_on_start {
            store::MIGRATOR.run(&self.db).await?;
        }
        let reconciler = tokio::spawn(lifecycle::reconcile_loop(self.clone()));

        let router = crate::http::router(self.clone());
        let shutdown = self.shutdown.clone();
        let grace = Duration::from_secs(self.config.server.shutdown_grace_secs);
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            shutdown.cancelled().await;
        });
        tracing::info!(
            orchestrator = ?self.config.orchestrator.kind,
            runner = %self.runner.describe(),
            "devplane is serving"
        );
        let shutdown = self.shutdown.clone();
        let served = tokio::select! {
            served = server => served,
            // Open streams (SSE) would keep a graceful shutdown waiting forever.
            _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!("shutdown grace period over; closing remaining connections");
                Ok(())
            }
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server failed");
        }
        reconciler.abort();
        self.runner.close().await;
        self.db.close().await;
        Ok(())
    }
}

/// Binds the configured address.
pub async fn listen(config: &Config) -> Result<TcpListener, StartError> {
    let addr = config.server.listen;
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}
