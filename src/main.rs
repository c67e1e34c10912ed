//! The `devplane` command line: serve, migrate, token, openapi.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use devplane::{
    app::{self, AppState},
    config::Config,
    domain::WorkspaceId,
    http, service, store, telemetry,
};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "devplane",
    version,
    about = "Control plane for per-project AI dev containers"
)]
struct Cli {
    /// Configuration file (default: config/default.toml when it exists). The environment
    /// overrides it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (runs migrations first unless database.migrate_on_start=false).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage workspace tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a workspace token and print it (it is shown this once; only its hash is kept).
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long, default_value = "")]
        label: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        return match http::openapi_document().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("cannot render the OpenAPI document: {e}")),
        };
    }
    let config = match Config::from_env(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return fail(e.to_string()),
    };
    if let Err(e) = telemetry::init(&config.server) {
        return fail(e);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(&config).await,
            Command::Token {
                action: TokenCommand::Create { workspace, label },
            } => create_token(&config, &workspace, &label).await,
            Command::Openapi => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("devplane: {message}");
    ExitCode::FAILURE
}

async fn serve(config: Config) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let listener = app::listen(&config).await.map_err(|e| e.to_string())?;
    tracing::info!(addr = %config.server.listen, "listening");
    let state = AppState::build(config, shutdown).map_err(|e| e.to_string())?;
    state.serve(listener).await.map_err(|e| e.to_string())
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

async fn pool(config: &Config) -> Result<sqlx::PgPool, String> {
    let url = config
        .database
        .url
        .as_ref()
        .ok_or("database.url (DATABASE_URL) is required")?;
    store::pool(
        url.expose_secret(),
        config.database.max_connections,
        std::time::Duration::from_millis(config.database.acquire_timeout_ms),
    )
    .map_err(|e| format!("database: {e}"))
}

async fn migrate(config: &Config) -> Result<(), String> {
    let db = pool(config).await?;
    store::MIGRATOR
        .run(&db)
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    println!("migrations applied");
    Ok(())
}

async fn create_token(config: &Config, workspace: &str, label: &str) -> Result<(), String> {
    let workspace = WorkspaceId::parse(workspace).map_err(|e| e.to_string())?;
    let db = pool(config).await?;
    let created = service::auth::create_token(&db, &workspace, label)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", created.token);
    eprintln!(
        "token {} for workspace {workspace}: store it now, it is not shown again",
        created.id
    );
    Ok(())
}
