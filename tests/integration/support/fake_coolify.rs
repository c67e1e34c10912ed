//! A fake Coolify API server: the only stand-in of the test suite.
//!
//! Faithful to Coolify's OpenAPI document (the trimmed copy in `tests/data`) and to its
//! controller code as described in `../shared/reference/coolify-api.md`:
//! - every request is matched to an operation of the document and checked against it (bearer
//!   auth, query parameters, the JSON body's schema, keys the controller would refuse); every
//!   answer is checked against the operation's response schema. Problems are recorded as
//!   violations, which each test asserts to be empty;
//! - `docker_compose_raw` must be strict, padded, standard base64 of a compose file with a
//!   `services` map; start/stop/restart are POST-only and asynchronous (queued jobs); creates
//!   answer 201 `{uuid}`; 422 `errors` take several shapes; statuses are `running:unknown`,
//!   `starting:unknown`, `exited`...;
//! - it performs the real Docker actions Coolify performs: the compose project is the service
//!   uuid, containers are named `<compose service>-<uuid>`, start is `compose up -d
//!   --force-recreate`, stop is `docker stop` then `docker rm -f` (volumes kept), delete removes
//!   volumes only when asked.
//!
//! Faults can be injected per operation: 500, 429 with Retry-After, an answer slower than the
//! client's timeout (the action still happens, as PHP finishes the request), a malformed
//! body, and refused connections.

use std::{
    collections::{BTreeMap, VecDeque},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, Response, StatusCode, Uri, header},
};
use base64::Engine;
use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use super::{docker, openapi};

pub const TOKEN: &str = "7|fake-coolify-root-token";
pub const VERSION: &str = "4.3.11";

#[derive(Debug, Clone)]
pub enum Fault {
    Status500,
    RateLimited {
        retry_after_secs: u64,
    },
    /// Answer after this long; the action itself still happens.
    Slow(Duration),
    /// Perform the action, then answer with a truncated JSON body.
    Malformed,
}

#[derive(Debug, Clone)]
struct FaultRule {
    operation: Option<String>,
    fault: Fault,
    remaining: usize,
}

#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub operation: String,
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
}

#[derive(Debug, Clone)]
struct FakeProject {
    uuid: String,
    name: String,
    description: String,
    environments: Vec<(String, String)>, // (uuid, name)
}

#[derive(Debug, Clone)]
pub struct FakeService {
    pub uuid: String,
    pub name: String,
    pub description: String,
    pub project_uuid: String,
    pub compose: String,
    /// A queued start job has not finished yet.
    starting: bool,
}

#[derive(Default)]
struct World {
    projects: Vec<FakeProject>,
    services: BTreeMap<String, FakeService>,
}

struct Inner {
    instance: String,
    server_uuid: String,
    workdir: PathBuf,
    world: Mutex<World>,
    faults: Mutex<VecDeque<FaultRule>>,
    requests: Mutex<Vec<RecordedRequest>>,
    violations: Mutex<Vec<String>>,
    jobs: Mutex<Vec<JoinHandle<()>>>,
    /// The last job queued per service: a service's jobs run one after another, in order
    /// (Coolify's stop also cancels an in-flight start; waiting for it ends the same way).
    last_job: Mutex<std::collections::HashMap<String, Shared<BoxFuture<'static, ()>>>>,
}

