//! The real Docker engine, through the `docker` CLI: independent of the code under test.

use std::{path::Path, process::Stdio};

use serde_json::Value;
use tokio::{io::AsyncWriteExt, process::Command};

pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

pub async fn docker(args: &[&str]) -> Output {
    run("docker", args, None).await
}

pub async fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let bytes = bytes.to_vec();
        tokio::spawn(async move {
            let _ = pipe.write_all(&bytes).await;
            let _ = pipe.shutdown().await;
        });
    }
    let out = child.wait_with_output().await.expect("wait for docker");
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Names of containers (running or not) carrying `label` (`key=value`).
pub async fn containers_with_label(label: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={label}"),
        "--format",
        "{{.Names}}",
    ])
    .await;
    out.stdout
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// States (`running`, `exited`, ...) of the containers of compose project `uuid`.
pub async fn project_states(uuid: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={uuid}"),
        "--format",
        "{{.State}}",
    ])
    .await;
    out.stdout
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

pub async fn inspect(name: &str) -> Option<Value> {
    let out = docker(&["inspect", name]).await;
    if out.status != 0 {
        return None;
    }
    serde_json::from_str::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.get(0).cloned())
}

pub async fn volumes_with_label(label: &str) -> Vec<String> {
    let out = docker(&["volume", "ls", "-q", "--filter", &format!("label={label}")]).await;
    out.stdout
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// `docker stop` then `docker rm -f` every container of compose project `uuid` (Coolify's stop).
pub async fn stop_and_remove_project(uuid: &str) {
    let names = containers_with_label(&format!("com.docker.compose.project={uuid}")).await;
    if names.is_empty() {
        return;
    }
    let mut stop = vec!["stop", "--time=10"];
    stop.extend(names.iter().map(String::as_str));
    docker(&stop).await;
    let mut rm = vec!["rm", "-f"];
    rm.extend(names.iter().map(String::as_str));
    docker(&rm).await;
}

pub async fn remove_volumes_of_project(uuid: &str) {
    for volume in volumes_with_label(&format!("com.docker.compose.project={uuid}")).await {
        docker(&["volume", "rm", "-f", &volume]).await;
    }
}

pub async fn remove_networks_of_project(uuid: &str) {
    let out = docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={uuid}"),
    ])
    .await;
    for network in out.stdout.lines().filter(|l| !l.is_empty()) {
        docker(&["network", "rm", network]).await;
    }
}

/// The compose command of this host: `docker compose` (v2) or `docker-compose` (v1).
pub async fn compose_command() -> Vec<&'static str> {
    if docker(&["compose", "version"]).await.status == 0 {
        vec!["docker", "compose"]
    } else {
        vec!["docker-compose"]
    }
}

/// `compose --project-name <uuid> up -d --remove-orphans --force-recreate`, as StartService.
pub async fn compose_up(dir: &Path, uuid: &str, file: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join("docker-compose.yml");
    std::fs::write(&path, file).map_err(|e| e.to_string())?;
    let cli = compose_command().await;
    let dir_s = dir.to_string_lossy().into_owned();
    let path_s = path.to_string_lossy().into_owned();
    let mut args: Vec<&str> = cli[1..].to_vec();
    args.extend([
        "--project-directory",
        &dir_s,
        "-f",
        &path_s,
        "--project-name",
        uuid,
        "up",
        "-d",
        "--remove-orphans",
        "--force-recreate",
    ]);
    let out = run(cli[0], &args, None).await;
    if out.status == 0 {
        Ok(())
    } else {
        Err(out.stderr)
    }
}

/// Removes containers, volumes and networks carrying `label`. Blocking: used from `Drop`.
pub fn remove_everything_labelled(label: &str) {
    let list = |args: &[&str]| -> Vec<String> {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_owned)
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let filter = format!("label={label}");
    let containers = list(&["ps", "-aq", "--filter", &filter]);
    if !containers.is_empty() {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f"])
            .args(&containers)
            .output();
    }
    for volume in list(&["volume", "ls", "-q", "--filter", &filter]) {
        let _ = std::process::Command::new("docker")
            .args(["volume", "rm", "-f", &volume])
            .output();
    }
    for network in list(&["network", "ls", "-q", "--filter", &filter]) {
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &network])
            .output();
    }
}
