//! A new job: validated, stored with its items (each with its own MS-RequestId) and its start
//! audited in one transaction. Apart from the rest of `jobs`, which reads reviews, so a review's
//! execution can create its job without the two depending on each other.

use crate::error::AppError;
use crate::ids::Guid;
use crate::model::consent::Grant;
use crate::model::jobs::JobKind;
use crate::ssr::audit::{self, Entry};
use crate::ssr::auth::SessionUser;
use crate::ssr::clock::now_ms;
use crate::ssr::idempotency;
use crate::ssr::state::AppState;

/// Rows per INSERT when a job is created (6 parameters each).
const ROWS_PER_INSERT: usize = 100;
/// What a new job does and to whom.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: JobKind,
    /// Consent jobs: the CPV application.
    pub application: Option<Guid>,
    pub display_name: String,
    /// Grant jobs: what is granted.
    pub grants: Vec<Grant>,
    /// The customers filter (query string) it was started from.
    pub scope: String,
    pub review_id: Option<Guid>,
    /// Customer tenant id and organisation name, in the order they run.
    pub customers: Vec<(Guid, String)>,
    /// The job whose failures this one retries: a retry right after the start is not a repeat.
    pub retry_of: Option<Guid>,
    /// The admin confirmed the count and the consequence (a mass write is never started by a
    /// stray click or a replayed post).
    pub confirmed: bool,
}

impl NewJob {
    fn validate(&self) -> Result<(), AppError> {
        if self.customers.is_empty() {
            return Err(AppError::InvalidInput(
                "No customer is selected: the job would do nothing.".into(),
            ));
        }
        if !self.confirmed {
            return Err(AppError::InvalidInput(format!(
                "{} in {}: confirm it (tick the box naming the count) to start the job.",
                self.kind.title(),
                crate::text::count(self.customers.len(), "customer", "customers")
            )));
        }
        match self.kind {
            JobKind::GrantConsent | JobKind::RevokeConsent if self.application.is_none() => Err(
                AppError::InvalidInput("Consent jobs need the CPV application id.".into()),
            ),
            JobKind::GrantConsent if self.grants.is_empty() => {
                Err(AppError::InvalidInput("Choose at least one grant.".into()))
            }
            _ => {
                for grant in &self.grants {
                    Guid::parse(&grant.enterprise_application_id)?;
                }
                Ok(())
            }
        }
    }
}

/// Stores a job with its items (each with its own MS-RequestId) and wakes the runner. The audit
/// entry for the start is written in the same transaction.
pub async fn create(state: &AppState, user: &SessionUser, job: NewJob) -> Result<Guid, AppError> {
    let mut tx = state.storage.pool.begin().await?;
    let id = create_in(&mut tx, user, job).await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(id)
}

/// `create` inside the caller's transaction (a review's execution records the job with it);
/// the caller wakes the runner after committing.
pub async fn create_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: &SessionUser,
    job: NewJob,
) -> Result<Guid, AppError> {
    job.validate()?;
    let id = Guid::new_v4();
    let grants_json = serde_json::to_string(&job.grants)
        .map_err(|e| AppError::Internal(format!("grants could not be stored: {e}")))?;
    // The same admin starting the same job over the same customers again within moments (a
    // double click) gets the job the first start created.
    let mut customers: Vec<String> = job.customers.iter().map(|(c, _)| c.to_string()).collect();
    customers.sort_unstable();
    let key = idempotency::key(
        "start-job",
        &[
            &user.user_key,
            job.kind.as_str(),
            &job.application.map(|a| a.to_string()).unwrap_or_default(),
            &job.display_name,
            &grants_json,
            &job.review_id.map(|r| r.to_string()).unwrap_or_default(),
            &job.retry_of.map(|r| r.to_string()).unwrap_or_default(),
            &customers.join(","),
        ],
    );
    if let Some(earlier) = idempotency::claim(tx, &key, &id.to_string(), now_ms()).await? {
        return Guid::parse(&earlier);
    }
    sqlx::query(
        "INSERT INTO jobs (id, kind, started_by, started_by_key, created_at_ms, correlation_id,
         application_id, display_name, grants_json, review_id, scope)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id.to_string())
    .bind(job.kind.as_str())
    .bind(&user.upn)
    .bind(&user.user_key)
    .bind(now_ms())
    .bind(Guid::new_v4().to_string())
    .bind(job.application.map(|a| a.to_string()))
    .bind(&job.display_name)
    .bind(&grants_json)
    .bind(job.review_id.map(|r| r.to_string()))
    .bind(&job.scope)
    .execute(&mut **tx)
    .await?;
    let mut position = 0i64;
    for chunk in job.customers.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = |k: usize| format!("${}", 2 + i * 4 + k);
                format!("($1, {}, {}, {}, {}, 'pending', 0)", p(0), p(1), p(2), p(3))
            })
            .collect();
        let sql = format!(
            "INSERT INTO job_items (job_id, position, customer_tenant_id,
             organization_display_name, request_id, status, attempts) VALUES {}",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql).bind(id.to_string());
        for (tenant, name) in chunk {
            insert = insert
                .bind(position)
                .bind(tenant.to_string())
                .bind(name.clone())
                .bind(Guid::new_v4().to_string());
            position += 1;
        }
        insert.execute(&mut **tx).await.map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                AppError::InvalidInput("The selection names a customer twice.".into())
            }
            _ => AppError::from(e),
        })?;
    }
    let target = match job.application {
        Some(application) => format!("job {id}: application {application}"),
        None => format!("job {id}"),
    };
    let entry = Entry::new(&user.upn, "start-job").target(format!(
        "{target}, {} ({} customers)",
        job.kind.as_str(),
        job.customers.len()
    ));
    audit::append(&mut **tx, &entry).await?;
    Ok(id)
}
