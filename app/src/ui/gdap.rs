//! The GDAP section of a customer's page: each relationship with its access assignments, and
//! whether the partner keeps access once DAP is removed.

use super::ErrorPanel;
use crate::api::gdap::fetch_customer_gdap;
use crate::model::gdap::{role_name, CustomerGdap, Relationship};
use leptos::prelude::*;
use time::OffsetDateTime;

fn day(t: Option<OffsetDateTime>) -> String {
    t.map_or_else(|| "—".to_string(), crate::model::gdap::day)
}

fn role_names(roles: &[String]) -> String {
    if roles.is_empty() {
        return "—".to_string();
    }
    roles
        .iter()
        .map(|r| role_name(r))
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
pub fn GdapPanel(customer_tenant_id: String) -> impl IntoView {
    let here = format!("/customers/{customer_tenant_id}");
    let gdap = Resource::new(move || customer_tenant_id.clone(), fetch_customer_gdap);
    view! {
        <section class="panel gdap-panel" id="gdap">
            <h2>"GDAP relationships"</h2>
            <Transition fallback=|| view! { <p class="loading">"Reading GDAP from Microsoft Graph…"</p> }>
                {move || {
                    let here = here.clone();
                    Suspend::new(async move {
                        match gdap.await {
                            Ok(gdap) => view! { <GdapView gdap /> }.into_any(),
                            Err(error) => view! { <ErrorPanel error return_to=here /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn GdapView(gdap: CustomerGdap) -> impl IntoView {
    let CustomerGdap {
        relationships,
        verdict,
    } = gdap;
    let coverage = verdict.coverage;
    let breaks = (!verdict.breaks.is_empty()).then(|| {
        view! {
            <p>"After DAP removal the dashboard could no longer do:"</p>
            <ul class="gdap-breaks">
                {verdict
                    .breaks
                    .iter()
                    .map(|b| view! { <li data-action=format!("{:?}", b.action)>{b.description.clone()}</li> })
                    .collect_view()}
            </ul>
        }
    });
    let table = if relationships.is_empty() {
        view! { <p class="muted">"No GDAP relationship with this customer."</p> }.into_any()
    } else {
        view! {
            <table class="gdap" tabindex="0">
                <thead>
                    <tr>
                        <th scope="col">"Relationship"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Start"</th>
                        <th scope="col">"End"</th>
                        <th scope="col">"Auto-extend"</th>
                        <th scope="col">"Roles"</th>
                        <th scope="col">"Access assignments"</th>
                    </tr>
                </thead>
                <tbody>
                    {relationships
                        .into_iter()
                        .map(|r| view! { <RelationshipRow relationship=r /> })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <p class="gdap-verdict" id="gdap-verdict" data-gdap=coverage.as_str()>
            "Coverage: "
            <strong class=format!("gdap-{}", coverage.as_str())>{coverage.label()}</strong>
        </p>
        <ul class="gdap-reasons">
            {verdict.reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
        </ul>
        {breaks}
        {table}
    }
}

#[component]
fn RelationshipRow(relationship: Relationship) -> impl IntoView {
    let r = relationship;
    let auto_extend = if r.auto_extends() {
        r.auto_extend_duration.clone().unwrap_or_default()
    } else {
        "no".to_string()
    };
    let reseller = r.reseller.then_some(" (reseller)");
    let assignments = if r.assignments.is_empty() {
        view! { <span class="muted">"none"</span> }.into_any()
    } else {
        view! {
            <ul class="assignments">
                {r
                    .assignments
                    .iter()
                    .map(|a| {
                        view! {
                            <li data-status=a.status.clone()>
                                "group " <code>{a.group_id.clone().unwrap_or_else(|| "—".into())}</code>
                                ": " {role_names(&a.roles)} " (" {a.status.clone()} ")"
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <tr data-relationship-id=r.id.clone() data-status=r.status.clone()>
            <td>{r.display_name.clone()} {reseller}</td>
            <td>{r.status.clone()}</td>
            <td>{day(r.activated)}</td>
            <td>{day(r.ends())}</td>
            <td>{auto_extend}</td>
            <td>{role_names(&r.roles)}</td>
            <td>{assignments}</td>
        </tr>
    }
}
