//! `/customers/{customer-tenant-id}`: the customer's directory roles with their members, and its
//! users with the roles they hold. Global Administrators stand out.

use super::ErrorPanel;
use crate::api::roles::fetch_customer_directory;
use crate::model::directory::{CustomerDirectory, RoleWithMembers, UserWithRoles};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn CustomerPage() -> impl IntoView {
    let params = use_params_map();
    let tenant_id = move || params.read().get("tenant_id").unwrap_or_default();
    let directory = Resource::new(tenant_id, fetch_customer_directory);
    view! {
        <p class="breadcrumb">
            <a href="/customers">"← Customers"</a>
        </p>
        <Suspense fallback=|| {
            view! { <p class="loading">"Loading the customer's roles and users…"</p> }
        }>
            {move || Suspend::new(async move {
                match directory.await {
                    Ok(directory) => view! { <DirectoryView directory /> }.into_any(),
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

#[component]
fn DirectoryView(directory: CustomerDirectory) -> impl IntoView {
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
            <table class="roles">
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
                        .map(|role| view! { <RoleRow role /> })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel">
            <h2>"Users"</h2>
            <table class="users">
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
fn RoleRow(role: RoleWithMembers) -> impl IntoView {
    let global = role.is_global_admin();
    let members = if role.members.is_empty() {
        view! { <span class="muted">"no members"</span> }.into_any()
    } else {
        view! {
            <ul class="members">
                {role
                    .members
                    .into_iter()
                    .map(|m| {
                        view! {
                            <li data-user-id=m.user_id>
                                <span class="member-name">{m.display_name}</span>
                                " "
                                <span class="upn">{m.user_principal_name}</span>
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