pub struct FakeCoolify {
    addr: SocketAddr,
    inner: Arc<Inner>,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl FakeCoolify {
    pub async fn start() -> Arc<FakeCoolify> {
        let instance = format!("fc{}", super::random_id(10));
        let workdir = std::env::temp_dir().join(format!("fake-coolify-{instance}"));
        std::fs::create_dir_all(&workdir).expect("fake Coolify workdir");
        let inner = Arc::new(Inner {
            server_uuid: super::random_id(24),
            instance,
            workdir,
            world: Mutex::new(World::default()),
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            jobs: Mutex::new(Vec::new()),
            last_job: Mutex::new(Default::default()),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Coolify");
        let addr = listener.local_addr().expect("fake Coolify address");
        let fake = Arc::new(FakeCoolify {
            addr,
            inner,
            server: Mutex::new(None),
        });
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: TcpListener) {
        let app = Router::new()
            .fallback(handle)
            .with_state(self.inner.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        *self.server.lock().unwrap() = Some((stop, task));
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn server_uuid(&self) -> String {
        self.inner.server_uuid.clone()
    }

    /// The label the fake puts on everything it creates in Docker.
    pub fn instance_label(&self) -> String {
        format!("fake-coolify.instance={}", self.inner.instance)
    }

    /// Closes the listening socket (and idle connections): connections are refused.
    pub async fn refuse_connections(&self) {
        let running = self.server.lock().unwrap().take();
        if let Some((stop, task)) = running {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// Listens again on the same address.
    pub async fn accept_connections(&self) {
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    tracing::debug!(error = %e, "rebinding the fake Coolify");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind the fake Coolify on {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    /// The next `times` requests to `operation` (any operation when `None`) fail with `fault`.
    pub fn inject(&self, operation: Option<&str>, fault: Fault, times: usize) {
        self.inner.faults.lock().unwrap().push_back(FaultRule {
            operation: operation.map(str::to_owned),
            fault,
            remaining: times,
        });
    }

    pub fn clear_faults(&self) {
        self.inner.faults.lock().unwrap().clear();
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.requests.lock().unwrap().clone()
    }

    pub fn count(&self, operation: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    /// Requests or answers that disagreed with Coolify's document. Must stay empty.
    pub fn violations(&self) -> Vec<String> {
        self.inner.violations.lock().unwrap().clone()
    }

    pub fn services(&self) -> Vec<FakeService> {
        self.inner
            .world
            .lock()
            .unwrap()
            .services
            .values()
            .cloned()
            .collect()
    }

    /// Waits for the queued jobs (starts, stops, deletes) to finish.
    pub async fn settle(&self) {
        loop {
            let jobs: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.jobs.lock().unwrap());
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                let _ = job.await;
            }
        }
    }
}

fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn message(status: StatusCode, text: &str) -> Response<Body> {
    json_response(status, json!({ "message": text }))
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    // Coolify (PHP) finishes a request even when the client has gone: run it detached.
    let work = tokio::spawn(async move { process(inner, method, uri, headers, body).await });
    work.await.unwrap_or_else(|e| {
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("fake crashed: {e}"),
        )
    })
}

async fn process(
    inner: Arc<Inner>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let violation = |text: String| inner.violations.lock().unwrap().push(text);
    let Some(path) = uri.path().strip_prefix("/api/v1") else {
        violation(format!("{method} {}: not under /api/v1", uri.path()));
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"message": "Not found.", "docs": "https://coolify.io/docs"}),
        );
    };
    let spec = openapi::spec();
    let Some((op, params)) = spec.find(method.as_str(), path) else {
        violation(format!(
            "{method} {path}: no such operation in the document"
        ));
        if method == Method::GET
            && (path.ends_with("/start") || path.ends_with("/stop") || path.ends_with("/restart"))
        {
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "This endpoint has changed to a POST request."}),
            );
        }
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"message": "Not found.", "docs": "https://coolify.io/docs"}),
        );
    };

    let query: Vec<(String, String)> = uri.query().map(url_decode_pairs).unwrap_or_default();
    let parsed_body: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };
    inner.requests.lock().unwrap().push(RecordedRequest {
        operation: op.id.clone(),
        method: method.to_string(),
        path: path.to_owned(),
        body: parsed_body.clone(),
    });

    // What the client must send on every call (coolify-api.md §1).
    if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) != Some("application/json") {
        violation(format!("{}: Accept: application/json is missing", op.id));
    }
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    let needs_auth = op.definition.get("security").is_some();
    if needs_auth && !authorized {
        return message(StatusCode::UNAUTHORIZED, "Unauthenticated.");
    }
    for problem in op.check_query(&query) {
        violation(problem);
    }
    if !body.is_empty() {
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type {
            violation(format!(
                "{}: a body without Content-Type: application/json",
                op.id
            ));
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"message": "Invalid request.", "error": "Content-Type must be application/json."}),
            );
        }
        if parsed_body.is_none() {
            violation(format!("{}: the body is not JSON", op.id));
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"message": "Invalid request.", "error": "Invalid JSON."}),
            );
        }
    }
    let schema_problems = op.check_body(parsed_body.as_ref());
    if !schema_problems.is_empty() {
        for problem in &schema_problems {
            violation(problem.clone());
        }
        return json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Validation failed.", "errors": {"body": schema_problems}}),
        );
    }
    if let Some(sent) = &parsed_body {
        let unknown = op.unknown_keys(sent);
        if !unknown.is_empty() {
            violation(format!(
                "{}: keys the controller refuses: {unknown:?}",
                op.id
            ));
            let errors: serde_json::Map<String, Value> = unknown
                .into_iter()
                .map(|k| (k, json!(["This field is not allowed."])))
                .collect();
            return json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Validation failed.", "errors": errors}),
            );
        }
    }

    let fault = take_fault(&inner, &op.id);
    match &fault {
        Some(Fault::Status500) => {
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            return Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::RETRY_AFTER, retry_after_secs.to_string())
                .header("X-RateLimit-Limit", "200")
                .header("X-RateLimit-Remaining", "0")
                .body(Body::from(
                    json!({"message": "Too Many Attempts."}).to_string(),
                ))
                .unwrap();
        }
        Some(Fault::Slow(delay)) => tokio::time::sleep(*delay).await,
        _ => {}
    }

    let (status, answer) = dispatch(
        &inner,
        &op.id,
        &params,
        &query,
        parsed_body.unwrap_or(Value::Null),
    )
    .await;
    if let Answer::Json(body) = &answer {
        for problem in op.check_response(status.as_u16(), body) {
            violation(problem);
        }
    }
    if !op.declares_status(status.as_u16()) && status != StatusCode::UNPROCESSABLE_ENTITY {
        // Coolify answers some statuses its document does not list (e.g. 409); note only.
        tracing::debug!(operation = %op.id, %status, "status not in the document");
    }
    if matches!(fault, Some(Fault::Malformed)) {
        return Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"uuid\": \"trunc"))
            .unwrap();
    }
    match answer {
        Answer::Json(body) => json_response(status, body),
        Answer::Text(text) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
            .body(Body::from(text))
            .unwrap(),
    }
}

