//! A private sshd for tests that stop and restart it, from the test environment's config and
//! host key, on a port of its own, with its own pinned known_hosts file.

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{TempFile, env, random_id, temp_file};

pub struct TestSshd {
    pub port: u16,
    pub known_hosts: TempFile,
    pidfile: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    socket.local_addr().expect("addr").port()
}

impl TestSshd {
    pub async fn start() -> TestSshd {
        let env = env::get();
        let port = free_port();
        let host_key = std::fs::read_to_string(env.path("DEVPLANE_TEST_SSHD_HOST_PUBKEY"))
            .expect("host public key");
        let known_hosts = temp_file(&format!("[127.0.0.1]:{port} {}\n", host_key.trim()));
        let pidfile = std::env::temp_dir().join(format!("sshd-{}.pid", random_id(8)));
        let mut sshd = TestSshd {
            port,
            known_hosts,
            pidfile,
            child: None,
        };
        sshd.restart().await;
        sshd
    }

    /// (Re)starts sshd on its port and waits until it accepts connections.
    pub async fn restart(&mut self) {
        let env = env::get();
        let child = Command::new(env.require("DEVPLANE_TEST_SSHD_BIN"))
            .args(["-D", "-f"])
            .arg(env.path("DEVPLANE_TEST_SSHD_CONFIG"))
            .args(["-p", &self.port.to_string(), "-o"])
            .arg(format!("PidFile={}", self.pidfile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("sshd did not start on port {}", self.port);
    }

    /// Stops sshd and every connection it serves (its children), like a host going down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_tree(child.id());
            let _ = child.wait();
        }
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.pidfile);
    }
}

/// SIGKILLs `pid` and all its descendants.
pub fn kill_tree(pid: u32) {
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Fields after the parenthesised command: state, ppid, ...
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && !tree.contains(&child) {
                tree.push(child);
            }
        }
        i += 1;
    }
    for pid in tree.iter().rev() {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
    }
}
