//! Liveness, readiness, the OpenAPI document and the offline docs page.

use reqwest::{Method, StatusCode};

use crate::support::{Orchestration, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_each_dependency() {
    let docker = TestApp::builder().start().await;
    let ready = docker.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["database"]["ok"], true);
    assert_eq!(ready.body["orchestrator"]["ok"], true);
    assert!(
        ready.body.get("ssh").is_none(),
        "no SSH check with the local runner"
    );

    let coolify = TestApp::builder()
        .orchestration(Orchestration::Coolify)
        .start()
        .await;
    let fake = coolify.fake.clone().unwrap();
    let ready = coolify.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert!(
        ready.body["orchestrator"]["detail"]
            .as_str()
            .unwrap()
            .contains("Coolify 4.3.11")
    );

    fake.refuse_connections().await;
    let down = coolify.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.body["code"], "NOT_READY");
    assert_eq!(down.body["orchestrator"]["ok"], false);
    assert_eq!(down.body["database"]["ok"], true);
    let live = coolify.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        live.status,
        StatusCode::OK,
        "liveness does not depend on Coolify"
    );
    fake.accept_connections().await;
    coolify.assert_faithful();
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_matches_the_cli() {
    let app = TestApp::builder().start().await;
    let served = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(served.status, StatusCode::OK);
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_devplane"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(printed.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(
        served.body, printed,
        "`devplane openapi` prints what /openapi.json serves"
    );

    let paths = served.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/v1/workspaces/{workspace}/projects/{project_id}", "put"),
        ("/v1/workspaces/{workspace}/projects/{project_id}", "delete"),
        ("/v1/workspaces/{workspace}/projects", "get"),
        ("/v1/workspaces/{workspace}/quota", "get"),
        ("/v1/workspaces/{workspace}/tokens", "post"),
        ("/v1/workspaces/{workspace}/tokens/{token_id}", "delete"),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container",
            "put",
        ),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container",
            "get",
        ),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container",
            "delete",
        ),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/suspend",
            "post",
        ),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/resume",
            "post",
        ),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/exec",
            "post",
        ),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/files",
            "put",
        ),
        (
            "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/files/list",
            "get",
        ),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    assert!(served.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_docs_page_needs_no_internet() {
    let app = TestApp::builder().start().await;
    let page = app
        .http
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and stylesheet the page loads is served by devplane itself.
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
    ] {
        assert!(
            !html.contains("http://") && !html.contains("https://cdn"),
            "the page references the internet"
        );
        let reply = app
            .http
            .get(format!("{}/docs/{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{asset}");
    }
    let init = app
        .http
        .get(format!("{}/docs/swagger-initializer.js", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        init.contains("/openapi.json"),
        "the page loads our document: {init}"
    );
}
