//! devplane as a real process (for crash and restart tests): the binary under test, configured
//! through the environment like a deployment.

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct ServiceProcess {
    pub base: String,
    child: Child,
}

impl ServiceProcess {
    /// Starts `devplane serve` with `env` and waits for `/healthz`.
    pub async fn start(env: &BTreeMap<String, String>) -> ServiceProcess {
        let port = {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            socket.local_addr().expect("addr").port()
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_devplane"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("VIBN_LISTEN", format!("127.0.0.1:{port}"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start devplane");
        let process = ServiceProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(format!("{}/healthz", process.base)).send().await
                && r.status().is_success()
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("devplane did not start serving");
    }

    /// Waits for the process to exit (e.g. at a failpoint); returns whether it did.
    pub async fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
