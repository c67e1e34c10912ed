//! Exec inside dev containers: over the SSH runner (real sshd) and the local runner.

use std::time::{Duration, Instant};

use base64::Engine;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, docker, eventually, sshd::TestSshd};

async fn run(app: &TestApp, project: &str, body: Value) -> Value {
    let reply = app.exec("ws-e", project, body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.body);
    reply.body
}

async fn exit_codes_streams_and_encodings(app: TestApp) {
    let (project, _) = app.running_dev_container("ws-e").await;

    let ok = run(&app, &project, json!({"command": "echo out; echo err >&2"})).await;
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(ok["stdout"], "out\n");
    assert_eq!(ok["stderr"], "err\n");
    assert_eq!(ok["truncated"], false);
    assert_eq!(ok["timed_out"], false);
    assert!(ok["duration_ms"].as_u64().is_some());

    for (command, code) in [
        ("exit 1", 1),
        ("no-such-command-xyz", 127),
        ("kill -9 $$", 137),
        ("false", 1),
    ] {
        let out = run(&app, &project, json!({ "command": command })).await;
        assert_eq!(out["exit_code"], code, "{command}: {out}");
        assert_eq!(out["timed_out"], false, "{command}");
    }

    let utf8 = run(
        &app,
        &project,
        json!({"command": "printf 'h\u{e9}llo \u{2713} \u{65e5}\u{672c}'"}),
    )
    .await;
    assert_eq!(utf8["stdout"], "h\u{e9}llo \u{2713} \u{65e5}\u{672c}");
    assert!(utf8.get("stdout_base64").is_none());
    let raw = run(
        &app,
        &project,
        json!({"command": r"printf '\377\376\000\001raw'"}),
    )
    .await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(
            raw["stdout_base64"]
                .as_str()
                .expect("raw bytes come back in base64"),
        )
        .unwrap();
    assert_eq!(bytes, b"\xff\xfe\x00\x01raw");

    let whoami = run(&app, &project, json!({"command": "id -un; pwd"})).await;
    assert_eq!(whoami["stdout"], "vibn\n/workspace\n");
    let root = app
        .exec(
            "ws-e",
            &project,
            json!({"command": "id -un", "user": "root"}),
        )
        .await;
    assert_eq!(root.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(root.body["code"], "USER_NOT_ALLOWED");
    assert_eq!(root.body["field"], "user");

    // Activity is recorded, and the first exec flipped provisioning to running.
    let status = app
        .dev_container(Method::GET, "ws-e", &project, "", None)
        .await;
    assert_eq!(status.body["state"], "running");
}

/// Strings that a shell would mangle, passed as command, cwd and env values.
const TORTURE: &[&str] = &[
    "it's \"quoted\" \\ back\\slash",
    "$(touch /tmp/devplane-pwned) `touch /tmp/devplane-pwned2` ${HOME}",
    "semi;colon && and || or | pipe > redirect < in",
    "star * ? [a-z] {a,b} ~",
    "new\nline\ttab",
    "-dash --looks-like-a-flag",
    "unicode \u{2603} \u{1f600}",
];

async fn every_string_passes_literally(app: TestApp) {
    let (project, name) = app.running_dev_container("ws-e").await;
    for value in TORTURE {
        // As an env value, printed back byte for byte.
        let out = run(
            &app,
            &project,
            json!({"command": "printf '%s' \"$V\"", "env": {"V": value}}),
        )
        .await;
        assert_eq!(out["stdout"], *value, "env value {value:?}");

        // As a working directory (made first, through an env value).
        let dir = format!("/workspace/{}", value.replace('/', "_"));
        let made = run(
            &app,
            &project,
            json!({"command": "mkdir -p -- \"$D\"", "env": {"D": dir}}),
        )
        .await;
        assert_eq!(made["exit_code"], 0, "{made}");
        let pwd = run(
            &app,
            &project,
            json!({"command": "printf '%s' \"$PWD\"", "cwd": dir}),
        )
        .await;
        assert_eq!(pwd["stdout"], dir.as_str(), "cwd {dir:?}");

        // As part of the command text, quoted for bash: it reaches bash exactly as sent.
        let quoted = format!("printf '%s' '{}'", value.replace('\'', r"'\''"));
        let out = run(&app, &project, json!({ "command": quoted })).await;
        assert_eq!(out["stdout"], *value, "command with {value:?}");
    }
    let pwned = docker::docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "ls /tmp/devplane-pwned* 2>/dev/null | wc -l",
    ])
    .await;
    assert_eq!(
        pwned.stdout.trim(),
        "0",
        "nothing was re-interpreted by a shell on the way"
    );

    // A 100 KB command.
    let long = format!("printf '%s' {}", "a".repeat(100_000));
    let out = run(&app, &project, json!({ "command": long })).await;
    assert_eq!(out["stdout"].as_str().map(str::len), Some(100_000));
    // Past the limit: refused, named.
    let too_long = app
        .exec("ws-e", &project, json!({"command": "a".repeat(200_000)}))
        .await;
    assert_eq!(too_long.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_long.body["field"], "command");

    for (body, field) in [
        (
            json!({"command": "true", "env": {"BAD-NAME": "x"}}),
            "env.BAD-NAME",
        ),
        (
            json!({"command": "true", "env": {"VIBN_EXEC_ID": "x"}}),
            "env.VIBN_EXEC_ID",
        ),
        (json!({"command": "true", "cwd": "relative/dir"}), "cwd"),
        (json!({"command": "true", "timeout_ms": 0}), "timeout_ms"),
        (json!({"command": "true", "max_bytes": 0}), "max_bytes"),
        (json!({"command": ""}), "command"),
        (json!({"command": "true", "surprise": 1}), "surprise"),
    ] {
        let reply = app.exec("ws-e", &project, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.body
        );
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }
}

