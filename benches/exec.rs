//! Exec latency and throughput, measured in one run on one Docker engine:
//!
//! 1. `true` through the API (HTTP → devplane → SSH runner → Docker engine), sequentially;
//! 2. raw `docker exec <c> true` (the CLI on the engine's host), sequentially;
//! 3. a fresh `ssh host docker exec <c> true` per call (what a port without multiplexing does);
//! 4. 64 concurrent execs over 8 containers, through the API and as raw `docker exec`.
//!
//! It prints p50/p95 and throughput, and the ratios between them. Run it with
//! `scripts/bench.sh` (which prepares Postgres, sshd and the image first).

use std::{
    collections::HashMap,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use devplane::{
    app::AppState,
    config::{Config, OrchestratorKind, RunnerKind},
};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::{net::TcpListener, process::Command};
use tokio_util::sync::CancellationToken;

const SEQUENTIAL: usize = 200;
const FRESH_SSH: usize = 40;
const CONTAINERS: usize = 8;
const CONCURRENCY: usize = 64;
const PER_WORKER: usize = 8;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn settings() -> HashMap<String, String> {
    let file = std::env::var("DEVPLANE_TEST_ENV_FILE")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.test-env/env").to_owned());
    let mut values: HashMap<String, String> = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect();
    values.extend(std::env::vars().filter(|(k, _)| k.starts_with("DEVPLANE_TEST_")));
    values
}

fn get<'a>(settings: &'a HashMap<String, String>, key: &str) -> Result<&'a str, Error> {
    settings.get(key).map(String::as_str).ok_or_else(|| {
        format!("{key} is not set: run scripts/bench.sh (it prepares the test environment)").into()
    })
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 5];
    getrandom::fill(&mut bytes).expect("random");
    hex::encode(bytes)
}

struct Stats {
    p50: Duration,
    p95: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.50),
        p95: at(0.95),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn timed<F, Fut>(n: usize, mut op: F) -> Result<Vec<Duration>, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        op().await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