fn take_fault(inner: &Inner, operation: &str) -> Option<Fault> {
    let mut faults = inner.faults.lock().unwrap();
    let index = faults
        .iter()
        .position(|r| r.remaining > 0 && r.operation.as_deref().is_none_or(|o| o == operation))?;
    let rule = &mut faults[index];
    rule.remaining -= 1;
    let fault = rule.fault.clone();
    if rule.remaining == 0 {
        faults.remove(index);
    }
    Some(fault)
}

fn url_decode_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

enum Answer {
    Json(Value),
    Text(String),
}

fn not_found(what: &str) -> (StatusCode, Answer) {
    (
        StatusCode::NOT_FOUND,
        Answer::Json(json!({ "message": format!("{what} not found.") })),
    )
}

fn bool_param(query: &[(String, String)], name: &str, default: bool) -> bool {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v == "true")
        .unwrap_or(default)
}

async fn dispatch(
    inner: &Arc<Inner>,
    operation: &str,
    params: &std::collections::HashMap<String, String>,
    query: &[(String, String)],
    body: Value,
) -> (StatusCode, Answer) {
    let uuid = params.get("uuid").cloned().unwrap_or_default();
    match operation {
        "version" => (StatusCode::OK, Answer::Text(VERSION.to_owned())),
        "healthcheck" => (StatusCode::OK, Answer::Text("OK".to_owned())),
        "get-server-by-uuid" => {
            if uuid != inner.server_uuid {
                return not_found("Server");
            }
            (
                StatusCode::OK,
                Answer::Json(json!({
                    "uuid": inner.server_uuid, "name": "localhost", "description": "fake",
                    "ip": "127.0.0.1", "user": "root", "port": 22, "proxy_type": "traefik",
                })),
            )
        }
        "list-projects" => {
            let world = inner.world.lock().unwrap();
            let list: Vec<Value> = world
                .projects
                .iter()
                .enumerate()
                .map(|(i, p)| json!({"id": i + 1, "uuid": p.uuid, "name": p.name, "description": p.description}))
                .collect();
            (StatusCode::OK, Answer::Json(Value::Array(list)))
        }
        "create-project" => {
            let name = body["name"].as_str().unwrap_or("");
            if name.len() < 3 || name.len() > 255 {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Answer::Json(
                        json!({"message": "Validation failed.", "errors": {"name": ["The name field must be at least 3 characters."]}}),
                    ),
                );
            }
            let project = FakeProject {
                uuid: super::random_id(24),
                name: name.to_owned(),
                description: body["description"].as_str().unwrap_or("").to_owned(),
                environments: vec![(super::random_id(24), "production".to_owned())],
            };
            let uuid = project.uuid.clone();
            inner.world.lock().unwrap().projects.push(project);
            (StatusCode::CREATED, Answer::Json(json!({ "uuid": uuid })))
        }
        "get-project-by-uuid" => {
            let world = inner.world.lock().unwrap();
            let Some(p) = world.projects.iter().find(|p| p.uuid == uuid) else {
                return not_found("Project");
            };
            let environments: Vec<Value> = p
                .environments
                .iter()
                .enumerate()
                .map(|(i, (uuid, name))| json!({"id": i + 1, "uuid": uuid, "name": name}))
                .collect();
            (
                StatusCode::OK,
                Answer::Json(
                    json!({"id": 1, "uuid": p.uuid, "name": p.name, "description": p.description, "environments": environments}),
                ),
            )
        }
        "create-service" => create_service(inner, body).await,
        "list-services" => {
            let services: Vec<FakeService> = inner
                .world
                .lock()
                .unwrap()
                .services
                .values()
                .cloned()
                .collect();
            let mut list = Vec::new();
            for s in services {
                list.push(service_json(inner, &s).await);
            }
            (StatusCode::OK, Answer::Json(Value::Array(list)))
        }
        "get-service-by-uuid" => {
            let service = inner.world.lock().unwrap().services.get(&uuid).cloned();
            match service {
                Some(s) => (StatusCode::OK, Answer::Json(service_json(inner, &s).await)),
                None => not_found("Service"),
            }
        }
        "start-service-by-uuid" | "restart-service-by-uuid" => {
            let Some(service) = inner.world.lock().unwrap().services.get(&uuid).cloned() else {
                return not_found("Service");
            };
            let status = status_of(inner, &service).await;
            if operation == "start-service-by-uuid" && status.contains("running") {
                return (
                    StatusCode::BAD_REQUEST,
                    Answer::Json(json!({"message": "Service is already running."})),
                );
            }
            queue_start(inner, &uuid);
            let text = if operation == "start-service-by-uuid" {
                "Service starting request queued."
            } else {
                "Service restarting request queued."
            };
            (StatusCode::OK, Answer::Json(json!({ "message": text })))
        }
        "stop-service-by-uuid" => {
            let Some(service) = inner.world.lock().unwrap().services.get(&uuid).cloned() else {
                return not_found("Service");
            };
            let status = status_of(inner, &service).await;
            if status.contains("exited") || status.contains("stopped") {
                return (
                    StatusCode::BAD_REQUEST,
                    Answer::Json(json!({"message": "Service is already stopped."})),
                );
            }
            queue_job(inner, &uuid, {
                let uuid = uuid.clone();
                async move { docker::stop_and_remove_project(&uuid).await }
            });
            (
                StatusCode::OK,
                Answer::Json(json!({"message": "Service stopping request queued."})),
            )
        }
        "delete-service-by-uuid" => {
            if !inner.world.lock().unwrap().services.contains_key(&uuid) {
                return not_found("Service");
            }
            let delete_volumes = bool_param(query, "delete_volumes", true);
            let inner2 = inner.clone();
            queue_job(inner, &uuid, {
                let uuid = uuid.clone();
                async move {
                    docker::stop_and_remove_project(&uuid).await;
                    docker::remove_networks_of_project(&uuid).await;
                    if delete_volumes {
                        docker::remove_volumes_of_project(&uuid).await;
                    }
                    inner2.world.lock().unwrap().services.remove(&uuid);
                }
            });
            (
                StatusCode::OK,
                Answer::Json(json!({"message": "Service deletion request queued."})),
            )
        }
        other => (
            StatusCode::NOT_IMPLEMENTED,
            Answer::Json(json!({ "message": format!("the fake does not implement {other}") })),
        ),
    }
}

