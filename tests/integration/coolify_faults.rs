//! Every fault the fake Coolify can inject, on ensure, suspend and resume: a typed error
//! code, a consistent database, and a retry that succeeds once the fault clears.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::support::{
    Orchestration, TestApp, docker,
    fake_coolify::{FakeCoolify, Fault},
    no_containers, running_container,
};

#[derive(Clone, Copy, Debug)]
enum Kind {
    ServerError,
    RateLimited,
    Slow,
    Malformed,
    Refused,
}

impl Kind {
    fn expected(self) -> (StatusCode, &'static str) {
        match self {
            Kind::ServerError => (StatusCode::SERVICE_UNAVAILABLE, "COOLIFY_UNAVAILABLE"),
            Kind::RateLimited => (StatusCode::SERVICE_UNAVAILABLE, "COOLIFY_RATE_LIMITED"),
            Kind::Slow => (StatusCode::GATEWAY_TIMEOUT, "COOLIFY_TIMEOUT"),
            Kind::Malformed => (StatusCode::BAD_GATEWAY, "COOLIFY_BAD_RESPONSE"),
            Kind::Refused => (StatusCode::SERVICE_UNAVAILABLE, "COOLIFY_UNAVAILABLE"),
        }
    }

    /// Turns the fault on for `operations` until [`Kind::clear`].
    async fn inject(self, fake: &FakeCoolify, operations: &[&str]) {
        let fault = match self {
            Kind::ServerError => Fault::Status500,
            Kind::RateLimited => Fault::RateLimited {
                retry_after_secs: 7,
            },
            // Past the client's 2 s timeout; the action still happens, later.
            Kind::Slow => Fault::Slow(Duration::from_secs(3)),
            Kind::Malformed => Fault::Malformed,
            Kind::Refused => return fake.refuse_connections().await,
        };
        for op in operations {
            fake.inject(Some(op), fault.clone(), 1000);
        }
    }

    async fn clear(self, fake: &FakeCoolify) {
        fake.clear_faults();
        if let Kind::Refused = self {
            fake.accept_connections().await;
        }
    }
}

fn fake(app: &TestApp) -> &FakeCoolify {
    app.fake.as_deref().expect("a Coolify app")
}

/// No service upstream that no row knows, no recorded service missing upstream, and no
/// container running for a row that says it is suspended (which would let the workspace run
/// more containers than its quota counts).
async fn assert_consistent(app: &TestApp) {
    let fake = fake(app);
    fake.settle().await;
    let states: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT service_uuid, state FROM fs_project_dev_containers")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for (uuid, state) in &states {
        if let (Some(uuid), "suspended") = (uuid, state.as_str()) {
            let running = docker::project_states(uuid).await;
            assert!(
                !running.iter().any(|s| s == "running"),
                "{uuid} runs but its row says suspended: the quota would not count it"
            );
        }
    }
    let rows: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT service_uuid, intent_id FROM fs_project_dev_containers")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let services = fake.services();
    for service in &services {
        let known = rows.iter().any(|(uuid, intent)| {
            uuid.as_deref() == Some(service.uuid.as_str())
                || intent.as_deref().is_some_and(|i| {
                    service
                        .description
                        .contains(&format!("{}:{i}", app.deployment))
                })
        });
        assert!(
            known,
            "service {} exists upstream but no row knows it: {rows:?}",
            service.uuid
        );
    }
    for (uuid, _) in &rows {
        if let Some(uuid) = uuid {
            assert!(
                services.iter().any(|s| &s.uuid == uuid),
                "row records {uuid}, which Coolify does not have"
            );
        }
    }
}