async fn deadlines_kill_the_whole_tree_in_the_container(app: TestApp) {
    let (project, name) = app.running_dev_container("ws-e").await;
    let started = Instant::now();
    let out = run(
        &app,
        &project,
        json!({"command": "sleep 100 & sleep 100", "timeout_ms": 1000}),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(out["timed_out"], true, "{out}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");

    // Even a process that left the process group is swept.
    let out = run(
        &app,
        &project,
        json!({"command": "setsid sleep 200 & sleep 100", "timeout_ms": 1000}),
    )
    .await;
    assert_eq!(out["timed_out"], true);
    // (The image's own `sleep infinity` is PID 1's child; ours are `sleep 100` and `sleep 200`.)
    let left = docker::docker(&["exec", &name, "pgrep", "-f", "^sleep [12]00$"]).await;
    assert_eq!(left.stdout.trim(), "", "no sleep survives its deadline");
    assert_eq!(left.status, 1);
}

async fn output_is_capped_without_blocking(app: TestApp) {
    let (project, _) = app.running_dev_container("ws-e").await;
    let started = Instant::now();
    let out = run(
        &app,
        &project,
        json!({"command": "yes | head -c 50000000", "max_bytes": 1_048_576, "timeout_ms": 60_000}),
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(out["truncated"], true);
    assert!(out["stdout"].as_str().unwrap().len() <= 1_048_576);
    assert_eq!(
        out["exit_code"], 0,
        "the command ran to its end: the pipes never blocked"
    );
    assert_eq!(out["timed_out"], false);
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

async fn streaming_sends_output_as_it_comes(app: TestApp) {
    let (project, _) = app.running_dev_container("ws-e").await;
    let started = Instant::now();
    let response = app
        .http
        .post(format!(
            "{}{}/dev-container/exec",
            app.base,
            TestApp::project_path("ws-e", &project)
        ))
        .bearer_auth(&app.operator)
        .header("accept", "text/event-stream")
        .json(&json!({"command": "for i in 1 2 3; do echo $i; sleep 1; done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );

    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let mut first_line_at = None;
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if first_line_at.is_none()
            && text.contains("event: stdout")
            && text.contains(r#"{"data":"1\n"}"#)
        {
            first_line_at = Some(started.elapsed());
        }
        if text.contains("event: exit") && text.trim_end().ends_with('}') {
            break;
        }
    }
    let total = started.elapsed();
    let first = first_line_at.expect("a stdout event with the first line");
    assert!(
        total >= Duration::from_secs(2),
        "the command takes ~3 s: {total:?}"
    );
    assert!(
        first + Duration::from_millis(1500) < total,
        "first line at {first:?}, end at {total:?}"
    );
    let exit = text
        .split("event: exit")
        .nth(1)
        .and_then(|rest| rest.lines().find_map(|l| l.strip_prefix("data: ")))
        .unwrap();
    let exit: Value = serde_json::from_str(exit).unwrap();
    assert_eq!(exit["exit_code"], 0);
}

async fn tenants_never_reach_each_others_containers(app: TestApp) {
    let (mine, my_container) = app.running_dev_container("ws-e").await;
    let theirs = app.new_project("ws-other").await;
    let reply = app.ensure("ws-other", &theirs).await;
    let their_uuid = reply.body["service_uuid"].as_str().unwrap().to_owned();

    // A workspace token of ws-other cannot touch ws-e's project, by any path.
    let token = app
        .op(Method::POST, "/v1/workspaces/ws-other/tokens", None)
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/v1/workspaces/ws-e/projects/{mine}/dev-container/exec"),
        format!("/v1/workspaces/ws-other/projects/{mine}/dev-container/exec"),
    ] {
        let reply = app
            .call(
                Method::POST,
                &path,
                Some(&token),
                Some(json!({"command": "touch /workspace/owned"})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.body
        );
    }
    let touched = docker::docker(&["exec", &my_container, "test", "-e", "/workspace/owned"]).await;
    assert_ne!(touched.status, 0, "nothing ran in my container");

    // A project whose recorded service uuid is a substring of another's reaches nothing:
    // containers are matched by exact label, never by a name substring.
    sqlx::query("UPDATE fs_project_dev_containers SET service_uuid = $2 WHERE project_id = $1")
        .bind(&mine)
        .bind(&their_uuid[..12])
        .execute(&app.pool)
        .await
        .unwrap();
    let reply = app
        .exec(
            "ws-e",
            &mine,
            json!({"command": "touch /workspace/crossed"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.body["code"], "DEV_CONTAINER_NOT_RUNNING");
    let crossed = docker::docker(&[
        "exec",
        &format!("vibn-dev-{their_uuid}"),
        "test",
        "-e",
        "/workspace/crossed",
    ])
    .await;
    assert_ne!(
        crossed.status, 0,
        "nothing ran in the other tenant's container"
    );
}

macro_rules! on_both_runners {
    ($($name:ident),* $(,)?) => {
        mod over_ssh {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::support::TestApp::builder()
                        .ssh()
                        .configure(|c| c.exec.container_wait_ms = 3_000)
                        .start()
                        .await;
                    super::$name(app).await
                }
            )*
        }
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::support::TestApp::builder()
                        .configure(|c| c.exec.container_wait_ms = 3_000)
                        .start()
                        .await;
                    super::$name(app).await
                }
            )*
        }
    };
}

on_both_runners!(
    exit_codes_streams_and_encodings,
    every_string_passes_literally,
    deadlines_kill_the_whole_tree_in_the_container,
    output_is_capped_without_blocking,
    streaming_sends_output_as_it_comes,
    tenants_never_reach_each_others_containers,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_is_allowed_only_when_configured() {
    let app = TestApp::builder()
        .ssh()
        .configure(|c| c.exec.allowed_users = vec!["vibn".into(), "root".into()])
        .start()
        .await;
    let (project, _) = app.running_dev_container("ws-e").await;
    let out = run(&app, &project, json!({"command": "id -un", "user": "root"})).await;
    assert_eq!(out["stdout"], "root\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_resumes_a_suspended_container() {
    let app = TestApp::builder().ssh().start().await;
    let (project, _) = app.running_dev_container("ws-e").await;
    let suspended = app
        .dev_container(Method::POST, "ws-e", &project, "/suspend", None)
        .await;
    assert_eq!(suspended.status, StatusCode::OK);
    let out = run(&app, &project, json!({"command": "echo back"})).await;
    assert_eq!(out["stdout"], "back\n");
    let status = app
        .dev_container(Method::GET, "ws-e", &project, "", None)
        .await;
    assert_eq!(status.body["state"], "running");
}

/// The SSH master dies between two execs; then the whole sshd goes away and comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_failures_are_survived_or_reported_promptly() {
    let mut sshd = TestSshd::start().await;
    let port = sshd.port;
    let known_hosts = sshd.known_hosts.path().to_owned();
    let app = TestApp::builder()
        .ssh()
        .configure(move |c| {
            c.ssh.port = port;
            c.ssh.known_hosts_path = Some(known_hosts);
            c.ssh.connections = 1;
            c.ssh.connect_timeout_secs = 3;
        })
        .start()
        .await;
    let (project, _) = app.running_dev_container("ws-e").await;
    assert_eq!(
        run(&app, &project, json!({"command": "echo one"})).await["stdout"],
        "one\n"
    );

    // Kill the master connection (the `ssh -M` process) behind the runner's back.
    let control_dir = app.config.ssh.control_dir.to_string_lossy().into_owned();
    let killed = docker::run("pkill", &["-9", "-f", &control_dir], None).await;
    assert_eq!(killed.status, 0, "a master was running");
    assert_eq!(
        run(&app, &project, json!({"command": "echo two"})).await["stdout"],
        "two\n",
        "reconnected transparently"
    );

    // The host goes down: a prompt 503 naming SSH, and /readyz says so.
    sshd.stop();
    let started = Instant::now();
    let reply = app
        .exec("ws-e", &project, json!({"command": "echo three"}))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(
        reply.body["code"].as_str().unwrap().starts_with("SSH_"),
        "{}",
        reply.body
    );
    assert!(
        elapsed < Duration::from_secs(3 + 2),
        "within the connect timeout: {elapsed:?}"
    );
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["ssh"]["ok"], false);

    // It comes back: exec works again without any intervention.
    sshd.restart().await;
    let out = eventually("exec after sshd is back", Duration::from_secs(20), || {
        let app = &app;
        let project = project.clone();
        async move {
            let reply = app
                .exec("ws-e", &project, json!({"command": "echo four"}))
                .await;
            (reply.status == StatusCode::OK).then_some(reply.body)
        }
    })
    .await;
    assert_eq!(out["stdout"], "four\n");
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["ssh"]["ok"], true);
}

/// Production's combination: a Coolify service, reached over SSH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_reaches_a_coolify_service_over_ssh() {
    let app = TestApp::builder()
        .orchestration(crate::support::Orchestration::Coolify)
        .ssh()
        .start()
        .await;
    let (project, _) = app.running_dev_container("ws-e").await;
    let out = run(
        &app,
        &project,
        json!({"command": "echo $VIBN_PROJECT_ID; id -un", "env": {"X": "y"}}),
    )
    .await;
    assert_eq!(out["stdout"], format!("{project}\nvibn\n"));
    app.assert_faithful();
}
