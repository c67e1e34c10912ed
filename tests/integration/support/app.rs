//! A devplane instance for one test: its own database, deployment id and operator token, an
//! orchestrator (the local Docker engine, or the fake Coolify), and a runner (local, or SSH to
//! the test sshd). Everything it creates in Docker is removed when it is dropped.

use std::{sync::Arc, time::Duration};

use devplane::{
    app::AppState,
    config::{Config, OrchestratorKind, RunnerKind},
};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{db::TestDb, docker, env, fake_coolify::FakeCoolify, random_id};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orchestration {
    Docker,
    Coolify,
}

type Tweak = Box<dyn FnOnce(&mut Config) + Send>;

pub struct TestAppBuilder {
    orchestration: Orchestration,
    runner: RunnerKind,
    fake: Option<Arc<FakeCoolify>>,
    db: Option<TestDb>,
    deployment: Option<String>,
    tweaks: Vec<Tweak>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub operator: String,
    pub db: TestDb,
    pub pool: sqlx::PgPool,
    pub fake: Option<Arc<FakeCoolify>>,
    pub deployment: String,
    pub state: AppState,
    pub config: Config,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
    /// False once `stop` handed the resources on to a restarted instance.
    cleanup: bool,
}

impl TestAppBuilder {
    pub fn orchestration(mut self, orchestration: Orchestration) -> Self {
        self.orchestration = orchestration;
        self
    }

    pub fn ssh(mut self) -> Self {
        self.runner = RunnerKind::Ssh;
        self
    }

    pub fn quotas(self, projects: u32, dev_containers: u32) -> Self {
        self.configure(move |c| {
            c.quota.max_projects = projects;
            c.quota.max_dev_containers = dev_containers;
        })
    }

    pub fn configure(mut self, tweak: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }

    /// Reuses a fake Coolify (e.g. across a restart of the service).
    pub fn with_fake(mut self, fake: Arc<FakeCoolify>) -> Self {
        self.orchestration = Orchestration::Coolify;
        self.fake = Some(fake);
        self
    }

