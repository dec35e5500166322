//! Runs bulk jobs. Which instance runs a job is settled by a lease on its row (see
//! [`crate::ssr::background`]); the lease is renewed every second while the job runs, and the job
//! stops sending without finishing as soon as the lease is lost or cannot be renewed. Every write
//! to the job's items checks the claim's fencing number in the same statement.
//!
//! The service may ask to be left alone for longer than a job should hold its lease doing
//! nothing (`Retry-After` beyond [`MAX_RETRY_AFTER`]), and a token may be out of reach for a
//! while: such an item stays pending with a time before which it is not sent (`not_before_ms`),
//! the job lets its lease go until then, and whichever instance claims it next sends the item
//! again with its same MS-RequestId.
//!
//! Each attempt is written ahead (`attempt_started_at_ms`) and settled in one transaction with
//! its audit entry, so the audit has exactly one entry per attempt even across a crash: an
//! attempt cut off by one is audited as interrupted when the job resumes, and sent again with the
//! same MS-RequestId, which Partner Center applies at most once.

use super::runtime::JobControl;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::consent::Grant;
use crate::model::jobs::{JobItemStatus, JobKind};
use crate::ssr::audit::{self, Entry, Outcome};
use crate::ssr::auth::AccessToken;
use crate::ssr::background::lease::{self as background, db_now_ms, Claimable, Lease, Work};
use crate::ssr::consent;
use crate::ssr::customers::snapshot;
use crate::ssr::partner_center::{
    backoff, CallIds, UpstreamError, ATTEMPTS, MAX_RETRY_AFTER, THROTTLED_ATTEMPTS,
};
use crate::ssr::state::AppState;
use crate::ssr::storage::Backend;
use crate::ssr::telemetry::{self, Api};
use crate::ssr::{gdap, reviews};
use backon::BackoffBuilder;
use futures::StreamExt;
use reqwest::Method;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Customers in flight at once per job; enough to keep 50 calls per second going at ~300 ms
/// per call.
pub const JOB_CONCURRENCY: usize = 16;

/// How long an item waits, unsent, after the token broker failed for a reason other than a dead
/// grant (the authority or the database out of reach for a moment) and the retries right away
/// failed too.
const TOKEN_RETRY_LATER: Duration = Duration::from_secs(30);

/// A write refused by the fencing check: another claim took the job since this run's.
fn fenced_out(lease: &Lease) -> AppError {
    lease.lose();
    AppError::Internal(format!(
        "job {} was claimed again (fencing number {} is stale); this instance stops",
        lease.id, lease.fence
    ))
}

/// The fencing check of item writes, whose `$1` is the job id and `${n}` the fencing number. On
/// PostgreSQL it share-locks the job's row until the write commits, so a claim waits for a write
/// that passed the check, and a write that waited for a claim sees the new number and is refused;
/// SQLite runs one writing transaction at a time anyway.
fn fence_holds(backend: Backend, n: usize) -> String {
    let lock = match backend {
        Backend::Postgres => "FOR SHARE",
        Backend::Sqlite => "",
    };
    format!("EXISTS (SELECT 1 FROM jobs WHERE jobs.id = $1 AND jobs.claim_fence = ${n} {lock})")
}

/// The same check without the lock, for the write made just before a call leaves: a share lock
/// there queues behind a renewal waiting for the job's row and bunches up calls the rate limiter
/// spaced out. A stale write here only marks an attempt as started, which the next holder audits
/// as cut off; whether the holder may still send is settled by its lease.
fn fence_matches(n: usize) -> String {
    format!("EXISTS (SELECT 1 FROM jobs WHERE jobs.id = $1 AND jobs.claim_fence = ${n})")
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Claims the jobs `claimable` allows and runs each (see [`crate::ssr::background`]).
pub(crate) async fn claim_and_run(state: &AppState, claimable: Claimable) -> Result<(), AppError> {
    let me = &state.jobs.instance_id;
    let asked = Instant::now();
    for claim in background::claim_available(&state.storage, Work::Job, me, claimable).await? {
        let id = claim.id.clone();
        let control = Arc::new(JobControl {
            cancelled: AtomicBool::new(false),
            lease: Lease::new(Work::Job, claim, asked),
        });
        {
            let mut running = state.jobs.running.lock();
            if running.contains_key(&id) {
                // The run here lost its lease and is winding down: this claim lapses unused
                // and a later poll takes the job afresh.
                continue;
            }
            running.insert(id.clone(), control.clone());
        }
        tracing::info!(job = %id, instance = %me, "running job");
        let span = tracing::info_span!("job", job_id = %id, admin = tracing::field::Empty);
        tokio::spawn(run(state.clone(), id, control).instrument(span));
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
    /// DAP-removal jobs: the review whose decisions they carry out.
    review_id: Option<String>,
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
    type ContextRow = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (
        kind,
        started_by,
        started_by_key,
        correlation_id,
        application,
        display_name,
        grants,
        review_id,
    ): ContextRow = sqlx::query_as(
        "SELECT kind, started_by, started_by_key, correlation_id, application_id, display_name,
         grants_json, review_id FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&state.storage.pool)
    .await?;
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
        review_id,
    })
}

