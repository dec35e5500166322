//! Bulk jobs: grant or revoke CPV consent, or remove DAP, in many customers. A job and a row per
//! customer live in the database; any instance may run it (see `runner`), and a restart or a
//! takeover continues with the customers still pending, sending each one's MS-RequestId again
//! so nothing is applied twice.

pub(crate) mod create;
pub mod limiter;
pub mod runner;
pub mod runtime;

pub use create::{create, create_in, NewJob};

use super::audit::{self, Entry};
use super::auth::SessionUser;
use super::clock::{now_ms, rfc3339_of_ms};
use super::customers::view;
use super::state::AppState;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::consent::Grant;
use crate::model::customers::CustomerQuery;
use crate::model::jobs::{Job, JobCounts, JobItem, JobItemStatus, JobKind, JobSummary};
use crate::model::reviews::checked_note;
use sqlx::Row;
use std::collections::HashMap;
use time::OffsetDateTime;

/// Jobs in the `/jobs` list.
const LIST_LIMIT: i64 = 50;

/// The customers that pass a customers-view filter (paging ignored), in the view's order.
pub async fn select_customers(
    state: &AppState,
    user: &SessionUser,
    filter: &CustomerQuery,
) -> Result<Vec<(Guid, String)>, AppError> {
    let snapshot = state.customers.current_or_sync(state, user).await?;
    view::select(&snapshot, filter, OffsetDateTime::now_utc())
        .iter()
        .map(|s| Ok((Guid::parse(&s.customer.tenant_id)?, s.customer.name.clone())))
        .collect()
}

/// What a bulk consent form asks for.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    /// Grant or revoke.
    pub kind: JobKind,
    pub application: Guid,
    pub display_name: String,
    /// What is granted (empty for a revoke).
    pub grants: Vec<Grant>,
    pub confirmed: bool,
}

/// A bulk grant or revoke over the customers of `filter`.
pub async fn start_consent(
    state: &AppState,
    user: &SessionUser,
    filter: &CustomerQuery,
    request: ConsentRequest,
) -> Result<Guid, AppError> {
    let customers = select_customers(state, user, filter).await?;
    let mut scope = filter.clone();
    scope.page = 1;
    create(
        state,
        user,
        NewJob {
            kind: request.kind,
            application: Some(request.application),
            display_name: request.display_name,
            grants: request.grants,
            scope: crate::urls::query_string(scope.to_pairs()),
            review_id: None,
            customers,
            retry_of: None,
            confirmed: request.confirmed,
        },
    )
    .await
}

