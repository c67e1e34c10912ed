//! Dev container lifecycle over HTTP, on both orchestrators: the fake Coolify (which runs real
//! containers the way Coolify does) and the plain Docker host.

use std::{collections::BTreeMap, time::Duration};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    Orchestration, TestApp, UP_TIMEOUT, docker, eventually, fake_coolify, no_containers,
    process::ServiceProcess, running_container,
};

async fn app(orchestration: Orchestration) -> TestApp {
    TestApp::builder()
        .orchestration(orchestration)
        .start()
        .await
}

/// The label on every container this test app's orchestrator created.
fn ours(app: &TestApp) -> String {
    match &app.fake {
        Some(fake) => fake.instance_label(),
        None => format!("devplane.deployment={}", app.deployment),
    }
}

async fn ensured(app: &TestApp, workspace: &str, project: &str) -> String {
    let reply = app.ensure(workspace, project).await;
    assert!(
        reply.status.is_success(),
        "ensure: {} {}",
        reply.status,
        reply.body
    );
    reply.body["service_uuid"]
        .as_str()
        .expect("service_uuid")
        .to_owned()
}

async fn ensure_runs_a_labelled_and_limited_container(orchestration: Orchestration) {
    let app = app(orchestration).await;
    let project = app.new_project("ws-l").await;

    let first = app.ensure("ws-l", &project).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["created"], true);
    assert_eq!(first.body["state"], "provisioning");
    let uuid = first.body["service_uuid"].as_str().unwrap().to_owned();

    let container = running_container(&uuid).await;
    let labels = &container["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.project"], uuid.as_str());
    assert_eq!(labels["com.docker.compose.service"], "vibn-dev");
    assert_eq!(labels["traefik.enable"], "true");
    assert_eq!(
        container["HostConfig"]["NanoCpus"], 1_000_000_000u64,
        "cpus: '1'"
    );
    assert_eq!(container["HostConfig"]["Memory"], 1u64 << 30, "memory: 1g");
    assert_eq!(
        container["Config"]["Image"],
        crate::support::env::get().image().as_str()
    );
    let env: Vec<&str> = container["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        env.contains(&format!("VIBN_PROJECT_ID={project}").as_str()),
        "{env:?}"
    );

    // The preview URLs of the status match the Traefik rules on the container, one token each.
    if let Some(fake) = &app.fake {
        fake.settle().await; // Coolify's status lags until its start job is done
    }
    let status = app
        .dev_container(Method::GET, "ws-l", &project, "?live=true", None)
        .await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    let urls = status.body["preview_urls"].as_array().unwrap();
    assert_eq!(urls.len(), 10);
    let mut tokens = std::collections::HashSet::new();
    for url in urls {
        let slot = url["slot"].as_u64().unwrap();
        let host = url["url"].as_str().unwrap().trim_start_matches("https://");
        tokens.insert(
            host.split('.')
                .next()
                .unwrap()
                .rsplit('-')
                .next()
                .unwrap()
                .to_owned(),
        );
        let slug = app
            .op(Method::GET, "/v1/workspaces/ws-l/projects", None)
            .await
            .body[0]["slug"]
            .as_str()
            .unwrap()
            .to_owned();
        let rule = &labels[format!("traefik.http.routers.vibn-dev-{slug}-{slot}.rule")];
        assert_eq!(rule.as_str(), Some(format!("Host(`{host}`)").as_str()));
    }
    assert_eq!(tokens.len(), 10, "every preview slot has its own token");
    assert_eq!(status.body["live"]["state"], "running", "{}", status.body);

    let again = app.ensure("ws-l", &project).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["created"], false);
    assert_eq!(again.body["service_uuid"], uuid.as_str());
    app.assert_faithful();
}