fn validation_failed(errors: Value) -> (StatusCode, Answer) {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Answer::Json(json!({"message": "Validation failed.", "errors": errors})),
    )
}

/// ServicesController::create_service, raw-compose branch.
async fn create_service(inner: &Arc<Inner>, body: Value) -> (StatusCode, Answer) {
    if body.get("type").is_some() && body.get("docker_compose_raw").is_some() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Answer::Json(
                json!({"message": "You cannot provide both type and docker_compose_raw."}),
            ),
        );
    }
    let Some(raw) = body["docker_compose_raw"].as_str() else {
        return validation_failed(
            json!({"docker_compose_raw": ["The docker compose raw field is required."]}),
        );
    };
    // isBase64Encoded: base64_encode(base64_decode($s, true)) === $s
    let engine = base64::engine::general_purpose::STANDARD;
    let decoded = match engine.decode(raw) {
        Ok(bytes) if engine.encode(&bytes) == raw => bytes,
        _ => {
            return validation_failed(
                json!({"docker_compose_raw": "The docker_compose_raw should be base64 encoded."}),
            );
        }
    };
    let Ok(compose) = String::from_utf8(decoded) else {
        return validation_failed(
            json!({"docker_compose_raw": "The docker_compose_raw should be base64 encoded."}),
        );
    };
    let parsed: Result<yaml_serde::Value, _> = yaml_serde::from_str(&compose);
    let services = match &parsed {
        Ok(doc) => doc.get("services").and_then(|s| s.as_mapping()).cloned(),
        Err(_) => None,
    };
    let Some(services) = services else {
        return validation_failed(
            json!({"docker_compose_raw": ["The docker_compose_raw must contain a services definition."]}),
        );
    };
    // validateDockerComposeForInjection: names must not carry shell metacharacters.
    let dangerous = ['`', '|', '&', ';', '<', '>', '\n', '\t'];
    for (name, _) in services.iter() {
        let name = name.as_str().unwrap_or("");
        if name.contains(dangerous) || name.contains("$(") || name.contains("${") {
            return validation_failed(
                json!({"docker_compose_raw": [format!("Invalid service name {name}.")]}),
            );
        }
    }

    let project_uuid = body["project_uuid"].as_str().unwrap_or("").to_owned();
    let environment_name = body["environment_name"].as_str().unwrap_or("");
    let environment_uuid = body["environment_uuid"].as_str().unwrap_or("");
    {
        let world = inner.world.lock().unwrap();
        let Some(project) = world.projects.iter().find(|p| p.uuid == project_uuid) else {
            return not_found("Project");
        };
        let environment_found = project
            .environments
            .iter()
            .any(|(_, name)| name == environment_name)
            || project
                .environments
                .iter()
                .any(|(uuid, _)| uuid == environment_uuid);
        if !environment_found {
            return not_found("Environment");
        }
    }
    if body["server_uuid"].as_str() != Some(inner.server_uuid.as_str()) {
        return not_found("Server");
    }

    let service = FakeService {
        uuid: super::random_id(24),
        name: body["name"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("service-{}", super::random_id(6))),
        description: body["description"].as_str().unwrap_or("").to_owned(),
        project_uuid,
        compose,
        starting: false,
    };
    let uuid = service.uuid.clone();
    inner
        .world
        .lock()
        .unwrap()
        .services
        .insert(uuid.clone(), service);
    if body["instant_deploy"].as_bool().unwrap_or(false) {
        queue_start(inner, &uuid);
    }
    (
        StatusCode::CREATED,
        Answer::Json(json!({ "uuid": uuid, "domains": [] })),
    )
}

