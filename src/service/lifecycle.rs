//! Dev container lifecycle: ensure, status, suspend, resume, delete, and reconciliation.
//!
//! Rules that make it safe under concurrency and crashes:
//! - Every lifecycle change of a project happens under that project's lock (a Postgres
//!   advisory lock held by an open transaction), so concurrent calls, on any replica, run one
//!   after another: 50 concurrent ensures create one service.
//! - Quota checks run in the same transaction as the state change they guard, under the
//!   workspace lock: N concurrent requests never get past the cap.
//! - A creation is recorded (an *intent*) before the orchestrator is called, and the service
//!   carries the intent id. If the process dies in between, the lock dies with its
//!   connection, and the next ensure or the reconciler finds the service by its intent and
//!   adopts it, or, when nothing was created, gives the intent up. Nothing created is ever
//!   left unknown.

use std::{future::Future, time::Duration};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, Transaction};
use tokio::{sync::SemaphorePermit, time::Instant};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    compose::{self, ComposeInput, PREVIEW_BASE_PORT, PREVIEW_PORT_COUNT},
    config::FAILPOINT_AFTER_ORCHESTRATOR_CREATE,
    domain::{ProjectId, WorkspaceId},
    error::{Error, Result},
    ids,
    orchestrator::{CreateRequest, LiveStatus, ProjectInfo, ServiceRef},
    service::{projects, quota},
    store::{
        self,
        dev_containers::{DevContainerRow, NewIntent},
        projects::ProjectRow,
    },
};

pub const STATE_PROVISIONING: &str = "provisioning";
pub const STATE_RUNNING: &str = "running";
pub const STATE_SUSPENDED: &str = "suspended";

#[derive(Debug, Serialize, ToSchema)]
pub struct Ensured {
    pub service_uuid: String,
    /// `provisioning`, `running`, `suspended` or `failed`.
    pub state: String,
    /// True when this call created the service.
    pub created: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewUrl {
    pub slot: usize,
    pub port: u16,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DevContainer {
    pub project_id: String,
    /// Null while the service is being created.
    pub service_uuid: Option<String>,
    pub state: String,
    pub image: String,
    pub created_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub preview_urls: Vec<PreviewUrl>,
    /// What the orchestrator reports now (only with `?live=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveStatus>,
}

/// A held project lock: an open transaction holding the advisory lock. Dropping it (a
/// panic, a cancelled task) rolls back and releases; so does the death of the process.
struct ProjectLock<'a> {
    tx: Transaction<'static, Postgres>,
    _slot: SemaphorePermit<'a>,
}

impl ProjectLock<'_> {
    async fn release(self) {
        if let Err(e) = self.tx.commit().await {
            tracing::warn!(error = %e, "releasing a project lock failed; it ends with the connection");
        }
    }
}

fn busy() -> Error {
    Error::conflict(
        "DEV_CONTAINER_BUSY",
        "another lifecycle operation on this dev container is still running; retry shortly",
    )
}

fn lock_deadline(state: &AppState) -> Instant {
    Instant::now() + Duration::from_millis(state.config.lifecycle.lock_wait_ms)
}

/// Takes the project's lock before `deadline`, waiting (without holding a connection) while
/// someone else has it.
async fn lock_project<'a>(
    state: &'a AppState,
    project_id: &str,
    deadline: Instant,
) -> Result<ProjectLock<'a>> {
    let mut pause = Duration::from_millis(20);
    loop {
        let slot = tokio::time::timeout_at(deadline, state.lifecycle_slots.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| Error::internal("lifecycle slots closed"))?;
        if let Some(lock) = try_lock_project(state, project_id, slot).await? {
            return Ok(lock);
        }
        if Instant::now() >= deadline {
            return Err(busy());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Tries the project's lock once, with a slot already taken.
async fn try_lock_project<'a>(
    state: &'a AppState,
    project_id: &str,
    slot: SemaphorePermit<'a>,
) -> Result<Option<ProjectLock<'a>>> {
    let mut tx = state.db.begin().await?;
    if store::locks::try_project(&mut tx, project_id).await? {
        Ok(Some(ProjectLock { tx, _slot: slot }))
    } else {
        Ok(None)
    }
}

