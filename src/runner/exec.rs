//! Running a command inside a container through the Engine API's exec endpoints.
//!
//! Everything the caller supplies (command text, working directory, environment, stdin)
//! travels as separate argv elements, `Env` entries or stdin bytes of one API call: no shell
//! sits between us and the container, so nothing is ever re-interpreted. The command text is
//! interpreted exactly once, by `bash -c` inside the container, as the caller intends.
//!
//! Deadlines are enforced inside the container by a small `sh` wrapper around coreutils'
//! `timeout`, which signals the command's whole process group, and then sweeps any process
//! that escaped the group (`setsid`) but still carries this exec's marker in its environment.
//! So the deadline holds even if this process, or the SSH link, dies mid-call.

use std::time::{Duration, Instant};

use bollard::{
    Docker,
    container::LogOutput,
    errors::Error as DockerError,
    exec::{CreateExecOptions, StartExecOptions, StartExecResults},
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::{io::AsyncWriteExt, sync::mpsc};

use super::{Runner, docker_error, is_transport_error};
use crate::error::{Upstream, UpstreamError, UpstreamKind};

/// Environment variable that marks every process of one exec (inherited by descendants).
pub const EXEC_MARKER_VAR: &str = "VIBN_EXEC_ID";

/// `sh` wrapper: `$1` marker, `$2` deadline in seconds, `$3` working directory, then the
/// command's argv (`/usr/bin/env K=V... program args`, so the caller's environment reaches
/// the command but never the wrapper). It is a constant: no caller text is spliced into it,
/// and it names its tools by absolute path.
const DEADLINE_WRAPPER: &str = r#"marker=$1 limit=$2 dir=$3
shift 3
cd -- "$dir" || exit 2
/usr/bin/timeout -k 1 "$limit" "$@"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  sweep_marker "$marker"
fi
exit "$rc"
"#;

/// Kills every process (but the caller) whose environment carries the marker `$1`.
const SWEEP_FUNCTION: &str = r#"sweep_marker() {
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" = "$$" ] && continue
    if /usr/bin/grep -qxzF "VIBN_EXEC_ID=$1" "$p/environ" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null
    fi
  done
}
"#;

/// A command to run in a container.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// The program and its arguments, run after `cd cwd` under the deadline.
    pub argv: Vec<String>,
    pub user: String,
    pub cwd: String,
    pub env: Vec<(String, String)>,
    /// Bytes for the command's stdin; without it stdin is empty.
    pub stdin: Option<Bytes>,
    pub timeout: Duration,
    /// Cap on stdout + stderr kept (and streamed); the rest is drained and dropped.
    pub max_bytes: usize,
}

#[derive(Debug, Clone)]
pub enum OutputChunk {
    Stdout(Bytes),
    Stderr(Bytes),
}

#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: bool,
    pub timed_out: bool,
    pub duration: Duration,
}

#[derive(Debug)]
pub enum ExecError {
    /// The container is gone or not running: resolve it again.
    ContainerUnavailable(String),
    Upstream(UpstreamError),
}

impl From<UpstreamError> for ExecError {
    fn from(e: UpstreamError) -> Self {
        ExecError::Upstream(e)
    }
}

/// How long past the in-container deadline we wait before giving up locally.
const LOCAL_GRACE: Duration = Duration::from_secs(5);

/// After the command has exited, a stream that brings nothing for this long is only held open
/// by a process it left behind.
const QUIET_AFTER_EXIT: Duration = Duration::from_secs(1);