/// Queues a job of service `uuid`, after the ones already queued for it.
fn queue_job(
    inner: &Arc<Inner>,
    uuid: &str,
    job: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let mut last = inner.last_job.lock().unwrap();
    let previous = last.get(uuid).cloned();
    let chained = async move {
        if let Some(previous) = previous {
            previous.await;
        }
        job.await;
    }
    .boxed()
    .shared();
    last.insert(uuid.to_owned(), chained.clone());
    inner.jobs.lock().unwrap().push(tokio::spawn(chained));
}

/// StartService: write the rewritten compose file, then `compose up -d --force-recreate`.
fn queue_start(inner: &Arc<Inner>, uuid: &str) {
    let Some(service) = ({
        let mut world = inner.world.lock().unwrap();
        world.services.get_mut(uuid).map(|s| {
            s.starting = true;
            s.clone()
        })
    }) else {
        return;
    };
    let inner2 = inner.clone();
    queue_job(inner, uuid, async move {
        let dir = inner2.workdir.join(&service.uuid);
        let file = coolify_rewrite(&service.compose, &service.uuid, &inner2.instance);
        let outcome = docker::compose_up(&dir, &service.uuid, &file).await;
        if let Err(e) = outcome {
            tracing::warn!(service = %service.uuid, error = %e, "fake Coolify start failed");
        }
        if let Some(s) = inner2.world.lock().unwrap().services.get_mut(&service.uuid) {
            s.starting = false;
        }
    });
}

