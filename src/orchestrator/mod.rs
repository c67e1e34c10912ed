//! Where dev containers run. One trait, two implementations chosen by configuration:
//! [`coolify::CoolifyOrchestrator`] (production: Coolify services over its REST API) and
//! [`docker::DockerOrchestrator`] (the same compose file run with Docker Compose on a plain
//! Docker host, with Coolify's container naming), for users without Coolify.
//!
//! Every service an orchestrator creates carries the *intent id* it was created for, and the
//! deployment id of this control plane, so that a creation interrupted by a crash can be found
//! again ([`Orchestrator::list_managed`]) and adopted or deleted.

pub mod coolify;
pub mod docker;

use async_trait::async_trait;

use crate::{config::OrchestratorKind, error::UpstreamError};

type Result<T> = std::result::Result<T, UpstreamError>;

/// What the orchestrator needs to know about the project a service is for.
#[derive(Debug, Clone)]
pub struct ProjectInfo<'a> {
    pub project_id: &'a str,
    pub slug: &'a str,
    pub name: &'a str,
    /// The Coolify project recorded for this project, if any.
    pub coolify_project_uuid: Option<&'a str>,
}

/// Where a project's services go, as [`Orchestrator::prepare`] found or made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The Coolify project holding the project's services; recorded so later creations reuse it.
    pub coolify_project_uuid: Option<String>,
    /// The environment of that Coolify project the services go into.
    pub coolify_environment_uuid: Option<String>,
}

#[derive(Debug)]
pub struct CreateRequest<'a> {
    pub intent_id: &'a str,
    pub project: ProjectInfo<'a>,
    pub placement: &'a Placement,
    pub compose: &'a str,
    /// Start the service now (false: create it stopped, as `no_start` asks).
    pub start: bool,
}

/// A recorded service, as the lifecycle hands it to the orchestrator.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRef<'a> {
    pub uuid: &'a str,
    /// The compose file rendered at creation (the docker orchestrator starts from it).
    pub compose: Option<&'a str>,
    pub project_id: &'a str,
    pub intent_id: Option<&'a str>,
}

/// A service this deployment created, as found upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedService {
    pub uuid: String,
    pub intent_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    Running,
    Starting,
    Degraded,
    Stopped,
    /// The orchestrator does not know the service.
    Missing,
    Unknown,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LiveStatus {
    pub state: LiveState,
    /// The orchestrator's own words, e.g. Coolify's `running:healthy`.
    pub detail: String,
}

#[async_trait]
pub trait Orchestrator: Send + Sync + 'static {
    fn kind(&self) -> OrchestratorKind;

    /// Readiness: the orchestrator answers and our credentials work. Returns a short summary.
    async fn check(&self) -> Result<String>;

    /// Finds or makes what a project's services need upstream (a Coolify project). Creates no
    /// service, so a failure here leaves nothing to clean up.
    async fn prepare(&self, project: &ProjectInfo<'_>) -> Result<Placement>;

    /// Creates the service of an intent, in a placement from [`Orchestrator::prepare`];
    /// returns its uuid.
    async fn create(&self, request: &CreateRequest<'_>) -> Result<String>;

    /// Every service of this deployment, with the intent each was created for.
    async fn list_managed(&self) -> Result<Vec<ManagedService>>;

    /// Services created for one intent (normally zero or one).
    async fn find(&self, intent_id: &str) -> Result<Vec<String>> {
        Ok(self
            .list_managed()
            .await?
            .into_iter()
            .filter(|s| s.intent_id == intent_id)
            .map(|s| s.uuid)
            .collect())
    }

    /// Starts the service; starting a running service is not an error.
    async fn start(&self, service: &ServiceRef<'_>) -> Result<()>;

    /// Stops the service the way Coolify does: containers stopped and removed, volumes kept.
    /// Stopping a stopped service is not an error.
    async fn stop(&self, service: &ServiceRef<'_>) -> Result<()>;

    /// Deletes the service; volumes only when asked. Deleting a missing service is not an error.
    async fn delete(&self, service: &ServiceRef<'_>, delete_volumes: bool) -> Result<()>;

    async fn status(&self, service: &ServiceRef<'_>) -> Result<LiveStatus>;
}

/// The marker this deployment writes into what it creates: `devplane:<deployment>:<intent>`.
pub fn intent_marker(deployment_id: &str, intent_id: &str) -> String {
    format!("devplane:{deployment_id}:{intent_id}")
}

/// The intent id of a text that ends with `[<intent_marker of this deployment>]`. Only the
/// end counts: what comes before may be user text (a project name) imitating a marker.
pub fn parse_intent_marker<'a>(text: &'a str, deployment_id: &str) -> Option<&'a str> {
    let inner = text.strip_suffix(']')?;
    let marker = &inner[inner.rfind('[')? + 1..];
    let intent = marker.strip_prefix(&format!("devplane:{deployment_id}:"))?;
    (!intent.is_empty() && intent.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(intent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_ignore_other_deployments() {
        let text = format!(
            "AI dev container for project X [{}]",
            intent_marker("prod", "abc123")
        );
        assert_eq!(parse_intent_marker(&text, "prod"), Some("abc123"));
        assert_eq!(parse_intent_marker(&text, "staging"), None);
        assert_eq!(parse_intent_marker("no marker here", "prod"), None);
    }
}