    pub fn with_db(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    /// Reuses a deployment id (a restarted instance owns what the previous one created).
    pub fn deployment(mut self, deployment: &str) -> Self {
        self.deployment = Some(deployment.to_owned());
        self
    }

    pub async fn start(self) -> TestApp {
        super::init_tracing();
        let db = match self.db {
            Some(db) => db,
            None => TestDb::create().await,
        };
        let fake = match (self.orchestration, self.fake) {
            (Orchestration::Coolify, Some(fake)) => Some(fake),
            (Orchestration::Coolify, None) => Some(FakeCoolify::start().await),
            (Orchestration::Docker, _) => None,
        };
        let operator = format!("op-{}", random_id(32));
        let deployment = self
            .deployment
            .unwrap_or_else(|| format!("t{}", random_id(10)));
        let mut config = base_config(&db, &operator, &deployment, self.runner, fake.as_deref());
        for tweak in self.tweaks {
            tweak(&mut config);
        }
        config.validate().expect("test configuration is valid");

        let shutdown = CancellationToken::new();
        let state = AppState::build(config.clone(), shutdown.clone()).expect("build app");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let serving = state.clone();
        let server = tokio::spawn(async move {
            serving.serve(listener).await.expect("serve");
        });
        let pool = db.pool().await;
        let app = TestApp {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .expect("client"),
            operator,
            db,
            pool,
            fake,
            deployment,
            state,
            config,
            shutdown,
            server: Some(server),
            cleanup: true,
        };
        app.wait_until_serving().await;
        app
    }
}

/// The configuration a test app starts from.
pub fn base_config(
    db: &TestDb,
    operator: &str,
    deployment: &str,
    runner: RunnerKind,
    fake: Option<&FakeCoolify>,
) -> Config {
    let env = env::get();
    let mut config = Config::default();
    config.database.url = Some(db.url.clone().into());
    config.database.max_connections = 16;
    config.auth.operator_tokens = vec![operator.to_owned().into()];
    config.orchestrator.deployment_id = deployment.to_owned();
    config.dev_container.image = env.image();
    config.lifecycle.intent_grace_secs = 1;
    config.server.log_filter = "devplane=debug".into();
    match fake {
        Some(fake) => {
            config.orchestrator.kind = OrchestratorKind::Coolify;
            config.coolify.url = Some(fake.url());
            config.coolify.api_token = Some(super::fake_coolify::TOKEN.to_owned().into());
            config.coolify.server_uuid = Some(fake.server_uuid());
            config.coolify.timeout_ms = 2_000;
            config.coolify.connect_timeout_ms = 1_000;
        }
        None => config.orchestrator.kind = OrchestratorKind::Docker,
    }
    config.runner.kind = runner;
    if runner == RunnerKind::Ssh {
        config.ssh.host = Some(env.require("DEVPLANE_TEST_SSH_HOST"));
        config.ssh.port = env
            .require("DEVPLANE_TEST_SSH_PORT")
            .parse()
            .expect("ssh port");
        config.ssh.user = env.require("DEVPLANE_TEST_SSH_USER");
        config.ssh.key_path = Some(env.path("DEVPLANE_TEST_SSH_KEY"));
        config.ssh.known_hosts_path = Some(env.path("DEVPLANE_TEST_SSH_KNOWN_HOSTS"));
        config.ssh.connect_timeout_secs = 3;
        config.ssh.health_interval_secs = 2;
        let control_dir = std::env::temp_dir().join(format!("dp{}", random_id(6)));
        std::fs::create_dir_all(&control_dir).expect("control dir");
        config.ssh.control_dir = control_dir;
    }
    config
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            orchestration: Orchestration::Docker,
            runner: RunnerKind::Local,
            fake: None,
            db: None,
            deployment: None,
            tweaks: Vec::new(),
        }
    }

    async fn wait_until_serving(&self) {
        for _ in 0..100 {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the test app did not start serving");
    }

    /// Stops the service, keeping its database and Docker resources for a restarted instance.
    pub async fn stop(mut self) -> TestDb {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
        }
        self.cleanup = false;
        TestDb {
            name: self.db.name.clone(),
            url: self.db.url.clone(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the test app");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    /// A call with the operator token.
    pub async fn op(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let token = self.operator.clone();
        self.call(method, path, Some(&token), body).await
    }

    pub fn project_path(workspace: &str, project_id: &str) -> String {
        format!("/v1/workspaces/{workspace}/projects/{project_id}")
    }

    pub async fn register(&self, workspace: &str, project_id: &str, slug: &str) -> Reply {
        let body = serde_json::json!({"slug": slug, "name": format!("Project {slug}")});
        self.op(
            Method::PUT,
            &Self::project_path(workspace, project_id),
            Some(body),
        )
        .await
    }

    /// Registers a project with a random slug (slugs are unique across the host).
    pub async fn new_project(&self, workspace: &str) -> String {
        let project_id = format!("p{}", random_id(10));
        let reply = self
            .register(workspace, &project_id, &format!("s{}", random_id(10)))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "register: {}",
            reply.body
        );
        project_id
    }

    /// Registers a project, ensures its dev container and waits until it runs. Returns the
    /// project id and the container's name (`vibn-dev-<service uuid>`).
    pub async fn running_dev_container(&self, workspace: &str) -> (String, String) {
        let project_id = self.new_project(workspace).await;
        let reply = self.ensure(workspace, &project_id).await;
        assert!(
            reply.status.is_success(),
            "ensure: {} {}",
            reply.status,
            reply.body
        );
        let uuid = reply.body["service_uuid"]
            .as_str()
            .expect("service_uuid")
            .to_owned();
        super::running_container(&uuid).await;
        (project_id, format!("vibn-dev-{uuid}"))
    }

    pub async fn ensure(&self, workspace: &str, project_id: &str) -> Reply {
        self.op(
            Method::PUT,
            &format!(
                "{}/dev-container",
                Self::project_path(workspace, project_id)
            ),
            None,
        )
        .await
    }

    pub async fn dev_container(
        &self,
        method: Method,
        workspace: &str,
        project_id: &str,
        suffix: &str,
        body: Option<Value>,
    ) -> Reply {
        self.op(
            method,
            &format!(
                "{}/dev-container{suffix}",
                Self::project_path(workspace, project_id)
            ),
            body,
        )
        .await
    }

    pub async fn exec(&self, workspace: &str, project_id: &str, body: Value) -> Reply {
        self.dev_container(Method::POST, workspace, project_id, "/exec", Some(body))
            .await
    }

    /// Asserts the fake Coolify saw nothing that disagrees with Coolify's document.
    pub fn assert_faithful(&self) {
        if let Some(fake) = &self.fake {
            let violations = fake.violations();
            assert!(
                violations.is_empty(),
                "requests or answers off Coolify's document: {violations:#?}"
            );
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if !self.cleanup {
            return;
        }
        docker::remove_everything_labelled(&format!("devplane.deployment={}", self.deployment));
        if let Some(fake) = &self.fake
            && Arc::strong_count(fake) == 1
        {
            docker::remove_everything_labelled(&fake.instance_label());
        }
        if self.config.runner.kind == RunnerKind::Ssh {
            // Masters exit with their control directory gone and no client left.
            let _ = std::process::Command::new("pkill")
                .args(["-f", &self.config.ssh.control_dir.to_string_lossy()])
                .output();
            let _ = std::fs::remove_dir_all(&self.config.ssh.control_dir);
        }
    }
}
