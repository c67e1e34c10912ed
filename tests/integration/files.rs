//! Files under `/workspace`: binary-safe, size-limited, confined.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, docker};

fn files_url(app: &TestApp, project: &str, suffix: &str, path: &str) -> String {
    let mut url = reqwest::Url::parse(&format!(
        "{}{}/dev-container/files{suffix}",
        app.base,
        TestApp::project_path("ws-f", project)
    ))
    .unwrap();
    url.query_pairs_mut().append_pair("path", path);
    url.to_string()
}

async fn send(
    app: &TestApp,
    method: Method,
    url: String,
    body: Option<Vec<u8>>,
) -> (StatusCode, Vec<u8>) {
    let mut request = app.http.request(method, url).bearer_auth(&app.operator);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/octet-stream")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}

fn code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v["code"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_file_round_trips_byte_for_byte() {
    let app = TestApp::builder().ssh().start().await;
    let (project, name) = app.running_dev_container("ws-f").await;
    let mut content = vec![0u8; 1 << 20];
    getrandom::fill(&mut content).unwrap();

    let (status, body) = send(
        &app,
        Method::PUT,
        files_url(&app, &project, "", "data/blob.bin"),
        Some(content.clone()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, read) = send(
        &app,
        Method::GET,
        files_url(&app, &project, "", "/workspace/data/blob.bin"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read.len(), content.len());
    assert!(
        read == content,
        "the bytes read back differ from the bytes written"
    );

    // The container agrees, and the file belongs to vibn.
    let sum = docker::docker(&[
        "exec",
        &name,
        "stat",
        "-c",
        "%s %U",
        "/workspace/data/blob.bin",
    ])
    .await;
    assert_eq!(sum.stdout.trim(), format!("{} vibn", 1 << 20));

    let (status, listing) = send(
        &app,
        Method::GET,
        files_url(&app, &project, "/list", "data"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listing: serde_json::Value = serde_json::from_slice(&listing).unwrap();
    assert_eq!(listing["path"], "/workspace/data");
    assert_eq!(listing["entries"][0]["name"], "blob.bin");
    assert_eq!(listing["entries"][0]["kind"], "file");
    assert_eq!(listing["entries"][0]["size"], 1 << 20);

    let (status, _) = send(
        &app,
        Method::DELETE,
        files_url(&app, &project, "", "data/blob.bin"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(
        &app,
        Method::GET,
        files_url(&app, &project, "", "data/blob.bin"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "FILE_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_leave_the_workspace_are_refused() {
    let app = TestApp::builder().ssh().start().await;
    let (project, name) = app.running_dev_container("ws-f").await;
    let linked = app
        .exec(
            "ws-f",
            &project,
            json!({"command": "ln -s /etc /workspace/etc-link && ln -s /etc/passwd /workspace/pw"}),
        )
        .await;
    assert_eq!(linked.body["exit_code"], 0, "{}", linked.body);

    for path in [
        "../../etc/passwd",
        "/etc/passwd",
        "/workspace/../etc/passwd",
        "etc-link/passwd",
        "pw",
    ] {
        let (status, body) =
            send(&app, Method::GET, files_url(&app, &project, "", path), None).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "read {path}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(code(&body), "PATH_OUTSIDE_WORKSPACE", "{path}");
    }
    let (status, _) = send(
        &app,
        Method::PUT,
        files_url(&app, &project, "", "etc-link/evil"),
        Some(b"x".to_vec()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "writing through a symlink that leaves"
    );
    let (status, _) = send(
        &app,
        Method::GET,
        files_url(&app, &project, "/list", "etc-link"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "listing through a symlink that leaves"
    );
    let (status, _) = send(
        &app,
        Method::DELETE,
        files_url(&app, &project, "", "/workspace"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/workspace itself stays"
    );

    // Deleting the link removes the link, not what it points at.
    let (status, _) = send(
        &app,
        Method::DELETE,
        files_url(&app, &project, "", "etc-link"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let etc = docker::docker(&["exec", &name, "test", "-f", "/etc/passwd"]).await;
    assert_eq!(etc.status, 0);
    let link = docker::docker(&["exec", &name, "test", "-L", "/workspace/etc-link"]).await;
    assert_ne!(link.status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_size_limited() {
    let app = TestApp::builder()
        .configure(|c| c.files.max_bytes = 4096)
        .start()
        .await;
    let (project, name) = app.running_dev_container("ws-f").await;
    let (status, _) = send(
        &app,
        Method::PUT,
        files_url(&app, &project, "", "big"),
        Some(vec![b'x'; 8192]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let made = docker::docker(&[
        "exec",
        "-u",
        "vibn",
        &name,
        "sh",
        "-c",
        "head -c 8192 /dev/zero > /workspace/big-in-container",
    ])
    .await;
    assert_eq!(made.status, 0);
    let (status, body) = send(
        &app,
        Method::GET,
        files_url(&app, &project, "", "big-in-container"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(code(&body), "TOO_LARGE");
}
