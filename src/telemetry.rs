//! Logging: human-readable text, or one JSON object per line for log pipelines.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{LogFormat, ServerConfig};

/// Installs the global subscriber. The filter comes from `server.log_filter` (`VIBN_LOG`).
pub fn init(server: &ServerConfig) -> Result<(), String> {
    let filter = EnvFilter::try_new(&server.log_filter)
        .map_err(|e| format!("invalid setting server.log_filter (VIBN_LOG): {e}"))?;
    // Logs go to stderr: stdout is for command output (`devplane token create`, `openapi`).
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match server.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|e| format!("cannot install the logger: {e}"))
}
