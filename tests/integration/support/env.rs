//! Settings exported by `scripts/test-env.sh`. Tests read the environment first, then the
//! env file the script writes. A missing part is a failure with instructions, never a skip.

use std::{collections::HashMap, path::PathBuf, sync::OnceLock};

pub struct TestEnv {
    values: HashMap<String, String>,
}

fn env_file() -> PathBuf {
    std::env::var("DEVPLANE_TEST_ENV_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".test-env/env"))
}

/// Parses the `export KEY='value'` lines of the env file.
fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('\'').to_owned()))
        .collect()
}

pub fn get() -> &'static TestEnv {
    static ENV: OnceLock<TestEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut values = std::fs::read_to_string(env_file())
            .map(|t| parse(&t))
            .unwrap_or_default();
        for (k, v) in std::env::vars() {
            if k.starts_with("DEVPLANE_TEST_") {
                values.insert(k, v);
            }
        }
        TestEnv { values }
    })
}

impl TestEnv {
    pub fn require(&self, key: &str) -> String {
        self.values.get(key).cloned().unwrap_or_else(|| {
            panic!(
                "{key} is not set: the tests need the real Postgres, sshd and Docker image that \
                 `scripts/test-env.sh` sets up (it writes {}). Run `scripts/test.sh`.",
                env_file().display()
            )
        })
    }

    pub fn database_url(&self) -> String {
        self.require("DEVPLANE_TEST_DATABASE_URL")
    }

    pub fn image(&self) -> String {
        self.require("DEVPLANE_TEST_IMAGE")
    }

    pub fn path(&self, key: &str) -> PathBuf {
        PathBuf::from(self.require(key))
    }
}
