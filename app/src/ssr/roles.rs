//! A customer's directory roles and their members, read with the admin's Partner Center token.

use super::audit;
use super::auth::SessionUser;
use super::partner_center::models::{DirectoryRole, NewRoleMember, ObjectType};
use super::partner_center::{retrying, CallIds};
use super::state::AppState;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::audit::MemberChange;
use crate::model::directory::{
    CustomerDirectory, RoleMember, RoleWithMembers, UserWithRoles, GLOBAL_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR, ROLES_THAT_CAN_READ_ROLES,
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
        .map_err(|e| explain_read_forbidden(e.into()))?;
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
    let users = users.map_err(|e| explain_read_forbidden(e.into()))?;
    let members = members.map_err(explain_read_forbidden)?;

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
fn explain_read_forbidden(error: AppError) -> AppError {
    error.explain_forbidden(&format!(
        "Your GDAP roles in this customer do not allow reading its directory roles: you need \
         one of {ROLES_THAT_CAN_READ_ROLES}."
    ))
}

/// Adds `member` to, or removes it from, `role` in `customer`, with the admin's token. Adding
/// or removing Global Administrator or Privileged Role Administrator needs `confirmed`. Every
/// attempt is audited, refused ones included; the write itself is recorded as an attempt before
/// it is sent and completed after, so a crash in between still leaves a trace.
pub async fn change_member(
    state: &AppState,
    user: &SessionUser,
    change: MemberChangeRequest,
) -> Result<MemberChange, AppError> {
    let action = if change.add {
        "add-role-member"
    } else {
        "remove-role-member"
    };
    let mut entry = audit::Entry::new(&user.upn, action)
        .customer(change.customer)
        .target(format!("role {} · user {}", change.role, change.member));
    let mut attempt = None;
    let result = apply_change(state, user, &change, &mut entry, &mut attempt).await;
    if let Err(error) = &result {
        if entry.error.is_none() {
            entry = match error {
                AppError::Forbidden { .. } | AppError::InvalidInput(_) => {
                    entry.refused(error.to_string())
                }
                _ => entry.failed(error.to_string()),
            };
        }
    }
    match &attempt {
        Some(attempt) => audit::record_completion(&state.storage, attempt, &entry).await?,
        None => audit::record(&state.storage, &entry).await?,
    }
    result
}

#[derive(Debug, Clone, Copy)]
pub struct MemberChangeRequest {
    pub customer: Guid,
    pub role: Guid,
    pub member: Guid,
    pub add: bool,
    pub confirmed: bool,
}

async fn apply_change(
    state: &AppState,
    user: &SessionUser,
    change: &MemberChangeRequest,
    entry: &mut audit::Entry,
    attempt: &mut Option<audit::Attempt>,
) -> Result<MemberChange, AppError> {
    let role_id = change.role.to_string();
    let privileged = role_id == GLOBAL_ADMINISTRATOR || role_id == PRIVILEGED_ROLE_ADMINISTRATOR;
    if privileged && !change.confirmed {
        return Err(AppError::InvalidInput(
            "Adding or removing a Global Administrator or Privileged Role Administrator must be \
             confirmed."
                .into(),
        ));
    }
    let token = state
        .tokens
        .access_token(&user.user_key, &state.config.partner_center_audience)
        .await?;
    let pc = &state.partner_center;
    let correlation_id = Guid::new_v4();
    let (roles, users) = futures::future::join(
        pc.directory_roles(&token, correlation_id, change.customer),
        pc.customer_users(&token, correlation_id, change.customer),
    )
    .await;
    let role = roles
        .map_err(|e| explain_read_forbidden(e.into()))?
        .into_iter()
        .find(|r| r.id.eq_ignore_ascii_case(&role_id))
        .ok_or_else(|| AppError::NotFound {
            what: format!("directory role {role_id} in this customer"),
        })?;
    let member_id = change.member.to_string();
    let member = users
        .map_err(|e| explain_read_forbidden(e.into()))?
        .into_iter()
        .find(|u| u.id.eq_ignore_ascii_case(&member_id))
        .ok_or_else(|| AppError::NotFound {
            what: format!("user {member_id} in this customer"),
        })?;
    entry.target = Some(format!(
        "{} · {} ({})",
        role.name, member.user_principal_name, member.id
    ));

    // One MS-RequestId for every attempt: a retried write is applied once.
    let ids = CallIds::new(correlation_id);
    *entry = entry.clone().call(&ids);
    *attempt = Some(audit::record_attempt(&state.storage, entry).await?);
    let result = if change.add {
        let body = NewRoleMember {
            id: member.id.clone(),
            display_name: member.display_name.clone(),
            user_principal_name: member.user_principal_name.clone(),
            attributes: ObjectType {
                object_type: "UserMember",
            },
        };
        retrying(|| pc.add_role_member(&token, &ids, change.customer, change.role, &body)).await
    } else {
        retrying(|| {
            pc.remove_role_member(&token, &ids, change.customer, change.role, change.member)
        })
        .await
    };
    *entry = entry
        .clone()
        .result(&result, if change.add { 201 } else { 204 });
    result.map_err(|e| {
        AppError::from(e).explain_forbidden(
            "Changing role members needs the GDAP role Privileged Role Administrator in this \
             customer, and your access does not include it.",
        )
    })?;
    Ok(MemberChange {
        added: change.add,
        customer_tenant_id: change.customer.to_string(),
        role_id,
        role_name: role.name,
        user_id: member.id,
        display_name: member.display_name,
        user_principal_name: member.user_principal_name,
    })
}