/// serviceParser's rewrite, as far as the tests can observe it.
fn coolify_rewrite(compose: &str, uuid: &str, instance: &str) -> String {
    let mut doc: yaml_serde::Value = yaml_serde::from_str(compose).expect("validated at create");
    let labels = [
        ("coolify.managed".to_owned(), "true".to_owned()),
        ("coolify.version".to_owned(), VERSION.to_owned()),
        ("coolify.type".to_owned(), "service".to_owned()),
        ("fake-coolify.instance".to_owned(), instance.to_owned()),
    ];
    if let Some(services) = doc.get_mut("services").and_then(|s| s.as_mapping_mut()) {
        for (key, service) in services.iter_mut() {
            let key = key.as_str().unwrap_or("").to_owned();
            let Some(service) = service.as_mapping_mut() else {
                continue;
            };
            service.insert("container_name".into(), format!("{key}-{uuid}").into());
            let mut all = labels.to_vec();
            all.push(("coolify.name".to_owned(), format!("{key}-{uuid}")));
            add_labels(service, &all);
        }
    }
    for section in ["volumes", "networks"] {
        if let Some(items) = doc.get_mut(section).and_then(|s| s.as_mapping_mut()) {
            for (_, item) in items.iter_mut() {
                if item.is_null() {
                    *item = yaml_serde::Value::Mapping(Default::default());
                }
                let external = item
                    .get("external")
                    .and_then(|e| e.as_bool())
                    .unwrap_or(false);
                if let (false, Some(map)) = (external, item.as_mapping_mut()) {
                    add_labels(map, &labels[3..]);
                }
            }
        }
    }
    yaml_serde::to_string(&doc).expect("compose to YAML")
}

fn add_labels(target: &mut yaml_serde::Mapping, labels: &[(String, String)]) {
    let entry = target
        .entry("labels".into())
        .or_insert_with(|| yaml_serde::Value::Mapping(Default::default()));
    match entry {
        yaml_serde::Value::Sequence(list) => {
            for (k, v) in labels {
                list.push(format!("{k}={v}").into());
            }
        }
        yaml_serde::Value::Mapping(map) => {
            for (k, v) in labels {
                map.insert(k.clone().into(), v.clone().into());
            }
        }
        _ => {}
    }
}

/// ContainerStatusAggregator, reduced: starting while a start job runs, then from Docker.
async fn status_of(inner: &Arc<Inner>, service: &FakeService) -> String {
    let starting = inner
        .world
        .lock()
        .unwrap()
        .services
        .get(&service.uuid)
        .is_some_and(|s| s.starting);
    if starting {
        return "starting:unknown".to_owned();
    }
    let states = docker::project_states(&service.uuid).await;
    if states.is_empty() {
        "exited".to_owned()
    } else if states.iter().all(|s| s == "running") {
        "running:unknown".to_owned()
    } else if states.iter().any(|s| s == "running") {
        "degraded:unhealthy".to_owned()
    } else {
        "exited".to_owned()
    }
}

async fn service_json(inner: &Arc<Inner>, service: &FakeService) -> Value {
    let status = status_of(inner, service).await;
    json!({
        "id": 1,
        "uuid": service.uuid,
        "name": service.name,
        "description": service.description,
        "environment_id": 1,
        "server_id": 0,
        "destination_id": 0,
        "destination_type": "App\\Models\\StandaloneDocker",
        "connect_to_docker_network": false,
        "status": status,
        "server_status": true,
        "applications": [{"uuid": super::random_id(24), "name": "vibn-dev", "status": status}],
        "databases": [],
    })
}
