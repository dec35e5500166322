//! `/customers/{customer-tenant-id}`: the customer's directory roles with their members, and its
//! users with the roles they hold. Global Administrators stand out.

use super::consent::ConsentPanel;
use super::gdap::GdapPanel;
use super::{viewer_permissions, ErrorPanel, NotAllowed, SessionResource, Submit};
use crate::api::roles::{fetch_customer_directory, AddRoleMember, RemoveRoleMember};
use crate::model::access::Permission;
use crate::model::audit::MemberChange;
use crate::model::directory::{
    CustomerDirectory, RoleWithMembers, UserWithRoles, GLOBAL_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn CustomerPage() -> impl IntoView {
    let params = use_params_map();
    let tenant_id = move || params.read().get("tenant_id").unwrap_or_default();
    let actions = MemberActions {
        add: ServerAction::new(),
        remove: ServerAction::new(),
    };
    provide_context(actions);
    let session = expect_context::<SessionResource>();
    let directory = Resource::new(
        move || {
            (
                tenant_id(),
                actions.add.version().get(),
                actions.remove.version().get(),
            )
        },
        |(id, _, _)| fetch_customer_directory(id),
    );
    view! {
        <p class="breadcrumb">
            <a href="/customers">"← Customers"</a>
        </p>
        <ChangeBanner />
        <Transition fallback=|| {
            view! { <p class="loading">"Loading the customer's roles and users…"</p> }
        }>
            {move || Suspend::new(async move {
                let permissions = viewer_permissions(session).await;
                match directory.await {
                    Ok(directory) => {
                        view! { <DirectoryView directory can_operate=permissions.operate /> }
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
        </Transition>
    }
}

/// The role-membership writes of the customer page; their versions refetch the directory.
#[derive(Clone, Copy)]
struct MemberActions {
    add: ServerAction<AddRoleMember>,
    remove: ServerAction<RemoveRoleMember>,
}

fn is_privileged(role_id: &str) -> bool {
    role_id == GLOBAL_ADMINISTRATOR || role_id == PRIVILEGED_ROLE_ADMINISTRATOR
}

/// What the last change did, with an Undo after a removal (re-adds the recorded member).
#[component]
fn ChangeBanner() -> impl IntoView {
    let actions = expect_context::<MemberActions>();
    // Only the latest change is shown: starting one clears the other's result.
    Effect::new(move |_| {
        if actions.remove.input().get().is_some() {
            actions.add.value().set(None);
        }
    });
    Effect::new(move |_| {
        if actions.add.input().get().is_some() {
            actions.remove.value().set(None);
        }
    });
    let undo = move |change: MemberChange| {
        actions.remove.value().set(None);
        actions.add.dispatch(AddRoleMember {
            customer_tenant_id: change.customer_tenant_id,
            role_id: change.role_id,
            user_id: change.user_id,
            confirmed: Some("on".into()),
        });
    };
    let removed = move || {
        actions.remove.value().get().map(|result| match result {
            Ok(change) => {
                let text = format!(
                    "Removed {} ({}) from {}. ",
                    change.display_name, change.user_principal_name, change.role_name
                );
                view! {
                    <p class="notice" role="status" id="change-notice">
                        {text}
                        <button type="button" class="button" on:click=move |_| undo(change.clone())>
                            "Undo"
                        </button>
                    </p>
                }
                .into_any()
            }
            Err(error) => view! { <ErrorPanel error return_to="/customers" /> }.into_any(),
        })
    };
    let added = move || {
        actions.add.value().get().map(|result| match result {
            Ok(change) => {
                let text = format!(
                    "Added {} ({}) to {}.",
                    change.display_name, change.user_principal_name, change.role_name
                );
                view! {
                    <p class="notice" role="status" id="change-notice">
                        {text}
                    </p>
                }
                .into_any()
            }
            Err(error) => view! { <ErrorPanel error return_to="/customers" /> }.into_any(),
        })
    };
    view! {
        {removed}
        {added}
    }
}

/// Pick a user and a role of this customer.
#[component]
fn AddMemberForm(
    customer_tenant_id: String,
    roles: Vec<(String, String)>,
    users: Vec<(String, String)>,
) -> impl IntoView {
    let actions = expect_context::<MemberActions>();
    view! {
        <ActionForm action=actions.add attr:class="add-member">
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
            <Submit pending=actions.add.pending() class="button primary">
                "Add to role"
            </Submit>
        </ActionForm>
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
    let actions = expect_context::<MemberActions>();
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
                                <ActionForm action=actions.remove attr:class="inline remove-member">
                                    <input type="hidden" name="customer_tenant_id" value=form_customer />
                                    <input type="hidden" name="role_id" value=form_role />
                                    <input type="hidden" name="user_id" value=form_user />
                                    {privileged
                                        .then(|| {
                                            view! {
                                                <label class="confirm">
                                                    <input type="checkbox" name="confirmed" required />
                                                    " confirm"
                                                </label>
                                            }
                                        })}
                                    <Submit pending=actions.remove.pending() class="link-button">
                                        "Remove"
                                    </Submit>
                                </ActionForm>
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
