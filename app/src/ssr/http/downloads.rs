//! The CSV downloads of the audit log, a DAP-removal review and a privileged-role report. Each
//! handler checks who asks (`Reader`), reads through its domain module, and writes RFC 4180
//! with formula-looking cells neutralised.

use super::csv::{csv_response, encode, error_response};
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::audit::AuditQuery;
use crate::model::reports::RoleReport;
use crate::ssr::access::Reader;
use crate::ssr::state::AppState;
use crate::ssr::{audit, reports, reviews};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit/export.csv", get(audit_csv))
        .route("/reviews/{id}/export.csv", get(review_csv))
        .route("/reports/{id}/export.csv", get(report_csv))
}

const AUDIT_HEADER: [&str; 11] = [
    "Time",
    "Actor",
    "Action",
    "Customer tenant id",
    "Customer",
    "Target",
    "MS-RequestId",
    "MS-CorrelationId",
    "Upstream status",
    "Outcome",
    "Error",
];

async fn audit_csv(
    State(state): State<AppState>,
    _reader: Reader,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let query = AuditQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let rows = audit::list_all(&state.storage, &query).await?;
        let records = rows.into_iter().map(|r| {
            [
                r.at,
                r.actor_upn,
                r.action,
                r.customer_tenant_id.unwrap_or_default(),
                r.customer_name.unwrap_or_default(),
                r.target.unwrap_or_default(),
                r.request_id.unwrap_or_default(),
                r.correlation_id.unwrap_or_default(),
                r.upstream_status.map(|s| s.to_string()).unwrap_or_default(),
                r.outcome,
                r.error.unwrap_or_default(),
            ]
        });
        let bytes = encode(std::iter::once(AUDIT_HEADER.map(String::from)).chain(records))
            .map_err(|e| AppError::Internal(format!("CSV encoding failed: {e}")))?;
        Ok::<_, AppError>(csv_response("audit-log.csv", Body::from(bytes)))
    }
    .await;
    result.unwrap_or_else(|error| error_response(&error))
}

const REVIEW_HEADER: [&str; 12] = [
    "Organisation",
    "Customer tenant id",
    "DAP since",
    "Last partner sign-in",
    "Decision",
    "Note",
    "Decided by",
    "Decided at",
    "Approved by",
    "Approved at",
    "Removed by the review",
    "GDAP coverage at start",
];

async fn review_csv(
    State(state): State<AppState>,
    Reader(user): Reader,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = Guid::parse(&id).map_err(|_| AppError::NotFound {
            what: "DAP-removal review".into(),
        })?;
        let review = reviews::load(&state, id, &user).await?;
        let rows = review.customers.iter().map(|c| {
            let decision = c.decision.as_ref();
            let approval = c.approval.as_ref();
            [
                c.organization_display_name.clone(),
                c.customer_tenant_id.clone(),
                c.dap_since.clone().unwrap_or_default(),
                c.last_sign_in.clone().unwrap_or_default(),
                decision
                    .map(|d| d.decision.as_str().to_string())
                    .unwrap_or_default(),
                decision
                    .map(|d| d.note.as_str())
                    .unwrap_or_default()
                    .to_string(),
                decision.map(|d| d.decided_by.clone()).unwrap_or_default(),
                decision.map(|d| d.decided_at.clone()).unwrap_or_default(),
                approval.map(|d| d.decided_by.clone()).unwrap_or_default(),
                approval.map(|d| d.decided_at.clone()).unwrap_or_default(),
                if c.executed_job_id.is_some() {
                    "yes"
                } else {
                    "no"
                }
                .to_string(),
                c.gdap.as_str().to_string(),
            ]
        });
        let header = std::iter::once(REVIEW_HEADER.map(String::from));
        let bytes = encode(header.chain(rows))
            .map_err(|e| AppError::Internal(format!("CSV encoding failed: {e}")))?;
        Ok::<_, AppError>(csv_response(
            &format!("dap-review-{id}.csv"),
            Body::from(bytes),
        ))
    }
    .await;
    result.unwrap_or_else(|error| error_response(&error))
}

/// CSV rows of a report: one per role holder; a customer without holders, failed or pending
/// gets one row that says so.
fn report_rows(report: &RoleReport) -> Vec<[String; 7]> {
    let mut rows = Vec::new();
    for c in &report.customers {
        let base = |role: &str, name: &str, upn: &str| {
            [
                c.organization_display_name.clone(),
                c.customer_tenant_id.clone(),
                role.to_string(),
                name.to_string(),
                upn.to_string(),
                c.status.as_str().to_string(),
                c.error.clone().unwrap_or_default(),
            ]
        };
        if c.holders.is_empty() {
            rows.push(base("", "", ""));
        }
        for h in &c.holders {
            rows.push(base(&h.role_name, &h.display_name, &h.user_principal_name));
        }
    }
    rows
}

const REPORT_HEADER: [&str; 7] = [
    "Organisation",
    "Customer tenant id",
    "Role",
    "Holder",
    "Holder UPN",
    "Status",
    "Error",
];

async fn report_csv(
    State(state): State<AppState>,
    _reader: Reader,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = Guid::parse(&id).map_err(|_| AppError::NotFound {
            what: "privileged-role report".into(),
        })?;
        let report = reports::load(&state, id).await?;
        let header = std::iter::once(REPORT_HEADER.map(String::from));
        let bytes = encode(header.chain(report_rows(&report)))
            .map_err(|e| AppError::Internal(format!("CSV encoding failed: {e}")))?;
        Ok::<_, AppError>(csv_response(
            &format!(
                "privileged-roles-{}.csv",
                &report.summary.started_at[..10.min(report.summary.started_at.len())]
            ),
            Body::from(bytes),
        ))
    }
    .await;
    result.unwrap_or_else(|error| error_response(&error))
}
