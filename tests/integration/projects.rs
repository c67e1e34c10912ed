//! The project registry and its quota.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, random_id};

#[tokio::test]
async fn registration_is_idempotent() {
    let app = TestApp::builder().start().await;
    let project = format!("p{}", random_id(8));
    let slug = format!("s{}", random_id(8));

    let first = app.register("ws-i", &project, &slug).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = app.register("ws-i", &project, &slug).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(first.body["project_id"], second.body["project_id"]);
    assert_eq!(first.body["created_at"], second.body["created_at"]);

    let listed = app
        .op(Method::GET, "/v1/workspaces/ws-i/projects", None)
        .await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
    let quota = app.op(Method::GET, "/v1/workspaces/ws-i/quota", None).await;
    assert_eq!(quota.body["projects"], json!({"current": 1, "limit": 3}));
    assert_eq!(
        quota.body["dev_containers"],
        json!({"current": 0, "limit": 3})
    );
}

#[tokio::test]
async fn ten_concurrent_registrations_with_cap_three_admit_exactly_three() {
    let app = TestApp::builder().quotas(3, 3).start().await;
    let calls = (0..10).map(|i| {
        let app = &app;
        async move {
            app.register(
                "ws-race",
                &format!("p{i}{}", random_id(6)),
                &format!("s{i}{}", random_id(6)),
            )
            .await
        }
    });
    let replies = futures::future::join_all(calls).await;

    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let refused: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::PAYMENT_REQUIRED)
        .collect();
    assert_eq!(
        created,
        3,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(refused.len(), 7);
    for reply in refused {
        let body = &reply.body;
        assert_eq!(body["code"], "QUOTA_EXCEEDED");
        assert_eq!(body["resource"], "projects");
        assert_eq!(body["current"], 3);
        assert_eq!(body["limit"], 3);
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(body["suggestions"].is_array());
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM devplane_projects WHERE workspace = 'ws-race'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn archiving_frees_a_place_and_re_registering_brings_the_project_back() {
    let app = TestApp::builder().quotas(1, 1).start().await;
    let first = app.new_project("ws-arch").await;
    let blocked = app
        .register(
            "ws-arch",
            &format!("p{}", random_id(8)),
            &format!("s{}", random_id(8)),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::PAYMENT_REQUIRED);

    let archived = app
        .op(
            Method::DELETE,
            &TestApp::project_path("ws-arch", &first),
            None,
        )
        .await;
    assert_eq!(archived.status, StatusCode::NO_CONTENT);
    let gone = app
        .op(
            Method::GET,
            &format!("{}/dev-container", TestApp::project_path("ws-arch", &first)),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let second = app
        .register(
            "ws-arch",
            &format!("p{}", random_id(8)),
            &format!("s{}", random_id(8)),
        )
        .await;
    assert_eq!(
        second.status,
        StatusCode::CREATED,
        "the archived project freed its place"
    );
}

#[tokio::test]
async fn bad_input_is_named_by_field() {
    let app = TestApp::builder().start().await;
    let path = TestApp::project_path("ws-v", "p1");

    let bad_slug = app
        .op(
            Method::PUT,
            &path,
            Some(json!({"slug": "Not_A-Label", "name": "x"})),
        )
        .await;
    assert_eq!(bad_slug.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_slug.body["field"], "slug");

    let missing = app.op(Method::PUT, &path, Some(json!({"name": "x"}))).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["field"], "slug");

    let bad_id = app
        .op(
            Method::PUT,
            &TestApp::project_path("ws-v", "bad;id"),
            Some(json!({"slug": "ok", "name": "x"})),
        )
        .await;
    assert_eq!(bad_id.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_id.body["field"], "project_id");

    let not_json = app
        .http
        .put(format!("{}{path}", app.base))
        .bearer_auth(&app.operator)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);

    let slug = format!("s{}", random_id(8));
    assert_eq!(
        app.register("ws-v", "p-one", &slug).await.status,
        StatusCode::CREATED
    );
    let taken = app.register("ws-v2", "p-two", &slug).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.body["code"], "SLUG_TAKEN");

    let wrong_method = app
        .op(Method::POST, "/v1/workspaces/ws-v/quota", None)
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body["code"], "METHOD_NOT_ALLOWED");

    let unknown = app.op(Method::GET, "/v1/nothing-here", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["code"], "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn a_dev_container_recorded_by_the_typescript_module_fixes_the_projects_workspace() {
    let app = TestApp::builder().start().await;
    sqlx::query(
        "INSERT INTO fs_project_dev_containers (project_id, workspace, service_uuid, image, state) \
         VALUES ('proj-legacy', 'ws-old', 'legacyservice00000000000', 'vibn-dev:latest', 'suspended')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let claimed = app
        .register("ws-thief", "proj-legacy", &format!("s{}", random_id(8)))
        .await;
    assert_eq!(claimed.status, StatusCode::NOT_FOUND, "{}", claimed.body);
    let owner = app
        .register("ws-old", "proj-legacy", &format!("s{}", random_id(8)))
        .await;
    assert_eq!(owner.status, StatusCode::CREATED, "{}", owner.body);
}
