//! The Coolify client against the fake: every call the lifecycle makes matches Coolify's
//! document, and every failure becomes a typed error.

use std::time::Duration;

use devplane::{
    compose::{self, ComposeInput},
    config::DevContainerConfig,
    coolify::{CoolifyClient, CreateService, Transition},
    error::UpstreamKind,
};

use crate::support::{
    docker,
    fake_coolify::{FakeCoolify, Fault, TOKEN, VERSION},
};

fn client(fake: &FakeCoolify, token: &str) -> CoolifyClient {
    CoolifyClient::new(
        &fake.url(),
        &token.to_owned().into(),
        Duration::from_secs(2),
        Duration::from_secs(1),
    )
    .expect("client")
}

fn compose_file() -> String {
    let tokens: Vec<String> = (0..compose::PREVIEW_PORT_COUNT)
        .map(|i| format!("{i:012x}"))
        .collect();
    compose::render(&ComposeInput {
        project_id: "client-test",
        slug: &format!("c{}", crate::support::random_id(8)),
        preview_tokens: &tokens,
        dev: &DevContainerConfig {
            image: crate::support::env::get().image(),
            ..Default::default()
        },
    })
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        docker::remove_everything_labelled(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_matches_coolifys_document() {
    let fake = FakeCoolify::start().await;
    let _cleanup = Cleanup(fake.instance_label());
    let coolify = client(&fake, TOKEN);

    assert_eq!(coolify.version().await.unwrap(), VERSION);
    coolify.health().await.unwrap();
    assert_eq!(
        coolify.get_server(&fake.server_uuid()).await.unwrap().uuid,
        fake.server_uuid()
    );
    assert!(coolify.list_projects().await.unwrap().is_empty());

    let project = coolify
        .create_project("vibn-client", "client test")
        .await
        .unwrap();
    let environments = coolify.get_project(&project).await.unwrap().environments;
    let production = environments
        .iter()
        .find(|e| e.name == "production")
        .expect("production environment");
    let compose = compose_file();
    let service = coolify
        .create_service(&CreateService {
            project_uuid: &project,
            server_uuid: &fake.server_uuid(),
            environment_name: "production",
            environment_uuid: &production.uuid,
            name: "vibn-dev-client",
            description: "client test",
            compose: &compose,
            instant_deploy: false,
        })
        .await
        .unwrap();
    assert_eq!(
        coolify
            .get_service(&service)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("exited")
    );
    assert!(
        coolify
            .list_services()
            .await
            .unwrap()
            .iter()
            .any(|s| s.uuid == service)
    );

    assert_eq!(
        coolify.start_service(&service).await.unwrap(),
        Transition::Queued
    );
    fake.settle().await;
    assert!(
        coolify
            .get_service(&service)
            .await
            .unwrap()
            .status
            .unwrap()
            .starts_with("running")
    );
    assert_eq!(
        coolify.start_service(&service).await.unwrap(),
        Transition::AlreadyDone
    );
    coolify.restart_service(&service).await.unwrap();
    fake.settle().await;
    assert_eq!(
        coolify.stop_service(&service).await.unwrap(),
        Transition::Queued
    );
    fake.settle().await;
    assert_eq!(
        coolify.stop_service(&service).await.unwrap(),
        Transition::AlreadyDone
    );
    coolify.delete_service(&service, true).await.unwrap();
    fake.settle().await;
    assert_eq!(
        coolify.get_service(&service).await.unwrap_err().kind,
        UpstreamKind::NotFound
    );

    // What went over the wire: POST for state changes, base64 compose, both environment keys.
    let requests = fake.requests();
    let created = requests
        .iter()
        .find(|r| r.operation == "create-service")
        .unwrap();
    let body = created.body.as_ref().unwrap();
    assert!(body["docker_compose_raw"].as_str().unwrap().ends_with('='));
    assert_eq!(body["environment_uuid"], production.uuid.as_str());
    for op in [
        "start-service-by-uuid",
        "stop-service-by-uuid",
        "restart-service-by-uuid",
    ] {
        assert!(
            requests
                .iter()
                .filter(|r| r.operation == op)
                .all(|r| r.method == "POST"),
            "{op}"
        );
    }
    let violations = fake.violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_become_typed_errors() {
    let fake = FakeCoolify::start().await;
    let _cleanup = Cleanup(fake.instance_label());
    let coolify = client(&fake, TOKEN);

    let wrong = client(&fake, "1|not-the-token")
        .version()
        .await
        .unwrap_err();
    assert_eq!(wrong.kind, UpstreamKind::Unauthorized);
    assert!(
        !wrong.message.contains("not-the-token"),
        "the token never appears in errors"
    );
    assert_eq!(
        coolify
            .get_service("nosuchservice000000000000")
            .await
            .unwrap_err()
            .kind,
        UpstreamKind::NotFound
    );

    let project = coolify.create_project("vibn-faults", "").await.unwrap();
    let env_uuid = coolify.get_project(&project).await.unwrap().environments[0]
        .uuid
        .clone();
    let rejected = coolify
        .create_service(&CreateService {
            project_uuid: &project,
            server_uuid: &fake.server_uuid(),
            environment_name: "production",
            environment_uuid: &env_uuid,
            name: "bad",
            description: "",
            compose: "not: a compose file\n",
            instant_deploy: false,
        })
        .await
        .unwrap_err();
    assert_eq!(rejected.kind, UpstreamKind::Rejected);
    assert!(
        rejected.message.contains("docker_compose_raw"),
        "422 errors are summarised: {}",
        rejected.message
    );

    fake.inject(Some("version"), Fault::Status500, 1);
    let e = coolify.version().await.unwrap_err();
    assert_eq!(
        (e.kind, e.outcome_unknown),
        (UpstreamKind::Unavailable, true)
    );

    fake.inject(
        Some("version"),
        Fault::RateLimited {
            retry_after_secs: 9,
        },
        1,
    );
    let e = coolify.version().await.unwrap_err();
    assert_eq!(
        e.kind,
        UpstreamKind::RateLimited {
            retry_after: Some(Duration::from_secs(9))
        }
    );

    fake.inject(
        Some("list-projects"),
        Fault::Slow(Duration::from_secs(3)),
        1,
    );
    let started = std::time::Instant::now();
    let e = coolify.list_projects().await.unwrap_err();
    assert_eq!((e.kind, e.outcome_unknown), (UpstreamKind::Timeout, true));
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "the client's own deadline fired"
    );

    fake.inject(Some("list-projects"), Fault::Malformed, 1);
    assert_eq!(
        coolify.list_projects().await.unwrap_err().kind,
        UpstreamKind::BadResponse
    );

    fake.refuse_connections().await;
    // A fresh client: a pooled connection closed under it could have carried the request.
    let e = client(&fake, TOKEN).version().await.unwrap_err();
    assert_eq!(
        (e.kind, e.outcome_unknown),
        (UpstreamKind::Unavailable, false),
        "nothing was sent"
    );
    fake.accept_connections().await;
    assert_eq!(coolify.version().await.unwrap(), VERSION);
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
}

#[tokio::test]
async fn the_rendered_compose_file_passes_docker_compose_config() {
    let compose = compose_file();
    let rewritten = compose::for_docker_host(
        &compose,
        "abcdefghijklmnopqrstuvwx",
        &[(compose::LABEL_DEPLOYMENT, "check")],
    )
    .unwrap();
    for file in [compose, rewritten] {
        let cli = docker::compose_command().await;
        let mut args: Vec<&str> = cli[1..].to_vec();
        args.extend(["-p", "configcheck", "-f", "-", "config", "-q"]);
        let out = docker::run(cli[0], &args, Some(file.as_bytes())).await;
        assert_eq!(
            out.status, 0,
            "compose config refused the file: {}\n{file}",
            out.stderr
        );
    }
}
