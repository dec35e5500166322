use crate::error::AppError;
use crate::model::reports::{ReportSummary, RoleReport};
use leptos::prelude::*;

/// Starts a privileged-role report over the customers that pass `filter` (a customers-view query
/// string; empty means every customer) and goes to its page.
#[server(prefix = "/api", endpoint = "start_role_report")]
pub async fn start_role_report(filter: String) -> Result<String, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, reports, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "start-role-report").await?;
            let query = super::customer_filter(&filter);
            let id = reports::start(&state, &user, &query).await?;
            leptos_axum::redirect(&format!("/reports/{id}"));
            Ok(id)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "role_report")]
pub async fn fetch_role_report(id: String) -> Result<RoleReport, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::ssr::{access, reports, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "role-report").await?;
            let id = Guid::parse(&id).map_err(|_| AppError::NotFound {
                what: "privileged-role report".into(),
            })?;
            reports::load(&state, id).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "role_reports")]
pub async fn fetch_role_reports() -> Result<Vec<ReportSummary>, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, reports, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "role-reports").await?;
            reports::list(&state).await
        }
        .await,
    )
}
