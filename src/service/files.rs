//! Files in a dev container's `/workspace`: read, write, list, delete. Binary-safe (bytes go
//! through the exec stream and stdin, never through argv or a shell), size-limited, and
//! confined to `/workspace`: paths are checked lexically here, then resolved inside the
//! container (`realpath`), so `..` and symlinks that leave `/workspace` are refused.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    app::AppState,
    domain::{ProjectId, WorkspaceId},
    error::{Error, Result},
    runner::exec::{ExecOutput, ExecSpec},
    service::exec::{self as exec_service, DEFAULT_USER},
};

const ROOT: &str = "/workspace";
const FILE_OP_TIMEOUT: Duration = Duration::from_secs(120);
const LIST_MAX_BYTES: usize = 8 << 20;

/// Exit codes of the scripts below.
const OUTSIDE: i64 = 40;
const MISSING: i64 = 41;
const WRONG_KIND: i64 = 42;
const TOO_LARGE: i64 = 43;

/// Resolves `$1` (every component, symlinks included) and insists it stays in /workspace.
const CONFINE: &str = r#"p=$(realpath -m -- "$1") || exit 40
case "$p" in /workspace|/workspace/*) ;; *) echo "path leaves /workspace" >&2; exit 40 ;; esac
"#;

const READ: &str = r#"[ -e "$p" ] || exit 41
[ -f "$p" ] || { echo "not a regular file" >&2; exit 42; }
[ "$(stat -c %s -- "$p")" -le "$2" ] || exit 43
exec cat -- "$p"
"#;

const WRITE: &str = r#"[ "$p" != /workspace ] && [ ! -d "$p" ] || { echo "is a directory" >&2; exit 42; }
d=$(dirname -- "$p")
mkdir -p -- "$d" || exit 44
t="$d/.devplane-upload.$$"
cat > "$t" || { rm -f -- "$t"; exit 44; }
mv -f -- "$t" "$p"
"#;

/// Delete resolves only the parent, so a symlink is removed itself, not what it points to.
const DELETE: &str = r#"parent=$(realpath -m -- "$(dirname -- "$1")") || exit 40
p="$parent/$(basename -- "$1")"
case "$p" in /workspace/*) ;; *) echo "path leaves /workspace or is /workspace itself" >&2; exit 40 ;; esac
[ -e "$p" ] || [ -L "$p" ] || exit 41
rm -rf -- "$p"
"#;

const LIST: &str = r#"[ -e "$p" ] || exit 41
[ -d "$p" ] || { echo "not a directory" >&2; exit 42; }
find "$p" -mindepth 1 -maxdepth 1 -printf '%y\t%s\t%T@\t%f\0'
"#;

/// Normalises a caller's path lexically: relative paths are under `/workspace`; `.` and `..`
/// are resolved; the result must stay inside `/workspace`.
pub fn normalize(path: &str) -> Result<String> {
    if path.is_empty() || path.contains('\0') || path.len() > 4096 {
        return Err(Error::validation(
            "path",
            "must be 1-4096 bytes without NUL",
        ));
    }
    let absolute = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{ROOT}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in absolute.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(outside());
                }
            }
            other => parts.push(other),
        }
    }
    let normal = format!("/{}", parts.join("/"));
    if normal == ROOT || normal.starts_with("/workspace/") {
        Ok(normal)
    } else {
        Err(outside())
    }
}

fn outside() -> Error {
    Error::invalid(
        "PATH_OUTSIDE_WORKSPACE",
        "path",
        "the path must stay inside /workspace",
    )
}

fn spec(script: &str, args: &[&str], stdin: Option<Bytes>, max_bytes: usize) -> ExecSpec {
    let mut argv = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        script.to_owned(),
        "devplane-files".to_owned(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    ExecSpec {
        argv,
        user: DEFAULT_USER.to_owned(),
        cwd: ROOT.to_owned(),
        env: Vec::new(),
        stdin,
        timeout: FILE_OP_TIMEOUT,
        max_bytes,
    }
}

async fn run_script(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    script: String,
    args: &[&str],
    stdin: Option<Bytes>,
    max_bytes: usize,
) -> Result<ExecOutput> {
    let row = exec_service::prepare(state, workspace, project_id).await?;
    let output =
        exec_service::run(state, &row, &spec(&script, args, stdin, max_bytes), None).await?;
    if output.exit_code == 0 {
        return Ok(output);
    }
    let detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(match output.exit_code {
        OUTSIDE => outside(),
        MISSING => Error::not_found("FILE_NOT_FOUND", "no such file or directory"),
        WRONG_KIND => Error::invalid(
            "WRONG_FILE_TYPE",
            "path",
            if detail.is_empty() {
                "wrong file type".into()
            } else {
                detail
            },
        ),
        TOO_LARGE => Error::too_large(
            "path",
            format!(
                "the file is larger than {} bytes",
                state.config.files.max_bytes
            ),
        ),
        code => Error::conflict(
            "FILE_OPERATION_FAILED",
            format!(
                "the file operation failed (exit {code}): {}",
                detail.chars().take(500).collect::<String>()
            ),
        ),
    })
}

pub async fn read(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    path: &str,
) -> Result<Vec<u8>> {
    let path = normalize(path)?;
    let limit = state.config.files.max_bytes;
    let output = run_script(
        state,
        workspace,
        project_id,
        format!("{CONFINE}{READ}"),
        &[&path, &limit.to_string()],
        None,
        limit + 1,
    )
    .await?;
    if output.truncated || output.stdout.len() > limit {
        return Err(Error::too_large(
            "path",
            format!("the file is larger than {limit} bytes"),
        ));
    }
    Ok(output.stdout)
}

pub async fn write(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    path: &str,
    content: Bytes,
) -> Result<()> {
    let path = normalize(path)?;
    if content.len() > state.config.files.max_bytes {
        return Err(Error::too_large(
            "body",
            format!(
                "files are limited to {} bytes",
                state.config.files.max_bytes
            ),
        ));
    }
    run_script(
        state,
        workspace,
        project_id,
        format!("{CONFINE}{WRITE}"),
        &[&path],
        Some(content),
        64 * 1024,
    )
    .await
    .map(drop)
}

pub async fn delete(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    path: &str,
) -> Result<()> {
    let path = normalize(path)?;
    if path == ROOT {
        return Err(Error::invalid(
            "PATH_OUTSIDE_WORKSPACE",
            "path",
            "/workspace itself cannot be deleted",
        ));
    }
    run_script(
        state,
        workspace,
        project_id,
        DELETE.to_owned(),
        &[&path],
        None,
        64 * 1024,
    )
    .await
    .map(drop)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Entry {
    pub name: String,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: &'static str,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Listing {
    pub path: String,
    pub entries: Vec<Entry>,
    /// True when the directory had more entries than fit in one answer.
    pub truncated: bool,
}

pub async fn list(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    path: &str,
) -> Result<Listing> {
    let path = normalize(path)?;
    let output = run_script(
        state,
        workspace,
        project_id,
        format!("{CONFINE}{LIST}"),
        &[&path],
        None,
        LIST_MAX_BYTES,
    )
    .await?;
    let mut entries: Vec<Entry> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|record| !record.is_empty())
        .filter_map(parse_entry)
        .collect();
    if output.truncated {
        entries.pop(); // the last record may be cut
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Listing {
        path,
        entries,
        truncated: output.truncated,
    })
}

/// One `find -printf '%y\t%s\t%T@\t%f\0'` record.
fn parse_entry(record: &[u8]) -> Option<Entry> {
    let text = String::from_utf8_lossy(record);
    let mut fields = text.splitn(4, '\t');
    let kind = match fields.next()? {
        "f" => "file",
        "d" => "dir",
        "l" => "symlink",
        _ => "other",
    };
    let size = fields.next()?.parse().ok()?;
    let modified = fields
        .next()?
        .split('.')
        .next()
        .and_then(|secs| secs.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    let name = fields.next()?.to_owned();
    Some(Entry {
        name,
        kind,
        size,
        modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined_lexically() {
        assert_eq!(normalize("src/main.rs").unwrap(), "/workspace/src/main.rs");
        assert_eq!(normalize("/workspace/a/../b").unwrap(), "/workspace/b");
        assert_eq!(normalize(".").unwrap(), "/workspace");
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "/workspace/../etc",
            "..",
            "/workspacex/a",
            "a\0b",
            "",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn find_records_parse_with_tabs_in_names() {
        let e = parse_entry(b"f\t12\t1700000000.5\tname\twith tab").unwrap();
        assert_eq!(
            (e.kind, e.size, e.name.as_str()),
            ("file", 12, "name\twith tab")
        );
        assert!(e.modified.is_some());
    }
}
