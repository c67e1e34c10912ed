//! Dev containers on a plain Docker host, for users without Coolify.
//!
//! The same rendered compose file runs under Docker Compose, after the rewrite Coolify itself
//! applies (`container_name: <service>-<uuid>`, compose project = uuid), so container naming
//! and lookup are identical to the Coolify orchestrator. The service uuid is the intent id,
//! generated before anything is created, and every container and volume carries this
//! deployment's labels: a crash between `compose up` and the database write is recovered by
//! finding those labels. Stop mirrors Coolify: `docker stop`, then `docker rm -f`; volumes stay.
//!
//! Compose runs on the Docker host through the [`Runner`]: here, or over SSH. Both the v2
//! plugin (`docker compose`) and the v1 CLI (`docker-compose`) are supported.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use bollard::{
    models::NetworkCreateRequest,
    query_parameters::{ListNetworksOptions, ListVolumesOptions, RemoveVolumeOptions},
};
use tokio::sync::OnceCell;

use super::{
    CreateRequest, LiveState, LiveStatus, ManagedService, Orchestrator, Placement, ProjectInfo,
    Result, ServiceRef,
};
use crate::{
    compose::{self, LABEL_DEPLOYMENT, LABEL_INTENT, LABEL_PROJECT},
    config::OrchestratorKind,
    error::{Upstream, UpstreamError, UpstreamKind},
    runner::{
        Runner,
        containers::{self, LABEL_COMPOSE_PROJECT},
        stderr_tail, with_docker,
    },
};

/// The external network every dev container joins (Coolify's proxy network).
const SHARED_NETWORK: &str = "coolify";
const COMPOSE_TIMEOUT: Duration = Duration::from_secs(300);

pub struct DockerOrchestrator {
    runner: Arc<dyn Runner>,
    deployment_id: String,
    /// `docker compose` or `docker-compose`, found on first use.
    compose_cli: OnceCell<Vec<&'static str>>,
}

impl DockerOrchestrator {
    pub fn new(runner: Arc<dyn Runner>, deployment_id: String) -> Self {
        Self {
            runner,
            deployment_id,
            compose_cli: OnceCell::new(),
        }
    }

    async fn compose_cli(&self) -> Result<&[&'static str]> {
        self.compose_cli
            .get_or_try_init(|| async {
                for candidate in [vec!["docker", "compose"], vec!["docker-compose"]] {
                    let mut args = candidate[1..].to_vec();
                    args.push("version");
                    let probe = self
                        .runner
                        .host_command(candidate[0], &args, None, Duration::from_secs(20))
                        .await;
                    if matches!(probe, Ok(ref out) if out.status == 0) {
                        return Ok(candidate);
                    }
                }
                Err(UpstreamError::new(
                    Upstream::Compose,
                    UpstreamKind::Unavailable,
                    "neither `docker compose` nor `docker-compose` runs on the Docker host",
                ))
            })
            .await
            .map(Vec::as_slice)
    }

    async fn compose(&self, project: &str, file: &str, action: &[&str]) -> Result<()> {
        let cli = self.compose_cli().await?;
        let mut args: Vec<&str> = cli[1..].to_vec();
        args.extend(["-p", project, "-f", "-"]);
        args.extend(action);
        let output = self
            .runner
            .host_command(cli[0], &args, Some(file.as_bytes()), COMPOSE_TIMEOUT)
            .await?;
        if output.status != 0 {
            return Err(UpstreamError::new(
                Upstream::Compose,
                UpstreamKind::Failed,
                format!(
                    "compose {} failed: {}",
                    action.join(" "),
                    stderr_tail(&output)
                ),
            ));
        }
        Ok(())
    }

