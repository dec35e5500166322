//! DAP-removal reviews. A review fixes the DAP customers of a filter; reviewers append remove or
//! keep decisions with a note, and (four-eyes) another admin approves each removal. Executing
//! the review starts a remove-DAP job over the removals that are ready. Decisions are never
//! changed or deleted: the latest counts and the rest is history.

use super::audit::{self, Entry};
use super::auth::SessionUser;
use super::clock::{format_time, now_ms, rfc3339_of_ms};
use super::customers::view;
use super::idempotency;
use super::jobs::create::{self as jobs, NewJob};
use super::state::AppState;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::customers::CustomerQuery;
use crate::model::gdap::Coverage;
use crate::model::jobs::JobKind;
use crate::model::reviews::{
    checked_note, Decision, DecisionRecord, Review, ReviewCustomer, ReviewSummary,
};
use sqlx::Row;
use std::collections::HashMap;
use time::OffsetDateTime;

const ROWS_PER_INSERT: usize = 100;
const LIST_LIMIT: i64 = 50;

fn not_found() -> AppError {
    AppError::NotFound {
        what: "DAP-removal review".into(),
    }
}

/// Starts a review over the customers of `filter` that have DAP (removing it from the others
/// would change nothing).
pub async fn start(
    state: &AppState,
    user: &SessionUser,
    filter: &CustomerQuery,
    title: &str,
) -> Result<Guid, AppError> {
    let snapshot = state.customers.current_or_sync(state, user).await?;
    let selected: Vec<_> = view::select(&snapshot, filter, OffsetDateTime::now_utc())
        .into_iter()
        .filter(|s| s.customer.dap_enabled)
        .collect();
    if selected.is_empty() {
        return Err(AppError::InvalidInput(
            "No customer with DAP matches this filter: there is nothing to review.".into(),
        ));
    }
    let id = Guid::new_v4();
    let mut scope = filter.clone();
    scope.page = 1;
    let scope = crate::urls::query_string(scope.to_pairs());
    let title = match title.trim() {
        "" => format!("DAP review of {}", OffsetDateTime::now_utc().date()),
        t => t.chars().take(200).collect(),
    };
    let mut tx = state.storage.pool.begin().await?;
    sqlx::query(
        "INSERT INTO reviews (id, title, started_by, started_at_ms, scope, four_eyes)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(&title)
    .bind(&user.upn)
    .bind(now_ms())
    .bind(&scope)
    .bind(i64::from(state.config.review_four_eyes))
    .execute(&mut *tx)
    .await?;
    for chunk in selected.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = |k: usize| format!("${}", 2 + i * 6 + k);
                let cells: Vec<String> = (0..6).map(p).collect();
                format!("($1, {})", cells.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO review_customers (review_id, customer_tenant_id,
             organization_display_name, dap_since, last_sign_in, gdap_coverage, gdap_reasons)
             VALUES {}",
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql).bind(id.to_string());
        for s in chunk {
            insert = insert
                .bind(s.customer.tenant_id.clone())
                .bind(s.customer.name.clone())
                .bind(s.customer.dap_since.map(format_time))
                .bind(s.customer.last_sign_in.map(format_time))
                .bind(s.customer.gdap.as_str())
                .bind(s.customer.gdap_reasons.clone());
        }
        insert.execute(&mut *tx).await?;
    }
    let entry = Entry::new(&user.upn, "start-review").target(format!(
        "review {id}: {} customers ({scope})",
        selected.len()
    ));
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    Ok(id)
}

/// Appends a decision (or an approval) for one customer of an open review.
pub async fn decide(
    state: &AppState,
    user: &SessionUser,
    review: Guid,
    customer: Guid,
    decision: Decision,
    note: &str,
    override_uncovered: bool,
) -> Result<(), AppError> {
    let loaded = load(state, review, user).await?;
    let asked = Asked {
        decision,
        note,
        override_uncovered,
    };
    decide_in(state, user, &loaded, review, customer, asked).await
}

/// One decision as asked for.
#[derive(Debug, Clone, Copy)]
struct Asked<'a> {
    decision: Decision,
    note: &'a str,
    override_uncovered: bool,
}