struct PendingItem {
    customer: String,
    request_id: String,
    attempts: u32,
    /// Who released it after it was held, and why: it is sent whatever the check before the
    /// call finds.
    released: Option<(String, String)>,
}

/// A pending item put off until `wait` from now on the database's clock, with the reason.
struct PutOff {
    wait: Duration,
    detail: String,
}

async fn run_claimed(
    state: &AppState,
    id: &str,
    control: &Arc<JobControl>,
) -> Result<(), AppError> {
    let job = load_context(state, id).await?;
    telemetry::record_admin(None, &job.started_by_key);
    let lease = control.lease.clone();
    audit_interrupted_attempts(state, &job, &lease).await?;
    // A cancel requested before this run started, or on another instance.
    if cancel_requested(state, id).await? {
        control.cancelled.store(true, Ordering::Relaxed);
    }
    let renewal = {
        let (watcher, id_owned, control) = (state.clone(), id.to_string(), control.clone());
        background::keep_renewed(&state.storage, control.lease.clone(), move || {
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

    type PendingRow = (String, String, i64, Option<String>, Option<String>);
    let pending: Vec<PendingRow> = sqlx::query_as(&format!(
        "SELECT customer_tenant_id, request_id, attempts, released_by, release_note FROM job_items
         WHERE job_id = $1 AND status = 'pending'
         AND (not_before_ms IS NULL OR not_before_ms <= {})
         ORDER BY position",
        db_now_ms(state.storage.backend)
    ))
    .bind(id)
    .fetch_all(&state.storage.pool)
    .await?;
    let storage_failed = AtomicBool::new(false);
    futures::stream::iter(pending)
        .for_each_concurrent(JOB_CONCURRENCY, |(customer, request_id, attempts, released_by, release_note)| {
            let (job, storage_failed) = (&job, &storage_failed);
            async move {
                if control.should_stop() {
                    return;
                }
                let item = PendingItem {
                    customer,
                    request_id,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    released: released_by.map(|by| (by, release_note.unwrap_or_default())),
                };
                // Every line about the item, its upstream call's included, names the call's ids.
                let span = tracing::info_span!(
                    "job_item",
                    customer = %item.customer,
                    ms_request_id = %item.request_id,
                    ms_correlation_id = %job.correlation_id,
                );
                if let Err(error) = settle_item(state, job, control, &item).instrument(span).await {
                    // The item stays pending; the next run comes back to it.
                    tracing::error!(job = %job.id, customer = %item.customer, %error, "job item not settled");
                    storage_failed.store(true, Ordering::Relaxed);
                }
            }
        })
        .await;
    drop(renewal);
    if !lease.may_send() {
        tracing::warn!(job = %id, "the claim was lost or could not be renewed; the job stopped sending and is taken up again once its claim lapses");
        return Ok(());
    }
    let cancelled = control.cancelled.load(Ordering::Relaxed);
    if storage_failed.load(Ordering::Relaxed) && !cancelled {
        background::release(&state.storage, &lease).await?;
        return Err(AppError::Internal(
            "some items could not be stored; they stay pending".into(),
        ));
    }
    if !cancelled && release_until_due(state, &lease).await? {
        tracing::info!(job = %id, "items put off for later; the job is claimed again when they are due");
        return Ok(());
    }
    finish(state, &job, &lease, cancelled).await
}

/// When items are put off, lets the claim go until the first of them is due (on the database's
/// clock, like every lease), so no instance holds the job waiting; true if it did. Nobody holds
/// it meanwhile (`claimed_by` empty), which lets a cancel bring it forward.
async fn release_until_due(state: &AppState, lease: &Lease) -> Result<bool, AppError> {
    let released = sqlx::query(
        "UPDATE jobs SET claimed_by = NULL, claimed_until_ms = (SELECT COALESCE(MIN(not_before_ms), 0)
             FROM job_items WHERE job_id = $1 AND status = 'pending')
         WHERE id = $1 AND claim_fence = $2
         AND EXISTS (SELECT 1 FROM job_items WHERE job_id = $1 AND status = 'pending')",
    )
    .bind(&lease.id)
    .bind(lease.fence)
    .execute(&state.storage.pool)
    .await?
    .rows_affected();
    Ok(released == 1)
}

async fn cancel_requested(state: &AppState, id: &str) -> Result<bool, AppError> {
    let requested: Option<i64> =
        sqlx::query_scalar("SELECT cancel_requested_at_ms FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&state.storage.pool)
            .await?;
    Ok(requested.is_some())
}

async fn finish(
    state: &AppState,
    job: &JobContext,
    lease: &Lease,
    cancelled: bool,
) -> Result<(), AppError> {
    let now = state.jobs.clock.now_ms();
    let _turn = state.jobs.writer.lock().await;
    let mut tx = state.storage.pool.begin().await?;
    let finished = sqlx::query(
        "UPDATE jobs SET finished_at_ms = $2, claimed_until_ms = NULL WHERE id = $1
         AND claim_fence = $3",
    )
    .bind(&job.id)
    .bind(now)
    .bind(lease.fence)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if finished != 1 {
        return Err(fenced_out(lease));
    }
    let mut cancelled_items = 0;
    if cancelled {
        cancelled_items = sqlx::query(
            "UPDATE job_items SET status = 'cancelled', detail = 'cancelled before it was sent',
             finished_at_ms = $2 WHERE job_id = $1 AND status = 'pending'",
        )
        .bind(&job.id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    if cancelled_items > 0 {
        let cancelled = JobItemStatus::Cancelled.as_str();
        telemetry::job_items(job.kind.as_str(), cancelled, cancelled_items);
    }
    Ok(())
}

/// After a crash: attempts that were on the wire get their audit entry now (outcome unknown).
async fn audit_interrupted_attempts(
    state: &AppState,
    job: &JobContext,
    lease: &Lease,
) -> Result<(), AppError> {
    let interrupted: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT customer_tenant_id, request_id, attempts FROM job_items
         WHERE job_id = $1 AND status = 'pending' AND attempt_started_at_ms IS NOT NULL",
    )
    .bind(&job.id)
    .fetch_all(&state.storage.pool)
    .await?;
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
        let mut tx = state.storage.pool.begin().await?;
        audit::append(&mut *tx, &entry).await?;
        let cleared = sqlx::query(&format!(
            "UPDATE job_items SET attempt_started_at_ms = NULL
             WHERE job_id = $1 AND customer_tenant_id = $2 AND {}",
            fence_holds(state.storage.backend, 3)
        ))
        .bind(&job.id)
        .bind(&customer)
        .bind(lease.fence)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if cleared != 1 {
            return Err(fenced_out(lease));
        }
        tx.commit().await?;
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

/// Whether an error of the token broker means the admin's grant is dead, so the item fails with
/// the reason. The broker answers `SignInRequired` for that alone; anything else (the authority
/// or the database out of reach, a 5xx) passes, so the item waits and tries again.
pub(crate) fn grant_is_dead(error: &AppError) -> bool {
    matches!(error, AppError::SignInRequired { .. })
}

/// Attempts one customer until it is done, fails for good, runs out of attempts or is put off.
async fn settle_item(
    state: &AppState,
    job: &JobContext,
    control: &JobControl,
    item: &PendingItem,
) -> Result<(), AppError> {
    let lease = &control.lease;
    let customer = match Guid::parse(&item.customer) {
        Ok(customer) => customer,
        Err(error) => return settle_without_call(state, job, lease, item, error).await,
    };
    let ids = CallIds {
        request_id: Guid::parse(&item.request_id)?,
        correlation_id: job.correlation_id,
    };
    // Checked before the first attempt only: a resumed item may already have gone out.
    let target = match job.kind {
        JobKind::RemoveDap if item.attempts == 0 => {
            let at_decision = match &job.review_id {
                Some(review) => {
                    reviews::coverage_at_decision(state, review, &item.customer).await?
                }
                None => None,
            };
            let recheck =
                gdap::recheck_before_removal(state, &job.started_by_key, customer, at_decision)
                    .await;
            let mut target = format!("{}; {}", job.target(), recheck.note);
            match (recheck.fell, &item.released) {
                (Some(held), None) => {
                    let unsent = Unsent {
                        status: JobItemStatus::Held,
                        reason: held,
                        target,
                    };
                    return settle_unsent(state, job, lease, item, unsent).await;
                }
                (Some(_), Some((by, note))) => {
                    target.push_str(&format!("; sent anyway: released by {by} ({note})"));
                }
                (None, _) => {}
            }
            target
        }
        _ => job.target(),
    };
    // An attempt cut off by a crash did not fail: it may take one more than the usual budget.
    let budget = u32::try_from(ATTEMPTS).unwrap_or(4).max(item.attempts + 1);
    let throttled_budget = u32::try_from(THROTTLED_ATTEMPTS).unwrap_or(8).max(budget);
    let mut delays = backoff().build().skip(item.attempts as usize);
    let mut token_delays = backoff().build();
    let mut attempts = item.attempts;
    // Consent calls count against the application's rate limit; DAP removals do not.
    let rate_limited = match (job.application, job.kind) {
        (Some(application), JobKind::GrantConsent | JobKind::RevokeConsent) => {
            Some(application.to_string())
        }
        _ => None,
    };
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
            Err(error) if grant_is_dead(&error) => {
                return settle_without_call(state, job, lease, item, error).await
            }
            Err(error) => {
                if let Some(wait) = token_delays.next() {
                    tracing::warn!(job = %job.id, customer = %item.customer, %error, "no token for the job's admin; trying again");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                tracing::error!(job = %job.id, customer = %item.customer, %error, "no token for the job's admin; the item is put off");
                // Internal error text (SQL) stays in the log; the job's page shows the rest.
                let why = match &error {
                    AppError::Internal(_) => "an internal error, logged".to_string(),
                    other => other.to_string(),
                };
                let put_off = PutOff {
                    wait: TOKEN_RETRY_LATER,
                    detail: format!(
                        "not sent yet: no token for the admin ({why}); tried again in {} s",
                        TOKEN_RETRY_LATER.as_secs()
                    ),
                };
                return put_off_unsent(state, job, lease, item, &put_off).await;
            }
        };
        if let Some(application) = &rate_limited {
            state.jobs.limiter.until_ready(application).await;
            if control.should_stop() {
                return Ok(());
            }
        }
        begin_attempt(state, job, lease, item).await?;
        if !lease.may_send() {
            // Lost while the attempt was written ahead: whoever holds the job next audits it as
            // cut off and sends it.
            return Ok(());
        }
        if let Some(application) = &rate_limited {
            state.jobs.limiter.at_departure(application).await;
        }
        attempts += 1;
        let attempt = classify(job, send(state, job, &token, &ids, customer).await);
        let mut later = None;
        let (allowed, retry_in) = match &attempt {
            Attempt::Transient(error) => {
                let throttled = error.status() == Some(429);
                let allowed = if throttled { throttled_budget } else { budget };
                // Past the backoff sequence only a throttled call is still retried: after
                // what Retry-After asks, or a second.
                let planned = delays
                    .next()
                    .or(throttled.then_some(Duration::from_secs(1)));
                let wait = planned
                    .map(|wait| wait.max(error.retry_after().unwrap_or_default()))
                    .filter(|_| attempts < allowed);
                match wait {
                    // Not slept on the lease: the item is put off and the job lets go.
                    Some(wait) if wait > MAX_RETRY_AFTER => {
                        later = Some(wait);
                        (allowed, None)
                    }
                    wait => (allowed, wait),
                }
            }
            _ => (budget, None),
        };
        let outcome = AttemptOutcome {
            number: attempts,
            budget: allowed,
            retry_in,
            later,
        };
        let call = Call {
            ids: &ids,
            target: &target,
        };
        record_attempt(state, job, lease, item, &call, &attempt, &outcome).await?;
        match (retry_in, &attempt) {
            (Some(wait), Attempt::Transient(error)) => {
                telemetry::retry(Api::PartnerCenter, wait, error.retry_after());
                tokio::time::sleep(wait).await
            }
            _ => return Ok(()),
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
    lease: &Lease,
    item: &PendingItem,
) -> Result<(), AppError> {
    let _turn = state.jobs.writer.lock().await;
    let written = sqlx::query(&format!(
        "UPDATE job_items SET attempts = attempts + 1, attempt_started_at_ms = $2
         WHERE job_id = $1 AND customer_tenant_id = $3 AND {}",
        fence_matches(4)
    ))
    .bind(&job.id)
    .bind(state.jobs.clock.now_ms())
    .bind(&item.customer)
    .bind(lease.fence)
    .execute(&state.storage.pool)
    .await?
    .rows_affected();
    if written != 1 {
        return Err(fenced_out(lease));
    }
    Ok(())
}

/// One attempt's call: its ids and what the audit names as its target.
struct Call<'a> {
    ids: &'a CallIds,
    target: &'a str,
}

/// Where one attempt leaves its item.
struct AttemptOutcome {
    /// This attempt's number, and how many the item may take.
    number: u32,
    budget: u32,
    /// Tried again after this wait, holding the lease.
    retry_in: Option<Duration>,
    /// Put off for this long: the service asked for more than a job waits holding its lease.
    later: Option<Duration>,
}

/// The attempt's audit entry, the item's state and (when done) what the job changes in the
/// dashboard's own records, in one transaction, which the fencing check undoes whole when the
/// job was claimed again since: the new holder audits the attempt as cut off and sends it again.
async fn record_attempt(
    state: &AppState,
    job: &JobContext,
    lease: &Lease,
    item: &PendingItem,
    call: &Call<'_>,
    attempt: &Attempt,
    outcome: &AttemptOutcome,
) -> Result<(), AppError> {
    let mut entry = Entry::new(&job.started_by, job.action())
        .target(call.target)
        .call(call.ids);
    entry.customer_tenant_id = Some(item.customer.clone());
    let (number, budget) = (outcome.number, outcome.budget);
    let (status, upstream, detail) = match attempt {
        Attempt::Done { status, note } => {
            entry.upstream_status = Some(*status);
            entry.error = note.clone();
            (JobItemStatus::Done, Some(*status), note.clone())
        }
        Attempt::Transient(error) => {
            entry.upstream_status = error.status();
            let detail = match (outcome.retry_in, outcome.later) {
                (Some(wait), _) => format!(
                    "attempt {number} of {budget}: {error}; retrying in {} ms",
                    wait.as_millis()
                ),
                (None, Some(later)) => format!(
                    "attempt {number} of {budget}: {error}; the service asks to wait {} s, \
                     longer than a job waits holding its claim ({} s): put off, sent again \
                     with the same MS-RequestId in {} s",
                    later.as_secs(),
                    MAX_RETRY_AFTER.as_secs(),
                    later.as_secs()
                ),
                (None, None) => format!("gave up after {number} attempts: {error}"),
            };
            entry = entry.failed(detail.clone());
            let status = if outcome.retry_in.is_some() || outcome.later.is_some() {
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
    let now = state.jobs.clock.now_ms();
    let _turn = state.jobs.writer.lock().await;
    let mut tx = state.storage.pool.begin().await?;
    let finished = (status != JobItemStatus::Pending).then_some(now);
    let written = sqlx::query(&format!(
        "UPDATE job_items SET status = $2, upstream_status = $3, detail = $4,
         finished_at_ms = $5, attempt_started_at_ms = NULL, not_before_ms = {} + $6
         WHERE job_id = $1 AND customer_tenant_id = $7 AND {}",
        db_now_ms(state.storage.backend),
        fence_holds(state.storage.backend, 8)
    ))
    .bind(&job.id)
    .bind(status.as_str())
    .bind(upstream.map(i64::from))
    .bind(detail)
    .bind(finished)
    .bind(outcome.later.map(millis))
    .bind(&item.customer)
    .bind(lease.fence)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if written != 1 {
        return Err(fenced_out(lease));
    }
    audit::append(&mut *tx, &entry).await?;
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
                snapshot::mark_dap_removed(&mut tx, &item.customer, now).await?;
            }
            _ => {}
        }
    }
    tx.commit().await?;
    if status != JobItemStatus::Pending {
        telemetry::job_items(job.kind.as_str(), status.as_str(), 1);
    }
    Ok(())
}

/// An item that could not be sent for now stays pending until `put_off.wait` from now.
async fn put_off_unsent(
    state: &AppState,
    job: &JobContext,
    lease: &Lease,
    item: &PendingItem,
    put_off: &PutOff,
) -> Result<(), AppError> {
    let _turn = state.jobs.writer.lock().await;
    let written = sqlx::query(&format!(
        "UPDATE job_items SET detail = $2, not_before_ms = {} + $3
         WHERE job_id = $1 AND customer_tenant_id = $4 AND status = 'pending' AND {}",
        db_now_ms(state.storage.backend),
        fence_holds(state.storage.backend, 5)
    ))
    .bind(&job.id)
    .bind(&put_off.detail)
    .bind(millis(put_off.wait))
    .bind(&item.customer)
    .bind(lease.fence)
    .execute(&state.storage.pool)
    .await?
    .rows_affected();
    if written != 1 {
        return Err(fenced_out(lease));
    }
    Ok(())
}

/// No call could be made (the admin's grant is dead, or a stored id is bad): the item fails with
/// the reason, audited without a request id.
async fn settle_without_call(
    state: &AppState,
    job: &JobContext,
    lease: &Lease,
    item: &PendingItem,
    error: AppError,
) -> Result<(), AppError> {
    let unsent = Unsent {
        status: JobItemStatus::Failed,
        reason: format!("not sent: {error}"),
        target: job.target(),
    };
    settle_unsent(state, job, lease, item, unsent).await
}

/// How an item ends without a call.
struct Unsent {
    /// Failed, or held by the check before the call (refused by the dashboard).
    status: JobItemStatus,
    reason: String,
    target: String,
}

/// The item ends without a call, audited without a request id, in one transaction.
async fn settle_unsent(
    state: &AppState,
    job: &JobContext,
    lease: &Lease,
    item: &PendingItem,
    unsent: Unsent,
) -> Result<(), AppError> {
    let entry = Entry::new(&job.started_by, job.action()).target(unsent.target);
    let mut entry = match unsent.status {
        JobItemStatus::Held => entry.refused(unsent.reason.clone()),
        _ => entry.failed(unsent.reason.clone()),
    };
    entry.customer_tenant_id = Some(item.customer.clone());
    entry.correlation_id = Some(job.correlation_id.to_string());
    let now = state.jobs.clock.now_ms();
    let _turn = state.jobs.writer.lock().await;
    let mut tx = state.storage.pool.begin().await?;
    let written = sqlx::query(&format!(
        "UPDATE job_items SET status = $6, detail = $2, finished_at_ms = $3
         WHERE job_id = $1 AND customer_tenant_id = $4 AND {}",
        fence_holds(state.storage.backend, 5)
    ))
    .bind(&job.id)
    .bind(unsent.reason)
    .bind(now)
    .bind(&item.customer)
    .bind(lease.fence)
    .bind(unsent.status.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if written != 1 {
        return Err(fenced_out(lease));
    }
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    telemetry::job_items(job.kind.as_str(), unsent.status.as_str(), 1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_grant_fails_an_item_other_token_errors_wait() {
        let dead = AppError::SignInRequired {
            reason: "AADSTS700082: the refresh token has expired".into(),
        };
        assert!(grant_is_dead(&dead));
        let temporary = [
            AppError::Unreachable("login.microsoftonline.com: connection refused".into()),
            AppError::Upstream {
                status: 503,
                code: Some("temporarily_unavailable".into()),
                message: "AADSTS50196".into(),
                correlation_id: None,
            },
            AppError::Internal("reading the credential failed: pool timed out".into()),
        ];
        for error in temporary {
            assert!(!grant_is_dead(&error), "{error:?}");
        }
    }
}
