use crate::error::AppError;
use crate::model::customers::{CustomerQuery, CustomersView, SyncStatus};
use leptos::prelude::*;

/// The customers view for a query: filtered, sorted and paged on the server from the latest
/// snapshot (the first call ever syncs one with the admin's token).
#[server(prefix = "/api", endpoint = "customers_view")]
pub async fn fetch_customers_view(query: CustomerQuery) -> Result<CustomersView, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Read, "customers-view").await?;
            state.customers.view(&state, &user, &query).await
        }
        .await,
    )
}

/// Hides the customers page's "what to do first" for the signed-in admin.
#[server(prefix = "/api", endpoint = "hide_first_steps")]
pub async fn hide_first_steps() -> Result<(), AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, customers, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Read, "hide-first-steps").await?;
            customers::hide_first_steps(&state, &user).await
        }
        .await,
    )
}

/// Progress of a running sync, the last failure, and the snapshot in use.
#[server(prefix = "/api", endpoint = "sync_status")]
pub async fn fetch_sync_status() -> Result<SyncStatus, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "sync-status").await?;
            state.customers.sync_status(&state.storage).await
        }
        .await,
    )
}

/// Re-reads every customer in the background; the page shows its progress.
#[server(prefix = "/api", endpoint = "start_sync")]
pub async fn start_sync() -> Result<SyncStatus, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "start-sync").await?;
            state.customers.start_sync(&state, &user);
            state.customers.sync_status(&state.storage).await
        }
        .await,
    )
}
