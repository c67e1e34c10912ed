//! The docker-compose file behind one dev container, rendered exactly as the seed's
//! `renderDevCompose` does, with one fix: each preview slot has its own random token.
//!
//! Also here: the rewrite Coolify applies to a compose file before it runs it (fixed container
//! names, ownership labels), which the `docker` orchestrator performs itself.

use std::fmt::Write as _;

use yaml_serde::{Mapping, Value};

use crate::config::DevContainerConfig;

/// Preview ports 3000..3009 have Traefik routers baked into the compose file, so starting a
/// dev server needs no redeploy.
pub const PREVIEW_BASE_PORT: u16 = 3000;
pub const PREVIEW_PORT_COUNT: usize = 10;

/// The compose service key of the dev container; containers are named `vibn-dev-<uuid>`.
pub const DEV_SERVICE: &str = "vibn-dev";

pub struct ComposeInput<'a> {
    pub project_id: &'a str,
    pub slug: &'a str,
    /// One token per preview slot.
    pub preview_tokens: &'a [String],
    pub dev: &'a DevContainerConfig,
}

/// The preview hostname of one slot; it must match the Traefik rule in [`render`].
pub fn preview_host(slug: &str, slot: usize, token: &str, domain_base: &str) -> String {
    format!("preview-{slot}-{slug}-{token}.{domain_base}")
}

pub fn preview_url(slug: &str, slot: usize, token: &str, domain_base: &str) -> String {
    format!("https://{}", preview_host(slug, slot, token, domain_base))
}

/// Renders the compose file. Every interpolated value is validated upstream (slug and
/// project id by `domain`, limits and image by `config`), so the YAML needs no escaping.
pub fn render(input: &ComposeInput<'_>) -> String {
    let dev = input.dev;
    let slug = input.slug;
    let mut labels = vec!["\"traefik.enable=true\"".to_owned()];
    for (slot, token) in input
        .preview_tokens
        .iter()
        .enumerate()
        .take(PREVIEW_PORT_COUNT)
    {
        let port = PREVIEW_BASE_PORT + slot as u16;
        let router = format!("vibn-dev-{slug}-{slot}");
        let host = preview_host(slug, slot, token, &dev.preview_domain_base);
        labels.push(format!(
            "\"traefik.http.routers.{router}.rule=Host(`{host}`)\""
        ));
        labels.push(format!(
            "\"traefik.http.routers.{router}.entrypoints=https\""
        ));
        labels.push(format!("\"traefik.http.routers.{router}.tls=true\""));
        labels.push(format!(
            "\"traefik.http.routers.{router}.tls.certresolver=letsencrypt-dns\""
        ));
        labels.push(format!(
            "\"traefik.http.services.{router}.loadbalancer.server.port={port}\""
        ));
        labels.push(format!(
            "\"traefik.http.routers.{router}.service={router}\""
        ));
    }
    let mut labels_block = String::new();
    for label in &labels {
        let _ = writeln!(labels_block, "      - {label}");
    }
    let primary_token = input
        .preview_tokens
        .first()
        .map(String::as_str)
        .unwrap_or("");

    format!(
        "services:
  vibn-dev:
    image: {image}
    pull_policy: never
    restart: unless-stopped
    working_dir: /workspace
    volumes:
      - workspace:/workspace
      - cache:/home/vibn/.cache
    environment:
      - VIBN_PROJECT_SLUG={slug}
      - VIBN_PROJECT_ID={project_id}
      - VIBN_PREVIEW_TOKEN={primary_token}
      - VIBN_DEV_CONTAINER=1
    networks:
      - vibn-dev-net
      - coolify
    labels:
{labels_block}    deploy:
      resources:
        limits:
          cpus: '{cpus}'
          memory: {memory}
networks:
  vibn-dev-net:
    name: vibn-dev-net-{slug}
    driver: bridge
  coolify:
    external: true
volumes:
  workspace:
  cache:
",
        image = dev.image,
        project_id = input.project_id,
        cpus = dev.cpu_limit,
        memory = dev.mem_limit,
    )
}

/// Labels the `docker` orchestrator puts on what it creates, so it can find its own services
/// (and only its own) again after a crash.
pub const LABEL_DEPLOYMENT: &str = "devplane.deployment";
pub const LABEL_INTENT: &str = "devplane.intent";
pub const LABEL_PROJECT: &str = "devplane.project";