/// A new job over the items of `id` that failed or were held, with new MS-RequestIds.
pub async fn retry_failed(
    state: &AppState,
    user: &SessionUser,
    id: Guid,
    confirmed: bool,
) -> Result<Guid, AppError> {
    let job = load(state, id).await?;
    if job.summary.finished_at.is_none() {
        return Err(AppError::InvalidInput(
            "The job is still running; retry its failures once it has finished.".into(),
        ));
    }
    let customers = job
        .items
        .iter()
        // A held removal is checked again by the new job.
        .filter(|item| matches!(item.status, JobItemStatus::Failed | JobItemStatus::Held))
        .map(|item| {
            Ok((
                Guid::parse(&item.customer_tenant_id)?,
                item.organization_display_name.clone(),
            ))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    if customers.is_empty() {
        return Err(AppError::InvalidInput(
            "No item of this job failed or is held.".into(),
        ));
    }
    let review_id = review_of(&job.summary)?;
    let customers = match (job.summary.kind, review_id) {
        (JobKind::RemoveDap, Some(review)) => {
            let failed = customers.len();
            let standing = super::reviews::still_ready(state, user, review, customers).await?;
            if standing.is_empty() {
                return Err(AppError::InvalidInput(format!(
                    "None of the {failed} failed removals is still decided and approved in its review: nothing to retry."
                )));
            }
            standing
        }
        (JobKind::RemoveDap, None) => {
            return Err(AppError::InvalidInput(
                "This DAP-removal job has no review behind it: it cannot be retried.".into(),
            ))
        }
        _ => customers,
    };
    let context =
        sqlx::query_as::<_, (Option<String>,)>("SELECT grants_json FROM jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&state.storage.pool)
            .await?;
    let grants = context
        .0
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| AppError::Internal(format!("stored grants unreadable: {e}")))?
        .unwrap_or_default();
    create(
        state,
        user,
        NewJob {
            kind: job.summary.kind,
            application: job
                .summary
                .application_id
                .as_deref()
                .map(Guid::parse)
                .transpose()?,
            display_name: job.summary.display_name.unwrap_or_default(),
            grants,
            scope: job.summary.scope,
            review_id,
            customers,
            retry_of: Some(id),
            confirmed,
        },
    )
    .await
}

/// The review a DAP-removal job carries out.
fn review_of(job: &JobSummary) -> Result<Option<Guid>, AppError> {
    job.review_id.as_deref().map(Guid::parse).transpose()
}

/// Sends a held DAP removal after all, on an admin's deliberate word: the item is sent without
/// stopping at the coverage check (which still runs, for the audit), once the job has finished
/// and only while the review's removal still stands.
pub async fn release_held(
    state: &AppState,
    user: &SessionUser,
    id: Guid,
    customer: Guid,
    confirmed: bool,
    note: &str,
) -> Result<(), AppError> {
    let note = checked_note(note).map_err(AppError::InvalidInput)?;
    if !confirmed || note.is_empty() {
        return Err(AppError::InvalidInput(
            "Releasing a held removal can lock the partner out of the customer: confirm it and \
             give the reason in the note."
                .into(),
        ));
    }
    let job = load(state, id).await?;
    let Some(item) = job
        .items
        .iter()
        .find(|item| item.customer_tenant_id == customer.to_string())
    else {
        return Err(AppError::NotFound {
            what: "this customer in the job".into(),
        });
    };
    if item.status != JobItemStatus::Held {
        return Err(AppError::InvalidInput(format!(
            "This item is {}, not held: there is nothing to release.",
            item.status.as_str()
        )));
    }
    if job.summary.finished_at.is_none() {
        return Err(AppError::InvalidInput(
            "The job is still running; release held items once it has finished.".into(),
        ));
    }
    if job.summary.cancel_requested_by.is_some() {
        return Err(AppError::InvalidInput(
            "This job was cancelled: its held items are not sent. Start a new review.".into(),
        ));
    }
    let review = review_of(&job.summary)?
        .ok_or_else(|| AppError::InvalidInput("This job has no review behind it.".into()))?;
    let standing = super::reviews::still_ready(
        state,
        user,
        review,
        vec![(customer, item.organization_display_name.clone())],
    )
    .await?;
    if standing.is_empty() {
        return Err(AppError::InvalidInput(
            "This removal is no longer decided and approved in its review: it is not sent.".into(),
        ));
    }
    let mut tx = state.storage.pool.begin().await?;
    let released = sqlx::query(
        "UPDATE job_items SET status = 'pending', released_by = $3, release_note = $4,
         detail = $5, finished_at_ms = NULL
         WHERE job_id = $1 AND customer_tenant_id = $2 AND status = 'held'",
    )
    .bind(id.to_string())
    .bind(customer.to_string())
    .bind(&user.upn)
    .bind(note)
    .bind(format!(
        "released by {}: sent without stopping at the GDAP check",
        user.upn
    ))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if released != 1 {
        return Err(AppError::InvalidInput(
            "This item has just been released by someone else.".into(),
        ));
    }
    // Open again, for any instance to claim.
    sqlx::query(
        "UPDATE jobs SET finished_at_ms = NULL, claimed_by = NULL, claimed_until_ms = NULL
         WHERE id = $1",
    )
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    let entry = Entry::new(&user.upn, "release-held-removal")
        .customer(customer)
        .target(format!(
            "job {id}: DAP; released despite the GDAP check: {note}"
        ));
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(())
}

/// Asks the job to stop: items not yet started end as cancelled, the one on the wire finishes.
pub async fn cancel(state: &AppState, user: &SessionUser, id: Guid) -> Result<(), AppError> {
    let mut tx = state.storage.pool.begin().await?;
    let changed = sqlx::query(
        "UPDATE jobs SET cancel_requested_by = $1, cancel_requested_at_ms = $2
         WHERE id = $3 AND finished_at_ms IS NULL AND cancel_requested_at_ms IS NULL",
    )
    .bind(&user.upn)
    .bind(now_ms())
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        let finished: Option<Option<i64>> =
            sqlx::query_scalar("SELECT finished_at_ms FROM jobs WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        return match finished {
            None => Err(AppError::NotFound { what: "job".into() }),
            Some(Some(_)) => Err(AppError::InvalidInput(
                "This job has already finished.".into(),
            )),
            Some(None) => Ok(()), // already being cancelled
        };
    }
    // A job nobody holds, waiting for put-off items to fall due, is claimed now to cancel them.
    sqlx::query(
        "UPDATE jobs SET claimed_until_ms = 0 WHERE id = $1 AND claimed_by IS NULL
         AND claimed_until_ms IS NOT NULL",
    )
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    let entry = Entry::new(&user.upn, "cancel-job").target(format!("job {id}"));
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    state.jobs.cancel_local(&id.to_string());
    state.jobs.wake();
    Ok(())
}

const SUMMARY_COLUMNS: &str = "id, kind, started_by, created_at_ms, finished_at_ms,
    application_id, display_name, scope, review_id, cancel_requested_by";

fn summary_of(row: &sqlx::any::AnyRow, counts: JobCounts) -> Result<JobSummary, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let finished: Option<i64> = row.try_get("finished_at_ms")?;
    Ok(JobSummary {
        id: row.try_get("id")?,
        kind: JobKind::parse(&kind).ok_or_else(|| sqlx::Error::Decode(kind.into()))?,
        started_by: row.try_get("started_by")?,
        created_at: rfc3339_of_ms(row.try_get("created_at_ms")?),
        finished_at: finished.map(rfc3339_of_ms),
        application_id: row.try_get("application_id")?,
        display_name: row.try_get("display_name")?,
        scope_description: crate::api::customer_filter(&row.try_get::<String, _>("scope")?)
            .describe(),
        scope: row.try_get("scope")?,
        review_id: row.try_get("review_id")?,
        cancel_requested_by: row.try_get("cancel_requested_by")?,
        counts,
    })
}

