//! A customer's directory roles and their members, read with the admin's Partner Center token.

use super::auth::SessionUser;
use super::partner_center::models::DirectoryRole;
use super::state::AppState;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::directory::{
    CustomerDirectory, RoleMember, RoleWithMembers, UserWithRoles, GLOBAL_ADMINISTRATOR,
    ROLES_THAT_CAN_READ_ROLES,
};
use futures::{StreamExt, TryStreamExt};
use std::collections::BTreeMap;

/// Member lists fetched at once for one customer.
const MEMBER_CONCURRENCY: usize = 6;

pub async fn directory(
    state: &AppState,
    user: &SessionUser,
    customer: Guid,
) -> Result<CustomerDirectory, AppError> {
    let token = state
        .tokens
        .access_token(&user.user_key, &state.config.partner_center_audience)
        .await?;
    let pc = &state.partner_center;
    let correlation_id = Guid::new_v4();
    let roles = pc
        .directory_roles(&token, correlation_id, customer)
        .await
        .map_err(|e| explain_forbidden(e.into()))?;
    let users = pc.customer_users(&token, correlation_id, customer);
    let members = futures::stream::iter(roles.iter().cloned())
        .map(|role| {
            let token = &token;
            async move {
                let role_id = Guid::parse(&role.id)?;
                let members = pc
                    .role_members(token, correlation_id, customer, role_id)
                    .await?;
                Ok::<_, AppError>((role, members))
            }
        })
        .buffer_unordered(MEMBER_CONCURRENCY)
        .try_collect::<Vec<_>>();
    let (users, members) = futures::future::join(users, members).await;
    let users = users.map_err(|e| explain_forbidden(e.into()))?;
    let members = members.map_err(explain_forbidden)?;

    let mut roles: Vec<RoleWithMembers> = members
        .into_iter()
        .map(|(role, members): (DirectoryRole, _)| {
            let mut members: Vec<RoleMember> = members
                .into_iter()
                .map(|m| RoleMember {
                    user_id: m.id,
                    display_name: m.display_name,
                    user_principal_name: m.user_principal_name,
                })
                .collect();
            members.sort_by(|a, b| a.display_name.cmp(&b.display_name));
            RoleWithMembers {
                role_id: role.id.to_ascii_lowercase(),
                name: role.name,
                members,
            }
        })
        .collect();
    roles.sort_by(|a, b| {
        b.is_global_admin()
            .cmp(&a.is_global_admin())
            .then_with(|| a.name.cmp(&b.name))
    });

    let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for role in &roles {
        for member in &role.members {
            held.entry(member.user_id.to_ascii_lowercase())
                .or_default()
                .push(role.name.clone());
        }
    }
    let global_admins: Vec<String> = roles
        .iter()
        .filter(|r| r.role_id == GLOBAL_ADMINISTRATOR)
        .flat_map(|r| r.members.iter().map(|m| m.user_id.to_ascii_lowercase()))
        .collect();
    let mut users: Vec<UserWithRoles> = users
        .into_iter()
        .map(|u| {
            let key = u.id.to_ascii_lowercase();
            let mut roles = held.get(&key).cloned().unwrap_or_default();
            roles.sort();
            UserWithRoles {
                is_global_admin: global_admins.contains(&key),
                user_id: u.id,
                display_name: u.display_name,
                user_principal_name: u.user_principal_name,
                roles,
            }
        })
        .collect();
    users.sort_by(|a, b| a.display_name.cmp(&b.display_name));

    Ok(CustomerDirectory {
        customer_tenant_id: customer.to_string(),
        organization_display_name: state
            .customers
            .name_of(&state.storage, &customer.to_string())
            .await,
        roles,
        users,
    })
}

/// Partner Center's 403 does not say which role is missing; the admin needs to know.
fn explain_forbidden(error: AppError) -> AppError {
    match error {
        AppError::Forbidden {
            message,
            correlation_id,
        } => AppError::Forbidden {
            message: format!(
                "Your GDAP roles in this customer do not allow reading its directory roles: you \
                 need one of {ROLES_THAT_CAN_READ_ROLES}. (Partner Center: {message})"
            ),
            correlation_id,
        },
        other => other,
    }
}
