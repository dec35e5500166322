//! `/jobs/{id}.json` and `/jobs/{id}/export.csv`. The router cannot put a suffix after a path
//! parameter, and `/jobs/{id}` is the job's page, so the JSON is served by a middleware that
//! answers only that exact shape of path.

use super::csv::{csv_response, encode, error_response};
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::access::Permission;
use crate::model::jobs::Job;
use crate::ssr::access::{self, Reader};
use crate::ssr::state::AppState;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/jobs/{id}/export.csv", axum::routing::get(export_csv))
}

async fn readable_job(state: &AppState, session: &Session, id: &str) -> Result<Job, AppError> {
    let user = crate::ssr::auth::session_user(session)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    access::authorize(state, user, Permission::Read, "export-job").await?;
    read_job(state, id).await
}

async fn read_job(state: &AppState, id: &str) -> Result<Job, AppError> {
    let id = Guid::parse(id).map_err(|_| AppError::NotFound { what: "job".into() })?;
    crate::ssr::jobs::load(state, id).await
}

/// Answers `GET /jobs/{id}.json`; every other request goes on.
pub async fn json_middleware(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let id = request
        .uri()
        .path()
        .strip_prefix("/jobs/")
        .and_then(|rest| rest.strip_suffix(".json"))
        .filter(|id| !id.contains('/'))
        .map(str::to_string);
    match id {
        Some(id) if request.method() == http::Method::GET => {
            match readable_job(&state, &session, &id).await {
                Ok(job) => {
                    ([(http::header::CACHE_CONTROL, "no-store")], axum::Json(job)).into_response()
                }
                Err(error) => {
                    let error = crate::ssr::for_browser(error);
                    let status = http::StatusCode::from_u16(error.status_code())
                        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                    (status, axum::Json(error)).into_response()
                }
            }
        }
        _ => next.run(request).await,
    }
}

pub const CSV_HEADER: [&str; 8] = [
    "Organisation",
    "Customer tenant id",
    "Status",
    "Attempts",
    "Upstream status",
    "Detail",
    "MS-RequestId",
    "Finished",
];

async fn export_csv(
    State(state): State<AppState>,
    _reader: Reader,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let job = read_job(&state, &id).await?;
        let rows = job.items.iter().map(|item| {
            [
                item.organization_display_name.clone(),
                item.customer_tenant_id.clone(),
                item.status.as_str().to_string(),
                item.attempts.to_string(),
                item.upstream_status
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                item.detail.as_deref().unwrap_or_default().to_string(),
                item.request_id.clone(),
                item.finished_at.clone().unwrap_or_default(),
            ]
        });
        let header = std::iter::once(CSV_HEADER.map(String::from));
        let bytes = encode(header.chain(rows))
            .map_err(|e| AppError::Internal(format!("CSV encoding failed: {e}")))?;
        Ok::<_, AppError>(csv_response(
            &format!("job-{}-{}.csv", job.summary.kind.as_str(), job.summary.id),
            axum::body::Body::from(bytes),
        ))
    }
    .await;
    result.unwrap_or_else(|error| error_response(&error))
}
