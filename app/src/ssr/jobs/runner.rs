//! Runs bulk jobs. Which instance runs a job is settled by a lease on its row (see
//! [`crate::ssr::background`]); the lease is renewed every second while the job runs, and the job
//! stops without finishing when another instance holds it.
//!
//! Each attempt is written ahead (`attempt_started_at_ms`) and settled in one transaction with
//! its audit entry, so the audit has exactly one entry per attempt even across a crash: an
//! attempt cut off by one is audited as interrupted when the job resumes, and sent again with the
//! same MS-RequestId, which Partner Center applies at most once.

use super::limiter::ConsentLimiter;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::consent::Grant;
use crate::model::jobs::{JobItemStatus, JobKind};
use crate::ssr::audit::{self, Entry, Outcome};
use crate::ssr::auth::AccessToken;
use crate::ssr::background::{self, Claimable, Work};
use crate::ssr::config::Config;
use crate::ssr::consent;
use crate::ssr::customers::snapshot;
use crate::ssr::partner_center::{backoff, CallIds, UpstreamError, ATTEMPTS, THROTTLED_ATTEMPTS};
use crate::ssr::state::AppState;
use crate::ssr::storage::now_ms;
use backon::BackoffBuilder;
use futures::StreamExt;
use parking_lot::Mutex;
use reqwest::Method;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Customers in flight at once per job; enough to keep 50 calls per second going at ~300 ms
/// per call.
pub const JOB_CONCURRENCY: usize = 16;

fn db(error: sqlx::Error) -> AppError {
    AppError::Internal(format!("job storage failed: {error}"))
}

/// Held in `AppState`: this process's rate limiter, its name in claims, and the jobs it runs.
pub struct JobsRuntime {
    pub limiter: ConsentLimiter,
    pub instance_id: String,
    wake: Notify,
    running: Mutex<HashMap<String, Arc<JobControl>>>,
    /// SQLite has one writer: job writes take turns here instead of waiting for its lock.
    writer: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct JobControl {
    cancelled: AtomicBool,
    /// The lease was lost (another instance holds the job now): stop without finishing.
    lost: Arc<AtomicBool>,
}

impl JobControl {
    fn should_stop(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.lost.load(Ordering::Relaxed)
    }
}

impl JobsRuntime {
    pub fn new(config: &Config, storage: &crate::ssr::storage::Storage) -> Self {
        JobsRuntime {
            limiter: ConsentLimiter::new(config.consent_rate_limit_per_second, storage),
            instance_id: config.instance_id.clone(),
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            writer: tokio::sync::Mutex::new(()),
        }
    }

    /// Background work was created or cancelled: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Stops a job this process runs at once (others notice at their next renewal).
    pub fn cancel_local(&self, job_id: &str) {
        if let Some(control) = self.running.lock().get(job_id) {
            control.cancelled.store(true, Ordering::Relaxed);
        }
    }

    pub fn running_here(&self) -> usize {
        self.running.lock().len()
    }
}

/// Claims the jobs `claimable` allows and runs each (see [`crate::ssr::background`]).
pub(crate) async fn claim_and_run(state: &AppState, claimable: Claimable) -> Result<(), AppError> {
    let me = &state.jobs.instance_id;
    for id in background::claim_available(&state.storage, Work::Job, me, claimable).await? {
        let control = Arc::new(JobControl::default());
        {
            let mut running = state.jobs.running.lock();
            if running.contains_key(&id) {
                continue; // already running here; the claim only extended its lease
            }
            running.insert(id.clone(), control.clone());
        }
        tracing::info!(job = %id, instance = %me, "running job");
        tokio::spawn(run(state.clone(), id, control));
    }
    Ok(())
}

async fn run(state: AppState, id: String, control: Arc<JobControl>) {
    if let Err(error) = run_claimed(&state, &id, &control).await {
        tracing::error!(job = %id, %error, "job stopped; it resumes at the next poll");
    }
    state.jobs.running.lock().remove(&id);
}

/// What every item of a job shares.
struct JobContext {
    id: String,
    kind: JobKind,
    started_by: String,
    started_by_key: String,
    correlation_id: Guid,
    application: Option<Guid>,
    display_name: String,
    grants: Vec<Grant>,
}

impl JobContext {
    fn action(&self) -> &'static str {
        self.kind.as_str()
    }