fn service_ref(row: &DevContainerRow) -> Option<ServiceRef<'_>> {
    Some(ServiceRef {
        uuid: row.service_uuid.as_deref()?,
        compose: row.compose.as_deref(),
        project_id: &row.project_id,
        intent_id: row.intent_id.as_deref(),
    })
}

fn provisioning_conflict() -> Error {
    Error::conflict(
        "DEV_CONTAINER_PROVISIONING",
        "the dev container is still being created; retry shortly",
    )
}

/// The dev container row of a project of this workspace.
async fn row_of(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<Option<DevContainerRow>> {
    let row = store::dev_containers::get(&state.db, project_id.as_str()).await?;
    // Defence in depth: the registry already tied the project to this workspace.
    Ok(row.filter(|r| r.workspace == workspace.as_str()))
}

/// What a locked step of [`ensure`] achieved.
enum Step {
    Done(Ensured),
    /// A create of an earlier attempt may still complete upstream: look again after this long,
    /// without holding the lock meanwhile.
    LookAgainIn(Duration),
}

/// Ensures the project has a dev container (idempotent; safe on every chat turn). Returns the
/// existing one (resumed when suspended, unless `no_start`), or creates it within quota.
pub async fn ensure(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    no_start: bool,
) -> Result<Ensured> {
    projects::require(state, workspace, project_id).await?;
    let deadline = lock_deadline(state);
    let ensured = loop {
        // The common case: one SELECT, no lock.
        if let Some(row) = row_of(state, workspace, project_id).await?
            && let Some(service_uuid) = row.service_uuid
        {
            break Ensured {
                service_uuid,
                state: row.state,
                created: false,
            };
        }
        let lock = lock_project(state, project_id.as_str(), deadline).await?;
        let step = ensure_locked(state, workspace, project_id, no_start).await;
        lock.release().await;
        match step? {
            Step::Done(ensured) => break ensured,
            Step::LookAgainIn(pause) if Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
            }
            Step::LookAgainIn(_) => return Err(provisioning_conflict()),
        }
    };
    if ensured.state == STATE_SUSPENDED && !no_start {
        resume(state, workspace, project_id).await?;
        return Ok(Ensured {
            state: STATE_RUNNING.into(),
            ..ensured
        });
    }
    Ok(ensured)
}

async fn ensure_locked(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    no_start: bool,
) -> Result<Step> {
    match row_of(state, workspace, project_id).await? {
        Some(row) if row.service_uuid.is_some() => Ok(Step::Done(Ensured {
            service_uuid: row.service_uuid.unwrap_or_default(),
            state: row.state,
            created: false,
        })),
        Some(pending) => settle_pending(state, pending).await,
        None => {
            let (project, pending) = record_intent(state, workspace, project_id, no_start).await?;
            attempt_create(state, &project, &pending)
                .await
                .map(Step::Done)
        }
    }
}