async fn expect_fault(reply: crate::support::app::Reply, kind: Kind) {
    let (status, code) = kind.expected();
    assert_eq!(reply.status, status, "{kind:?}: {}", reply.body);
    assert_eq!(reply.body["code"], code, "{kind:?}: {}", reply.body);
    assert_eq!(reply.body["upstream"], "Coolify");
    if let Kind::RateLimited = kind {
        assert_eq!(
            reply
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
        assert_eq!(reply.body["retry_after_secs"], 7);
    }
}

async fn fault_on_ensure(kind: Kind) {
    let app = TestApp::builder()
        .orchestration(Orchestration::Coolify)
        .start()
        .await;
    let project = app.new_project("ws-f").await;

    kind.inject(fake(&app), &["create-service", "list-services"])
        .await;
    expect_fault(app.ensure("ws-f", &project).await, kind).await;
    kind.clear(fake(&app)).await;
    assert_consistent(&app).await;

    let retry = app.ensure("ws-f", &project).await;
    assert!(
        retry.status.is_success(),
        "{kind:?} retry: {} {}",
        retry.status,
        retry.body
    );
    let uuid = retry.body["service_uuid"].as_str().unwrap().to_owned();
    running_container(&uuid).await;
    fake(&app).settle().await;
    assert_eq!(
        fake(&app).services().len(),
        1,
        "{kind:?}: exactly one service"
    );
    assert_consistent(&app).await;
    app.assert_faithful();
}

/// An app on the fake Coolify with one running dev container: (app, project id, service uuid).
async fn coolify_app_with_a_running_container() -> (TestApp, String, String) {
    let app = TestApp::builder()
        .orchestration(Orchestration::Coolify)
        .start()
        .await;
    let (project, container) = app.running_dev_container("ws-f").await;
    fake(&app).settle().await;
    let uuid = container.trim_start_matches("vibn-dev-").to_owned();
    (app, project, uuid)
}

async fn fault_on_suspend(kind: Kind) {
    let (app, project, uuid) = coolify_app_with_a_running_container().await;

    kind.inject(fake(&app), &["stop-service-by-uuid"]).await;
    expect_fault(
        app.dev_container(Method::POST, "ws-f", &project, "/suspend", None)
            .await,
        kind,
    )
    .await;
    let state = app
        .dev_container(Method::GET, "ws-f", &project, "", None)
        .await
        .body["state"]
        .clone();
    assert_ne!(
        state, "suspended",
        "{kind:?}: a failed suspend records no suspension"
    );
    kind.clear(fake(&app)).await;
    assert_consistent(&app).await;

    let retry = app
        .dev_container(Method::POST, "ws-f", &project, "/suspend", None)
        .await;
    assert_eq!(
        retry.status,
        StatusCode::OK,
        "{kind:?} retry: {}",
        retry.body
    );
    fake(&app).settle().await;
    no_containers(&uuid).await;
    assert_consistent(&app).await;
    app.assert_faithful();
}

async fn fault_on_resume(kind: Kind) {
    let (app, project, uuid) = coolify_app_with_a_running_container().await;
    let suspended = app
        .dev_container(Method::POST, "ws-f", &project, "/suspend", None)
        .await;
    assert_eq!(suspended.status, StatusCode::OK);
    fake(&app).settle().await;

    kind.inject(fake(&app), &["start-service-by-uuid"]).await;
    expect_fault(
        app.dev_container(Method::POST, "ws-f", &project, "/resume", None)
            .await,
        kind,
    )
    .await;
    let status = app
        .dev_container(Method::GET, "ws-f", &project, "", None)
        .await;
    let quota = app.op(Method::GET, "/v1/workspaces/ws-f/quota", None).await;
    // A start that may have happened keeps the quota place (`provisioning`); one refused
    // outright gives it back. (A refused connection is refused outright, unless a pooled
    // connection closed under the request after it was written: then nobody can know.)
    let held = status.body["state"] == "provisioning";
    assert!(
        held || status.body["state"] == "suspended",
        "{kind:?}: {}",
        status.body
    );
    assert_eq!(
        quota.body["dev_containers"]["current"],
        if held { 1 } else { 0 }
    );
    match kind {
        Kind::ServerError | Kind::Slow | Kind::Malformed => {
            assert!(held, "{kind:?}: Coolify may be starting it")
        }
        Kind::RateLimited => assert!(!held, "{kind:?}: nothing happened upstream"),
        Kind::Refused => {}
    }
    kind.clear(fake(&app)).await;
    assert_consistent(&app).await;

    let retry = app
        .dev_container(Method::POST, "ws-f", &project, "/resume", None)
        .await;
    assert_eq!(
        retry.status,
        StatusCode::OK,
        "{kind:?} retry: {}",
        retry.body
    );
    running_container(&uuid).await;
    assert_consistent(&app).await;
    app.assert_faithful();
}

macro_rules! fault_tests {
    ($($kind:ident => $module:ident),* $(,)?) => {
        $(
            mod $module {
                use super::Kind;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_ensure() {
                    super::fault_on_ensure(Kind::$kind).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_suspend() {
                    super::fault_on_suspend(Kind::$kind).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_resume() {
                    super::fault_on_resume(Kind::$kind).await
                }
            }
        )*
    };
}

fault_tests!(
    ServerError => server_error,
    RateLimited => rate_limited,
    Slow => slow_answer,
    Malformed => malformed_body,
    Refused => connection_refused,
);