async fn run_quiet(program: &str, args: &[&str]) -> Result<(), Error> {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {args:?} exited with {status}").into())
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("{path}: {status} {body}").into());
        }
        Ok(body)
    }

    async fn exec_true(&self, project: &str) -> Result<(), Error> {
        let out = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/workspaces/bench/projects/{project}/dev-container/exec"),
                Some(json!({"command": "true"})),
            )
            .await?;
        if out["exit_code"] != 0 {
            return Err(format!("exec failed: {out}").into());
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let settings = settings();
    let admin_url = get(&settings, "DEVPLANE_TEST_DATABASE_URL")?.to_owned();
    let database = format!("devplane_bench_{}", random_suffix());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await?;
    let db_url = format!(
        "{}/{database}",
        admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&admin_url)
    );

    let ssh_host = get(&settings, "DEVPLANE_TEST_SSH_HOST")?.to_owned();
    let ssh_port = get(&settings, "DEVPLANE_TEST_SSH_PORT")?.to_owned();
    let ssh_user = get(&settings, "DEVPLANE_TEST_SSH_USER")?.to_owned();
    let ssh_key = get(&settings, "DEVPLANE_TEST_SSH_KEY")?.to_owned();
    let known_hosts = get(&settings, "DEVPLANE_TEST_SSH_KNOWN_HOSTS")?.to_owned();
    let deployment = format!("bench{}", random_suffix());
    let token = format!("bench-operator-{}", random_suffix());

    let mut config = Config::default();
    config.database.url = Some(db_url.clone().into());
    config.auth.operator_tokens = vec![token.clone().into()];
    config.orchestrator.kind = OrchestratorKind::Docker;
    config.orchestrator.deployment_id = deployment.clone();
    config.runner.kind = RunnerKind::Ssh;
    config.ssh.host = Some(ssh_host.clone());
    config.ssh.port = ssh_port.parse()?;
    config.ssh.user = ssh_user.clone();
    config.ssh.key_path = Some(ssh_key.clone().into());
    config.ssh.known_hosts_path = Some(known_hosts.clone().into());
    config.dev_container.image = get(&settings, "DEVPLANE_TEST_IMAGE")?.to_owned();
    config.quota.max_projects = CONTAINERS as u32;
    config.quota.max_dev_containers = CONTAINERS as u32;
    config.server.log_filter = "warn".into();
    config.validate()?;

    let shutdown = CancellationToken::new();
    let state = AppState::build(config, shutdown.clone())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(state.serve(listener));
    let api = Arc::new(Api {
        http: reqwest::Client::new(),
        base,
        token,
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    println!(
        "devplane exec benchmark: {CONTAINERS} dev containers, Docker orchestrator, SSH runner to {ssh_user}@{ssh_host}:{ssh_port}"
    );
    let mut projects = Vec::new();
    let mut containers = Vec::new();
    for i in 0..CONTAINERS {
        let project = format!("bench-{i}");
        api.call(
            reqwest::Method::PUT,
            &format!("/v1/workspaces/bench/projects/{project}"),
            Some(json!({"slug": format!("bench-{}-{i}", &deployment[5..]), "name": project})),
        )
        .await?;
        let ensured = api
            .call(
                reqwest::Method::PUT,
                &format!("/v1/workspaces/bench/projects/{project}/dev-container"),
                None,
            )
            .await?;
        containers.push(format!(
            "vibn-dev-{}",
            ensured["service_uuid"].as_str().unwrap_or_default()
        ));
        projects.push(project);
    }
    // Waits for each container through the API itself, which also warms every path up.
    for project in &projects {
        for _ in 0..5 {
            api.exec_true(project).await?;
        }
    }
    for _ in 0..5 {
        run_quiet("docker", &["exec", &containers[0], "true"]).await?;
    }

    let outcome = measure(
        &api,
        &projects,
        &containers,
        &[&ssh_host, &ssh_port, &ssh_user, &ssh_key, &known_hosts],
    )
    .await;

    // Clean up whatever happened.
    for project in &projects {
        let _ = api
            .call(
                reqwest::Method::DELETE,
                &format!(
                    "/v1/workspaces/bench/projects/{project}/dev-container?delete_volumes=true"
                ),
                None,
            )
            .await;
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    outcome
}

async fn measure(
    api: &Arc<Api>,
    projects: &[String],
    containers: &[String],
    ssh: &[&str; 5],
) -> Result<(), Error> {
    let [host, port, user, key, known_hosts] = *ssh;
    let api_latency = stats(timed(SEQUENTIAL, || api.exec_true(&projects[0])).await?);
    let raw_args = ["exec", containers[0].as_str(), "true"];
    let raw_latency = stats(timed(SEQUENTIAL, || run_quiet("docker", &raw_args)).await?);
    let destination = format!("{user}@{host}");
    let known = format!("UserKnownHostsFile={known_hosts}");
    #[rustfmt::skip]
    let ssh_args = [
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", &known, "-o", "ControlMaster=no",
        "-i", key, "-p", port, &destination, "docker", "exec", &containers[0], "true",
    ];
    let fresh_ssh = stats(timed(FRESH_SSH, || run_quiet("ssh", &ssh_args)).await?);

    let total = CONCURRENCY * PER_WORKER;
    let (api_elapsed, api_errors) = concurrently(|worker| {
        let api = api.clone();
        let project = projects[worker % projects.len()].clone();
        async move { api.exec_true(&project).await }
    })
    .await;
    let (raw_elapsed, raw_errors) = concurrently(|worker| {
        let container = containers[worker % containers.len()].clone();
        async move { run_quiet("docker", &["exec", &container, "true"]).await }
    })
    .await;
    let api_rate = total as f64 / api_elapsed.as_secs_f64();
    let raw_rate = total as f64 / raw_elapsed.as_secs_f64();

    println!();
    println!(
        "{:<52} {:>9} {:>9}",
        "sequential exec of `true`", "p50 ms", "p95 ms"
    );
    println!(
        "{:<52} {:>9.1} {:>9.1}",
        format!("API exec (n={SEQUENTIAL})"),
        ms(api_latency.p50),
        ms(api_latency.p95)
    );
    println!(
        "{:<52} {:>9.1} {:>9.1}",
        format!("raw `docker exec <c> true` (n={SEQUENTIAL})"),
        ms(raw_latency.p50),
        ms(raw_latency.p95)
    );
    println!(
        "{:<52} {:>9.1} {:>9.1}",
        format!("fresh `ssh host docker exec <c> true` (n={FRESH_SSH})"),
        ms(fresh_ssh.p50),
        ms(fresh_ssh.p95)
    );
    println!();
    println!(
        "{:<52} {:>9} {:>9}",
        format!("{CONCURRENCY} concurrent over {CONTAINERS} containers, {total} execs"),
        "exec/s",
        "errors"
    );
    println!("{:<52} {:>9.1} {:>9}", "API exec", api_rate, api_errors);
    println!(
        "{:<52} {:>9.1} {:>9}",
        "raw `docker exec`", raw_rate, raw_errors
    );
    println!();
    println!("ratios");
    println!(
        "  API p50 / raw docker exec p50      = {:.3}  (target <= 1.15)",
        ms(api_latency.p50) / ms(raw_latency.p50)
    );
    println!(
        "  fresh ssh p50 / API p50            = {:.2}  (target >= 2)",
        ms(fresh_ssh.p50) / ms(api_latency.p50)
    );
    println!(
        "  API throughput / raw throughput    = {:.2}",
        api_rate / raw_rate
    );
    if api_errors + raw_errors > 0 {
        return Err(format!(
            "{api_errors} API and {raw_errors} raw execs failed under concurrency"
        )
        .into());
    }
    Ok(())
}

/// Runs `CONCURRENCY` workers doing `PER_WORKER` operations each; returns wall time and errors.
async fn concurrently<F, Fut>(op: F) -> (Duration, usize)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY {
        let ops: Vec<Fut> = (0..PER_WORKER).map(|_| op(worker)).collect();
        workers.spawn(async move {
            let mut errors = 0;
            for op in ops {
                if let Err(e) = op.await {
                    eprintln!("error: {e}");
                    errors += 1;
                }
            }
            errors
        });
    }
    let mut errors = 0;
    while let Some(done) = workers.join_next().await {
        errors += done.unwrap_or(PER_WORKER);
    }
    (started.elapsed(), errors)
}
