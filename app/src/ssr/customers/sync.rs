//! Re-reading every delegated-admin customer: the first page tells the total (`$count`), the
//! rest are fetched concurrently within a bound, each retried on transient failures. Only a
//! complete read is stored.

use super::cache::{Running, SyncManager, SyncOutcome, SyncState};
use super::record::CustomerRecord;
use super::snapshot;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::customers::{SnapshotInfo, SyncFailure, SyncProgress};
use crate::model::gdap::Verdict;
use crate::ssr::auth::SessionUser;
use crate::ssr::gdap;
use crate::ssr::partner_center::models::{DelegatedAdminCustomer, ODataPage};
use crate::ssr::partner_center::{retrying, UpstreamError, ATTEMPTS, MAX_PAGE_SIZE};
use crate::ssr::state::AppState;
use crate::ssr::telemetry;
use futures::future::FutureExt;
use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use time::OffsetDateTime;
use tracing::Instrument;

/// Pages in flight at once.
pub const SYNC_CONCURRENCY: usize = 4;

impl SyncManager {
    /// Starts a sync (or joins the running one). The sync runs in its own task, so it finishes
    /// even when the returned future is dropped.
    pub fn start(&self, app: &AppState, user: &SessionUser) -> SyncOutcome {
        let mut state = self.state.lock();
        if let Some(running) = &state.running {
            return running.outcome.clone();
        }
        let progress = Arc::new(Mutex::new(SyncProgress {
            started_by: user.upn.clone(),
            started_at: crate::ssr::clock::format_time(OffsetDateTime::now_utc()),
            pages_done: 0,
            pages_total: None,
            customers_read: 0,
            gdap_done: 0,
            gdap_total: None,
        }));
        // Under the span of the request that started it (its request id and admin).
        let task = tokio::spawn(
            run(
                app.clone(),
                user.clone(),
                progress.clone(),
                self.state.clone(),
            )
            .in_current_span(),
        );
        let outcome = async move {
            task.await
                .unwrap_or_else(|e| Err(AppError::Internal(format!("the sync task failed: {e}"))))
        }
        .boxed()
        .shared();
        state.running = Some(Running {
            progress,
            outcome: outcome.clone(),
        });
        outcome
    }
}

async fn run(
    app: AppState,
    user: SessionUser,
    progress: Arc<Mutex<SyncProgress>>,
    state: Arc<Mutex<SyncState>>,
) -> Result<SnapshotInfo, AppError> {
    let started = std::time::Instant::now();
    let result = fetch_and_store(&app, &user, &progress).await;
    telemetry::sync_finished(started.elapsed(), result.is_ok());
    let mut state = state.lock();
    state.running = None;
    match &result {
        Ok(_) => state.last_failure = None,
        Err(error) => {
            tracing::warn!(upn = %user.upn, %error, "customers sync failed");
            state.last_failure = Some(SyncFailure {
                at: crate::ssr::clock::format_time(OffsetDateTime::now_utc()),
                message: error.to_string(),
                correlation_id: error.correlation_id().map(str::to_string),
            });
        }
    }
    result
}

async fn fetch_and_store(
    app: &AppState,
    user: &SessionUser,
    progress: &Mutex<SyncProgress>,
) -> Result<SnapshotInfo, AppError> {
    let started = std::time::Instant::now();
    let now = OffsetDateTime::now_utc();
    // GDAP is read beside the DAP list: the sync takes as long as the slower of the two.
    let gdap_step = |step| record_gdap(progress, step);
    let ((customers, dap_read), (coverage, gdap_read)) = futures::join!(
        finished_after(started, fetch_all(app, user, progress)),
        finished_after(started, gdap::coverage_of_all(app, user, now, &gdap_step))
    );
    let mut records: Vec<CustomerRecord> = customers?
        .into_iter()
        .map(CustomerRecord::from_upstream)
        .collect();
    let previous = app.customers.current(&app.storage).await.ok().flatten();
    apply_coverage(&mut records, coverage, previous.as_deref(), now);
    let stored_from = started.elapsed();
    let customers = records.len();
    let info = app
        .customers
        .store(&app.storage, &user.upn, records, OffsetDateTime::now_utc())
        .await?;
    tracing::info!(
        customers,
        elapsed_ms = started.elapsed().as_millis() as u64,
        dap_read_ms = dap_read.as_millis() as u64,
        gdap_read_ms = gdap_read.as_millis() as u64,
        store_ms = (started.elapsed() - stored_from).as_millis() as u64,
        "customers synced"
    );
    Ok(info)
}

/// The future's output, and when it was ready counted from `started` (for the sync's log line).
async fn finished_after<T>(
    started: std::time::Instant,
    future: impl std::future::Future<Output = T>,
) -> (T, std::time::Duration) {
    let output = future.await;
    (output, started.elapsed())
}

/// Sets each record's GDAP coverage: from this sync's read, or, when it could not be trusted,
/// the previous snapshot's for that customer (marked as kept).
fn apply_coverage(
    records: &mut [CustomerRecord],
    coverage: Result<HashMap<String, Verdict>, Verdict>,
    previous: Option<&snapshot::Snapshot>,
    now: OffsetDateTime,
) {
    match coverage {
        Ok(mut verdicts) => {
            for record in records {
                let verdict = verdicts
                    .remove(&record.tenant_id)
                    .unwrap_or_else(|| gdap::without_relationships(now));
                record.gdap = verdict.coverage;
                record.gdap_reasons = verdict.reasons.join("\n");
            }
        }
        Err(unknown) => {
            let before: HashMap<&str, &CustomerRecord> = previous
                .map(|p| {
                    p.customers
                        .iter()
                        .map(|c| (c.tenant_id.as_str(), c))
                        .collect()
                })
                .unwrap_or_default();
            let synced_at = previous
                .map(|p| p.info.synced_at.clone())
                .unwrap_or_default();
            for record in records {
                let kept = before
                    .get(record.tenant_id.as_str())
                    .map(|c| (c.gdap, c.gdap_reasons.as_str(), synced_at.as_str()));
                let (coverage, reasons) = gdap::keep_previous(kept, &unknown);
                record.gdap = coverage;
                record.gdap_reasons = reasons.join("\n");
            }
        }
    }
}