/// Runs `spec` in `container`. Output chunks also go to `sink` as they arrive, when given.
pub async fn run(
    runner: &dyn Runner,
    container: &str,
    spec: &ExecSpec,
    sink: Option<mpsc::Sender<OutputChunk>>,
) -> Result<ExecOutput, ExecError> {
    let started = Instant::now();
    let marker = hex::encode(rand_marker());
    let seconds = format!(
        "{}.{:03}",
        spec.timeout.as_secs(),
        spec.timeout.subsec_millis()
    );
    let script = format!("{SWEEP_FUNCTION}{DEADLINE_WRAPPER}");
    let mut cmd = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        script,
        "devplane-exec".to_owned(),
        marker.clone(),
        seconds,
        spec.cwd.clone(),
    ];
    // `env -- NAME=VALUE... program args`: after `--` nothing is an option; names are
    // validated (no `=`, no leading `-`) and the program is an absolute path without `=`.
    if !spec.env.is_empty() {
        cmd.extend(["/usr/bin/env".to_owned(), "--".to_owned()]);
        cmd.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
    }
    cmd.extend(spec.argv.iter().cloned());
    let env = vec![format!("{EXEC_MARKER_VAR}={marker}")];

    let options = CreateExecOptions {
        attach_stdin: Some(spec.stdin.is_some()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        env: Some(env),
        cmd: Some(cmd),
        user: Some(spec.user.clone()),
        ..Default::default()
    };

    // Creating an exec runs nothing, so a transport failure here is retried on a fresh
    // connection; starting it is never retried.
    let docker = runner.docker().await?;
    let (docker, exec_id) = match docker.create_exec(container, options.clone()).await {
        Ok(created) => (docker, created.id),
        Err(e) if is_transport_error(&e) => {
            runner.transport_failed().await;
            let docker = runner.docker().await?;
            let created = docker
                .create_exec(container, options)
                .await
                .map_err(|e| exec_create_error(runner, e))?;
            (docker, created.id)
        }
        Err(e) => return Err(exec_create_error(runner, e)),
    };

    let deadline = spec.timeout + LOCAL_GRACE;
    let attached = docker
        .start_exec(
            &exec_id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: Some(64 * 1024),
            }),
        )
        .await
        .map_err(|e| docker_error(runner.transport(), e))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = attached
    else {
        return Err(UpstreamError::new(
            Upstream::Docker,
            UpstreamKind::BadResponse,
            "exec started detached",
        )
        .into());
    };

    // Feed stdin concurrently with reading output, so neither side can fill a pipe and stall.
    let stdin = spec.stdin.clone();
    let feeder = tokio::spawn(async move {
        if let Some(bytes) = stdin {
            input.write_all(&bytes).await?;
        }
        input.shutdown().await
    });

    let mut collector = Collector {
        max_bytes: spec.max_bytes,
        kept: 0,
        output: ExecOutput::default(),
        sink,
    };
    let read = async {
        let mut finished_probe = tokio::time::interval(Duration::from_secs(1));
        finished_probe.tick().await;
        loop {
            tokio::select! {
                item = output.next() => match item {
                    None => return Ok(()),
                    Some(Ok(chunk)) => collector.accept(chunk).await,
                    Some(Err(e)) => return Err(docker_error(runner.transport(), e)),
                },
                _ = finished_probe.tick() => {
                    // A background process that kept our stdout open would hold the stream
                    // after the command itself ended. Once the exec is over, keep reading what
                    // is still in flight, until the stream ends or goes quiet.
                    if let Ok(state) = docker.inspect_exec(&exec_id).await
                        && state.running == Some(false)
                    {
                        loop {
                            match tokio::time::timeout(QUIET_AFTER_EXIT, output.next()).await {
                                Ok(Some(Ok(chunk))) => collector.accept(chunk).await,
                                Ok(Some(Err(e))) => return Err(docker_error(runner.transport(), e)),
                                Ok(None) | Err(_) => return Ok(()),
                            }
                        }
                    }
                }
            }
        }
    };
    let local_timeout = match tokio::time::timeout(deadline, read).await {
        Ok(result) => {
            result?;
            false
        }
        Err(_) => true,
    };
    drop(output);
    feeder.abort();
    let mut collected = collector.output;

    if local_timeout {
        // The in-container deadline should have fired long ago; make sure nothing survives.
        sweep(runner, container, &marker).await;
        collected.timed_out = true;
        collected.exit_code = 137;
        collected.duration = started.elapsed();
        return Ok(collected);
    }

    collected.exit_code = exit_code(&docker, &exec_id)
        .await
        .map_err(|e| docker_error(runner.transport(), e))?;
    collected.duration = started.elapsed();
    collected.timed_out =
        matches!(collected.exit_code, 124 | 137) && collected.duration >= spec.timeout;
    Ok(collected)
}

/// Keeps output up to the cap and forwards it to the streaming listener, if any.
struct Collector {
    max_bytes: usize,
    kept: usize,
    output: ExecOutput,
    sink: Option<mpsc::Sender<OutputChunk>>,
}

impl Collector {
    async fn accept(&mut self, chunk: LogOutput) {
        let (is_stdout, bytes) = match chunk {
            LogOutput::StdOut { message } | LogOutput::Console { message } => (true, message),
            LogOutput::StdErr { message } => (false, message),
            LogOutput::StdIn { .. } => return,
        };
        let room = self.max_bytes.saturating_sub(self.kept);
        let take = bytes.slice(..bytes.len().min(room));
        if take.len() < bytes.len() {
            self.output.truncated = true;
        }
        if take.is_empty() {
            return; // over the cap: the caller keeps draining, so the pipes never block
        }
        self.kept += take.len();
        if is_stdout {
            self.output.stdout.extend_from_slice(&take);
        } else {
            self.output.stderr.extend_from_slice(&take);
        }
        if let Some(tx) = &self.sink {
            let chunk = if is_stdout {
                OutputChunk::Stdout(take)
            } else {
                OutputChunk::Stderr(take)
            };
            if tx.send(chunk).await.is_err() {
                self.sink = None; // the listener left; the command still runs to its end
            }
        }
    }
}

fn exec_create_error(runner: &dyn Runner, e: DockerError) -> ExecError {
    match &e {
        DockerError::DockerResponseServerError {
            status_code: 404 | 409,
            message,
        } => ExecError::ContainerUnavailable(message.clone()),
        _ => ExecError::Upstream(docker_error(runner.transport(), e)),
    }
}

async fn exit_code(docker: &Docker, exec_id: &str) -> Result<i64, DockerError> {
    // The stream can close a moment before the engine records the exit.
    for _ in 0..50 {
        let state = docker.inspect_exec(exec_id).await?;
        if state.running != Some(true) {
            return Ok(state.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(-1)
}

/// Kills whatever still carries `marker`, as root, in a separate exec.
async fn sweep(runner: &dyn Runner, container: &str, marker: &str) {
    let options = CreateExecOptions {
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        cmd: Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            format!("{SWEEP_FUNCTION}sweep_marker \"$1\""),
            "devplane-sweep".to_owned(),
            marker.to_owned(),
        ]),
        user: Some("root".to_owned()),
        ..Default::default()
    };
    let result = async {
        let docker = runner.docker().await.map_err(|e| e.to_string())?;
        let created = docker
            .create_exec(container, options)
            .await
            .map_err(|e| e.to_string())?;
        docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(container, error = %e, "could not sweep the processes of a timed-out exec");
    }
}

fn rand_marker() -> [u8; 8] {
    let mut bytes = [0u8; 8];
    // A marker only needs to be unique among this container's processes; should the OS
    // random source fail, the time still makes a fine one.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = (nanos as u64).to_le_bytes();
    }
    bytes
}
