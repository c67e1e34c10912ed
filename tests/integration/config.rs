//! Configuration: defaults < file < environment, and errors that name the setting.

use std::collections::HashMap;

use devplane::config::{Config, LogFormat, OrchestratorKind};

use crate::support::temp_file;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

const MINIMAL_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
    ("VIBN_ORCHESTRATOR", "docker"),
];

#[test]
fn environment_beats_file_and_file_beats_defaults() {
    let file = temp_file(
        r#"
[quota]
max_projects = 5
max_dev_containers = 4

[dev_container]
image = "file-image:1"

[server]
log_format = "json"
"#,
    );
    let mut vars = MINIMAL_ENV.to_vec();
    vars.push(("VIBN_QUOTA_MAX_PROJECTS", "7"));
    let config = Config::load(Some(file.as_ref()), env(&vars)).expect("loads");

    assert_eq!(
        config.quota.max_projects, 7,
        "the environment wins over the file"
    );
    assert_eq!(
        config.quota.max_dev_containers, 4,
        "the file wins over the default"
    );
    assert_eq!(config.dev_container.image, "file-image:1");
    assert_eq!(config.server.log_format, LogFormat::Json);
    assert_eq!(
        config.dev_container.cpu_limit, "1",
        "untouched settings keep their default"
    );
    assert_eq!(config.orchestrator.kind, OrchestratorKind::Docker);
}

#[test]
fn a_bad_environment_value_names_the_variable_and_the_key() {
    let mut vars = MINIMAL_ENV.to_vec();
    vars.push(("VIBN_QUOTA_MAX_DEV_CONTAINERS", "three"));
    let err = Config::load(None, env(&vars)).unwrap_err().to_string();
    assert!(err.contains("VIBN_QUOTA_MAX_DEV_CONTAINERS"), "{err}");
    assert!(err.contains("quota.max_dev_containers"), "{err}");
    assert!(err.contains("three"), "{err}");
}

#[test]
fn a_bad_file_value_names_the_file_and_the_key() {
    let file = temp_file("[quota]\nmax_projects = \"many\"\n");
    let err = Config::load(Some(file.as_ref()), env(MINIMAL_ENV))
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_projects"), "{err}");
    assert!(err.contains(&file.as_ref().display().to_string()), "{err}");

    let typo = temp_file("[quota]\nmax_project = 4\n");
    let err = Config::load(Some(typo.as_ref()), env(MINIMAL_ENV))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("max_project"),
        "unknown keys are refused: {err}"
    );
}

#[test]
fn values_that_parse_but_make_no_sense_are_refused_by_name() {
    for (var, value) in [
        ("VIBN_DEV_CPU_LIMIT", "-1"),
        ("VIBN_DEV_MEM_LIMIT", "lots"),
        ("VIBN_PREVIEW_DOMAIN_BASE", "not a domain"),
        ("VIBN_DEV_IMAGE", "Bad Image"),
        ("VIBN_EXEC_MAX_COMMAND_BYTES", "1000000"),
    ] {
        let mut vars = MINIMAL_ENV.to_vec();
        vars.push((var, value));
        let err = Config::load(None, env(&vars)).unwrap_err().to_string();
        assert!(err.contains(var), "{var}={value}: {err}");
    }
    let err = Config::load(None, env(&[("DATABASE_URL", "postgres://x/y")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("COOLIFY_URL"),
        "the default coolify orchestrator needs its URL: {err}"
    );
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let vars = [
        ("DATABASE_URL", "postgres://user:db-secret-pw@127.0.0.1/db"),
        ("COOLIFY_URL", "https://coolify.example.com"),
        ("COOLIFY_API_TOKEN", "12|coolify-secret-token"),
        ("COOLIFY_SERVER_UUID", "srv"),
        ("VIBN_OPERATOR_TOKENS", "operator-secret-token-1234"),
    ];
    let config = Config::load(None, env(&vars)).expect("loads");
    let debug = format!("{config:?}");
    for secret in [
        "db-secret-pw",
        "coolify-secret-token",
        "operator-secret-token-1234",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug output");
    }
}

#[test]
fn the_binary_refuses_to_start_with_a_bad_setting_and_says_which() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_devplane"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", "postgres://u:p@127.0.0.1:1/db")
        .env("VIBN_ORCHESTRATOR", "docker")
        .env("VIBN_QUOTA_MAX_PROJECTS", "-3")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run devplane");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("VIBN_QUOTA_MAX_PROJECTS"), "{stderr}");
}

#[test]
fn the_readme_documents_every_setting() {
    let readme = include_str!("../../README.md");
    for setting in devplane::config::SETTINGS {
        let row = format!("| `{}` | `{}` |", setting.key, setting.var);
        assert!(
            readme.contains(&row),
            "README's configuration table lacks {row}"
        );
    }
}
