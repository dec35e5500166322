//! `/customers/{customer-tenant-id}`: the customer's directory roles with their members, and its
//! users with the roles they hold. Global Administrators stand out.

use super::consent::ConsentPanel;
use super::gdap::GdapPanel;
use super::{viewer_permissions, ErrorPanel, NotAllowed, PostForm, SessionResource, Submit};
use crate::api::roles::fetch_customer_directory;
use crate::model::access::Permission;
use crate::model::directory::{
    CustomerDirectory, RoleWithMembers, UserWithRoles, GLOBAL_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Where a role-membership change goes when it succeeded: this page, saying what it did.
const ADDED: &str = "?added_user={user_id}&added_role={role_id}";
const REMOVED: &str = "?removed_user={user_id}&removed_role={role_id}";

#[component]
pub fn CustomerPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let tenant_id = move || params.read().get("tenant_id").unwrap_or_default();
    let session = expect_context::<SessionResource>();
    let directory = Resource::new(tenant_id, fetch_customer_directory);
    view! {
        <p class="breadcrumb">
            <a href="/customers">"← Customers"</a>
        </p>
        <Suspense fallback=|| {
            view! { <p class="loading">"Loading the customer's roles and users…"</p> }
        }>
            {move || Suspend::new(async move {
                let permissions = viewer_permissions(session).await;
                match directory.await {
                    Ok(directory) => {
                        let change = query.with_untracked(|q| {
                            change_notice(
                                &directory,
                                q.get_str("added_user").zip(q.get_str("added_role")),
                                q.get_str("removed_user").zip(q.get_str("removed_role")),
                                permissions.operate,
                            )
                        });
                        view! {
                            {change}
                            <DirectoryView directory can_operate=permissions.operate />
                        }
                            .into_any()
                    }
                    Err(error) => {
                        let here = format!("/customers/{}", tenant_id());
                        view! {
                            <h1>"Customer"</h1>
                            <ErrorPanel error return_to=here />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// What the last change did (named in the page's query by the form that made it), with an Undo
/// after a removal (re-adds the member). Said only when the directory agrees.
fn change_notice(
    directory: &CustomerDirectory,
    added: Option<(&str, &str)>,
    removed: Option<(&str, &str)>,
    can_operate: bool,
) -> Option<AnyView> {
    let role = |id: &str| directory.roles.iter().find(|r| r.role_id == id);
    if let Some((user_id, role_id)) = added {
        let role = role(role_id)?;
        let member = role.members.iter().find(|m| m.user_id == user_id)?;
        let text = format!(
            "Added {} ({}) to {}.",
            member.display_name, member.user_principal_name, role.name
        );
        return Some(
            view! {
                <p class="notice" role="status" id="change-notice">
                    {text}
                </p>
            }
            .into_any(),
        );
    }
    let (user_id, role_id) = removed?;
    let role = role(role_id)?;
    if role.members.iter().any(|m| m.user_id == user_id) {
        return None;
    }
    let user = directory.users.iter().find(|u| u.user_id == user_id)?;
    let text = format!(
        "Removed {} ({}) from {}. ",
        user.display_name, user.user_principal_name, role.name
    );
    let (customer, role_id, user_id) = (
        directory.customer_tenant_id.clone(),
        role.role_id.clone(),
        user.user_id.clone(),
    );
    // The address names the removal, so anyone can craft it: the Undo is an operator's, and
    // re-adding to a privileged role asks for the same tick as adding does.
    let privileged = is_privileged(&role_id);
    let undo = can_operate.then(|| {
        view! {
            <PostForm action="/api/add_role_member" class="inline" then=ADDED>
                <input type="hidden" name="customer_tenant_id" value=customer />
                <input type="hidden" name="role_id" value=role_id />
                <input type="hidden" name="user_id" value=user_id />
                {privileged.then(|| view! { <PrivilegedConfirm /> " " })}
                <Submit class="button">"Undo"</Submit>
            </PostForm>
        }
    });
    Some(
        view! {
            <div class="notice" role="status" id="change-notice">
                {text}
                {undo}
            </div>
        }
        .into_any(),
    )
}

fn is_privileged(role_id: &str) -> bool {
    role_id == GLOBAL_ADMINISTRATOR || role_id == PRIVILEGED_ROLE_ADMINISTRATOR
}

/// Pick a user and a role of this customer.
#[component]
fn AddMemberForm(
    customer_tenant_id: String,
    roles: Vec<(String, String)>,
    users: Vec<(String, String)>,
) -> impl IntoView {
    view! {
        <PostForm action="/api/add_role_member" class="add-member" then=ADDED>
            <input type="hidden" name="customer_tenant_id" value=customer_tenant_id />
            <label>
                "User "
                <select name="user_id" required>
                    {users
                        .into_iter()
                        .map(|(id, label)| view! { <option value=id>{label}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Role "
                <select name="role_id" required>
                    {roles
                        .into_iter()
                        .map(|(id, name)| view! { <option value=id>{name}</option> })
                        .collect_view()}
                </select>
            </label>
            <label class="confirm">
                <input type="checkbox" name="confirmed" />
                " I confirm (needed for Global Administrator and Privileged Role Administrator)"
            </label>
            <Submit class="button primary">"Add to role"</Submit>
        </PostForm>
    }
}

#[component]
fn DirectoryView(directory: CustomerDirectory, can_operate: bool) -> impl IntoView {
    let title = directory
        .organization_display_name
        .clone()
        .unwrap_or_else(|| "Customer".into());
    let global_admins = directory.users.iter().filter(|u| u.is_global_admin).count();
    let holders = directory
        .roles
        .iter()
        .map(|r| r.members.len())
        .sum::<usize>();
    view! {
        <h1 id="customer-name">{title}</h1>
        <p class="customer-meta">
            "Tenant " <code>{directory.customer_tenant_id.clone()}</code> " · "
            {format!(
                "{} roles, {} role assignments, {} users, {} Global Administrators",
                directory.roles.len(),
                holders,
                directory.users.len(),
                global_admins,
            )}
        </p>
        <section class="panel">
            <h2>"Directory roles"</h2>
            {if can_operate {
                view! {
                    <AddMemberForm
                        customer_tenant_id=directory.customer_tenant_id.clone()
                        roles=directory.roles.iter().map(|r| (r.role_id.clone(), r.name.clone())).collect()
                        users=directory
                            .users
                            .iter()
                            .map(|u| {
                                (u.user_id.clone(), format!("{} ({})", u.display_name, u.user_principal_name))
                            })
                            .collect()
                    />
                }
                    .into_any()
            } else {
                view! { <NotAllowed permission=Permission::Operate /> }.into_any()
            }}
            <table class="roles" tabindex="0">
                <thead>
                    <tr>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Members"</th>
                    </tr>
                </thead>
                <tbody>
                    {directory
                        .roles
                        .into_iter()
                        .map(|role| {
                            view! {
                                <RoleRow
                                    role
                                    customer_tenant_id=directory.customer_tenant_id.clone()
                                    can_operate
                                />
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <GdapPanel customer_tenant_id=directory.customer_tenant_id.clone() />
        <ConsentPanel customer_tenant_id=directory.customer_tenant_id.clone() can_operate />
        <section class="panel">
            <h2>"Users"</h2>
            <table class="users" tabindex="0">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"User principal name"</th>
                        <th scope="col">"Roles"</th>
                    </tr>
                </thead>
                <tbody>
                    {directory
                        .users
                        .into_iter()
                        .map(|user| view! { <UserRow user /> })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn RoleRow(role: RoleWithMembers, customer_tenant_id: String, can_operate: bool) -> impl IntoView {
    let global = role.is_global_admin();
    let privileged = is_privileged(&role.role_id);
    let role_id = role.role_id.clone();
    let members = if role.members.is_empty() {
        view! { <span class="muted">"no members"</span> }.into_any()
    } else {
        view! {
            <ul class="members">
                {role
                    .members
                    .into_iter()
                    .map(|m| {
                        let row_user = m.user_id.clone();
                        let form_user = m.user_id;
                        let form_customer = customer_tenant_id.clone();
                        let form_role = role_id.clone();
                        view! {
                            <li data-user-id=row_user>
                                <span class="member-name">{m.display_name}</span>
                                " "
                                <span class="upn">{m.user_principal_name}</span>
                                {can_operate.then(|| view! {
                                <PostForm action="/api/remove_role_member" class="inline remove-member" then=REMOVED>
                                    <input type="hidden" name="customer_tenant_id" value=form_customer />
                                    <input type="hidden" name="role_id" value=form_role />
                                    <input type="hidden" name="user_id" value=form_user />
                                    {privileged.then(|| view! { <PrivilegedConfirm /> })}
                                    <Submit class="link-button">"Remove"</Submit>
                                </PostForm>
                                })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <tr data-role-id=role.role_id class:global-admin=global>
            <th scope="row" class="role-name">
                {role.name}
                {global.then(|| view! { <span class="badge privileged">"privileged"</span> })}
            </th>
            <td>{members}</td>
        </tr>
    }
}

#[component]
fn UserRow(user: UserWithRoles) -> impl IntoView {
    let roles = if user.roles.is_empty() {
        "—".to_string()
    } else {
        user.roles.join(", ")
    };
    view! {
        <tr data-user-id=user.user_id class:global-admin=user.is_global_admin>
            <td>
                {user.display_name}
                {user
                    .is_global_admin
                    .then(|| view! { <span class="badge privileged">"Global Administrator"</span> })}
            </td>
            <td class="upn">{user.user_principal_name}</td>
            <td>{roles}</td>
        </tr>
    }
}

/// The tick a change to a privileged role's members needs before the form posts.
#[component]
fn PrivilegedConfirm() -> impl IntoView {
    view! {
        <label class="confirm">
            <input type="checkbox" name="confirmed" required />
            " confirm"
        </label>
    }
}