    fn target(&self) -> String {
        match self.application {
            Some(application) => format!("job {}: application {application}", self.id),
            None => format!("job {}: DAP", self.id),
        }
    }
}

async fn load_context(state: &AppState, id: &str) -> Result<JobContext, AppError> {
    let (kind, started_by, started_by_key, correlation_id, application, display_name, grants): (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT kind, started_by, started_by_key, correlation_id, application_id, display_name,
         grants_json FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&state.storage.pool)
    .await
    .map_err(db)?;
    Ok(JobContext {
        id: id.to_string(),
        kind: JobKind::parse(&kind)
            .ok_or_else(|| AppError::Internal(format!("unknown job kind '{kind}'")))?,
        started_by,
        started_by_key,
        correlation_id: Guid::parse(&correlation_id)?,
        application: application.as_deref().map(Guid::parse).transpose()?,
        display_name: display_name.unwrap_or_default(),
        grants: grants
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| AppError::Internal(format!("stored grants unreadable: {e}")))?
            .unwrap_or_default(),
    })
}

struct PendingItem {
    customer: String,
    request_id: String,
    attempts: u32,
}

async fn run_claimed(
    state: &AppState,
    id: &str,
    control: &Arc<JobControl>,
) -> Result<(), AppError> {
    let job = load_context(state, id).await?;
    audit_interrupted_attempts(state, &job).await?;
    // A cancel requested before this run started, or on another instance.
    if cancel_requested(state, id).await? {
        control.cancelled.store(true, Ordering::Relaxed);
    }
    let renewal = {
        let (watcher, id_owned, control) = (state.clone(), id.to_string(), control.clone());
        background::keep_renewed(state, Work::Job, id, control.lost.clone(), move || {
            let (state, id, control) = (watcher.clone(), id_owned.clone(), control.clone());
            async move {
                match cancel_requested(&state, &id).await {
                    Ok(true) => control.cancelled.store(true, Ordering::Relaxed),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(job = %id, %error, "could not read a cancel request")
                    }
                }
            }
        })
    };

    let pending: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT customer_tenant_id, request_id, attempts FROM job_items
         WHERE job_id = $1 AND status = 'pending' ORDER BY position",
    )
    .bind(id)
    .fetch_all(&state.storage.pool)
    .await
    .map_err(db)?;
    let storage_failed = AtomicBool::new(false);
    futures::stream::iter(pending)
        .for_each_concurrent(JOB_CONCURRENCY, |(customer, request_id, attempts)| {
            let (job, storage_failed) = (&job, &storage_failed);
            async move {
                if control.should_stop() {
                    return;
                }
                let item = PendingItem {
                    customer,
                    request_id,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                };
                if let Err(error) = settle_item(state, job, control, &item).await {
                    // The item stays pending; the next run comes back to it.
                    tracing::error!(job = %job.id, customer = %item.customer, %error, "job item not settled");
                    storage_failed.store(true, Ordering::Relaxed);
                }
            }
        })
        .await;
    drop(renewal);
    if control.lost.load(Ordering::Relaxed) {
        tracing::warn!(job = %id, "the claim lapsed; another instance continues the job");
        return Ok(());
    }
    let cancelled = control.cancelled.load(Ordering::Relaxed);
    if storage_failed.load(Ordering::Relaxed) && !cancelled {
        background::release(state, Work::Job, id).await?;
        return Err(AppError::Internal(
            "some items could not be stored; they stay pending".into(),
        ));
    }
    finish(state, &job, cancelled).await
}

