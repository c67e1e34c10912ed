//! Dev containers as Coolify services (the production orchestrator).
//!
//! One Coolify project per devplane project, one raw-compose service per dev container.
//! Coolify names the container `vibn-dev-<service uuid>` and runs the compose project under
//! the service uuid. Both the Coolify project and the service carry a marker of this
//! deployment in their description, so an interrupted creation can be found again.

use async_trait::async_trait;

use super::{
    CreateRequest, LiveState, LiveStatus, ManagedService, Orchestrator, Placement, ProjectInfo,
    Result, ServiceRef, intent_marker, parse_intent_marker,
};
use crate::{
    config::OrchestratorKind,
    coolify::{CoolifyClient, CreateService, ServiceStatus},
    error::{Upstream, UpstreamError, UpstreamKind},
};

pub struct CoolifyOrchestrator {
    client: CoolifyClient,
    server_uuid: String,
    environment_name: String,
    deployment_id: String,
}

impl CoolifyOrchestrator {
    pub fn new(
        client: CoolifyClient,
        server_uuid: String,
        environment_name: String,
        deployment_id: String,
    ) -> Self {
        Self {
            client,
            server_uuid,
            environment_name,
            deployment_id,
        }
    }

    fn project_marker(&self, project_id: &str) -> String {
        format!("devplane:{}:project:{project_id}", self.deployment_id)
    }

    /// The Coolify project of `project`: found by its marker, or created.
    async fn ensure_project(&self, project: &ProjectInfo<'_>) -> Result<String> {
        let marker = format!("[{}]", self.project_marker(project.project_id));
        let existing = self.client.list_projects().await?;
        // Our marker closes the description; the name before it is user text.
        if let Some(found) = existing.iter().find(|p| {
            p.description
                .as_deref()
                .is_some_and(|d| d.ends_with(&marker))
        }) {
            return Ok(found.uuid.clone());
        }
        let name = format!("vibn-{}", project.slug);
        let description = format!("Vibn project {} {marker}", project.name);
        self.client.create_project(&name, &description).await
    }

    /// The uuid of the configured environment in a Coolify project.
    async fn environment_uuid(&self, project_uuid: &str) -> Result<String> {
        let project = self.client.get_project(project_uuid).await?;
        project
            .environments
            .iter()
            .find(|e| e.name == self.environment_name)
            .map(|e| e.uuid.clone())
            .ok_or_else(|| {
                UpstreamError::new(
                    Upstream::Coolify,
                    UpstreamKind::Rejected,
                    format!(
                        "Coolify project {project_uuid} has no environment named {:?}",
                        self.environment_name
                    ),
                )
            })
    }
}

#[async_trait]
impl Orchestrator for CoolifyOrchestrator {
    fn kind(&self) -> OrchestratorKind {
        OrchestratorKind::Coolify
    }

    async fn check(&self) -> Result<String> {
        let version = self.client.version().await?;
        let server = self.client.get_server(&self.server_uuid).await?;
        Ok(format!("Coolify {version}, server {}", server.name))
    }

    async fn prepare(&self, project: &ProjectInfo<'_>) -> Result<Placement> {
        let mut project_uuid = match project.coolify_project_uuid {
            Some(uuid) => uuid.to_owned(),
            None => self.ensure_project(project).await?,
        };
        let environment_uuid = match self.environment_uuid(&project_uuid).await {
            Ok(uuid) => uuid,
            // The recorded project was deleted in Coolify: find or make a new one.
            Err(e) if e.kind == UpstreamKind::NotFound => {
                project_uuid = self.ensure_project(project).await?;
                self.environment_uuid(&project_uuid).await?
            }
            Err(e) => return Err(e),
        };
        Ok(Placement {
            coolify_project_uuid: Some(project_uuid),
            coolify_environment_uuid: Some(environment_uuid),
        })
    }

    async fn create(&self, request: &CreateRequest<'_>) -> Result<String> {
        let (Some(project_uuid), Some(environment_uuid)) = (
            request.placement.coolify_project_uuid.as_deref(),
            request.placement.coolify_environment_uuid.as_deref(),
        ) else {
            return Err(UpstreamError::new(
                Upstream::Coolify,
                UpstreamKind::Rejected,
                "no Coolify project prepared for this service",
            ));
        };
        let project = &request.project;
        let name = format!("vibn-dev-{}", project.slug);
        // The marker closes the description, after the user's project name.
        let description = format!(
            "AI dev container for project {} [{}]",
            project.name,
            intent_marker(&self.deployment_id, request.intent_id)
        );
        self.client
            .create_service(&CreateService {
                project_uuid,
                server_uuid: &self.server_uuid,
                environment_name: &self.environment_name,
                environment_uuid,
                name: &name,
                description: &description,
                compose: request.compose,
                instant_deploy: request.start,
            })
            .await
    }

    async fn list_managed(&self) -> Result<Vec<ManagedService>> {
        Ok(self
            .client
            .list_services()
            .await?
            .into_iter()
            .filter_map(|service| {
                let intent = parse_intent_marker(
                    service.description.as_deref().unwrap_or(""),
                    &self.deployment_id,
                )?
                .to_owned();
                Some(ManagedService {
                    uuid: service.uuid,
                    intent_id: intent,
                })
            })
            .collect())
    }

    async fn start(&self, service: &ServiceRef<'_>) -> Result<()> {
        self.client.start_service(service.uuid).await.map(drop)
    }

    async fn stop(&self, service: &ServiceRef<'_>) -> Result<()> {
        self.client.stop_service(service.uuid).await.map(drop)
    }

    async fn delete(&self, service: &ServiceRef<'_>, delete_volumes: bool) -> Result<()> {
        match self
            .client
            .delete_service(service.uuid, delete_volumes)
            .await
        {
            Err(e) if e.kind == UpstreamKind::NotFound => Ok(()),
            other => other,
        }
    }

    async fn status(&self, service: &ServiceRef<'_>) -> Result<LiveStatus> {
        match self.client.get_service(service.uuid).await {
            Ok(found) => {
                let detail = found.status.unwrap_or_default();
                let state = match ServiceStatus::parse(&detail) {
                    ServiceStatus::Running => LiveState::Running,
                    ServiceStatus::Starting => LiveState::Starting,
                    ServiceStatus::Degraded => LiveState::Degraded,
                    ServiceStatus::Stopped => LiveState::Stopped,
                    ServiceStatus::Unknown => LiveState::Unknown,
                };
                Ok(LiveStatus { state, detail })
            }
            Err(e) if e.kind == UpstreamKind::NotFound => Ok(LiveStatus {
                state: LiveState::Missing,
                detail: "not found in Coolify".into(),
            }),
            Err(e) => Err(e),
        }
    }
}
