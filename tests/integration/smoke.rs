//! Whole-chain smoke tests: SSH into the test sshd and drive Docker there; build and run the
//! service's own image.

use std::time::Duration;

use openssh::{KnownHosts, SessionBuilder, Stdio};

use crate::support::{docker, env, random_id, temp_file};

fn ssh_builder(known_hosts: &std::path::Path) -> SessionBuilder {
    let env = env::get();
    let mut builder = SessionBuilder::default();
    builder
        .user(env.require("DEVPLANE_TEST_SSH_USER"))
        .port(env.require("DEVPLANE_TEST_SSH_PORT").parse().expect("port"))
        .keyfile(env.path("DEVPLANE_TEST_SSH_KEY"))
        .known_hosts_check(KnownHosts::Strict)
        .user_known_hosts_file(known_hosts)
        .connect_timeout(Duration::from_secs(5))
        .control_directory(std::env::temp_dir());
    builder
}

#[tokio::test]
async fn ssh_with_strict_host_keys_drives_docker_into_a_vibn_dev_container() {
    let env = env::get();
    let host = env.require("DEVPLANE_TEST_SSH_HOST");
    let session = ssh_builder(&env.path("DEVPLANE_TEST_SSH_KNOWN_HOSTS"))
        .connect_mux(&host)
        .await
        .expect("connect over SSH with the pinned host key");

    let name = format!("smoke-{}", random_id(10));
    let image = env.image();
    let started = session
        .command("docker")
        .args([
            "run",
            "-d",
            "--rm",
            "--name",
            &name,
            "--label",
            "devplane.smoke=1",
            &image,
        ])
        .output()
        .await
        .expect("docker run over SSH");
    assert!(
        started.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&started.stderr)
    );

    let exec = session
        .command("docker")
        .args([
            "exec",
            "-u",
            "vibn",
            &name,
            "sh",
            "-c",
            "id -un; echo to-stderr >&2; exit 7",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("docker exec over SSH");
    let removed = session
        .command("docker")
        .args(["rm", "-f", &name])
        .output()
        .await
        .expect("docker rm");
    session.close().await.expect("close the session");

    assert_eq!(String::from_utf8_lossy(&exec.stdout).trim(), "vibn");
    assert_eq!(String::from_utf8_lossy(&exec.stderr).trim(), "to-stderr");
    assert_eq!(exec.status.code(), Some(7));
    assert!(removed.status.success());
    assert!(
        docker::inspect(&name).await.is_none(),
        "the container is gone"
    );
}

#[tokio::test]
async fn strict_host_key_checking_refuses_an_unknown_host_key() {
    let env = env::get();
    // A known_hosts file that pins a different key for the same host and port.
    let wrong = temp_file(&format!(
        "[{}]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMKwC3ZsXo5m2tYo6V9kxPQ0N3cv0Q3pVx0y7Zb3aPqD\n",
        env.require("DEVPLANE_TEST_SSH_HOST"),
        env.require("DEVPLANE_TEST_SSH_PORT")
    ));
    let refused = ssh_builder(wrong.path())
        .connect_mux(env.require("DEVPLANE_TEST_SSH_HOST"))
        .await;
    assert!(refused.is_err(), "a mismatching host key must be refused");
}

#[tokio::test]
async fn the_service_image_builds_on_the_local_base_runs_as_non_root_and_answers_healthz() {
    let env = env::get();
    let base = env.require("DEVPLANE_TEST_BASE_IMAGE");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));

    // A minimal build context: the Dockerfile, the config, and the binary under test.
    let context = std::env::temp_dir().join(format!("devplane-image-{}", random_id(8)));
    std::fs::create_dir_all(context.join("prebuilt")).unwrap();
    std::fs::create_dir_all(context.join("config")).unwrap();
    std::fs::copy(root.join("Dockerfile"), context.join("Dockerfile")).unwrap();
    std::fs::copy(
        root.join("config/default.toml"),
        context.join("config/default.toml"),
    )
    .unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_devplane"),
        context.join("prebuilt/devplane"),
    )
    .unwrap();

    let tag = format!("devplane-smoke:{}", random_id(8));
    let context_s = context.to_string_lossy().into_owned();
    let built = docker::run(
        "docker",
        &[
            "build",
            "-q",
            "-t",
            &tag,
            "--build-arg",
            &format!("BUILDER_IMAGE={base}"),
            "--build-arg",
            &format!("RUNTIME_IMAGE={base}"),
            &context_s,
        ],
        None,
    )
    .await;
    let _ = std::fs::remove_dir_all(&context);
    assert_eq!(built.status, 0, "docker build: {}", built.stderr);

    let name = format!("devplane-smoke-{}", random_id(8));
    let run = docker::docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "127.0.0.1::8080",
        "-e",
        "DATABASE_URL=postgres://devplane@127.0.0.1:1/none",
        "-e",
        "VIBN_DB_MIGRATE_ON_START=false",
        "-e",
        "VIBN_ORCHESTRATOR=docker",
        "-e",
        "VIBN_LOG_FORMAT=json",
        &tag,
    ])
    .await;
    assert_eq!(run.status, 0, "docker run: {}", run.stderr);

    let port = docker::docker(&["port", &name, "8080/tcp"]).await.stdout;
    let port = port
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .unwrap_or("")
        .trim()
        .to_owned();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut healthz = None;
    for _ in 0..50 {
        let curl = docker::run("curl", &["-fsS", &url], None).await;
        if curl.status == 0 {
            healthz = Some(curl.stdout);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let uid = docker::docker(&["exec", &name, "id", "-u"]).await.stdout;
    let ssh = docker::docker(&["exec", &name, "ssh", "-V"]).await;
    let logs = docker::docker(&["logs", &name]).await;
    docker::docker(&["rm", "-f", &name]).await;
    docker::docker(&["rmi", "-f", &tag]).await;

    let healthz = healthz
        .unwrap_or_else(|| panic!("no /healthz answer; logs: {}{}", logs.stdout, logs.stderr));
    let body: serde_json::Value = serde_json::from_str(&healthz).expect("healthz is JSON");
    assert_eq!(body["status"], "ok");
    assert_ne!(uid.trim(), "0", "the service must not run as root");
    assert!(!uid.trim().is_empty());
    assert_eq!(
        ssh.status, 0,
        "openssh-client is in the image: {}",
        ssh.stderr
    );
    assert!(
        logs.stderr.lines().any(|l| l.starts_with('{')),
        "logs are JSON when configured: {}",
        logs.stderr
    );
}