/// Applies Coolify's own rewrite for a service `uuid`: every container is named
/// `<compose service>-<uuid>` (the compose project is the uuid, set on the command line), and
/// containers, volumes and the file's own networks carry `labels`.
pub fn for_docker_host(
    compose: &str,
    uuid: &str,
    labels: &[(&str, &str)],
) -> Result<String, String> {
    let mut doc: Value =
        yaml_serde::from_str(compose).map_err(|e| format!("invalid compose file: {e}"))?;
    let root = doc
        .as_mapping_mut()
        .ok_or("the compose file is not a mapping")?;

    let services = root
        .get_mut("services")
        .and_then(Value::as_mapping_mut)
        .ok_or("the compose file has no services")?;
    for (key, service) in services.iter_mut() {
        let key = key
            .as_str()
            .ok_or("a service name is not a string")?
            .to_owned();
        let service = service
            .as_mapping_mut()
            .ok_or_else(|| format!("service {key} is not a mapping"))?;
        service.insert("container_name".into(), format!("{key}-{uuid}").into());
        add_labels(service, labels)?;
    }

    // Volumes and the networks the file itself defines carry the labels too; external
    // networks (Coolify's proxy network) belong to someone else.
    for section in ["volumes", "networks"] {
        let Some(items) = root.get_mut(section).and_then(Value::as_mapping_mut) else {
            continue;
        };
        for (_, item) in items.iter_mut() {
            if item.is_null() {
                *item = Value::Mapping(Mapping::new());
            }
            let external = item
                .get("external")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if let (false, Some(map)) = (external, item.as_mapping_mut()) {
                add_labels(map, labels)?;
            }
        }
    }
    yaml_serde::to_string(&doc).map_err(|e| format!("cannot write compose file: {e}"))
}

fn add_labels(target: &mut Mapping, labels: &[(&str, &str)]) -> Result<(), String> {
    let entry = target
        .entry("labels".into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    match entry {
        Value::Sequence(list) => {
            for (k, v) in labels {
                list.push(format!("{k}={v}").into());
            }
        }
        Value::Mapping(map) => {
            for (k, v) in labels {
                map.insert((*k).into(), (*v).into());
            }
        }
        _ => return Err("labels must be a list or a mapping".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_with<'a>(tokens: &'a [String], dev: &'a DevContainerConfig) -> ComposeInput<'a> {
        ComposeInput {
            project_id: "proj_123",
            slug: "my-app",
            preview_tokens: tokens,
            dev,
        }
    }

    fn tokens() -> Vec<String> {
        (0..PREVIEW_PORT_COUNT)
            .map(|i| format!("{i:012x}"))
            .collect()
    }

    #[test]
    fn render_matches_the_golden_file() {
        let dev = DevContainerConfig::default();
        let rendered = render(&input_with(&tokens(), &dev));
        let golden = include_str!("../tests/data/compose.golden.yml");
        assert_eq!(
            rendered, golden,
            "regenerate only if the seed's template changed"
        );
    }

    #[test]
    fn every_slot_has_its_own_token_in_its_router_rule() {
        let dev = DevContainerConfig::default();
        let tokens = tokens();
        let rendered = render(&input_with(&tokens, &dev));
        for (slot, token) in tokens.iter().enumerate() {
            let host = preview_host("my-app", slot, token, &dev.preview_domain_base);
            assert!(rendered.contains(&format!(
                "traefik.http.routers.vibn-dev-my-app-{slot}.rule=Host(`{host}`)"
            )));
        }
    }

    #[test]
    fn the_docker_host_rewrite_names_containers_and_labels_volumes() {
        let dev = DevContainerConfig::default();
        let rendered = render(&input_with(&tokens(), &dev));
        let rewritten =
            for_docker_host(&rendered, "abc123", &[(LABEL_DEPLOYMENT, "test")]).unwrap();
        let doc: Value = yaml_serde::from_str(&rewritten).unwrap();
        assert_eq!(
            doc["services"]["vibn-dev"]["container_name"].as_str(),
            Some("vibn-dev-abc123")
        );
        let labels = doc["services"]["vibn-dev"]["labels"].as_sequence().unwrap();
        assert!(
            labels
                .iter()
                .any(|l| l.as_str() == Some("devplane.deployment=test"))
        );
        assert_eq!(
            doc["volumes"]["workspace"]["labels"]["devplane.deployment"].as_str(),
            Some("test")
        );
        assert_eq!(
            doc["networks"]["vibn-dev-net"]["labels"]["devplane.deployment"].as_str(),
            Some("test")
        );
        assert!(doc["networks"]["coolify"].get("labels").is_none());
        // Traefik labels survive the round trip untouched.
        assert!(
            labels
                .iter()
                .any(|l| l.as_str() == Some("traefik.enable=true"))
        );
    }
}
