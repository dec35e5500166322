//! The privileged-role report: a background job over a selection of customers (a customers
//! filter), reading the members of the privileged roles in each with bounded concurrency. One
//! customer's failure is recorded and the rest go on; progress and results live in the database,
//! so the page can follow it. It runs as background work held by one instance at a time, so a
//! restart, or another instance after this one stops, resumes the customers still pending.

use super::auth::SessionUser;
use super::background::lease::{self as background, Claim, Claimable, Lease, Work};
use super::clock::{now_ms, rfc3339_of_ms};
use super::customers::view;
use super::partner_center::{retrying, ATTEMPTS};
use super::state::AppState;
use super::telemetry;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::customers::CustomerQuery;
use crate::model::directory::PRIVILEGED_ROLES;
use crate::model::reports::{ItemStatus, ReportCustomer, ReportHolder, ReportSummary, RoleReport};
use futures::StreamExt;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;
use tracing::{field, info_span, Instrument};

/// Customers read at once (each is four Partner Center calls).
pub const REPORT_CONCURRENCY: usize = 6;
const ROWS_PER_INSERT: usize = 200;

/// Starts a report over the customers that pass `filter` (paging ignored); returns its id.
pub async fn start(
    state: &AppState,
    user: &SessionUser,
    filter: &CustomerQuery,
) -> Result<String, AppError> {
    let snapshot = state.customers.current_or_sync(state, user).await?;
    let selected = view::select(&snapshot, filter, OffsetDateTime::now_utc());
    if selected.is_empty() {
        return Err(AppError::InvalidInput(
            "No customer matches this filter: the report would be empty.".into(),
        ));
    }
    let id = Guid::new_v4().to_string();
    let mut scope = filter.clone();
    scope.page = 1;
    let scope = crate::urls::query_string(scope.to_pairs());

    let mut tx = state.storage.pool.begin().await?;
    sqlx::query(
        "INSERT INTO role_reports (id, started_by, started_by_key, started_at_ms, scope)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&user.upn)
    .bind(&user.user_key)
    .bind(now_ms())
    .bind(&scope)
    .execute(&mut *tx)
    .await?;
    for chunk in selected.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${}, 'pending')", 2 * i + 2, 2 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO role_report_customers
             (report_id, customer_tenant_id, organization_display_name, status) VALUES {}",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql).bind(id.clone());
        for selected in chunk {
            insert = insert
                .bind(selected.customer.tenant_id.clone())
                .bind(selected.customer.name.clone());
        }
        insert.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    state.jobs.wake();
    Ok(id)
}

/// Claims the reports `claimable` allows (new ones, and those whose instance stopped) and runs
/// each (see [`crate::ssr::background`]).
pub(crate) async fn claim_and_run(state: &AppState, claimable: Claimable) -> Result<(), AppError> {
    let me = &state.jobs.instance_id;
    let asked = Instant::now();
    for claim in
        background::claim_available(&state.storage, Work::RoleReport, me, claimable).await?
    {
        tracing::info!(report = %claim.id, instance = %me, "running privileged-role report");
        let span = info_span!("report", report_id = %claim.id, admin = field::Empty);
        tokio::spawn(run(state.clone(), claim, asked).instrument(span));
    }
    Ok(())
}

async fn run(state: AppState, claim: Claim, asked: Instant) {
    let started = Instant::now();
    let lease = Lease::new(Work::RoleReport, claim, asked);
    let outcome = match run_claimed(&state, &lease).await {
        Ok(()) if lease.may_send() => "finished",
        // The claim was lost: another instance takes the report up.
        Ok(()) => "stopped",
        Err(error) => {
            tracing::error!(report = %lease.id, %error, "privileged-role report stopped; it resumes at the next poll");
            "failed"
        }
    };
    telemetry::report_run(started.elapsed(), outcome);
}

/// A result refused by the fencing check: the report was claimed again since this run's claim.
fn fenced_out(lease: &Lease) -> AppError {
    lease.lose();
    AppError::Internal(format!(
        "report {} was claimed again (fencing number {} is stale); this instance stops",
        lease.id, lease.fence
    ))
}

