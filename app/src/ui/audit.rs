//! `/audit`: the newest audit entries, filtered from the URL, with a CSV export.

use super::ErrorPanel;
use crate::api::audit::fetch_audit_log;
use crate::model::audit::{AuditQuery, AuditRow};
use crate::urls::query_string;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        query_map
            .with(|map| AuditQuery::from_pairs(map.latest_values().map(|(k, v)| (k.as_ref(), v))))
    });
    let rows = Resource::new(move || query.get(), fetch_audit_log);
    let export_href = move || {
        let pairs = query.get().to_pairs();
        if pairs.is_empty() {
            "/audit/export.csv".to_string()
        } else {
            format!("/audit/export.csv?{}", query_string(pairs))
        }
    };
    view! {
        <h1>"Audit log"</h1>
        <Form method="GET" action="/audit">
            <fieldset class="filters">
                <legend class="visually-hidden">"Filter the audit log"</legend>
                <label>
                    "Actor " <input type="search" name="actor" prop:value=move || query.get().actor />
                </label>
                <label>
                    "Action " <input type="search" name="action" prop:value=move || query.get().action />
                </label>
                <label>
                    "Customer " <input type="search" name="customer" prop:value=move || query.get().customer />
                </label>
                <button type="submit" class="button">
                    "Apply"
                </button>
                <a class="button" href=export_href rel="external" download="">
                    "Export CSV"
                </a>
            </fieldset>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) => view! { <AuditTable rows /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error return_to="/audit" /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    view! {
        <table class="audit">
            <thead>
                <tr>
                    <th scope="col">"Time (UTC)"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Customer"</th>
                    <th scope="col">"Target"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Upstream"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|r| {
                        let ids = r
                            .correlation_id
                            .map(|c| {
                                format!(
                                    "MS-RequestId {} · MS-CorrelationId {c}",
                                    r.request_id.unwrap_or_default(),
                                )
                            })
                            .unwrap_or_default();
                        let row_class = format!("outcome-{}", r.outcome);
                        let action = r.action.clone();
                        let error = r.error.clone().unwrap_or_default();
                        view! {
                            <tr class=row_class data-action=action>
                                <td class="date">{r.at.replace('T', " ").chars().take(19).collect::<String>()}</td>
                                <td>{r.actor_upn}</td>
                                <td>{r.action}</td>
                                <td><code>{r.customer_tenant_id.unwrap_or_default()}</code></td>
                                <td>{r.target.unwrap_or_default()}</td>
                                <td title=error>
                                    {r.outcome} " "
                                    <span class="muted">{r.error.unwrap_or_default()}</span>
                                </td>
                                <td title=ids>{r.upstream_status.map(|s| s.to_string()).unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