/// `decide` on a review already loaded (a bulk decision loads it once for all its customers).
async fn decide_in(
    state: &AppState,
    user: &SessionUser,
    loaded: &Review,
    review: Guid,
    customer: Guid,
    asked: Asked<'_>,
) -> Result<(), AppError> {
    let Asked {
        decision,
        note,
        override_uncovered,
    } = asked;
    let note = checked_note(note).map_err(AppError::InvalidInput)?;
    refuse_unless_open(&loaded.summary)?;
    let Some(row) = loaded
        .customers
        .iter()
        .find(|c| c.customer_tenant_id == customer.to_string())
    else {
        return Err(AppError::NotFound {
            what: "this customer in the review".into(),
        });
    };
    if let Some(job) = &row.executed_job_id {
        return Err(AppError::InvalidInput(format!(
            "DAP removal of {} has been executed (job {job}): its decision is final.",
            row.organization_display_name
        )));
    }
    refuse_removal_without_note(decision, note)?;
    let coverage = row.gdap;
    // Removing DAP where GDAP does not cover the customer can lock the partner out: only as a
    // deliberate, explained override.
    if decision == Decision::Remove
        && !coverage.is_safe()
        && (!override_uncovered || note.is_empty())
    {
        return Err(AppError::InvalidInput(format!(
            "GDAP coverage of this customer is {}: removing DAP may lock the partner out of it. \
             To remove it anyway, confirm the override and give the reason in the note.",
            coverage.label()
        )));
    }
    if decision == Decision::Approve && !loaded.summary.four_eyes {
        return Err(AppError::InvalidInput(
            "This review does not need approvals (the four-eyes rule is off).".into(),
        ));
    }
    let mut tx = state.storage.pool.begin().await?;
    let decision_id = Guid::new_v4().to_string();
    let now = now_ms();
    // A double click sends the same decision twice: the second is a repeat when the first is
    // still the latest word on the customer (read after the claim, which waits for a concurrent
    // first). The same words after another decision are a new decision.
    let key = idempotency::key(
        "review-decision",
        &[
            &user.user_key,
            &review.to_string(),
            &customer.to_string(),
            decision.as_str(),
            note,
            if override_uncovered { "override" } else { "" },
        ],
    );
    if let Some(earlier) = idempotency::claim(&mut tx, &key, &decision_id, now).await? {
        let latest: Option<String> = sqlx::query_scalar(
            "SELECT id FROM review_decisions WHERE review_id = $1 AND customer_tenant_id = $2
             ORDER BY decided_at_ms DESC, id DESC LIMIT 1",
        )
        .bind(review.to_string())
        .bind(customer.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if latest.as_deref() == Some(earlier.as_str()) {
            return Ok(());
        }
        idempotency::take_over(&mut tx, &key, &decision_id, now).await?;
    }
    // The approval is checked against the decision read in this transaction and names it: a
    // decision appended meanwhile is newer, and `settle` counts only approvals of the latest.
    let approves = if decision == Decision::Approve {
        let latest: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, decision, decided_by_key FROM review_decisions
             WHERE review_id = $1 AND customer_tenant_id = $2 AND decision <> 'approve'
             ORDER BY decided_at_ms DESC, id DESC LIMIT 1",
        )
        .bind(review.to_string())
        .bind(customer.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        match latest {
            Some((id, kind, by_key)) if kind == Decision::Remove.as_str() => {
                if by_key.as_deref() == Some(user.user_key.as_str()) {
                    return Err(AppError::Forbidden {
                        message: "A removal needs approval by a second, different admin: you decided it yourself.".into(),
                        correlation_id: None,
                    });
                }
                Some(id)
            }
            _ => {
                return Err(AppError::InvalidInput(
                    "Only a removal decision can be approved.".into(),
                ))
            }
        }
    } else {
        None
    };
    sqlx::query(
        "INSERT INTO review_decisions (id, review_id, customer_tenant_id, decision, note,
         decided_by, decided_at_ms, decided_by_key, approves_decision_id, coverage_at_decision)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&decision_id)
    .bind(review.to_string())
    .bind(customer.to_string())
    .bind(decision.as_str())
    .bind(note)
    .bind(&user.upn)
    .bind(now)
    .bind(&user.user_key)
    .bind(approves)
    .bind(coverage.as_str())
    .execute(&mut *tx)
    .await?;
    let entry = Entry::new(&user.upn, "review-decision")
        .customer(customer)
        .target(format!(
            "review {review}: {} (GDAP coverage {}{})",
            decision.as_str(),
            coverage.as_str(),
            if decision == Decision::Remove && !coverage.is_safe() {
                ", removal overridden"
            } else {
                ""
            }
        ));
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}

