//! Request and response shapes of the Coolify operations we call. Responses are read
//! leniently (unknown fields ignored, optional fields defaulted): Coolify appends fields the
//! OpenAPI document does not list (a service's `status`, a project's `environments`).

use serde::Deserialize;

/// `201 {"uuid": ...}` of every create.
#[derive(Debug, Deserialize)]
pub struct Created {
    pub uuid: String,
}

/// `{"message": ...}` of queued actions (start, stop, delete).
#[derive(Debug, Deserialize)]
pub struct Message {
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub environments: Vec<Environment>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Environment {
    pub uuid: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Aggregate of the sub-containers, e.g. `running:healthy`, `starting:unknown`, `exited`.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub ip: Option<String>,
}

/// `POST /services` in raw-compose mode.
#[derive(Debug)]
pub struct CreateService<'a> {
    pub project_uuid: &'a str,
    pub server_uuid: &'a str,
    /// Coolify's code needs one of name and uuid; its OpenAPI document requires both.
    pub environment_name: &'a str,
    pub environment_uuid: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    /// The plain YAML; the client base64-encodes it.
    pub compose: &'a str,
    pub instant_deploy: bool,
}

/// A Coolify status string reduced to what the lifecycle acts on. Statuses are compared by
/// prefix (`running:healthy:excluded` is running) and lag behind reality by up to a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceStatus {
    Running,
    Starting,
    Degraded,
    Stopped,
    Unknown,
}

impl ServiceStatus {
    pub fn parse(status: &str) -> Self {
        let head = status.split(':').next().unwrap_or("").trim();
        match head {
            "running" => Self::Running,
            "starting" | "restarting" => Self::Starting,
            "degraded" => Self::Degraded,
            "exited" | "stopped" | "paused" => Self::Stopped,
            _ => Self::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_matched_by_prefix() {
        assert_eq!(
            ServiceStatus::parse("running:healthy"),
            ServiceStatus::Running
        );
        assert_eq!(
            ServiceStatus::parse("running:unknown:excluded"),
            ServiceStatus::Running
        );
        assert_eq!(
            ServiceStatus::parse("starting:unhealthy"),
            ServiceStatus::Starting
        );
        assert_eq!(
            ServiceStatus::parse("degraded:unhealthy"),
            ServiceStatus::Degraded
        );
        assert_eq!(ServiceStatus::parse("exited"), ServiceStatus::Stopped);
        assert_eq!(
            ServiceStatus::parse("unknown:unknown:excluded"),
            ServiceStatus::Unknown
        );
    }
}