fn add_count(counts: &mut JobCounts, status: &str, n: i64) {
    let n = usize::try_from(n).unwrap_or_default();
    counts.total += n;
    match JobItemStatus::parse(status) {
        JobItemStatus::Pending => counts.pending += n,
        JobItemStatus::Done => counts.done += n,
        JobItemStatus::Failed => counts.failed += n,
        JobItemStatus::Cancelled => counts.cancelled += n,
        JobItemStatus::Held => counts.held += n,
    }
}

/// The most recent jobs, newest first.
pub async fn list(state: &AppState) -> Result<Vec<JobSummary>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM jobs ORDER BY created_at_ms DESC LIMIT $1"
    ))
    .bind(LIST_LIMIT)
    .fetch_all(&state.storage.pool)
    .await?;
    let counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT job_id, status, COUNT(*) FROM job_items WHERE job_id IN
         (SELECT id FROM jobs ORDER BY created_at_ms DESC LIMIT $1) GROUP BY job_id, status",
    )
    .bind(LIST_LIMIT)
    .fetch_all(&state.storage.pool)
    .await?;
    let mut per_job: HashMap<String, JobCounts> = HashMap::new();
    for (job, status, n) in counts {
        add_count(per_job.entry(job).or_default(), &status, n);
    }
    let summaries = rows
        .iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            summary_of(row, per_job.remove(&id).unwrap_or_default())
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(summaries)
}

pub async fn load(state: &AppState, id: Guid) -> Result<Job, AppError> {
    let id = id.to_string();
    let row = sqlx::query(&format!("SELECT {SUMMARY_COLUMNS} FROM jobs WHERE id = $1"))
        .bind(&id)
        .fetch_optional(&state.storage.pool)
        .await?
        .ok_or_else(|| AppError::NotFound { what: "job".into() })?;
    let item_rows = sqlx::query(
        "SELECT customer_tenant_id, organization_display_name, status, attempts,
         upstream_status, detail, request_id, finished_at_ms
         FROM job_items WHERE job_id = $1 ORDER BY position",
    )
    .bind(&id)
    .fetch_all(&state.storage.pool)
    .await?;
    let mut counts = JobCounts::default();
    let mut items = item_rows
        .iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            add_count(&mut counts, &status, 1);
            let upstream: Option<i64> = row.try_get("upstream_status")?;
            let attempts: i64 = row.try_get("attempts")?;
            let finished: Option<i64> = row.try_get("finished_at_ms")?;
            Ok(JobItem {
                customer_tenant_id: row.try_get("customer_tenant_id")?,
                organization_display_name: row.try_get("organization_display_name")?,
                status: JobItemStatus::parse(&status),
                attempts: u32::try_from(attempts).unwrap_or_default(),
                upstream_status: upstream.and_then(|s| u16::try_from(s).ok()),
                detail: row.try_get("detail")?,
                request_id: row.try_get("request_id")?,
                finished_at: finished.map(rfc3339_of_ms),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // Failures and held items first: they are what the admin acts on. The sort is stable, so the rest keep
    // their running order.
    items.sort_by_key(|item| !matches!(item.status, JobItemStatus::Failed | JobItemStatus::Held));
    Ok(Job {
        summary: summary_of(&row, counts)?,
        items,
    })
}
