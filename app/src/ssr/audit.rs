//! The append-only audit log. `append` writes an entry; it takes any executor, so an entry can
//! be written in the same transaction as the state it describes. There is no delete, and one
//! update only: a one-off write to Partner Center is recorded as an attempt (`begin`) before the
//! call and that same row is completed (`complete`) after it, once, from "attempted" to its
//! outcome. A crash in between leaves the attempt in the log, saying the outcome is unknown.

use super::partner_center::{CallIds, UpstreamError};
use super::storage::Storage;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::audit::{AuditPage, AuditQuery, AuditRow};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// The service or the dashboard refused it (403, a missing confirmation...).
    Refused,
    Failed,
    /// Sent (or about to be) and not completed yet: after a crash, the outcome is unknown.
    Attempted,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Attempted => "attempted",
        }
    }
}

/// One entry. `actor_upn` always comes from the verified id token (the session), never from
/// the request.
#[derive(Debug, Clone)]
pub struct Entry {
    pub actor_upn: String,
    pub action: &'static str,
    pub customer_tenant_id: Option<String>,
    pub target: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub upstream_status: Option<u16>,
    pub outcome: Outcome,
    pub error: Option<String>,
}

impl Entry {
    pub fn new(actor_upn: &str, action: &'static str) -> Self {
        Entry {
            actor_upn: actor_upn.to_string(),
            action,
            customer_tenant_id: None,
            target: None,
            request_id: None,
            correlation_id: None,
            upstream_status: None,
            outcome: Outcome::Succeeded,
            error: None,
        }
    }

    pub fn customer(mut self, customer: Guid) -> Self {
        self.customer_tenant_id = Some(customer.to_string());
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn call(mut self, ids: &CallIds) -> Self {
        self.request_id = Some(ids.request_id.to_string());
        self.correlation_id = Some(ids.correlation_id.to_string());
        self
    }

    /// Records how an upstream call ended.
    pub fn result<T>(mut self, result: &Result<T, UpstreamError>, success_status: u16) -> Self {
        match result {
            Ok(_) => {
                self.upstream_status = Some(success_status);
                self.outcome = Outcome::Succeeded;
            }
            Err(error) => {
                self.upstream_status = error.status();
                self.outcome = if matches!(error.status(), Some(401 | 403)) {
                    Outcome::Refused
                } else {
                    Outcome::Failed
                };
                self.error = Some(error.to_string());
            }
        }
        self
    }

    /// The call failed in a way that leaves the asked-for state (e.g. "already exists").
    pub fn succeeded_with_note(mut self, note: &str) -> Self {
        self.outcome = Outcome::Succeeded;
        self.error = Some(format!("{note}: {}", self.error.take().unwrap_or_default()));
        self
    }

    pub fn failed(mut self, reason: impl Into<String>) -> Self {
        self.outcome = Outcome::Failed;
        self.error = Some(reason.into());
        self
    }

    pub fn refused(mut self, reason: impl Into<String>) -> Self {
        self.outcome = Outcome::Refused;
        self.error = Some(reason.into());
        self
    }
}

pub async fn append<'e, E>(executor: E, entry: &Entry) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    insert(executor, &Guid::new_v4().to_string(), entry).await
}

/// The row of an attempt written before an upstream call, to be completed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    id: String,
}

/// What an attempt row says until it is completed (and forever, after a crash).
pub const ATTEMPT_NOTE: &str =
    "attempted, outcome unknown: the call was sent to Partner Center and its answer was not recorded";

/// Writes `entry` as an attempt, before its upstream call, and returns the row to complete.
pub async fn begin<'e, E>(executor: E, entry: &Entry) -> Result<Attempt, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut attempt = entry.clone();
    attempt.outcome = Outcome::Attempted;
    attempt.upstream_status = None;
    attempt.error = Some(ATTEMPT_NOTE.to_string());
    let id = Guid::new_v4().to_string();
    insert(executor, &id, &attempt).await?;
    Ok(Attempt { id })
}

