use crate::error::AppError;
use crate::model::CustomerSummary;
use leptos::prelude::*;

/// Every delegated-admin customer of the partner, read with the signed-in admin's token.
#[server(prefix = "/api", endpoint = "list_customers")]
pub async fn list_customers() -> Result<Vec<CustomerSummary>, AppError> {
    use crate::ssr::{auth, customers, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = auth::current_user().await?;
            customers::list(&state, &user).await
        }
        .await,
    )
}