async fn run_claimed(state: &AppState, lease: &Arc<Lease>) -> Result<(), AppError> {
    let report_id = lease.id.as_str();
    let user_key: String =
        sqlx::query_scalar("SELECT started_by_key FROM role_reports WHERE id = $1")
            .bind(report_id)
            .fetch_one(&state.storage.pool)
            .await?;
    telemetry::record_admin(None, &user_key);
    let pending: Vec<String> = sqlx::query_scalar(
        "SELECT customer_tenant_id FROM role_report_customers
         WHERE report_id = $1 AND status = 'pending'",
    )
    .bind(report_id)
    .fetch_all(&state.storage.pool)
    .await?;
    let renewal = background::keep_renewed(&state.storage, lease.clone(), || async {});

    // Reads run concurrently; writes go one at a time (SQLite has a single writer, and waiting
    // for its lock inside a transaction costs seconds).
    let writer = tokio::sync::Mutex::new(());
    let storage_failed = AtomicBool::new(false);
    futures::stream::iter(pending)
        .for_each_concurrent(REPORT_CONCURRENCY, |customer| {
            let (user_key, writer, storage_failed) = (&user_key, &writer, &storage_failed);
            async move {
                if !lease.may_send() {
                    return;
                }
                let outcome = holders_of(state, lease, user_key, &customer).await;
                if !lease.may_send() {
                    // Cut short by the lost claim, not failed: left pending for the next holder.
                    return;
                }
                let _turn = writer.lock().await;
                if let Err(error) = record(state, lease, &customer, outcome).await {
                    // Left pending: the next run picks it up again.
                    tracing::error!(report = %report_id, %customer, %error, "could not store a result");
                    storage_failed.store(true, Ordering::Relaxed);
                }
            }
        })
        .await;
    drop(renewal);
    if !lease.may_send() {
        tracing::warn!(report = %report_id, "the claim was lost or could not be renewed; the report stopped and is taken up again once its claim lapses");
        return Ok(());
    }
    if storage_failed.load(Ordering::Relaxed) {
        background::release(&state.storage, lease).await?;
        return Err(AppError::Internal(
            "some results could not be stored; those customers stay pending".into(),
        ));
    }
    let finished = sqlx::query(
        "UPDATE role_reports SET finished_at_ms = $1, claimed_until_ms = NULL
         WHERE id = $2 AND claim_fence = $3",
    )
    .bind(state.jobs.clock.now_ms())
    .bind(report_id)
    .bind(lease.fence)
    .execute(&state.storage.pool)
    .await?
    .rows_affected();
    if finished != 1 {
        return Err(fenced_out(lease));
    }
    Ok(())
}

struct Holder {
    role_id: &'static str,
    role_name: &'static str,
    user_id: String,
    display_name: String,
    user_principal_name: String,
}

async fn holders_of(
    state: &AppState,
    lease: &Lease,
    user_key: &str,
    customer: &str,
) -> Result<Vec<Holder>, AppError> {
    let customer = Guid::parse(customer)?;
    let token = state
        .tokens
        .access_token(user_key, &state.config.partner_center_audience)
        .await?;
    let correlation_id = Guid::new_v4();
    let mut holders = Vec::new();
    for (role_id, role_name) in PRIVILEGED_ROLES {
        if !lease.may_send() {
            return Err(AppError::Internal("the report's claim was lost".into()));
        }
        let role = Guid::parse(role_id)?;
        let members = retrying(|| {
            state
                .partner_center
                .role_members(&token, correlation_id, customer, role)
        })
        .await
        .map_err(|e| {
            // A 429 says when to come back, which the throttling error tells the admin.
            let transient = e.is_transient() && e.status() != Some(429);
            let error = AppError::from(e);
            if transient {
                AppError::Unreachable(format!(
                    "{role_name}: gave up after {ATTEMPTS} attempts: {error}"
                ))
            } else {
                error
            }
        })?;
        holders.extend(members.into_iter().map(|m| Holder {
            role_id,
            role_name,
            user_id: m.id,
            display_name: m.display_name,
            user_principal_name: m.user_principal_name,
        }));
    }
    Ok(holders)
}

/// A customer's holders and its status, in one transaction, which the fencing check undoes whole
/// when the report was claimed again since this run's claim.
async fn record(
    state: &AppState,
    lease: &Lease,
    customer: &str,
    outcome: Result<Vec<Holder>, AppError>,
) -> Result<(), AppError> {
    let report_id = lease.id.as_str();
    let mut tx = state.storage.pool.begin().await?;
    let (status, error, correlation_id) = match &outcome {
        Ok(holders) if !holders.is_empty() => {
            let values: Vec<String> = (0..holders.len())
                .map(|i| {
                    let p = |k: usize| format!("${}", 3 + i * 5 + k);
                    format!("($1, $2, {}, {}, {}, {}, {})", p(0), p(1), p(2), p(3), p(4))
                })
                .collect();
            let sql = format!(
                "INSERT INTO role_report_holders (report_id, customer_tenant_id, role_id,
                 role_name, user_id, display_name, user_principal_name) VALUES {}
                 ON CONFLICT (report_id, customer_tenant_id, role_id, user_id) DO NOTHING",
                values.join(", ")
            );
            let mut insert = sqlx::query(&sql).bind(report_id).bind(customer);
            for h in holders {
                insert = insert
                    .bind(h.role_id)
                    .bind(h.role_name)
                    .bind(h.user_id.clone())
                    .bind(h.display_name.clone())
                    .bind(h.user_principal_name.clone());
            }
            insert.execute(&mut *tx).await?;
            (ItemStatus::Done, None, None)
        }
        Ok(_) => (ItemStatus::Done, None, None),
        Err(error) => (
            ItemStatus::Failed,
            Some(error.to_string()),
            error.correlation_id().map(str::to_string),
        ),
    };
    // Share-locked on PostgreSQL until the commit, as for job items (see the jobs runner).
    let lock = match state.storage.backend {
        super::storage::Backend::Postgres => "FOR SHARE",
        super::storage::Backend::Sqlite => "",
    };
    let written = sqlx::query(&format!(
        "UPDATE role_report_customers SET status = $1, error = $2, correlation_id = $3
         WHERE report_id = $4 AND customer_tenant_id = $5
         AND EXISTS (SELECT 1 FROM role_reports WHERE id = $4 AND claim_fence = $6 {lock})"
    ))
    .bind(status.as_str())
    .bind(error)
    .bind(correlation_id)
    .bind(report_id)
    .bind(customer)
    .bind(lease.fence)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if written != 1 {
        return Err(fenced_out(lease));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn list(state: &AppState) -> Result<Vec<ReportSummary>, AppError> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM role_reports ORDER BY started_at_ms DESC LIMIT 20")
            .fetch_all(&state.storage.pool)
            .await?;
    let mut summaries = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(summary) = summary(state, &id).await? {
            summaries.push(summary);
        }
    }
    Ok(summaries)
}

