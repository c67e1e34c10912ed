//! Shared test support: the test environment's settings, a database per test, a devplane
//! instance per test, the fake Coolify, and the real Docker engine through its CLI.
#![allow(dead_code)]

pub mod app;
pub mod db;
pub mod docker;
pub mod env;
pub mod fake_coolify;
pub mod openapi;
pub mod process;
pub mod sshd;

use std::sync::Once;

pub use app::{Orchestration, TestApp};

/// A random lowercase alphanumeric id.
pub fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Logs go to the test output when `TEST_LOG` is set.
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    std::env::var("TEST_LOG").unwrap_or_else(|_| "devplane=debug".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A file removed when dropped.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempFile {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn temp_file(contents: &str) -> TempFile {
    let path = std::env::temp_dir().join(format!("devplane-test-{}", random_id(12)));
    std::fs::write(&path, contents).expect("write temp file");
    TempFile(path)
}

/// How long a dev container may take to come up (Coolify starts services asynchronously).
pub const UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// Waits until `vibn-dev-<uuid>` runs; returns its `docker inspect`.
pub async fn running_container(uuid: &str) -> serde_json::Value {
    let name = format!("vibn-dev-{uuid}");
    eventually(&format!("{name} running"), UP_TIMEOUT, || {
        let name = name.clone();
        async move {
            docker::inspect(&name)
                .await
                .filter(|c| c["State"]["Running"] == true)
        }
    })
    .await
}

/// Waits until no container of service `uuid` is left.
pub async fn no_containers(uuid: &str) {
    eventually(
        &format!("containers of {uuid} removed"),
        UP_TIMEOUT,
        || async move { docker::project_states(uuid).await.is_empty().then_some(()) },
    )
    .await;
}
