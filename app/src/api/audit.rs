use crate::error::AppError;
use crate::model::audit::{AuditQuery, AuditRow};
use leptos::prelude::*;

/// The newest audit entries (at most 500) that match the filters.
#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn fetch_audit_log(query: AuditQuery) -> Result<Vec<AuditRow>, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, audit, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "audit-log").await?;
            audit::list(&state.storage, &query, 500).await
        }
        .await,
    )
}
