//! `POST .../dev-container/exec`: run a command; JSON, or Server-Sent Events with
//! `Accept: text/event-stream`.

use std::convert::Infallible;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::Stream;
use serde_json::json;
use tokio::sync::mpsc;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    extract::{ApiJson, ApiPath, Caller},
    projects::ProjectPath,
    to_completion,
};
use crate::{
    app::AppState,
    error::{Error, ErrorBody, Result},
    runner::exec::{ExecOutput, OutputChunk},
    service::exec::{self, ExecRequest, ExecResult},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(exec_command))
}

/// Runs a command in the dev container (resuming it first, within quota).
///
/// With `Accept: text/event-stream` the answer streams `stdout` and `stderr` events
/// (`{"data": "<text>"}`) as output arrives, then one `exit` event carrying the result
/// (without the output), or an `error` event with the usual error body.
#[utoipa::path(post, path = "/v1/workspaces/{workspace}/projects/{project_id}/dev-container/exec", tag = "exec",
    params(ProjectPath), request_body = ExecRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = ExecResult, content_type = "application/json"),
        (status = 200, description = "Server-Sent Events: stdout, stderr, exit", content_type = "text/event-stream"),
        (status = 402, body = ErrorBody, description = "Resuming would exceed the quota"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Bad field, or USER_NOT_ALLOWED"),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody, description = "SSH_UNAVAILABLE / DOCKER_UNAVAILABLE"),
    ))]
async fn exec_command(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ProjectPath>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ExecRequest>,
) -> Result<Response> {
    let (workspace, project_id) = path.parse(&caller)?;
    let spec = exec::validate(&state, &request)?;
    // Everything that can fail before the command starts answers with a status code.
    let row = to_completion({
        let state = state.clone();
        async move { exec::prepare(&state, &workspace, &project_id).await }
    })
    .await?;

    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_stream {
        let output =
            to_completion(async move { exec::run(&state, &row, &spec, None).await }).await?;
        return Ok(Json(ExecResult::from(output)).into_response());
    }

    let (tx, rx) = mpsc::channel(64);
    let finished = tokio::spawn(async move { exec::run(&state, &row, &spec, Some(tx)).await });
    Ok(Sse::new(events(rx, finished))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn events(
    mut chunks: mpsc::Receiver<OutputChunk>,
    finished: tokio::task::JoinHandle<Result<ExecOutput>>,
) -> impl Stream<Item = std::result::Result<Event, Infallible>> {
    let (tx, rx) = mpsc::channel::<Event>(16);
    tokio::spawn(async move {
        let mut stdout = Utf8Carry::default();
        let mut stderr = Utf8Carry::default();
        let event = |name: &str, text: String| {
            Event::default()
                .event(name)
                .data(json!({ "data": text }).to_string())
        };
        // Keep receiving even after the client left, so the command never blocks on us.
        while let Some(chunk) = chunks.recv().await {
            let (name, text) = match chunk {
                OutputChunk::Stdout(b) => ("stdout", stdout.decode(&b)),
                OutputChunk::Stderr(b) => ("stderr", stderr.decode(&b)),
            };
            if !text.is_empty() {
                let _ = tx.send(event(name, text)).await;
            }
        }
        for (name, rest) in [("stdout", stdout.finish()), ("stderr", stderr.finish())] {
            if !rest.is_empty() {
                let _ = tx.send(event(name, rest)).await;
            }
        }
        let last = match finished.await {
            Ok(Ok(output)) => {
                let mut result = ExecResult::from(output);
                result.stdout.clear();
                result.stderr.clear();
                result.stdout_base64 = None;
                result.stderr_base64 = None;
                Event::default()
                    .event("exit")
                    .data(json!(result).to_string())
            }
            Ok(Err(e)) => error_event(&e),
            Err(e) => error_event(&Error::internal(format!("exec task failed: {e}"))),
        };
        let _ = tx.send(last).await;
    });
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
}

/// Decodes a byte stream as UTF-8 across chunk boundaries: a character split between two
/// chunks is held back until its end arrives; bytes that are not UTF-8 become U+FFFD.
#[derive(Default)]
struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    fn decode(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            // An incomplete sequence at the very end waits for the next chunk.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        let rest = self.pending.split_off(complete);
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending = rest;
        text
    }

    fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

fn error_event(e: &Error) -> Event {
    if e.status().is_server_error() {
        tracing::error!(code = %e.code(), error = ?e, "streaming exec failed");
    }
    Event::default().event("error").data(e.body().to_string())
}

#[cfg(test)]
mod tests {
    use super::Utf8Carry;

    #[test]
    fn characters_split_across_chunks_survive() {
        let text = "h\u{e9}llo \u{2713}";
        let bytes = text.as_bytes();
        for split in 0..bytes.len() {
            let mut carry = Utf8Carry::default();
            let mut out = carry.decode(&bytes[..split]);
            out.push_str(&carry.decode(&bytes[split..]));
            out.push_str(&carry.finish());
            assert_eq!(out, text, "split at {split}");
        }
        let mut carry = Utf8Carry::default();
        assert_eq!(carry.decode(b"a\xffb"), "a\u{fffd}b");
    }
}