/// Records the intent, within quota, with the compose file rendered from the project as it is
/// under the workspace lock (which archiving and renaming also take): a project archived or
/// renamed meanwhile can never get a container built from its old state.
async fn record_intent(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    no_start: bool,
) -> Result<(ProjectRow, DevContainerRow)> {
    let intent_id = ids::service_uuid()?;
    let preview_tokens = (0..PREVIEW_PORT_COUNT)
        .map(|_| ids::preview_token())
        .collect::<Result<Vec<_>>>()?;
    let orchestrator = format!("{:?}", state.orchestrator.kind()).to_lowercase();

    let mut tx = state.db.begin().await?;
    if no_start {
        // A never-started container costs nothing: no quota check (as in the seed).
        store::locks::workspace(&mut tx, workspace.as_str()).await?;
    } else {
        quota::check_dev_container(state, &mut tx, workspace.as_str(), project_id.as_str()).await?;
    }
    let project = match store::projects::get(&mut *tx, project_id.as_str()).await? {
        Some(p) if p.workspace == workspace.as_str() && p.archived_at.is_none() => p,
        _ => return Err(Error::project_not_found()),
    };
    let compose = compose::render(&ComposeInput {
        project_id: &project.project_id,
        slug: &project.slug,
        preview_tokens: &preview_tokens,
        dev: &state.config.dev_container,
    });
    let row = store::dev_containers::insert_intent(
        &mut tx,
        &NewIntent {
            project_id: &project.project_id,
            workspace: &project.workspace,
            image: &state.config.dev_container.image,
            state: if no_start {
                STATE_SUSPENDED
            } else {
                STATE_PROVISIONING
            },
            intent_id: &intent_id,
            orchestrator: &orchestrator,
            preview_tokens: &preview_tokens,
            compose: &compose,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((project, row))
}

/// Asks the orchestrator to create the service of a pending intent and records it.
async fn attempt_create(
    state: &AppState,
    project: &ProjectRow,
    pending: &DevContainerRow,
) -> Result<Ensured> {
    let intent_id = pending.intent_id.as_deref().unwrap_or_default();
    let info = ProjectInfo {
        project_id: &project.project_id,
        slug: &project.slug,
        name: &project.name,
        coolify_project_uuid: project.coolify_project_uuid.as_deref(),
    };
    let placement = match state.orchestrator.prepare(&info).await {
        Ok(placement) => placement,
        Err(e) => {
            // No service can exist yet: the intent (and its quota place) goes.
            store::dev_containers::delete_pending(&state.db, &project.project_id, intent_id)
                .await?;
            return Err(e.into());
        }
    };
    if let Some(coolify_project) = &placement.coolify_project_uuid
        && project.coolify_project_uuid.as_ref() != Some(coolify_project)
    {
        store::projects::set_coolify_project(&state.db, &project.project_id, coolify_project)
            .await?;
    }
    // Stamped right before the one request that can create something.
    store::dev_containers::mark_attempt(&state.db, &project.project_id, intent_id).await?;
    let request = CreateRequest {
        intent_id,
        project: info,
        placement: &placement,
        compose: pending.compose.as_deref().unwrap_or_default(),
        start: pending.state != STATE_SUSPENDED,
    };
    match state.orchestrator.create(&request).await {
        Ok(service_uuid) => {
            if state.config.testing.failpoint.as_deref()
                == Some(FAILPOINT_AFTER_ORCHESTRATOR_CREATE)
            {
                tracing::error!(
                    intent_id,
                    "failpoint {FAILPOINT_AFTER_ORCHESTRATOR_CREATE}: aborting"
                );
                std::process::abort();
            }
            adopt(state, pending, &[service_uuid]).await
        }
        Err(e) if e.outcome_unknown => {
            // It may exist upstream all the same: look before reporting the failure.
            match state.orchestrator.find(intent_id).await {
                Ok(found) if !found.is_empty() => adopt(state, pending, &found).await,
                _ => {
                    tracing::warn!(project_id = %project.project_id, intent_id, error = %e,
                        "create failed with an unknown outcome; the intent stays pending");
                    Err(e.into())
                }
            }
        }
        Err(e) => {
            // Refused outright: nothing was created, so the intent (and its quota place) goes.
            store::dev_containers::delete_pending(&state.db, &project.project_id, intent_id)
                .await?;
            Err(e.into())
        }
    }
}

/// A pending intent found under the lock: its creator died or failed without knowing the
/// outcome. Adopt what it created; while a request of it may still be running upstream, look
/// again later; after that, create again under the same intent.
async fn settle_pending(state: &AppState, pending: DevContainerRow) -> Result<Step> {
    let intent_id = pending.intent_id.clone().unwrap_or_default();
    let found = state.orchestrator.find(&intent_id).await?;
    if !found.is_empty() {
        return adopt(state, &pending, &found).await.map(Step::Done);
    }
    let left = store::dev_containers::intent_window_left(
        &state.db,
        &pending.project_id,
        &intent_id,
        state.config.intent_window(),
    )
    .await?;
    if !left.is_zero() {
        return Ok(Step::LookAgainIn(left.min(Duration::from_millis(500))));
    }
    let project = store::projects::get(&state.db, &pending.project_id)
        .await?
        .filter(|p| p.archived_at.is_none())
        .ok_or_else(Error::project_not_found)?;
    attempt_create(state, &project, &pending)
        .await
        .map(Step::Done)
}

/// Records the first service found for a pending intent and deletes any duplicates (a create
/// retried while an earlier request of the same intent was still running upstream).
async fn adopt(state: &AppState, pending: &DevContainerRow, found: &[String]) -> Result<Ensured> {
    let intent_id = pending.intent_id.as_deref().unwrap_or_default();
    let Some((keep, extra)) = found.split_first() else {
        return Err(Error::internal("adopt called without a service"));
    };
    for duplicate in extra {
        delete_unrecorded(state, &pending.project_id, intent_id, duplicate).await;
    }
    if !store::dev_containers::record_service(&state.db, &pending.project_id, intent_id, keep)
        .await?
    {
        return Err(Error::internal(
            "the pending intent changed while its lock was held",
        ));
    }
    state.containers.forget(keep);
    tracing::info!(project_id = %pending.project_id, service_uuid = %keep, intent_id, "dev container created");
    Ok(Ensured {
        service_uuid: keep.clone(),
        state: pending.state.clone(),
        created: true,
    })
}

/// Deletes a service no row records. Its volumes are kept: reconciliation cannot tell a true
/// orphan from a service whose deletion (volumes kept, as asked) is still under way upstream.
async fn delete_unrecorded(state: &AppState, project_id: &str, intent_id: &str, uuid: &str) {
    let service = ServiceRef {
        uuid,
        compose: None,
        project_id,
        intent_id: Some(intent_id),
    };
    match state.orchestrator.delete(&service, false).await {
        Ok(()) => tracing::warn!(
            project_id,
            service_uuid = uuid,
            intent_id,
            "deleted an unrecorded duplicate service"
        ),
        Err(e) => {
            tracing::error!(project_id, service_uuid = uuid, intent_id, error = %e, "could not delete an unrecorded service")
        }
    }
}

pub async fn status(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    live: bool,
) -> Result<DevContainer> {
    let project = projects::require(state, workspace, project_id).await?;
    let row = row_of(state, workspace, project_id)
        .await?
        .ok_or_else(Error::dev_container_not_found)?;
    let live = match (live, service_ref(&row)) {
        (true, Some(service)) => Some(state.orchestrator.status(&service).await?),
        _ => None,
    };
    let preview_urls = row
        .preview_tokens
        .iter()
        .flatten()
        .enumerate()
        .map(|(slot, token)| PreviewUrl {
            slot,
            port: PREVIEW_BASE_PORT + slot as u16,
            url: compose::preview_url(
                &project.slug,
                slot,
                token,
                &state.config.dev_container.preview_domain_base,
            ),
        })
        .collect();
    Ok(DevContainer {
        project_id: row.project_id,
        service_uuid: row.service_uuid,
        state: row.state,
        image: row.image,
        created_at: row.created_at,
        last_active_at: row.last_active_at,
        suspended_at: row.suspended_at,
        preview_urls,
        live,
    })
}

/// Runs `work` under the project's lock, once the project is known to be this workspace's.
async fn under_lock<T>(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    projects::require(state, workspace, project_id).await?;
    let lock = lock_project(state, project_id.as_str(), lock_deadline(state)).await?;
    let outcome = work.await;
    lock.release().await;
    outcome
}

/// Suspends a dev container: Coolify-style stop (containers removed, volumes kept).
pub async fn suspend(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<String> {
    under_lock(state, workspace, project_id, async {
        let row = row_of(state, workspace, project_id)
            .await?
            .ok_or_else(Error::dev_container_not_found)?;
        let service = service_ref(&row).ok_or_else(provisioning_conflict)?;
        if row.state == STATE_SUSPENDED {
            return Ok(row.state);
        }
        // A stop that may or may not have happened leaves the row as it was: the container
        // stays counted, and the next suspend (Coolify: "already stopped") settles it.
        state.orchestrator.stop(&service).await?;
        store::dev_containers::mark_suspended(&state.db, &row.project_id).await?;
        let stopped = store::dev_containers::stop_dev_servers(&state.db, &row.project_id).await?;
        state.containers.forget(service.uuid);
        tracing::info!(project_id = %row.project_id, dev_servers_stopped = stopped, "dev container suspended");
        Ok(STATE_SUSPENDED.to_owned())
    })
    .await
}

/// Resumes a dev container. Leaving `suspended` counts against the workspace's cap, checked
/// atomically with the state change; resuming a running one just makes sure it runs.
pub async fn resume(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<String> {
    under_lock(
        state,
        workspace,
        project_id,
        resume_locked(state, workspace, project_id),
    )
    .await
}

async fn resume_locked(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<String> {
    let row = row_of(state, workspace, project_id)
        .await?
        .ok_or_else(Error::dev_container_not_found)?;
    let service = service_ref(&row).ok_or_else(provisioning_conflict)?;
    let reserved = row.state != STATE_RUNNING && row.state != STATE_PROVISIONING;
    if reserved {
        // Take a place in the quota first; give it back if the start fails.
        let mut tx = state.db.begin().await?;
        quota::check_dev_container(state, &mut tx, workspace.as_str(), project_id.as_str()).await?;
        store::dev_containers::set_state(&mut *tx, project_id.as_str(), STATE_PROVISIONING).await?;
        tx.commit().await?;
    }
    if let Err(e) = state.orchestrator.start(&service).await {
        // A start refused outright gives the quota place back. One that may have happened
        // keeps it (`provisioning`): the container may be running, and must stay counted; the
        // next resume or exec settles it.
        if reserved && !e.outcome_unknown {
            store::dev_containers::set_state(&state.db, project_id.as_str(), &row.state).await?;
        }
        state.containers.forget(service.uuid);
        return Err(e.into());
    }
    store::dev_containers::mark_running(&state.db, project_id.as_str()).await?;
    state.containers.forget(service.uuid);
    if reserved {
        tracing::info!(project_id = %project_id, "dev container resumed");
    }
    Ok(STATE_RUNNING.to_owned())
}

/// Deletes a dev container and its row; its volumes (the user's `/workspace`) only when asked.
pub async fn delete(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
    delete_volumes: bool,
) -> Result<()> {
    under_lock(state, workspace, project_id, async {
        let row = row_of(state, workspace, project_id)
            .await?
            .ok_or_else(Error::dev_container_not_found)?;
        match service_ref(&row) {
            Some(service) => {
                state.orchestrator.delete(&service, delete_volumes).await?;
                state.containers.forget(service.uuid);
            }
            None => {
                // Interrupted creation: delete whatever it may have made.
                let intent_id = row.intent_id.as_deref().unwrap_or_default();
                for uuid in state.orchestrator.find(intent_id).await? {
                    delete_unrecorded(state, &row.project_id, intent_id, &uuid).await;
                }
            }
        }
        store::dev_containers::delete(&state.db, &row.project_id).await?;
        tracing::info!(project_id = %row.project_id, delete_volumes, "dev container deleted");
        Ok(())
    })
    .await
}

/// Resumes a suspended container for an exec (within quota), or checks it can run one.
pub async fn ready_for_exec(
    state: &AppState,
    workspace: &WorkspaceId,
    project_id: &ProjectId,
) -> Result<DevContainerRow> {
    let row = row_of(state, workspace, project_id)
        .await?
        .ok_or_else(Error::dev_container_not_found)?;
    if row.service_uuid.is_none() {
        return Err(provisioning_conflict());
    }
    if row.state == STATE_SUSPENDED || row.state == "failed" {
        resume(state, workspace, project_id).await?;
        return row_of(state, workspace, project_id)
            .await?
            .ok_or_else(Error::dev_container_not_found);
    }
    Ok(row)
}

/// Runs [`reconcile`] at start-up and then periodically, until shutdown.
pub async fn reconcile_loop(state: AppState) {
    let every = Duration::from_secs(state.config.lifecycle.reconcile_interval_secs);
    loop {
        match reconcile(&state).await {
            Ok(report) if report.changed() => tracing::info!(?report, "reconciled dev containers"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reconciliation failed; will retry"),
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[derive(Debug, Default)]
pub struct ReconcileReport {
    pub adopted: usize,
    pub abandoned: usize,
    pub deleted: usize,
}

impl ReconcileReport {
    fn changed(&self) -> bool {
        self.adopted + self.abandoned + self.deleted > 0
    }
}

/// Compares what the orchestrator has with what the database recorded, for this deployment:
/// adopts services of pending intents, gives up intents that created nothing, and deletes
/// services no row knows (duplicates and orphans). Safe with several replicas: every change
/// happens under the project's lock, taken without waiting.
pub async fn reconcile(state: &AppState) -> std::result::Result<ReconcileReport, Error> {
    // Upstream first: every service listed here had its intent row committed before it was
    // created, so the rows read next include it (unless it was deleted since).
    let managed = state
        .orchestrator
        .list_managed()
        .await
        .map_err(Error::from)?;
    let rows = store::dev_containers::with_intent(&state.db).await?;
    let mut report = ReconcileReport::default();

    for row in &rows {
        let intent_id = row.intent_id.as_deref().unwrap_or_default();
        let found: Vec<String> = managed
            .iter()
            .filter(|m| m.intent_id == intent_id)
            .map(|m| m.uuid.clone())
            .collect();
        // Pending intents are rare: always look at them (under the lock, with the database's
        // clock); recorded services only when a duplicate turned up.
        let needs_work = row.service_uuid.is_none()
            || found
                .iter()
                .any(|uuid| row.service_uuid.as_ref() != Some(uuid));
        if !needs_work {
            continue;
        }
        let slot = state
            .lifecycle_slots
            .acquire()
            .await
            .map_err(|_| Error::internal("lifecycle slots closed"))?;
        let Some(lock) = try_lock_project(state, &row.project_id, slot).await? else {
            continue; // someone is working on it right now
        };
        let outcome = reconcile_row(state, &row.project_id, intent_id, &found, &mut report).await;
        lock.release().await;
        if let Err(e) = outcome {
            tracing::warn!(project_id = %row.project_id, error = %e, "could not reconcile a dev container");
        }
    }

    for orphan in managed.iter().filter(|m| {
        !rows
            .iter()
            .any(|r| r.intent_id.as_deref() == Some(m.intent_id.as_str()))
    }) {
        // Re-check: a row may have been written since we read them.
        if store::dev_containers::intent_recorded(&state.db, &orphan.intent_id).await? {
            continue;
        }
        delete_unrecorded(state, "", &orphan.intent_id, &orphan.uuid).await;
        report.deleted += 1;
    }
    Ok(report)
}

async fn reconcile_row(
    state: &AppState,
    project_id: &str,
    intent_id: &str,
    found: &[String],
    report: &mut ReconcileReport,
) -> Result<()> {
    // Re-read under the lock.
    let Some(row) = store::dev_containers::get(&state.db, project_id).await? else {
        return Ok(());
    };
    if row.intent_id.as_deref() != Some(intent_id) {
        return Ok(());
    }
    match &row.service_uuid {
        None if !found.is_empty() => {
            adopt(state, &row, found).await?;
            report.adopted += 1;
        }
        None => {
            let left = store::dev_containers::intent_window_left(
                &state.db,
                project_id,
                intent_id,
                state.config.intent_window(),
            )
            .await?;
            if left.is_zero()
                && store::dev_containers::delete_pending(&state.db, project_id, intent_id).await?
            {
                tracing::info!(
                    project_id,
                    intent_id,
                    "gave up an intent that created nothing"
                );
                report.abandoned += 1;
            }
        }
        Some(recorded) => {
            for duplicate in found.iter().filter(|uuid| *uuid != recorded) {
                delete_unrecorded(state, project_id, intent_id, duplicate).await;
                report.deleted += 1;
            }
        }
    }
    Ok(())
}