/// Completes an attempt with how the call ended: the one update of the audit log, and only of
/// a row still "attempted" (a completed entry never changes). Should the row not be found, the
/// outcome is appended as an entry of its own, so it is not lost.
pub async fn complete(
    conn: &mut sqlx::AnyConnection,
    attempt: &Attempt,
    entry: &Entry,
) -> Result<(), sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE audit_log SET target = $1, request_id = $2, correlation_id = $3,
             upstream_status = $4, outcome = $5, error = $6
         WHERE id = $7 AND outcome = 'attempted'",
    )
    .bind(entry.target.clone())
    .bind(entry.request_id.clone())
    .bind(entry.correlation_id.clone())
    .bind(entry.upstream_status.map(i64::from))
    .bind(entry.outcome.as_str())
    .bind(entry.error.clone())
    .bind(&attempt.id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        append(&mut *conn, entry).await?;
    }
    Ok(())
}

/// `begin` on its own, failing the operation when the attempt cannot be recorded: nothing is
/// sent that the log would not show.
pub async fn record_attempt(storage: &Storage, entry: &Entry) -> Result<Attempt, AppError> {
    begin(&storage.pool, entry).await.map_err(|e| {
        tracing::error!(action = entry.action, error = %e, "audit attempt could not be written");
        AppError::Internal(format!(
            "nothing was sent: the audit entry of the attempt could not be written: {e}"
        ))
    })
}

/// `complete` on its own; a failure fails the operation's response (the write upstream has
/// happened or not, as the error says).
pub async fn record_completion(
    storage: &Storage,
    attempt: &Attempt,
    entry: &Entry,
) -> Result<(), AppError> {
    let completed = async {
        let mut conn = storage.pool.acquire().await?;
        complete(&mut conn, attempt, entry).await
    };
    completed.await.map_err(|e| {
        tracing::error!(action = entry.action, error = %e, "audit entry could not be completed");
        AppError::Internal(format!(
            "the action was sent, but its audit entry could not be completed: {e}"
        ))
    })
}

async fn insert<'e, E>(executor: E, id: &str, entry: &Entry) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let at_ms = super::clock::now_ms();
    sqlx::query(
        "INSERT INTO audit_log (id, at_ms, actor_upn, action, customer_tenant_id, target,
         request_id, correlation_id, upstream_status, outcome, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(at_ms)
    .bind(&entry.actor_upn)
    .bind(entry.action)
    .bind(entry.customer_tenant_id.clone())
    .bind(entry.target.clone())
    .bind(entry.request_id.clone())
    .bind(entry.correlation_id.clone())
    .bind(entry.upstream_status.map(i64::from))
    .bind(entry.outcome.as_str())
    .bind(entry.error.clone())
    .execute(executor)
    .await
    .map(|_| ())
}

/// Appends on its own; a failure to audit fails the operation's response (the write upstream
/// may have happened, so the error says so).
pub async fn record(storage: &Storage, entry: &Entry) -> Result<(), AppError> {
    append(&storage.pool, entry).await.map_err(|e| {
        tracing::error!(action = entry.action, error = %e, "audit entry could not be written");
        AppError::Internal(format!(
            "the action was sent, but its audit entry could not be written: {e}"
        ))
    })
}

/// The filters of `query` as SQL over `audit_log a` joined to the current snapshot's customer
/// names (`sc`), with their binds from `$1`; the cursor is left out.
fn filtered(query: &AuditQuery) -> (String, Vec<Option<String>>, Vec<Option<i64>>) {
    let like = |v: &str| format!("%{}%", v.to_lowercase());
    let (from, to) = query.range_ms();
    let text = vec![
        Some(like(&query.actor)),
        Some(like(&query.action)),
        Some(like(&query.customer)),
        (!query.outcome.is_empty()).then(|| query.outcome.clone()),
    ];
    let sql = "FROM audit_log a
         LEFT JOIN snapshot_customers sc ON sc.customer_tenant_id = a.customer_tenant_id
           AND sc.snapshot_id = (SELECT id FROM customer_snapshots ORDER BY synced_at_ms DESC LIMIT 1)
         WHERE LOWER(a.actor_upn) LIKE $1 AND LOWER(a.action) LIKE $2
           AND (LOWER(COALESCE(a.customer_tenant_id, '')) LIKE $3
                OR LOWER(COALESCE(sc.organization_display_name, '')) LIKE $3)
           AND ($4 IS NULL OR a.outcome = $4)
           AND ($5 IS NULL OR a.at_ms >= $5) AND ($6 IS NULL OR a.at_ms < $6)"
        .to_string();
    (sql, text, vec![from, to])
}