fn refuse_unless_open(review: &ReviewSummary) -> Result<(), AppError> {
    match &review.closed_by {
        None => Ok(()),
        Some(by) => Err(AppError::InvalidInput(format!(
            "This review was closed by {by}: its decisions are final."
        ))),
    }
}

/// A removal cannot be undone from the dashboard: the reviewer says why, for the approver and
/// the audit.
fn refuse_removal_without_note(decision: Decision, note: &str) -> Result<(), AppError> {
    if decision == Decision::Remove && note.trim().is_empty() {
        return Err(AppError::InvalidInput(
            "A removal needs a note: say why the partner no longer needs DAP here.".into(),
        ));
    }
    Ok(())
}

/// Which customers of a review a bulk decision is for.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These, ticked one by one.
    Customers(Vec<Guid>),
    /// Every customer of the review, or (`undecided_only`) every one without a decision yet.
    AllMatching { undecided_only: bool },
}

/// The same decision, with one note, for many customers of an open review. Refused whole, up
/// front, when a removal would reach a customer GDAP does not cover without the override (and
/// its reason); otherwise each is appended as its own decision with its own audit entry.
/// Approvals are given one by one. Returns how many were decided.
pub async fn decide_many(
    state: &AppState,
    user: &SessionUser,
    review: Guid,
    selection: Selection,
    decision: Decision,
    note: &str,
    override_uncovered: bool,
) -> Result<usize, AppError> {
    if decision == Decision::Approve {
        return Err(AppError::InvalidInput(
            "Approvals are given one customer at a time.".into(),
        ));
    }
    refuse_removal_without_note(decision, note)?;
    let loaded = load(state, review, user).await?;
    refuse_unless_open(&loaded.summary)?;
    let coverage: HashMap<&str, Coverage> = loaded
        .customers
        .iter()
        .map(|c| (c.customer_tenant_id.as_str(), c.gdap))
        .collect();
    let customers: Vec<Guid> = match selection {
        Selection::Customers(customers) => customers,
        // Executed customers are past deciding; "all" means all that can still be decided.
        Selection::AllMatching { undecided_only } => loaded
            .customers
            .iter()
            .filter(|c| c.executed_job_id.is_none())
            .filter(|c| !undecided_only || c.decision.is_none())
            .map(|c| Guid::parse(&c.customer_tenant_id))
            .collect::<Result<_, _>>()?,
    };
    if customers.is_empty() {
        return Err(AppError::InvalidInput(
            "No customer is selected: tick the customers to decide, or all of them.".into(),
        ));
    }
    let outside = customers
        .iter()
        .filter(|c| !coverage.contains_key(c.to_string().as_str()))
        .count();
    if outside > 0 {
        return Err(AppError::NotFound {
            what: format!(
                "{} of the selected customers in this review",
                crate::text::count(outside, "one", "some")
            ),
        });
    }
    let executed = loaded
        .customers
        .iter()
        .filter(|c| c.executed_job_id.is_some())
        .filter(|c| {
            customers
                .iter()
                .any(|t| t.to_string() == c.customer_tenant_id)
        })
        .count();
    if executed > 0 {
        return Err(AppError::InvalidInput(format!(
            "DAP removal of {} of the selected has been executed: those decisions are final. \
             Leave them out.",
            crate::text::count(executed, "customer", "customers")
        )));
    }
    let uncovered = customers
        .iter()
        .filter(|c| !coverage[c.to_string().as_str()].is_safe())
        .count();
    if decision == Decision::Remove
        && uncovered > 0
        && (!override_uncovered || note.trim().is_empty())
    {
        return Err(AppError::InvalidInput(format!(
            "{} of the selected are not covered by GDAP: removing DAP may lock the partner out \
             of them. Leave them out, or confirm the override and give the reason in the note.",
            crate::text::count(uncovered, "customer", "customers")
        )));
    }
    let asked = Asked {
        decision,
        note,
        override_uncovered,
    };
    for customer in &customers {
        decide_in(state, user, &loaded, review, *customer, asked).await?;
    }
    Ok(customers.len())
}

