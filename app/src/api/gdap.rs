use crate::error::AppError;
use crate::model::gdap::CustomerGdap;
use leptos::prelude::*;

/// A customer's GDAP relationships with their access assignments, read now, and the verdict:
/// whether the partner keeps access once DAP is gone.
#[server(prefix = "/api", endpoint = "customer_gdap")]
pub async fn fetch_customer_gdap(customer_tenant_id: String) -> Result<CustomerGdap, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::ssr::{access, gdap, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Read, "customer-gdap").await?;
            let customer = Guid::parse(&customer_tenant_id).map_err(|_| AppError::NotFound {
                what: "customer".into(),
            })?;
            let (relationships, verdict) =
                gdap::for_customer(&state, &user.user_key, customer).await?;
            Ok(CustomerGdap {
                relationships,
                verdict,
            })
        }
        .await,
    )
}