async fn fifty_concurrent_ensures_create_one_service(orchestration: Orchestration) {
    let app = app(orchestration).await;
    let project = app.new_project("ws-c").await;

    let calls = (0..50).map(|_| app.ensure("ws-c", &project));
    let replies = futures::future::join_all(calls).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let existed = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(
        (created, existed),
        (1, 49),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );
    let uuids: std::collections::HashSet<&str> = replies
        .iter()
        .filter_map(|r| r.body["service_uuid"].as_str())
        .collect();
    assert_eq!(uuids.len(), 1, "every caller got the same service");
    let uuid = uuids.into_iter().next().unwrap().to_owned();

    running_container(&uuid).await;
    if let Some(fake) = &app.fake {
        fake.settle().await;
        assert_eq!(fake.count("create-service"), 1);
        assert_eq!(fake.services().len(), 1);
    }
    assert_eq!(
        docker::containers_with_label(&ours(&app)).await.len(),
        1,
        "one container"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM fs_project_dev_containers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    app.assert_faithful();
}

async fn ten_projects_with_cap_three_run_exactly_three(orchestration: Orchestration) {
    let app = TestApp::builder()
        .orchestration(orchestration)
        .quotas(10, 3)
        .start()
        .await;
    let mut projects = Vec::new();
    for _ in 0..10 {
        projects.push(app.new_project("ws-q").await);
    }
    let calls = projects.iter().map(|p| app.ensure("ws-q", p));
    let replies = futures::future::join_all(calls).await;

    let created: Vec<String> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .map(|r| r.body["service_uuid"].as_str().unwrap().to_owned())
        .collect();
    let refused: Vec<&Value> = replies
        .iter()
        .filter(|r| r.status == StatusCode::PAYMENT_REQUIRED)
        .map(|r| &r.body)
        .collect();
    assert_eq!(
        created.len(),
        3,
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(refused.len(), 7);
    let created_projects: Vec<String> = projects
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.status == StatusCode::CREATED)
        .map(|(p, _)| p.clone())
        .collect();
    for body in refused {
        assert_eq!(body["code"], "QUOTA_EXCEEDED");
        assert_eq!(body["resource"], "dev_containers");
        assert_eq!(body["current"], 3);
        assert_eq!(body["limit"], 3);
        let suggestions = body["suggestions"].as_array().expect("suggestions");
        assert!(!suggestions.is_empty(), "{body}");
        for s in suggestions {
            assert_eq!(s["action"], "suspend_dev_container");
            assert!(
                created_projects
                    .iter()
                    .any(|p| s["project_id"] == p.as_str()),
                "{s}"
            );
        }
    }
    for uuid in &created {
        running_container(uuid).await;
    }
    if let Some(fake) = &app.fake {
        fake.settle().await;
    }
    let running = docker::containers_with_label(&ours(&app)).await;
    assert_eq!(running.len(), 3, "{running:?}");
    let quota = app.op(Method::GET, "/v1/workspaces/ws-q/quota", None).await;
    assert_eq!(
        quota.body["dev_containers"],
        json!({"current": 3, "limit": 3})
    );
    app.assert_faithful();
}

async fn workspace_files_survive_suspend_and_resume(orchestration: Orchestration) {
    let app = app(orchestration).await;
    let project = app.new_project("ws-s").await;
    let uuid = ensured(&app, "ws-s", &project).await;
    running_container(&uuid).await;
    let name = format!("vibn-dev-{uuid}");

    let wrote = docker::docker(&[
        "exec",
        "-u",
        "vibn",
        &name,
        "sh",
        "-c",
        "echo kept-across-suspend > /workspace/note.txt",
    ])
    .await;
    assert_eq!(wrote.status, 0, "{}", wrote.stderr);
    sqlx::query(
        "INSERT INTO fs_dev_servers (id, project_id, workspace, name, command, port, pid, preview_url, state) \
         VALUES ('ds_test', $1, 'ws-s', 'web', 'npm run dev', 3000, 99, 'https://x', 'running')",
    )
    .bind(&project)
    .execute(&app.pool)
    .await
    .unwrap();

    let suspended = app
        .dev_container(Method::POST, "ws-s", &project, "/suspend", None)
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    assert_eq!(suspended.body["state"], "suspended");
    no_containers(&uuid).await;
    let volumes = docker::volumes_with_label(&format!("com.docker.compose.project={uuid}")).await;
    assert!(
        volumes.iter().any(|v| v.ends_with("_workspace")),
        "the workspace volume is kept: {volumes:?}"
    );
    let server_state: String =
        sqlx::query_scalar("SELECT state FROM fs_dev_servers WHERE id = 'ds_test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        server_state, "stopped",
        "a suspended container's dev servers are stopped"
    );
    let quota = app.op(Method::GET, "/v1/workspaces/ws-s/quota", None).await;
    assert_eq!(
        quota.body["dev_containers"]["current"], 0,
        "suspended containers are free"
    );
    let again = app
        .dev_container(Method::POST, "ws-s", &project, "/suspend", None)
        .await;
    assert_eq!(again.status, StatusCode::OK, "suspending twice is fine");

    let resumed = app
        .dev_container(Method::POST, "ws-s", &project, "/resume", None)
        .await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    assert_eq!(resumed.body["state"], "running");
    running_container(&uuid).await;
    let read = docker::docker(&["exec", "-u", "vibn", &name, "cat", "/workspace/note.txt"]).await;
    assert_eq!(read.stdout.trim(), "kept-across-suspend");
    let status = app
        .dev_container(Method::GET, "ws-s", &project, "", None)
        .await;
    assert_eq!(status.body["state"], "running");
    assert_eq!(status.body["suspended_at"], Value::Null);
    app.assert_faithful();
}

async fn resume_counts_against_the_cap(orchestration: Orchestration) {
    let app = TestApp::builder()
        .orchestration(orchestration)
        .quotas(5, 1)
        .start()
        .await;
    let a = app.new_project("ws-r").await;
    let b = app.new_project("ws-r").await;
    let uuid_a = ensured(&app, "ws-r", &a).await;
    let suspended = app
        .dev_container(Method::POST, "ws-r", &a, "/suspend", None)
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    let uuid_b = ensured(&app, "ws-r", &b).await;
    running_container(&uuid_b).await;

    let refused = app
        .dev_container(Method::POST, "ws-r", &a, "/resume", None)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["resource"], "dev_containers");
    assert_eq!(refused.body["suggestions"][0]["project_id"], b.as_str());
    // Exec on the suspended container would resume it: refused the same way.
    let exec = app.exec("ws-r", &a, json!({"command": "true"})).await;
    assert_eq!(exec.status, StatusCode::PAYMENT_REQUIRED, "{}", exec.body);
    let status = app.dev_container(Method::GET, "ws-r", &a, "", None).await;
    assert_eq!(
        status.body["state"], "suspended",
        "a refused resume changes nothing"
    );
    no_containers(&uuid_a).await;
    app.assert_faithful();
}