async fn summary(state: &AppState, id: &str) -> Result<Option<ReportSummary>, AppError> {
    let row = sqlx::query(
        "SELECT started_by, started_at_ms, finished_at_ms, scope FROM role_reports WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&state.storage.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM role_report_customers WHERE report_id = $1 GROUP BY status",
    )
    .bind(id)
    .fetch_all(&state.storage.pool)
    .await?;
    let count = |status: ItemStatus| {
        counts
            .iter()
            .filter(|(s, _)| ItemStatus::parse(s) == status)
            .map(|(_, n)| usize::try_from(*n).unwrap_or_default())
            .sum::<usize>()
    };
    let finished: Option<i64> = row.try_get("finished_at_ms")?;
    Ok(Some(ReportSummary {
        id: id.to_string(),
        started_by: row.try_get("started_by")?,
        started_at: rfc3339_of_ms(row.try_get("started_at_ms")?),
        finished_at: finished.map(rfc3339_of_ms),
        scope: row.try_get("scope")?,
        total: count(ItemStatus::Pending) + count(ItemStatus::Done) + count(ItemStatus::Failed),
        done: count(ItemStatus::Done),
        failed: count(ItemStatus::Failed),
    }))
}

pub async fn load(state: &AppState, id: Guid) -> Result<RoleReport, AppError> {
    let id = id.to_string();
    let summary = summary(state, &id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "privileged-role report".into(),
        })?;
    let rows = sqlx::query(
        "SELECT customer_tenant_id, organization_display_name, status, error, correlation_id
         FROM role_report_customers WHERE report_id = $1",
    )
    .bind(&id)
    .fetch_all(&state.storage.pool)
    .await?;
    let holders: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT customer_tenant_id, role_name, display_name, user_principal_name
         FROM role_report_holders WHERE report_id = $1
         ORDER BY customer_tenant_id, role_id, display_name",
    )
    .bind(&id)
    .fetch_all(&state.storage.pool)
    .await?;
    let mut by_customer: HashMap<String, Vec<ReportHolder>> = HashMap::new();
    for (customer, role_name, display_name, user_principal_name) in holders {
        by_customer.entry(customer).or_default().push(ReportHolder {
            role_name,
            display_name,
            user_principal_name,
        });
    }
    let role_order = |name: &str| {
        PRIVILEGED_ROLES
            .iter()
            .position(|(_, role)| *role == name)
            .unwrap_or(usize::MAX)
    };
    for holders in by_customer.values_mut() {
        holders.sort_by(|a, b| {
            role_order(&a.role_name)
                .cmp(&role_order(&b.role_name))
                .then_with(|| a.display_name.cmp(&b.display_name))
        });
    }
    let mut customers = rows
        .iter()
        .map(|row| {
            let tenant: String = row.try_get("customer_tenant_id")?;
            let status: String = row.try_get("status")?;
            Ok(ReportCustomer {
                holders: by_customer.remove(&tenant).unwrap_or_default(),
                customer_tenant_id: tenant,
                organization_display_name: row.try_get("organization_display_name")?,
                status: ItemStatus::parse(&status),
                error: row.try_get("error")?,
                correlation_id: row.try_get("correlation_id")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    customers.sort_by(|a, b| {
        (b.status == ItemStatus::Failed)
            .cmp(&(a.status == ItemStatus::Failed))
            .then_with(|| {
                a.organization_display_name
                    .to_lowercase()
                    .cmp(&b.organization_display_name.to_lowercase())
            })
    });
    Ok(RoleReport { summary, customers })
}