/// Every customer, each once (offset paging can repeat a customer when the list changes while
/// it is read).
pub async fn fetch_all(
    app: &AppState,
    user: &SessionUser,
    progress: &Mutex<SyncProgress>,
) -> Result<Vec<DelegatedAdminCustomer>, AppError> {
    let correlation_id = Guid::new_v4();
    let page_size = MAX_PAGE_SIZE as usize;
    let first = fetch_page(
        app,
        user,
        correlation_id,
        PageAt::Offset {
            skip: 0,
            count: true,
        },
    )
    .await?;
    let mut customers = Vec::new();
    let next_link = first.next_link().map(str::to_string);
    let total = first.count();
    record_page(
        progress,
        first.value.len(),
        total.map(|t| t.div_ceil(page_size)),
    );
    customers.extend(first.value);

    match total {
        Some(total) => {
            let offsets: Vec<usize> = (page_size..total).step_by(page_size).collect();
            let pages: Vec<Vec<DelegatedAdminCustomer>> = futures::stream::iter(offsets)
                .map(|skip| async move {
                    let page = fetch_page(
                        app,
                        user,
                        correlation_id,
                        PageAt::Offset { skip, count: false },
                    )
                    .await?;
                    record_page(progress, page.value.len(), None);
                    Ok::<_, AppError>(page.value)
                })
                .buffer_unordered(SYNC_CONCURRENCY)
                .try_collect()
                .await?;
            customers.extend(pages.into_iter().flatten());
        }
        // No total: follow the next links one after another, from the first page's.
        None => {
            let mut link = next_link;
            let mut number = 1;
            while let Some(current) = link.take() {
                number += 1;
                let page = fetch_page(
                    app,
                    user,
                    correlation_id,
                    PageAt::Link {
                        link: &current,
                        number,
                    },
                )
                .await?;
                record_page(progress, page.value.len(), None);
                link = page
                    .next_link()
                    .filter(|next| !page.value.is_empty() && *next != current)
                    .map(str::to_string);
                customers.extend(page.value);
            }
        }
    }
    let mut seen = HashSet::new();
    customers.retain(|c| seen.insert(c.customer_tenant_id.to_ascii_lowercase()));
    Ok(customers)
}

async fn token(
    app: &AppState,
    user: &SessionUser,
) -> Result<crate::ssr::auth::AccessToken, AppError> {
    app.tokens
        .access_token(&user.user_key, &app.config.admin_api_audience)
        .await
}

/// Where a page of the customer list is read from.
#[derive(Clone, Copy)]
enum PageAt<'a> {
    /// By offset; with `count`, the page carries the total.
    Offset { skip: usize, count: bool },
    /// By the previous page's next link; `number` names it in errors.
    Link { link: &'a str, number: usize },
}

async fn fetch_page(
    app: &AppState,
    user: &SessionUser,
    correlation_id: Guid,
    at: PageAt<'_>,
) -> Result<ODataPage<DelegatedAdminCustomer>, AppError> {
    // Per page, so a long sync picks up a refreshed token.
    let token = token(app, user).await?;
    let partner_center = &app.partner_center;
    retrying(|| match at {
        PageAt::Offset { skip, count } => partner_center
            .delegated_admin_customers_at(&token, correlation_id, skip, MAX_PAGE_SIZE, count)
            .boxed(),
        PageAt::Link { link, .. } => partner_center
            .delegated_admin_customers_page(&token, correlation_id, Some(link), MAX_PAGE_SIZE)
            .boxed(),
    })
    .await
    .map_err(|e| match at {
        PageAt::Offset { skip, .. } => page_error(e, &format!("$skip={skip}")),
        PageAt::Link { number, .. } => page_error(e, &number.to_string()),
    })
}

fn page_error(error: UpstreamError, page: &str) -> AppError {
    let transient = error.is_transient();
    let mut app_error = AppError::from(error);
    if transient {
        if let AppError::Upstream { message, .. } | AppError::Unreachable(message) = &mut app_error
        {
            *message = format!("page {page} failed after {ATTEMPTS} attempts: {message}");
        }
    }
    app_error
}

fn record_gdap(progress: &Mutex<SyncProgress>, step: gdap::ReadStep) {
    let mut progress = progress.lock();
    match step {
        gdap::ReadStep::Listed {
            pages,
            assignment_reads,
        } => {
            let pages = u32::try_from(pages).unwrap_or(u32::MAX);
            progress.gdap_done = progress.gdap_done.saturating_add(pages);
            progress.gdap_total =
                Some(pages.saturating_add(u32::try_from(assignment_reads).unwrap_or(u32::MAX)));
        }
        gdap::ReadStep::AssignmentsRead => {
            progress.gdap_done = progress.gdap_done.saturating_add(1)
        }
    }
}

fn record_page(progress: &Mutex<SyncProgress>, customers: usize, pages_total: Option<usize>) {
    let mut progress = progress.lock();
    progress.pages_done += 1;
    progress.customers_read += customers;
    if let Some(total) = pages_total {
        progress.pages_total = Some(u32::try_from(total.max(1)).unwrap_or(u32::MAX));
    }
}