async fn delete_keeps_volumes_unless_asked(orchestration: Orchestration) {
    let app = app(orchestration).await;
    let project = app.new_project("ws-d").await;
    let uuid = ensured(&app, "ws-d", &project).await;
    running_container(&uuid).await;

    let has_dev_container = app
        .op(
            Method::DELETE,
            &TestApp::project_path("ws-d", &project),
            None,
        )
        .await;
    assert_eq!(has_dev_container.status, StatusCode::CONFLICT);
    assert_eq!(has_dev_container.body["code"], "PROJECT_HAS_DEV_CONTAINER");

    let deleted = app
        .dev_container(Method::DELETE, "ws-d", &project, "", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    no_containers(&uuid).await;
    if let Some(fake) = &app.fake {
        fake.settle().await;
    }
    let volumes = docker::volumes_with_label(&format!("com.docker.compose.project={uuid}")).await;
    assert!(!volumes.is_empty(), "volumes survive a plain delete");
    let gone = app
        .dev_container(Method::GET, "ws-d", &project, "", None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["code"], "DEV_CONTAINER_NOT_FOUND");

    let second = ensured(&app, "ws-d", &project).await;
    assert_ne!(second, uuid, "a new dev container is a new service");
    running_container(&second).await;
    let deleted = app
        .dev_container(
            Method::DELETE,
            "ws-d",
            &project,
            "?delete_volumes=true",
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    eventually("volumes deleted", UP_TIMEOUT, || {
        let second = second.clone();
        async move {
            docker::volumes_with_label(&format!("com.docker.compose.project={second}"))
                .await
                .is_empty()
                .then_some(())
        }
    })
    .await;
    docker::remove_volumes_of_project(&uuid).await;
    app.assert_faithful();
}

/// A process killed right after the orchestrator created the service, before the database
/// recorded it: after a restart, exactly one service exists and ensure works.
async fn a_crash_between_create_and_record_leaves_no_unknown_service(orchestration: Orchestration) {
    // This in-process instance only registers the project; its own reconciler stays out of
    // the way, so that what adopts the service is the restarted process.
    let app = TestApp::builder()
        .orchestration(orchestration)
        .configure(|c| c.lifecycle.reconcile_interval_secs = 3600)
        .start()
        .await;
    let project = app.new_project("ws-k").await;

    let mut env = BTreeMap::from([
        ("DATABASE_URL".to_owned(), app.db.url.clone()),
        ("VIBN_OPERATOR_TOKENS".to_owned(), app.operator.clone()),
        ("VIBN_DEPLOYMENT_ID".to_owned(), app.deployment.clone()),
        (
            "VIBN_DEV_IMAGE".to_owned(),
            crate::support::env::get().image(),
        ),
        ("VIBN_INTENT_GRACE_SECS".to_owned(), "1".to_owned()),
    ]);
    match &app.fake {
        Some(fake) => {
            env.insert("VIBN_ORCHESTRATOR".into(), "coolify".into());
            env.insert("COOLIFY_URL".into(), fake.url());
            env.insert("COOLIFY_API_TOKEN".into(), fake_coolify::TOKEN.into());
            env.insert("COOLIFY_SERVER_UUID".into(), fake.server_uuid());
            env.insert("VIBN_COOLIFY_TIMEOUT_MS".into(), "2000".into());
        }
        None => {
            env.insert("VIBN_ORCHESTRATOR".into(), "docker".into());
        }
    }
    let mut crashing_env = env.clone();
    crashing_env.insert(
        "DEVPLANE_TEST_FAILPOINT".into(),
        "after_orchestrator_create".into(),
    );

    let mut crashing = ServiceProcess::start(&crashing_env).await;
    let url = format!(
        "{}/v1/workspaces/ws-k/projects/{project}/dev-container",
        crashing.base
    );
    let client = reqwest::Client::new();
    let outcome = client.put(&url).bearer_auth(&app.operator).send().await;
    assert!(
        outcome.is_err() || !outcome.unwrap().status().is_success(),
        "the process died mid-request"
    );
    assert!(
        crashing.wait_exit(Duration::from_secs(10)).await,
        "the failpoint aborted the process"
    );

    // The service exists upstream; the row is a pending intent.
    let pending: Option<String> = sqlx::query_scalar(
        "SELECT service_uuid FROM fs_project_dev_containers WHERE project_id = $1",
    )
    .bind(&project)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(pending, None, "the crash came before the record");

    let restarted = ServiceProcess::start(&env).await;
    // Start-up reconciliation adopts it; ensure then finds it.
    let recorded: String = eventually("the service adopted", Duration::from_secs(30), || {
        let pool = app.pool.clone();
        let project = project.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT service_uuid FROM fs_project_dev_containers WHERE project_id = $1",
            )
            .bind(&project)
            .fetch_one(&pool)
            .await
            .ok()
            .flatten()
        }
    })
    .await;
    let url = format!(
        "{}/v1/workspaces/ws-k/projects/{project}/dev-container",
        restarted.base
    );
    let reply = client
        .put(&url)
        .bearer_auth(&app.operator)
        .send()
        .await
        .expect("ensure after restart");
    assert_eq!(reply.status(), StatusCode::OK);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["service_uuid"], recorded.as_str());
    assert_eq!(body["created"], false);

    running_container(&recorded).await;
    if let Some(fake) = &app.fake {
        fake.settle().await;
        assert_eq!(fake.services().len(), 1, "exactly one service upstream");
        assert_eq!(fake.count("create-service"), 1);
    }
    assert_eq!(docker::containers_with_label(&ours(&app)).await.len(), 1);
    app.assert_faithful();
}

macro_rules! on_both_orchestrators {
    ($($name:ident),* $(,)?) => {
        mod docker_host {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Orchestration::Docker).await
                }
            )*
        }
        mod coolify {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Orchestration::Coolify).await
                }
            )*
        }
    };
}

on_both_orchestrators!(
    ensure_runs_a_labelled_and_limited_container,
    fifty_concurrent_ensures_create_one_service,
    ten_projects_with_cap_three_run_exactly_three,
    workspace_files_survive_suspend_and_resume,
    resume_counts_against_the_cap,
    delete_keeps_volumes_unless_asked,
    a_crash_between_create_and_record_leaves_no_unknown_service,
);