/// `sql` with the filters' binds ($1..$6) in place.
fn with_filters<'q>(
    sql: &'q str,
    text: &[Option<String>],
    range: &[Option<i64>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut query = sqlx::query(sql);
    for value in text {
        query = query.bind(value.clone());
    }
    for value in range {
        query = query.bind(*value);
    }
    query
}

/// One page of the entries matching `query`, newest first, from its cursor on, with where it
/// stands among them: keyset paging, so a page costs the same however deep it is.
pub async fn page(
    storage: &Storage,
    query: &AuditQuery,
    size: usize,
) -> Result<AuditPage, AppError> {
    let (filters, text, range) = filtered(query);
    let cursor = query.cursor();
    let newer_than_cursor = "(a.at_ms > $7 OR (a.at_ms = $7 AND a.id >= $8))";
    let older_than_cursor = "(a.at_ms < $7 OR (a.at_ms = $7 AND a.id < $8))";
    let (cursor_at, cursor_id) = cursor.clone().unwrap_or((i64::MAX, String::new()));
    let counts_sql = format!(
        "SELECT COUNT(*) AS total,
                COALESCE(SUM(CASE WHEN {newer_than_cursor} THEN 1 ELSE 0 END), 0) AS skipped
         {filters}"
    );
    let counts = with_filters(&counts_sql, &text, &range)
        .bind(cursor_at)
        .bind(&cursor_id)
        .fetch_one(&storage.pool)
        .await?;
    let total: i64 = counts.try_get("total")?;
    let skipped: i64 = if cursor.is_some() {
        counts.try_get("skipped")?
    } else {
        0
    };
    let page_sql = format!(
        "SELECT a.id, a.at_ms, a.actor_upn, a.action, a.customer_tenant_id,
                sc.organization_display_name, a.target, a.request_id, a.correlation_id,
                a.upstream_status, a.outcome, a.error
         {filters} AND {older_than_cursor}
         ORDER BY a.at_ms DESC, a.id DESC
         LIMIT $9"
    );
    let rows = with_filters(&page_sql, &text, &range)
        .bind(cursor_at)
        .bind(&cursor_id)
        .bind(i64::try_from(size + 1).unwrap_or(i64::MAX))
        .fetch_all(&storage.pool)
        .await?;
    let mut rows = rows.iter().map(row_of).collect::<Result<Vec<_>, _>>()?;
    let older = (rows.len() > size).then(|| {
        rows.truncate(size);
        rows.last()
            .map(|(at_ms, row)| format!("{at_ms}.{}", row.id))
    });
    Ok(AuditPage {
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        total: usize::try_from(total).unwrap_or_default(),
        first: usize::try_from(skipped).unwrap_or_default() + 1,
        older: older.flatten(),
    })
}

/// Every entry matching `query` (its cursor ignored), newest first, for the export.
pub async fn list_all(storage: &Storage, query: &AuditQuery) -> Result<Vec<AuditRow>, AppError> {
    let query = query.from_newest();
    let (filters, text, range) = filtered(&query);
    let sql = format!(
        "SELECT a.id, a.at_ms, a.actor_upn, a.action, a.customer_tenant_id,
                sc.organization_display_name, a.target, a.request_id, a.correlation_id,
                a.upstream_status, a.outcome, a.error
         {filters}
         ORDER BY a.at_ms DESC, a.id DESC"
    );
    let rows = with_filters(&sql, &text, &range)
        .fetch_all(&storage.pool)
        .await?;
    let entries = rows
        .iter()
        .map(|row| row_of(row).map(|(_, row)| row))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(entries)
}

fn row_of(row: &sqlx::any::AnyRow) -> Result<(i64, AuditRow), sqlx::Error> {
    let at_ms: i64 = row.try_get("at_ms")?;
    let status: Option<i64> = row.try_get("upstream_status")?;
    Ok((
        at_ms,
        AuditRow {
            id: row.try_get("id")?,
            at: super::clock::rfc3339_of_ms(at_ms),
            actor_upn: row.try_get("actor_upn")?,
            action: row.try_get("action")?,
            customer_tenant_id: row.try_get("customer_tenant_id")?,
            customer_name: row.try_get("organization_display_name")?,
            target: row.try_get("target")?,
            request_id: row.try_get("request_id")?,
            correlation_id: row.try_get("correlation_id")?,
            upstream_status: status.and_then(|s| u16::try_from(s).ok()),
            outcome: row.try_get("outcome")?,
            error: row.try_get("error")?,
        },
    ))
}