async fn cancel_requested(state: &AppState, id: &str) -> Result<bool, AppError> {
    let requested: Option<i64> =
        sqlx::query_scalar("SELECT cancel_requested_at_ms FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&state.storage.pool)
            .await
            .map_err(db)?;
    Ok(requested.is_some())
}

async fn finish(state: &AppState, job: &JobContext, cancelled: bool) -> Result<(), AppError> {
    let _turn = state.jobs.writer.lock().await;
    let mut tx = state.storage.pool.begin().await.map_err(db)?;
    if cancelled {
        sqlx::query(
            "UPDATE job_items SET status = 'cancelled', detail = 'cancelled before it was sent',
             finished_at_ms = $1 WHERE job_id = $2 AND status = 'pending'",
        )
        .bind(now_ms())
        .bind(&job.id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    sqlx::query(
        "UPDATE jobs SET finished_at_ms = $1, claimed_until_ms = NULL WHERE id = $2
         AND claimed_by = $3",
    )
    .bind(now_ms())
    .bind(&job.id)
    .bind(&state.jobs.instance_id)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

/// After a crash: attempts that were on the wire get their audit entry now (outcome unknown).
async fn audit_interrupted_attempts(state: &AppState, job: &JobContext) -> Result<(), AppError> {
    let interrupted: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT customer_tenant_id, request_id, attempts FROM job_items
         WHERE job_id = $1 AND status = 'pending' AND attempt_started_at_ms IS NOT NULL",
    )
    .bind(&job.id)
    .fetch_all(&state.storage.pool)
    .await
    .map_err(db)?;
    for (customer, request_id, attempts) in interrupted {
        let mut entry = Entry::new(&job.started_by, job.action())
            .target(job.target())
            .failed(format!(
                "attempt {attempts} was cut off (the dashboard stopped); its outcome is unknown, \
                 so it is sent again with the same MS-RequestId"
            ));
        entry.customer_tenant_id = Some(customer.clone());
        entry.request_id = Some(request_id);
        entry.correlation_id = Some(job.correlation_id.to_string());
        let _turn = state.jobs.writer.lock().await;
        let mut tx = state.storage.pool.begin().await.map_err(db)?;
        audit::append(&mut *tx, &entry).await.map_err(db)?;
        sqlx::query(
            "UPDATE job_items SET attempt_started_at_ms = NULL
             WHERE job_id = $1 AND customer_tenant_id = $2",
        )
        .bind(&job.id)
        .bind(&customer)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
    }
    Ok(())
}

/// How one attempt ended.
enum Attempt {
    /// The state asked for is in place; the note says when it already was.
    Done {
        status: u16,
        note: Option<String>,
    },
    /// Worth another try with the same MS-RequestId.
    Transient(UpstreamError),
    Failed(AppError, Option<UpstreamError>),
}

/// Attempts one customer until it is done, fails for good or runs out of attempts.
async fn settle_item(
    state: &AppState,
    job: &JobContext,
    control: &JobControl,
    item: &PendingItem,
) -> Result<(), AppError> {
    let customer = match Guid::parse(&item.customer) {
        Ok(customer) => customer,
        Err(error) => return settle_without_call(state, job, item, error).await,
    };
    let ids = CallIds {
        request_id: Guid::parse(&item.request_id)?,
        correlation_id: job.correlation_id,
    };
    // An attempt cut off by a crash did not fail: it may take one more than the usual budget.
    let budget = u32::try_from(ATTEMPTS).unwrap_or(4).max(item.attempts + 1);
    let throttled_budget = u32::try_from(THROTTLED_ATTEMPTS).unwrap_or(8).max(budget);
    let mut delays = backoff().build().skip(item.attempts as usize);
    let mut attempts = item.attempts;
    loop {
        if control.should_stop() {
            return Ok(());
        }
        let token = match state
            .tokens
            .access_token(&job.started_by_key, &state.config.partner_center_audience)
            .await
        {
            Ok(token) => token,
            Err(error) => return settle_without_call(state, job, item, error).await,
        };
        if let (Some(application), JobKind::GrantConsent | JobKind::RevokeConsent) =
            (job.application, job.kind)
        {
            state
                .jobs
                .limiter
                .until_ready(&application.to_string())
                .await;
            if control.should_stop() {
                return Ok(());
            }
        }
        begin_attempt(state, job, item).await?;
        attempts += 1;
        let attempt = classify(job, send(state, job, &token, &ids, customer).await);
        let (allowed, retry_in) = match &attempt {
            Attempt::Transient(error) => {
                let throttled = error.status() == Some(429);
                let allowed = if throttled { throttled_budget } else { budget };
                // Past the backoff sequence only a throttled call is still retried: after
                // what Retry-After asks, or a second.
                let planned = delays
                    .next()
                    .or(throttled.then_some(Duration::from_secs(1)));
                let wait = planned.map(|wait| wait.max(error.retry_after().unwrap_or_default()));
                (allowed, wait.filter(|_| attempts < allowed))
            }
            _ => (budget, None),
        };
        record_attempt(
            state, job, item, &ids, attempts, allowed, &attempt, retry_in,
        )
        .await?;
        match retry_in {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return Ok(()),
        }
    }
}

async fn send(
    state: &AppState,
    job: &JobContext,
    token: &AccessToken,
    ids: &CallIds,
    customer: Guid,
) -> Result<u16, UpstreamError> {
    let pc = &state.partner_center;
    let response = match (job.kind, job.application) {
        (JobKind::GrantConsent, Some(application)) => {
            let body = consent::grant_body(application, &job.display_name, &job.grants);
            pc.send(
                token,
                Method::POST,
                consent::grant_url(pc, customer),
                ids,
                Some(&body),
            )
            .await?
        }
        (JobKind::RevokeConsent, Some(application)) => {
            pc.send(
                token,
                Method::DELETE,
                consent::revoke_url(pc, customer, application),
                ids,
                None::<&()>,
            )
            .await?
        }
        (JobKind::RemoveDap, _) => return pc.remove_dap(token, ids, customer).await.map(|()| 200),
        (_, None) => {
            return Err(UpstreamError::Decode(
                "a consent job without its application".into(),
            ))
        }
    };
    Ok(response.status().as_u16())
}

fn classify(job: &JobContext, result: Result<u16, UpstreamError>) -> Attempt {
    match result {
        Ok(status) => Attempt::Done { status, note: None },
        Err(error) if job.kind == JobKind::GrantConsent && consent::already_exists(&error) => {
            Attempt::Done {
                status: error.status().unwrap_or(409),
                note: Some("already consented".into()),
            }
        }
        Err(error) if job.kind == JobKind::RevokeConsent && error.status() == Some(404) => {
            Attempt::Done {
                status: 404,
                note: Some("no consent existed".into()),
            }
        }
        Err(error) if error.is_transient() => Attempt::Transient(error),
        Err(error) => {
            let needed = match job.kind {
                JobKind::GrantConsent => consent::needed_roles(true),
                JobKind::RevokeConsent => consent::needed_roles(false),
                JobKind::RemoveDap => {
                    "Removing DAP needs the admin agent role in the partner tenant.".into()
                }
            };
            Attempt::Failed(
                AppError::from(error.clone()).explain_forbidden(&needed),
                Some(error),
            )
        }
    }
}

async fn begin_attempt(
    state: &AppState,
    job: &JobContext,
    item: &PendingItem,
) -> Result<(), AppError> {
    let _turn = state.jobs.writer.lock().await;
    sqlx::query(
        "UPDATE job_items SET attempts = attempts + 1, attempt_started_at_ms = $1
         WHERE job_id = $2 AND customer_tenant_id = $3",
    )
    .bind(now_ms())
    .bind(&job.id)
    .bind(&item.customer)
    .execute(&state.storage.pool)
    .await
    .map_err(db)
    .map(drop)
}

/// The attempt's audit entry, the item's state and (when done) what the job changes in the
/// dashboard's own records, in one transaction.
#[allow(clippy::too_many_arguments)]
async fn record_attempt(
    state: &AppState,
    job: &JobContext,
    item: &PendingItem,
    ids: &CallIds,
    attempt_number: u32,
    budget: u32,
    attempt: &Attempt,
    retry_in: Option<Duration>,
) -> Result<(), AppError> {
    let mut entry = Entry::new(&job.started_by, job.action())
        .target(job.target())
        .call(ids);
    entry.customer_tenant_id = Some(item.customer.clone());
    let (status, upstream, detail) = match attempt {
        Attempt::Done { status, note } => {
            entry.upstream_status = Some(*status);
            entry.error = note.clone();
            (JobItemStatus::Done, Some(*status), note.clone())
        }
        Attempt::Transient(error) => {
            entry.upstream_status = error.status();
            let detail = match retry_in {
                Some(wait) => format!(
                    "attempt {attempt_number} of {budget}: {error}; retrying in {} ms",
                    wait.as_millis()
                ),
                None => format!("gave up after {attempt_number} attempts: {error}"),
            };
            entry = entry.failed(detail.clone());
            let status = if retry_in.is_some() {
                JobItemStatus::Pending
            } else {
                JobItemStatus::Failed
            };
            (status, error.status(), Some(detail))
        }
        Attempt::Failed(reason, error) => {
            let upstream = error.as_ref().and_then(UpstreamError::status);
            entry.upstream_status = upstream;
            entry = if matches!(upstream, Some(401 | 403)) {
                entry.refused(reason.to_string())
            } else {
                entry.failed(reason.to_string())
            };
            (JobItemStatus::Failed, upstream, Some(reason.to_string()))
        }
    };
    debug_assert!(entry.outcome != Outcome::Succeeded || status == JobItemStatus::Done);

    let customer = Guid::parse(&item.customer)?;
    let _turn = state.jobs.writer.lock().await;
    let mut tx = state.storage.pool.begin().await.map_err(db)?;
    audit::append(&mut *tx, &entry).await.map_err(db)?;
    let finished = (status != JobItemStatus::Pending).then(now_ms);
    sqlx::query(
        "UPDATE job_items SET status = $1, upstream_status = $2, detail = $3,
         finished_at_ms = $4, attempt_started_at_ms = NULL
         WHERE job_id = $5 AND customer_tenant_id = $6",
    )
    .bind(status.as_str())
    .bind(upstream.map(i64::from))
    .bind(detail)
    .bind(finished)
    .bind(&job.id)
    .bind(&item.customer)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if status == JobItemStatus::Done {
        match (job.kind, job.application) {
            (JobKind::GrantConsent, Some(application)) => {
                consent::store_grant(
                    &mut tx,
                    customer,
                    application,
                    &job.display_name,
                    &job.grants,
                    &job.started_by,
                )
                .await?;
            }
            (JobKind::RevokeConsent, Some(application)) => {
                consent::store_revoke(&mut tx, customer, application, &job.started_by).await?;
            }
            (JobKind::RemoveDap, _) => {
                snapshot::mark_dap_removed(&mut tx, &item.customer, now_ms())
                    .await
                    .map_err(db)?;
            }
            _ => {}
        }
    }
    tx.commit().await.map_err(db)
}

/// No call could be made (the admin's sign-in is no longer valid, or a stored id is bad): the
/// item fails with the reason, audited without a request id.
async fn settle_without_call(
    state: &AppState,
    job: &JobContext,
    item: &PendingItem,
    error: AppError,
) -> Result<(), AppError> {
    let reason = format!("not sent: {error}");
    let mut entry = Entry::new(&job.started_by, job.action())
        .target(job.target())
        .failed(reason.clone());
    entry.customer_tenant_id = Some(item.customer.clone());
    entry.correlation_id = Some(job.correlation_id.to_string());
    let _turn = state.jobs.writer.lock().await;
    let mut tx = state.storage.pool.begin().await.map_err(db)?;
    audit::append(&mut *tx, &entry).await.map_err(db)?;
    sqlx::query(
        "UPDATE job_items SET status = 'failed', detail = $1, finished_at_ms = $2
         WHERE job_id = $3 AND customer_tenant_id = $4",
    )
    .bind(reason)
    .bind(now_ms())
    .bind(&job.id)
    .bind(&item.customer)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}
