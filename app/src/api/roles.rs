use crate::error::AppError;
use crate::model::audit::MemberChange;
use crate::model::directory::CustomerDirectory;
use leptos::prelude::*;

/// A customer's directory roles with their members, and its users with the roles they hold.
#[server(prefix = "/api", endpoint = "customer_directory")]
pub async fn fetch_customer_directory(
    customer_tenant_id: String,
) -> Result<CustomerDirectory, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, roles, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Read, "customer-directory").await?;
            // A malformed id is a page that does not exist, and never reaches an upstream URL.
            let customer = Guid::parse(&customer_tenant_id).map_err(|_| AppError::NotFound {
                what: "customer".into(),
            })?;
            roles::directory(&state, &user, customer).await
        }
        .await,
    )
}

/// Adds a user of the customer to one of its directory roles (Global Administrator and
/// Privileged Role Administrator need `confirmed`).
#[server(prefix = "/api", endpoint = "add_role_member")]
pub async fn add_role_member(
    customer_tenant_id: String,
    role_id: String,
    user_id: String,
    confirmed: Option<String>,
) -> Result<MemberChange, AppError> {
    change(customer_tenant_id, role_id, user_id, confirmed, true).await
}

/// Removes a user from one of the customer's directory roles.
#[server(prefix = "/api", endpoint = "remove_role_member")]
pub async fn remove_role_member(
    customer_tenant_id: String,
    role_id: String,
    user_id: String,
    confirmed: Option<String>,
) -> Result<MemberChange, AppError> {
    change(customer_tenant_id, role_id, user_id, confirmed, false).await
}

#[cfg(feature = "ssr")]
async fn change(
    customer_tenant_id: String,
    role_id: String,
    user_id: String,
    confirmed: Option<String>,
    add: bool,
) -> Result<MemberChange, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::ssr::roles::{change_member, MemberChangeRequest};
    use crate::ssr::{access, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let action = if add {
                "add-role-member"
            } else {
                "remove-role-member"
            };
            let user = access::require(Permission::Operate, action).await?;
            let request = MemberChangeRequest {
                customer: Guid::parse(&customer_tenant_id)?,
                role: Guid::parse(&role_id)?,
                member: Guid::parse(&user_id)?,
                add,
                confirmed: confirmed.is_some_and(|v| !v.is_empty() && v != "false"),
            };
            change_member(&state, &user, request).await
        }
        .await,
    )
}
