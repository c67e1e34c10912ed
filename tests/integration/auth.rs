//! Authentication and tenancy: 401 without a valid token, 404 across workspaces.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, random_id};

#[tokio::test]
async fn a_missing_or_bad_token_gets_401_in_the_error_shape() {
    let app = TestApp::builder().start().await;
    let path = "/v1/workspaces/ws-a/projects";

    let missing = app.call(Method::GET, path, None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.body["code"], "UNAUTHORIZED");
    assert!(missing.body["error"].is_string());
    assert_eq!(
        missing
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    for bad in [
        "not-a-token",
        "dvp_forgedforgedforgedforgedforgedforgedforg",
        &format!("{}x", app.operator),
    ] {
        let reply = app.call(Method::GET, path, Some(bad), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "token {bad:?}");
        assert_eq!(reply.body["code"], "UNAUTHORIZED");
    }
    // Health and the OpenAPI document need no token.
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/openapi.json", None, None)
            .await
            .status,
        StatusCode::OK
    );
    // Every response carries a request id.
    assert!(missing.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn another_workspaces_project_is_404_and_never_403() {
    let app = TestApp::builder().start().await;
    let project = format!("p{}", random_id(8));
    assert_eq!(
        app.register("ws-a", &project, &format!("s{}", random_id(8)))
            .await
            .status,
        StatusCode::CREATED
    );

    // Through the other workspace, with an operator token: as if it did not exist.
    let status = app
        .op(
            Method::GET,
            &format!("/v1/workspaces/ws-b/projects/{project}/dev-container"),
            None,
        )
        .await;
    assert_eq!(status.status, StatusCode::NOT_FOUND);
    assert_eq!(status.body["code"], "PROJECT_NOT_FOUND");
    let steal = app
        .register("ws-b", &project, &format!("s{}", random_id(8)))
        .await;
    assert_eq!(
        steal.status,
        StatusCode::NOT_FOUND,
        "a project id stays with its first workspace"
    );
    let ensure = app.ensure("ws-b", &project).await;
    assert_eq!(ensure.status, StatusCode::NOT_FOUND);
    let exec = app.exec("ws-b", &project, json!({"command": "true"})).await;
    assert_eq!(exec.status, StatusCode::NOT_FOUND);

    // A workspace token of ws-b sees neither ws-a's project nor ws-a itself.
    let token = app
        .op(
            Method::POST,
            "/v1/workspaces/ws-b/tokens",
            Some(json!({"label": "b"})),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let token = token.body["token"].as_str().expect("token").to_owned();
    let reply = app
        .call(
            Method::GET,
            &format!("/v1/workspaces/ws-a/projects/{project}/dev-container"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .call(
            Method::GET,
            "/v1/workspaces/ws-a/projects",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["code"], "WORKSPACE_NOT_FOUND");
}

#[tokio::test]
async fn workspace_tokens_are_created_by_operators_shown_once_and_revocable() {
    let app = TestApp::builder().start().await;
    let created = app
        .op(Method::POST, "/v1/workspaces/ws-t/tokens", None)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["token"].as_str().expect("token").to_owned();
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(token.starts_with("dvp_"));

    // Stored hashed: the database never holds the token.
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT token_hash FROM devplane_workspace_tokens")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0]
            .windows(token.len())
            .any(|w| w == token.as_bytes())
    );
    let listed = app
        .op(Method::GET, "/v1/workspaces/ws-t/tokens", None)
        .await;
    assert!(
        !listed.body.to_string().contains(&token),
        "listing never shows a token"
    );

    // It works in its workspace, but cannot manage tokens.
    let own = app
        .call(
            Method::GET,
            "/v1/workspaces/ws-t/projects",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    let escalate = app
        .call(
            Method::POST,
            "/v1/workspaces/ws-t/tokens",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);
    assert_eq!(escalate.body["code"], "OPERATOR_REQUIRED");

    let revoked = app
        .op(
            Method::DELETE,
            &format!("/v1/workspaces/ws-t/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = app
        .call(
            Method::GET,
            "/v1/workspaces/ws-t/projects",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token stops working at once"
    );
    let again = app
        .op(
            Method::DELETE,
            &format!("/v1/workspaces/ws-t/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_cli_creates_a_token_that_works() {
    let app = TestApp::builder().start().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_devplane"))
        .args([
            "token",
            "create",
            "--workspace",
            "ws-cli",
            "--label",
            "from the CLI",
        ])
        .env("DATABASE_URL", &app.db.url)
        .env("VIBN_ORCHESTRATOR", "docker")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run devplane token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(token.starts_with("dvp_"), "{token:?}");
    let reply = app
        .call(
            Method::GET,
            "/v1/workspaces/ws-cli/projects",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let elsewhere = app
        .call(
            Method::GET,
            "/v1/workspaces/ws-other/projects",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
}