/// Starts the remove-DAP job over the removals that are ready and not executed yet. The review
/// stays open for the customers still undecided (or not yet approved) until an admin closes it.
pub async fn execute(
    state: &AppState,
    user: &SessionUser,
    id: Guid,
    confirmed: bool,
) -> Result<Guid, AppError> {
    let review = load(state, id, user).await?;
    refuse_unless_open(&review.summary)?;
    let customers = review
        .customers
        .iter()
        .filter(|c| c.will_be_removed)
        .map(|c| {
            Ok((
                Guid::parse(&c.customer_tenant_id)?,
                c.organization_display_name.clone(),
            ))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    if customers.is_empty() {
        return Err(AppError::InvalidInput(
            match (review.summary.executed, review.summary.four_eyes) {
                (0, true) => {
                    "No removal is approved yet: a second admin must approve each removal."
                }
                (0, false) => "No customer is marked for removal.",
                (_, true) => {
                    "Every approved removal has been executed already: nothing new to remove."
                }
                (_, false) => "Every removal has been executed already: nothing new to remove.",
            }
            .into(),
        ));
    }
    let removals = customers.len();
    let mut tx = state.storage.pool.begin().await?;
    let job = jobs::create_in(
        &mut tx,
        user,
        NewJob {
            kind: JobKind::RemoveDap,
            application: None,
            display_name: String::new(),
            grants: Vec::new(),
            scope: String::new(),
            review_id: Some(id),
            customers,
            retry_of: None,
            confirmed,
        },
    )
    .await?;
    // Each customer goes to one job only, even when two admins click at once: the job's items
    // claim their customers, and a customer claimed meanwhile fails the whole execution.
    let claimed = sqlx::query(
        "UPDATE review_customers SET executed_job_id = $1
         WHERE review_id = $2 AND executed_job_id IS NULL
         AND customer_tenant_id IN (SELECT customer_tenant_id FROM job_items WHERE job_id = $1)",
    )
    .bind(job.to_string())
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let still_open = sqlx::query(
        "UPDATE reviews SET executed_by = $1, executed_at_ms = $2, job_id = $3
         WHERE id = $4 AND closed_at_ms IS NULL",
    )
    .bind(&user.upn)
    .bind(now_ms())
    .bind(job.to_string())
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed != removals as u64 || still_open != 1 {
        return Err(AppError::InvalidInput(
            "This review has just been executed or closed by someone else: reload it.".into(),
        ));
    }
    let entry = Entry::new(&user.upn, "execute-review").target(format!(
        "review {id}: job {job} removes DAP from {}; {} undecided, the review stays open",
        crate::text::count(removals, "customer", "customers"),
        crate::text::thousands(review.summary.undecided()),
    ));
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(job)
}

/// Closes an open review deliberately: no decision or execution after that. The customers still
/// undecided keep DAP, and so do approved removals not executed yet; the confirmation says how
/// many.
pub async fn close(
    state: &AppState,
    user: &SessionUser,
    id: Guid,
    confirmed: bool,
    note: &str,
) -> Result<(), AppError> {
    let note = checked_note(note).map_err(AppError::InvalidInput)?;
    let review = load(state, id, user).await?;
    refuse_unless_open(&review.summary)?;
    let (undecided, ready) = (review.summary.undecided(), review.summary.ready);
    if !confirmed {
        return Err(AppError::InvalidInput(format!(
            "Closing the review leaves {} undecided and {} not executed, with DAP: confirm it (tick \
             the box) to close the review.",
            crate::text::count(undecided, "customer", "customers"),
            crate::text::count(ready, "ready removal", "ready removals"),
        )));
    }
    let mut tx = state.storage.pool.begin().await?;
    let closed = sqlx::query(
        "UPDATE reviews SET closed_by = $1, closed_at_ms = $2, close_note = $3
         WHERE id = $4 AND closed_at_ms IS NULL",
    )
    .bind(&user.upn)
    .bind(now_ms())
    .bind(note)
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if closed != 1 {
        return Err(AppError::InvalidInput(
            "This review has just been closed by someone else.".into(),
        ));
    }
    let entry = Entry::new(&user.upn, "close-review").target(format!(
        "review {id}: closed with {} undecided and {} not executed{}",
        crate::text::thousands(undecided),
        crate::text::count(ready, "ready removal", "ready removals"),
        if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        }
    ));
    audit::append(&mut *tx, &entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Of `customers` (failed items of a review's DAP-removal job), those whose removal still
/// stands: the latest decision is a removal and, under four-eyes, another admin approved that
/// very decision. A retry must not remove DAP on a decision that has since changed.
pub async fn still_ready(
    state: &AppState,
    viewer: &SessionUser,
    review: Guid,
    customers: Vec<(Guid, String)>,
) -> Result<Vec<(Guid, String)>, AppError> {
    let loaded = load(state, review, viewer).await?;
    let four_eyes = loaded.summary.four_eyes;
    let ready: std::collections::HashSet<&str> = loaded
        .customers
        .iter()
        .filter(|c| c.executed_job_id.is_some() && c.removal_stands(four_eyes))
        .map(|c| c.customer_tenant_id.as_str())
        .collect();
    Ok(customers
        .into_iter()
        .filter(|(tenant, _)| ready.contains(tenant.to_string().as_str()))
        .collect())
}

/// The GDAP coverage the latest removal decision for `customer` in `review` was taken against.
pub async fn coverage_at_decision(
    state: &AppState,
    review: &str,
    customer: &str,
) -> Result<Option<Coverage>, AppError> {
    let coverage: Option<Option<String>> = sqlx::query_scalar(
        "SELECT coverage_at_decision FROM review_decisions
         WHERE review_id = $1 AND customer_tenant_id = $2 AND decision = 'remove'
         ORDER BY decided_at_ms DESC, id DESC LIMIT 1",
    )
    .bind(review)
    .bind(customer)
    .fetch_optional(&state.storage.pool)
    .await?;
    Ok(coverage.flatten().as_deref().and_then(Coverage::parse))
}

const SUMMARY_COLUMNS: &str = "id, title, started_by, started_at_ms, scope, four_eyes,
    executed_by, executed_at_ms, job_id, closed_by, closed_at_ms, close_note";

fn summary_of(row: &sqlx::any::AnyRow) -> Result<ReviewSummary, sqlx::Error> {
    let four_eyes: i64 = row.try_get("four_eyes")?;
    let executed_at: Option<i64> = row.try_get("executed_at_ms")?;
    let closed_at: Option<i64> = row.try_get("closed_at_ms")?;
    Ok(ReviewSummary {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        started_by: row.try_get("started_by")?,
        started_at: rfc3339_of_ms(row.try_get("started_at_ms")?),
        scope_description: crate::api::customer_filter(&row.try_get::<String, _>("scope")?)
            .describe(),
        scope: row.try_get("scope")?,
        four_eyes: four_eyes != 0,
        customers: 0,
        decided: 0,
        removals: 0,
        ready: 0,
        executed: 0,
        executed_by: row.try_get("executed_by")?,
        executed_at: executed_at.map(rfc3339_of_ms),
        job_id: row.try_get("job_id")?,
        closed_by: row.try_get("closed_by")?,
        closed_at: closed_at.map(rfc3339_of_ms),
        close_note: row.try_get("close_note")?,
    })
}

/// One stored decision with the identities the four-eyes rule compares (never sent out).
#[derive(Debug, Clone)]
struct StoredDecision {
    id: String,
    record: DecisionRecord,
    /// `tenant:object-id` of the admin; None on rows older than identities.
    by_key: Option<String>,
    /// The decision an approval approves.
    approves: Option<String>,
}

/// The current decision, approval and readiness of one customer from its history. An approval
/// counts only when it names the latest decision and comes from another identity.
fn settle(
    history: &[StoredDecision],
    four_eyes: bool,
) -> (Option<DecisionRecord>, Option<DecisionRecord>, bool) {
    let latest = history
        .iter()
        .rposition(|d| d.record.decision != Decision::Approve);
    let Some(index) = latest else {
        return (None, None, false);
    };
    let decision = &history[index];
    let approval = history[index + 1..]
        .iter()
        .find(|d| {
            d.record.decision == Decision::Approve
                && d.approves.as_deref() == Some(decision.id.as_str())
                && d.by_key.is_some()
                && decision.by_key.is_some()
                && d.by_key != decision.by_key
        })
        .map(|d| d.record.clone());
    let ready = decision.record.decision == Decision::Remove && (!four_eyes || approval.is_some());
    (Some(decision.record.clone()), approval, ready)
}

pub async fn load(state: &AppState, id: Guid, viewer: &SessionUser) -> Result<Review, AppError> {
    let row = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM reviews WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(&state.storage.pool)
    .await?
    .ok_or_else(not_found)?;
    let mut summary = summary_of(&row)?;
    type CustomerRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let customers: Vec<CustomerRow> = sqlx::query_as(
        "SELECT customer_tenant_id, organization_display_name, dap_since, last_sign_in,
         gdap_coverage, gdap_reasons, executed_job_id
         FROM review_customers WHERE review_id = $1 ORDER BY organization_display_name",
    )
    .bind(id.to_string())
    .fetch_all(&state.storage.pool)
    .await?;
    type DecisionRow = (
        String,
        String,
        String,
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let decisions: Vec<DecisionRow> = sqlx::query_as(
        "SELECT id, customer_tenant_id, decision, note, decided_by, decided_at_ms,
         decided_by_key, approves_decision_id, coverage_at_decision
         FROM review_decisions WHERE review_id = $1 ORDER BY decided_at_ms, id",
    )
    .bind(id.to_string())
    .fetch_all(&state.storage.pool)
    .await?;
    let mut history: HashMap<String, Vec<StoredDecision>> = HashMap::new();
    for (decision_id, customer, decision, note, decided_by, at, by_key, approves, coverage) in
        decisions
    {
        if let Some(decision) = Decision::parse(&decision) {
            let by_viewer = by_key.as_deref() == Some(viewer.user_key.as_str());
            history.entry(customer).or_default().push(StoredDecision {
                id: decision_id,
                record: DecisionRecord {
                    decision,
                    note,
                    decided_by,
                    decided_at: rfc3339_of_ms(at),
                    by_viewer,
                    coverage: coverage.as_deref().and_then(Coverage::parse),
                },
                by_key,
                approves,
            });
        }
    }
    let customers: Vec<ReviewCustomer> = customers
        .into_iter()
        .map(
            |(tenant, name, dap_since, last_sign_in, gdap, gdap_reasons, executed_job_id)| {
                let history = history.remove(&tenant).unwrap_or_default();
                let (decision, approval, ready) = settle(&history, summary.four_eyes);
                let will_be_removed = ready && executed_job_id.is_none();
                let history = history.into_iter().map(|d| d.record).collect();
                ReviewCustomer {
                    customer_tenant_id: tenant,
                    organization_display_name: name,
                    dap_since,
                    last_sign_in,
                    decision,
                    approval,
                    will_be_removed,
                    executed_job_id,
                    history,
                    gdap: gdap
                        .as_deref()
                        .and_then(Coverage::parse)
                        .unwrap_or(Coverage::Unknown),
                    gdap_reasons: gdap_reasons.unwrap_or_default(),
                }
            },
        )
        .collect();
    summary.customers = customers.len();
    summary.decided = customers.iter().filter(|c| c.decision.is_some()).count();
    summary.removals = customers
        .iter()
        .filter(|c| {
            c.decision
                .as_ref()
                .is_some_and(|d| d.decision == Decision::Remove)
        })
        .count();
    summary.ready = customers.iter().filter(|c| c.will_be_removed).count();
    summary.executed = customers
        .iter()
        .filter(|c| c.executed_job_id.is_some())
        .count();
    Ok(Review {
        summary,
        viewer_can_operate: viewer.permissions().operate,
        viewer_can_approve: viewer.permissions().approve,
        customers,
    })
}

pub async fn list(state: &AppState) -> Result<Vec<ReviewSummary>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM reviews ORDER BY started_at_ms DESC LIMIT $1"
    ))
    .bind(LIST_LIMIT)
    .fetch_all(&state.storage.pool)
    .await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT review_id, COUNT(*) FROM review_customers WHERE review_id IN
         (SELECT id FROM reviews ORDER BY started_at_ms DESC LIMIT $1) GROUP BY review_id",
    )
    .bind(LIST_LIMIT)
    .fetch_all(&state.storage.pool)
    .await?;
    let counts: HashMap<String, i64> = counts.into_iter().collect();
    let summaries = rows
        .iter()
        .map(|row| {
            let mut summary = summary_of(row)?;
            summary.customers =
                usize::try_from(counts.get(&summary.id).copied().unwrap_or(0)).unwrap_or_default();
            Ok(summary)
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{Approve, Keep, Remove};

    /// A history where each approval names the latest decision before it, decided by `key`
    /// (the admin's identity) under the name `upn`.
    fn history(steps: &[(Decision, &str, &str)]) -> Vec<StoredDecision> {
        let mut out: Vec<StoredDecision> = Vec::new();
        for (i, (decision, key, upn)) in steps.iter().enumerate() {
            let approves = (*decision == Approve)
                .then(|| out.iter().rev().find(|d| d.record.decision != Approve))
                .flatten()
                .map(|d| d.id.clone());
            out.push(StoredDecision {
                id: format!("d{i}"),
                record: DecisionRecord {
                    decision: *decision,
                    note: String::new(),
                    decided_by: (*upn).into(),
                    decided_at: String::new(),
                    by_viewer: false,
                    coverage: None,
                },
                by_key: Some((*key).into()),
                approves,
            });
        }
        out
    }

    fn ready(steps: &[(Decision, &str, &str)], four_eyes: bool) -> bool {
        settle(&history(steps), four_eyes).2
    }

    #[test]
    fn a_removal_is_ready_only_with_another_admins_later_approval() {
        assert!(!ready(&[], true));
        assert!(ready(&[(Remove, "a", "a")], false));
        assert!(!ready(&[(Remove, "a", "a")], true));
        assert!(!ready(&[(Remove, "a", "a"), (Approve, "a", "a")], true));
        assert!(ready(&[(Remove, "a", "a"), (Approve, "b", "b")], true));
        // A later change of mind voids the earlier approval.
        assert!(!ready(
            &[(Remove, "a", "a"), (Approve, "b", "b"), (Keep, "c", "c")],
            true
        ));
        assert!(!ready(
            &[(Remove, "a", "a"), (Approve, "b", "b"), (Remove, "c", "c")],
            true
        ));
        let (decision, approval, _) = settle(
            &history(&[(Keep, "a", "a"), (Remove, "b", "b"), (Approve, "c", "c")]),
            true,
        );
        assert_eq!(decision.map(|d| d.decided_by), Some("b".into()));
        assert_eq!(approval.map(|d| d.decided_by), Some("c".into()));
    }

    #[test]
    fn the_same_identity_under_another_name_is_not_a_second_admin() {
        assert!(!ready(
            &[
                (Remove, "tenant:avery", "avery@old"),
                (Approve, "tenant:avery", "avery@new")
            ],
            true
        ));
    }

    #[test]
    fn an_approval_counts_only_for_the_decision_it_names() {
        let mut steps = history(&[(Remove, "a", "a"), (Approve, "b", "b")]);
        steps[1].approves = Some("an-older-decision".into());
        assert!(!settle(&steps, true).2);
        steps[1].approves = None;
        assert!(!settle(&steps, true).2);
    }

    #[test]
    fn rows_without_identities_never_make_a_removal_ready() {
        let mut steps = history(&[(Remove, "a", "a"), (Approve, "b", "b")]);
        steps[1].by_key = None;
        assert!(!settle(&steps, true).2);
        let mut steps = history(&[(Remove, "a", "a"), (Approve, "b", "b")]);
        steps[0].by_key = None;
        assert!(!settle(&steps, true).2);
    }
}
