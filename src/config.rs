//! Layered configuration: built-in defaults, then a TOML file, then the environment.
//!
//! The environment keeps the variable names of the TypeScript module this service replaces
//! (`VIBN_DEV_IMAGE`, `VIBN_QUOTA_MAX_*`, `COOLIFY_SSH_*`, `DATABASE_URL`, ...) so an existing
//! deployment's environment carries over; new settings use the `VIBN_` prefix. Every setting has
//! one TOML key and one variable, listed together in [`SETTINGS`], so errors can name both.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The file read when `--config` is not given, relative to the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "config/default.toml";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub dev_container: DevContainerConfig,
    pub quota: QuotaConfig,
    pub orchestrator: OrchestratorConfig,
    pub coolify: CoolifyConfig,
    pub runner: RunnerConfig,
    pub ssh: SshConfig,
    pub docker: DockerConfig,
    pub exec: ExecConfig,
    pub files: FilesConfig,
    pub lifecycle: LifecycleConfig,
    pub testing: TestingConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `devplane=debug,tower_http=info`.
    pub log_filter: String,
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            shutdown_grace_secs: 20,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Postgres URL; it usually carries a password, so it is a secret.
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 32,
            acquire_timeout_ms: 5_000,
            migrate_on_start: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Tokens that may act in every workspace (the frontend's backend, ops).
    pub operator_tokens: Vec<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevContainerConfig {
    pub image: String,
    pub cpu_limit: String,
    pub mem_limit: String,
    /// A hint only: compose cannot enforce disk size (kept for parity with the seed).
    pub disk_limit: String,
    pub preview_domain_base: String,
}

impl Default for DevContainerConfig {
    fn default() -> Self {
        Self {
            image: "vibn-dev:latest".into(),
            cpu_limit: "1".into(),
            mem_limit: "1g".into(),
            disk_limit: "10g".into(),
            preview_domain_base: "preview.vibnai.com".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    pub max_projects: u32,
    pub max_dev_containers: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            max_projects: 3,
            max_dev_containers: 3,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OrchestratorKind {
    Coolify,
    Docker,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrchestratorConfig {
    pub kind: OrchestratorKind,
    /// Marks the services this deployment creates, so that reconciliation never touches
    /// services of another deployment sharing the same Coolify team or Docker host.
    pub deployment_id: String,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            kind: OrchestratorKind::Coolify,
            deployment_id: "devplane".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoolifyConfig {
    /// Base URL of the Coolify instance, without `/api/v1`.
    pub url: Option<String>,
    pub api_token: Option<SecretString>,
    pub server_uuid: Option<String>,
    pub environment_name: String,
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
}

impl Default for CoolifyConfig {
    fn default() -> Self {
        Self {
            url: None,
            api_token: None,
            server_uuid: None,
            environment_name: "production".into(),
            timeout_ms: 15_000,
            connect_timeout_ms: 3_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunnerKind {
    /// The Docker engine on this host (`/var/run/docker.sock`).
    Local,
    /// The Docker engine of a remote host, reached over multiplexed SSH.
    Ssh,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunnerConfig {
    pub kind: RunnerKind,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            kind: RunnerKind::Local,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshConfig {
    pub host: Option<String>,
    pub port: u16,
    pub user: String,
    pub key_path: Option<PathBuf>,
    /// The pinned known_hosts file; host keys are checked strictly against it.
    pub known_hosts_path: Option<PathBuf>,
    pub connect_timeout_secs: u64,
    /// Master connections kept open to the host.
    pub connections: usize,
    /// sshd's `MaxSessions`: session channels allowed at once on one connection.
    pub max_sessions: usize,
    /// Where control sockets live; keep it short (unix socket paths are limited to 108 bytes).
    pub control_dir: PathBuf,
    pub docker_socket: String,
    pub health_interval_secs: u64,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: 22,
            user: "root".into(),
            key_path: None,
            known_hosts_path: None,
            connect_timeout_secs: 5,
            connections: 2,
            max_sessions: 10,
            control_dir: PathBuf::from("/tmp"),
            docker_socket: "/var/run/docker.sock".into(),
            health_interval_secs: 15,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerConfig {
    /// The local Docker engine socket, used by the `local` runner.
    pub socket: String,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            socket: "/var/run/docker.sock".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecConfig {
    pub default_timeout_ms: u64,
    pub max_timeout_ms: u64,
    pub default_max_bytes: usize,
    pub max_output_bytes: usize,
    /// Linux limits one argv string to 128 KiB (MAX_ARG_STRLEN); stay below it.
    pub max_command_bytes: usize,
    /// Users an exec may run as; `vibn` is the dev container's own user.
    pub allowed_users: Vec<String>,
    /// How long an exec waits for a freshly started container to appear.
    pub container_wait_ms: u64,
}

impl Default for ExecConfig {
    fn default() -> Self {
        Self {
            default_timeout_ms: 60_000,
            max_timeout_ms: 600_000,
            default_max_bytes: 1 << 20,
            max_output_bytes: 16 << 20,
            max_command_bytes: 120 * 1024,
            allowed_users: vec!["vibn".into()],
            container_wait_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    pub max_bytes: usize,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_bytes: 16 << 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifecycleConfig {
    /// How long a lifecycle call waits for another one on the same project to finish.
    pub lock_wait_ms: u64,
    pub reconcile_interval_secs: u64,
    /// Added to the Coolify timeout: how long a create request may still be running upstream
    /// after we gave up on it. Until then a retry looks for it instead of creating another.
    pub intent_grace_secs: u64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            lock_wait_ms: 120_000,
            reconcile_interval_secs: 60,
            intent_grace_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TestingConfig {
    /// Test hook: `after_orchestrator_create` aborts the process right after the orchestrator
    /// created a service and before the database records it (the crash-safety test).
    pub failpoint: Option<String>,
}

/// A configuration that could not be loaded; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("invalid setting {key} (environment variable {var}): {message}")]
    Setting {
        key: &'static str,
        var: &'static str,
        message: String,
    },
}

type Apply = fn(&mut Config, &str) -> Result<(), String>;

/// One setting: its TOML key, its environment variable, and how a variable's text applies.
pub struct Setting {
    pub key: &'static str,
    pub var: &'static str,
    apply: Apply,
}

macro_rules! settings {
    ($( $key:literal, $var:literal, |$c:ident, $v:ident| $body:expr; )*) => {
        /// Every setting, in the order of the README's configuration table.
        pub const SETTINGS: &[Setting] = &[
            $( Setting { key: $key, var: $var, apply: |$c: &mut Config, $v: &str| { $body; Ok(()) } }, )*
        ];
    };
}

settings! {
    "server.listen", "VIBN_LISTEN", |c, v| c.server.listen = parse(v)?;
    "server.log_format", "VIBN_LOG_FORMAT", |c, v| c.server.log_format = parse_enum(v)?;
    "server.log_filter", "VIBN_LOG", |c, v| c.server.log_filter = v.to_owned();
    "server.shutdown_grace_secs", "VIBN_SHUTDOWN_GRACE_SECS", |c, v| c.server.shutdown_grace_secs = parse(v)?;
    "database.url", "DATABASE_URL", |c, v| c.database.url = Some(v.to_owned().into());
    "database.max_connections", "VIBN_DB_MAX_CONNECTIONS", |c, v| c.database.max_connections = parse(v)?;
    "database.acquire_timeout_ms", "VIBN_DB_ACQUIRE_TIMEOUT_MS", |c, v| c.database.acquire_timeout_ms = parse(v)?;
    "database.migrate_on_start", "VIBN_DB_MIGRATE_ON_START", |c, v| c.database.migrate_on_start = parse(v)?;
    "auth.operator_tokens", "VIBN_OPERATOR_TOKENS", |c, v| c.auth.operator_tokens = list(v).map(|t| t.to_owned().into()).collect();
    "dev_container.image", "VIBN_DEV_IMAGE", |c, v| c.dev_container.image = v.to_owned();
    "dev_container.cpu_limit", "VIBN_DEV_CPU_LIMIT", |c, v| c.dev_container.cpu_limit = v.to_owned();
    "dev_container.mem_limit", "VIBN_DEV_MEM_LIMIT", |c, v| c.dev_container.mem_limit = v.to_owned();
    "dev_container.disk_limit", "VIBN_DEV_DISK_LIMIT", |c, v| c.dev_container.disk_limit = v.to_owned();
    "dev_container.preview_domain_base", "VIBN_PREVIEW_DOMAIN_BASE", |c, v| c.dev_container.preview_domain_base = v.to_owned();
    "quota.max_projects", "VIBN_QUOTA_MAX_PROJECTS", |c, v| c.quota.max_projects = parse(v)?;
    "quota.max_dev_containers", "VIBN_QUOTA_MAX_DEV_CONTAINERS", |c, v| c.quota.max_dev_containers = parse(v)?;
    "orchestrator.kind", "VIBN_ORCHESTRATOR", |c, v| c.orchestrator.kind = parse_enum(v)?;
    "orchestrator.deployment_id", "VIBN_DEPLOYMENT_ID", |c, v| c.orchestrator.deployment_id = v.to_owned();
    "coolify.url", "COOLIFY_URL", |c, v| c.coolify.url = Some(v.to_owned());
    "coolify.api_token", "COOLIFY_API_TOKEN", |c, v| c.coolify.api_token = Some(v.to_owned().into());
    "coolify.server_uuid", "COOLIFY_SERVER_UUID", |c, v| c.coolify.server_uuid = Some(v.to_owned());
    "coolify.environment_name", "COOLIFY_ENVIRONMENT_NAME", |c, v| c.coolify.environment_name = v.to_owned();
    "coolify.timeout_ms", "VIBN_COOLIFY_TIMEOUT_MS", |c, v| c.coolify.timeout_ms = parse(v)?;
    "coolify.connect_timeout_ms", "VIBN_COOLIFY_CONNECT_TIMEOUT_MS", |c, v| c.coolify.connect_timeout_ms = parse(v)?;
    "runner.kind", "VIBN_RUNNER", |c, v| c.runner.kind = parse_enum(v)?;
    "ssh.host", "COOLIFY_SSH_HOST", |c, v| c.ssh.host = Some(v.to_owned());
    "ssh.port", "COOLIFY_SSH_PORT", |c, v| c.ssh.port = parse(v)?;
    "ssh.user", "COOLIFY_SSH_USER", |c, v| c.ssh.user = v.to_owned();
    "ssh.key_path", "COOLIFY_SSH_KEY_PATH", |c, v| c.ssh.key_path = Some(v.into());
    "ssh.known_hosts_path", "COOLIFY_SSH_KNOWN_HOSTS", |c, v| c.ssh.known_hosts_path = Some(v.into());
    "ssh.connect_timeout_secs", "VIBN_SSH_CONNECT_TIMEOUT_SECS", |c, v| c.ssh.connect_timeout_secs = parse(v)?;
    "ssh.connections", "VIBN_SSH_CONNECTIONS", |c, v| c.ssh.connections = parse(v)?;
    "ssh.max_sessions", "VIBN_SSH_MAX_SESSIONS", |c, v| c.ssh.max_sessions = parse(v)?;
    "ssh.control_dir", "VIBN_SSH_CONTROL_DIR", |c, v| c.ssh.control_dir = v.into();
    "ssh.docker_socket", "VIBN_SSH_DOCKER_SOCKET", |c, v| c.ssh.docker_socket = v.to_owned();
    "ssh.health_interval_secs", "VIBN_SSH_HEALTH_INTERVAL_SECS", |c, v| c.ssh.health_interval_secs = parse(v)?;
    "docker.socket", "VIBN_DOCKER_SOCKET", |c, v| c.docker.socket = v.to_owned();
    "exec.default_timeout_ms", "VIBN_EXEC_DEFAULT_TIMEOUT_MS", |c, v| c.exec.default_timeout_ms = parse(v)?;
    "exec.max_timeout_ms", "VIBN_EXEC_MAX_TIMEOUT_MS", |c, v| c.exec.max_timeout_ms = parse(v)?;
    "exec.default_max_bytes", "VIBN_EXEC_DEFAULT_MAX_BYTES", |c, v| c.exec.default_max_bytes = parse(v)?;
    "exec.max_output_bytes", "VIBN_EXEC_MAX_OUTPUT_BYTES", |c, v| c.exec.max_output_bytes = parse(v)?;
    "exec.max_command_bytes", "VIBN_EXEC_MAX_COMMAND_BYTES", |c, v| c.exec.max_command_bytes = parse(v)?;
    "exec.allowed_users", "VIBN_EXEC_ALLOWED_USERS", |c, v| c.exec.allowed_users = list(v).map(str::to_owned).collect();
    "exec.container_wait_ms", "VIBN_EXEC_CONTAINER_WAIT_MS", |c, v| c.exec.container_wait_ms = parse(v)?;
    "files.max_bytes", "VIBN_FILES_MAX_BYTES", |c, v| c.files.max_bytes = parse(v)?;
    "lifecycle.lock_wait_ms", "VIBN_LIFECYCLE_LOCK_WAIT_MS", |c, v| c.lifecycle.lock_wait_ms = parse(v)?;
    "lifecycle.reconcile_interval_secs", "VIBN_RECONCILE_INTERVAL_SECS", |c, v| c.lifecycle.reconcile_interval_secs = parse(v)?;
    "lifecycle.intent_grace_secs", "VIBN_INTENT_GRACE_SECS", |c, v| c.lifecycle.intent_grace_secs = parse(v)?;
    "testing.failpoint", "DEVPLANE_TEST_FAILPOINT", |c, v| c.testing.failpoint = Some(v.to_owned());
}

fn parse<T: std::str::FromStr>(value: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e| format!("cannot parse {value:?}: {e}"))
}

fn parse_enum<T: for<'de> Deserialize<'de>>(value: &str) -> Result<T, String> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(value.trim()))
        .map_err(|e| format!("{value:?}: {e}"))
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A validation error for `key`, naming its environment variable too.
fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    let var = SETTINGS
        .iter()
        .find(|s| s.key == key)
        .map_or("(none)", |s| s.var);
    ConfigError::Setting {
        key,
        var,
        message: message.into(),
    }
}

impl Config {
    /// Loads the configuration the way `devplane` does: defaults, then `file` (or
    /// [`DEFAULT_CONFIG_FILE`] when it exists), then the variables `env` returns.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                Self::from_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => Self::default(),
        };
        for s in SETTINGS {
            if let Some(value) = env(s.var) {
                (s.apply)(&mut config, &value).map_err(|message| ConfigError::Setting {
                    key: s.key,
                    var: s.var,
                    message,
                })?;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Loads from the process environment.
    pub fn from_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(file, |var| std::env::var(var).ok())
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Checks what types cannot: ranges, formats, and settings that require each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.database.url.is_none() {
            return Err(invalid("database.url", "is required"));
        }
        if self.database.max_connections < 4 {
            return Err(invalid("database.max_connections", "must be at least 4"));
        }
        if self
            .auth
            .operator_tokens
            .iter()
            .any(|t| t.expose_secret().len() < 16)
        {
            return Err(invalid(
                "auth.operator_tokens",
                "every operator token must be at least 16 characters",
            ));
        }
        let dc = &self.dev_container;
        if !valid_image_reference(&dc.image) {
            return Err(invalid(
                "dev_container.image",
                format!("{:?} is not a Docker image reference", dc.image),
            ));
        }
        if !valid_cpus(&dc.cpu_limit) {
            return Err(invalid(
                "dev_container.cpu_limit",
                format!("{:?} is not a positive number of CPUs", dc.cpu_limit),
            ));
        }
        for (key, value) in [
            ("dev_container.mem_limit", &dc.mem_limit),
            ("dev_container.disk_limit", &dc.disk_limit),
        ] {
            if !valid_byte_size(value) {
                return Err(invalid(
                    key,
                    format!("{value:?} is not a size such as 512m or 1g"),
                ));
            }
        }
        if !valid_domain(&dc.preview_domain_base) {
            return Err(invalid(
                "dev_container.preview_domain_base",
                format!("{:?} is not a DNS name", dc.preview_domain_base),
            ));
        }
        let deployment = &self.orchestrator.deployment_id;
        if deployment.is_empty()
            || deployment.len() > 32
            || !deployment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "orchestrator.deployment_id",
                "must be 1-32 characters of letters, digits, '-' and '_'",
            ));
        }
        if self.orchestrator.kind == OrchestratorKind::Coolify {
            let url =
                self.coolify.url.as_deref().ok_or_else(|| {
                    invalid("coolify.url", "is required by the coolify orchestrator")
                })?;
            if reqwest::Url::parse(url).is_err() {
                return Err(invalid("coolify.url", format!("{url:?} is not a URL")));
            }
            if self.coolify.api_token.is_none() {
                return Err(invalid(
                    "coolify.api_token",
                    "is required by the coolify orchestrator",
                ));
            }
            if self
                .coolify
                .server_uuid
                .as_deref()
                .is_none_or(str::is_empty)
            {
                return Err(invalid(
                    "coolify.server_uuid",
                    "is required by the coolify orchestrator",
                ));
            }
        }
        if self.coolify.timeout_ms == 0 {
            return Err(invalid("coolify.timeout_ms", "must be positive"));
        }
        if self.runner.kind == RunnerKind::Ssh {
            if self.ssh.host.as_deref().is_none_or(str::is_empty) {
                return Err(invalid("ssh.host", "is required by the ssh runner"));
            }
            if self.ssh.key_path.is_none() {
                return Err(invalid("ssh.key_path", "is required by the ssh runner"));
            }
            if self.ssh.known_hosts_path.is_none() {
                return Err(invalid(
                    "ssh.known_hosts_path",
                    "is required by the ssh runner: host keys are checked strictly",
                ));
            }
            if self.ssh.connections == 0 {
                return Err(invalid("ssh.connections", "must be at least 1"));
            }
            if self.ssh.max_sessions < 2 {
                return Err(invalid(
                    "ssh.max_sessions",
                    "must be at least 2 (sshd's MaxSessions; 1 disables multiplexing)",
                ));
            }
            if self.ssh.connect_timeout_secs == 0 {
                return Err(invalid("ssh.connect_timeout_secs", "must be positive"));
            }
        }
        let exec = &self.exec;
        if exec.default_timeout_ms == 0 || exec.default_timeout_ms > exec.max_timeout_ms {
            return Err(invalid(
                "exec.default_timeout_ms",
                "must be positive and at most exec.max_timeout_ms",
            ));
        }
        if exec.default_max_bytes == 0 || exec.default_max_bytes > exec.max_output_bytes {
            return Err(invalid(
                "exec.default_max_bytes",
                "must be positive and at most exec.max_output_bytes",
            ));
        }
        if exec.max_command_bytes == 0 || exec.max_command_bytes > 128 * 1024 - 1 {
            return Err(invalid(
                "exec.max_command_bytes",
                "must be between 1 and 131071 (Linux's limit for one argument)",
            ));
        }
        if exec.allowed_users.is_empty() || !exec.allowed_users.iter().all(|u| valid_user(u)) {
            return Err(invalid(
                "exec.allowed_users",
                "must list at least one user name (letters, digits, '_', '-')",
            ));
        }
        if self.files.max_bytes == 0 {
            return Err(invalid("files.max_bytes", "must be positive"));
        }
        if self.lifecycle.reconcile_interval_secs == 0 {
            return Err(invalid(
                "lifecycle.reconcile_interval_secs",
                "must be positive",
            ));
        }
        if let Some(point) = &self.testing.failpoint
            && point != FAILPOINT_AFTER_ORCHESTRATOR_CREATE
        {
            return Err(invalid(
                "testing.failpoint",
                format!("unknown failpoint {point:?}"),
            ));
        }
        Ok(())
    }

    pub fn coolify_timeout(&self) -> Duration {
        Duration::from_millis(self.coolify.timeout_ms)
    }

    /// How long after a create attempt a retry must look for its result before creating again.
    pub fn intent_window(&self) -> Duration {
        self.coolify_timeout() + Duration::from_secs(self.lifecycle.intent_grace_secs)
    }
}

pub const FAILPOINT_AFTER_ORCHESTRATOR_CREATE: &str = "after_orchestrator_create";

pub fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= 32
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A conservative subset of Docker's reference grammar: safe to place in YAML unquoted.
fn valid_image_reference(image: &str) -> bool {
    !image.is_empty()
        && image.len() <= 255
        && image.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'@')
        })
        && !image.starts_with(['-', '.', '/', ':'])
}

fn valid_cpus(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.parse::<f64>().is_ok_and(|n| n > 0.0)
}

fn valid_byte_size(value: &str) -> bool {
    let digits = value.trim_end_matches(['b', 'k', 'm', 'g', 'B', 'K', 'M', 'G']);
    !digits.is_empty()
        && value.len() - digits.len() <= 1
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u64>().is_ok_and(|n| n > 0)
}

fn valid_domain(value: &str) -> bool {
    value.len() <= 253
        && value.split('.').count() >= 2
        && value.split('.').all(crate::domain::is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn every_setting_key_is_unique_and_documented_in_default_toml() {
        let default_toml = include_str!("../config/default.toml");
        for s in SETTINGS {
            assert_eq!(SETTINGS.iter().filter(|o| o.key == s.key).count(), 1);
            let (section, field) = s.key.split_once('.').expect("section.field");
            assert!(
                default_toml.contains(&format!("[{section}]")) && default_toml.contains(field),
                "{} is not in config/default.toml",
                s.key
            );
        }
    }

    #[test]
    fn every_validated_key_is_a_setting_with_a_variable() {
        let source = include_str!("config.rs");
        for call in source.split("invalid(").skip(1) {
            let Some(key) = call
                .trim_start()
                .strip_prefix('"')
                .and_then(|r| r.split('"').next())
            else {
                continue; // the function's own definition
            };
            if !key.contains('.') || key.contains(' ') {
                continue; // this test's own source
            }
            assert!(
                SETTINGS.iter().any(|s| s.key == key),
                "{key} is validated but not a setting"
            );
        }
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let err = Config::load(
            Some(Path::new("config/default.toml")),
            env_of(&[
                ("DATABASE_URL", "postgres://x"),
                ("VIBN_QUOTA_MAX_PROJECTS", "lots"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("VIBN_QUOTA_MAX_PROJECTS"), "{err}");
        assert!(err.contains("quota.max_projects"), "{err}");
    }
}
