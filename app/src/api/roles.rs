use crate::error::AppError;
use crate::model::directory::CustomerDirectory;
use leptos::prelude::*;

/// A customer's directory roles with their members, and its users with the roles they hold.
#[server(prefix = "/api", endpoint = "customer_directory")]
pub async fn fetch_customer_directory(
    customer_tenant_id: String,
) -> Result<CustomerDirectory, AppError> {
    use crate::ids::Guid;
    use crate::ssr::{auth, respond, roles, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = auth::current_user().await?;
            // A malformed id is a page that does not exist, and never reaches an upstream URL.
            let customer = Guid::parse(&customer_tenant_id).map_err(|_| AppError::NotFound {
                what: "customer".into(),
            })?;
            roles::directory(&state, &user, customer).await
        }
        .await,
    )
}
