//! Finding a service's containers by exact label match.
//!
//! Coolify (and our docker orchestrator) run a service as the compose project named by its
//! uuid, so Docker Compose stamps `com.docker.compose.project=<uuid>` on its containers. We
//! select on that label, never on `--filter name=`, which matches substrings: a service uuid
//! contained in another service's name would otherwise reach a foreign container.

use std::collections::HashMap;

use bollard::{
    models::{ContainerSummary, ContainerSummaryStateEnum},
    query_parameters::{ListContainersOptions, RemoveContainerOptions, StopContainerOptions},
};

use super::{Result, Runner, with_docker};
use crate::compose::DEV_SERVICE;

pub const LABEL_COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_COMPOSE_SERVICE: &str = "com.docker.compose.service";

fn label_filter(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    )])
}

/// Containers carrying every label in `labels` (checked again here, exactly).
pub async fn with_labels(
    runner: &dyn Runner,
    labels: &[(&str, &str)],
    include_stopped: bool,
) -> Result<Vec<ContainerSummary>> {
    let filters = label_filter(labels);
    let found = with_docker(runner, |docker| {
        let options = ListContainersOptions {
            all: include_stopped,
            filters: Some(filters.clone()),
            ..Default::default()
        };
        async move { docker.list_containers(Some(options)).await }
    })
    .await?;
    Ok(found
        .into_iter()
        .filter(|c| has_labels(c.labels.as_ref(), labels))
        .collect())
}

fn has_labels(actual: Option<&HashMap<String, String>>, wanted: &[(&str, &str)]) -> bool {
    actual.is_some_and(|actual| {
        wanted
            .iter()
            .all(|(k, v)| actual.get(*k).map(String::as_str) == Some(*v))
    })
}

/// The running dev container of service `service_uuid`, if any.
pub async fn running_dev_container(
    runner: &dyn Runner,
    service_uuid: &str,
) -> Result<Option<String>> {
    let labels = [
        (LABEL_COMPOSE_PROJECT, service_uuid),
        (LABEL_COMPOSE_SERVICE, DEV_SERVICE),
    ];
    let containers = with_labels(runner, &labels, false).await?;
    Ok(containers
        .into_iter()
        .find(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING))
        .and_then(|c| c.id))
}

/// What Coolify's stop does: `docker stop` every container of the service, then
/// `docker rm -f` them. Named volumes (the user's `/workspace`) survive; processes do not.
pub async fn stop_and_remove(runner: &dyn Runner, service_uuid: &str) -> Result<usize> {
    let containers = with_labels(runner, &[(LABEL_COMPOSE_PROJECT, service_uuid)], true).await?;
    let ids: Vec<String> = containers.into_iter().filter_map(|c| c.id).collect();
    for id in &ids {
        let stop = with_docker(runner, |docker| {
            let id = id.clone();
            async move {
                docker
                    .stop_container(
                        &id,
                        Some(StopContainerOptions {
                            t: Some(10),
                            ..Default::default()
                        }),
                    )
                    .await
            }
        })
        .await;
        if let Err(e) = stop {
            // Already stopped (304) or gone (404): the removal below settles it either way.
            tracing::debug!(container = %id, error = %e, "stop before removal failed");
        }
        let removed = with_docker(runner, |docker| {
            let id = id.clone();
            async move {
                docker
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptions {
                            force: true,
                            ..Default::default()
                        }),
                    )
                    .await
            }
        })
        .await;
        match removed {
            Ok(()) => {}
            Err(e) if e.kind == crate::error::UpstreamKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ids.len())
}