    async fn ensure_shared_network(&self) -> Result<()> {
        let existing = with_docker(self.runner.as_ref(), |docker| async move {
            docker
                .list_networks(Some(ListNetworksOptions {
                    filters: Some([("name".to_owned(), vec![SHARED_NETWORK.to_owned()])].into()),
                }))
                .await
        })
        .await?;
        // The name filter matches substrings; compare exactly.
        if existing
            .iter()
            .any(|n| n.name.as_deref() == Some(SHARED_NETWORK))
        {
            return Ok(());
        }
        let created = with_docker(self.runner.as_ref(), |docker| async move {
            docker
                .create_network(NetworkCreateRequest {
                    name: SHARED_NETWORK.to_owned(),
                    driver: Some("bridge".to_owned()),
                    attachable: Some(true),
                    ..Default::default()
                })
                .await
        })
        .await;
        match created {
            Ok(_) => Ok(()),
            // Created concurrently by someone else.
            Err(e) if e.kind == UpstreamKind::Rejected => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `compose up` of the stored compose file, after Coolify's rewrite.
    async fn up(
        &self,
        uuid: &str,
        compose_file: &str,
        intent_id: &str,
        project_id: &str,
        start: bool,
    ) -> Result<()> {
        let labels = [
            (LABEL_DEPLOYMENT, self.deployment_id.as_str()),
            (LABEL_INTENT, intent_id),
            (LABEL_PROJECT, project_id),
        ];
        let file = compose::for_docker_host(compose_file, uuid, &labels)
            .map_err(|e| UpstreamError::new(Upstream::Compose, UpstreamKind::Rejected, e))?;
        self.ensure_shared_network().await?;
        let action: &[&str] = if start {
            &["up", "-d", "--remove-orphans"]
        } else {
            &["up", "--no-start"]
        };
        self.compose(uuid, &file, action).await
    }

    async fn volumes_of(
        &self,
        filters: Vec<(&str, String)>,
    ) -> Result<Vec<bollard::models::Volume>> {
        let filters: std::collections::HashMap<String, Vec<String>> = [(
            "label".to_owned(),
            filters
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        )]
        .into();
        let listed = with_docker(self.runner.as_ref(), |docker| {
            let filters = filters.clone();
            async move {
                docker
                    .list_volumes(Some(ListVolumesOptions {
                        filters: Some(filters),
                    }))
                    .await
            }
        })
        .await?;
        Ok(listed.volumes.unwrap_or_default())
    }
}

#[async_trait]
impl Orchestrator for DockerOrchestrator {
    fn kind(&self) -> OrchestratorKind {
        OrchestratorKind::Docker
    }

    async fn check(&self) -> Result<String> {
        let engine = self.runner.check().await?;
        let cli = self.compose_cli().await?;
        Ok(format!("{engine} via {}", self.runner.describe())
            + &format!(", compose: {}", cli.join(" ")))
    }

    async fn prepare(&self, _project: &ProjectInfo<'_>) -> Result<Placement> {
        Ok(Placement::default())
    }

    async fn create(&self, request: &CreateRequest<'_>) -> Result<String> {
        // The intent id has Coolify's uuid shape and is unique: it names the service.
        let uuid = request.intent_id;
        self.up(
            uuid,
            request.compose,
            request.intent_id,
            request.project.project_id,
            request.start,
        )
        .await?;
        Ok(uuid.to_owned())
    }

    /// Services with containers. Volumes alone do not count: a service deleted with its
    /// volumes kept must not look like an orphan whose volumes should go.
    async fn list_managed(&self) -> Result<Vec<ManagedService>> {
        let ours = [(LABEL_DEPLOYMENT, self.deployment_id.as_str())];
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        for container in containers::with_labels(self.runner.as_ref(), &ours, true).await? {
            let labels = container.labels.unwrap_or_default();
            if let (Some(uuid), Some(intent)) =
                (labels.get(LABEL_COMPOSE_PROJECT), labels.get(LABEL_INTENT))
            {
                found.insert(uuid.clone(), intent.clone());
            }
        }
        Ok(found
            .into_iter()
            .map(|(uuid, intent_id)| ManagedService { uuid, intent_id })
            .collect())
    }

    async fn start(&self, service: &ServiceRef<'_>) -> Result<()> {
        let compose_file = service.compose.ok_or_else(|| {
            UpstreamError::new(
                Upstream::Compose,
                UpstreamKind::Rejected,
                "no compose file is recorded for this service",
            )
        })?;
        self.up(
            service.uuid,
            compose_file,
            service.intent_id.unwrap_or(service.uuid),
            service.project_id,
            true,
        )
        .await
    }

    async fn stop(&self, service: &ServiceRef<'_>) -> Result<()> {
        containers::stop_and_remove(self.runner.as_ref(), service.uuid)
            .await
            .map(drop)
    }

    async fn delete(&self, service: &ServiceRef<'_>, delete_volumes: bool) -> Result<()> {
        let runner = self.runner.as_ref();
        containers::stop_and_remove(runner, service.uuid).await?;
        let project_filter: std::collections::HashMap<String, Vec<String>> = [(
            "label".to_owned(),
            vec![format!("{LABEL_COMPOSE_PROJECT}={}", service.uuid)],
        )]
        .into();
        let networks = with_docker(runner, |docker| {
            let filters = project_filter.clone();
            async move {
                docker
                    .list_networks(Some(ListNetworksOptions {
                        filters: Some(filters),
                    }))
                    .await
            }
        })
        .await?;
        for network in networks {
            let Some(id) = network.id else { continue };
            if let Err(e) = with_docker(runner, |docker| {
                let id = id.clone();
                async move { docker.remove_network(&id).await }
            })
            .await
                && e.kind != UpstreamKind::NotFound
            {
                return Err(e);
            }
        }
        if delete_volumes {
            let volumes = self
                .volumes_of(vec![(LABEL_COMPOSE_PROJECT, service.uuid.to_owned())])
                .await?;
            for volume in volumes {
                if let Err(e) = with_docker(runner, |docker| {
                    let name = volume.name.clone();
                    async move {
                        docker
                            .remove_volume(&name, Some(RemoveVolumeOptions { force: true }))
                            .await
                    }
                })
                .await
                    && e.kind != UpstreamKind::NotFound
                {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn status(&self, service: &ServiceRef<'_>) -> Result<LiveStatus> {
        use bollard::models::ContainerSummaryStateEnum as State;
        let runner = self.runner.as_ref();
        let found =
            containers::with_labels(runner, &[(LABEL_COMPOSE_PROJECT, service.uuid)], true).await?;
        let states: Vec<State> = found.iter().filter_map(|c| c.state).collect();
        let (state, detail) = if states.is_empty() {
            let volumes = self
                .volumes_of(vec![(LABEL_COMPOSE_PROJECT, service.uuid.to_owned())])
                .await?;
            if volumes.is_empty() {
                (LiveState::Missing, "no containers or volumes".to_owned())
            } else {
                (LiveState::Stopped, "no containers; volumes kept".to_owned())
            }
        } else if states.iter().all(|s| *s == State::RUNNING) {
            (LiveState::Running, "running".to_owned())
        } else if states.contains(&State::RUNNING) {
            (
                LiveState::Degraded,
                "some containers are not running".to_owned(),
            )
        } else if states.contains(&State::RESTARTING) || states.contains(&State::CREATED) {
            (LiveState::Starting, "starting".to_owned())
        } else {
            (LiveState::Stopped, "exited".to_owned())
        };
        Ok(LiveStatus { state, detail })
    }
}
