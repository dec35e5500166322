use crate::error::AppError;
use crate::model::audit::{AuditPage, AuditQuery};
use leptos::prelude::*;

/// One page of the audit entries that match the filters, newest first from the query's cursor.
#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn fetch_audit_log(query: AuditQuery) -> Result<AuditPage, AppError> {
    use crate::model::access::Permission;
    use crate::model::audit::AUDIT_PAGE_SIZE;
    use crate::ssr::{access, audit, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "audit-log").await?;
            audit::page(&state.storage, &query, AUDIT_PAGE_SIZE).await
        }
        .await,
    )
}
