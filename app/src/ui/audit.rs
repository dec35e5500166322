//! `/audit`: the audit log, newest first, a page at a time (keyset), filtered from the URL,
//! with a CSV export of every matching entry.

use super::format::{count, thousands, When};
use super::ErrorPanel;
use crate::api::audit::fetch_audit_log;
use crate::model::audit::{AuditPage, AuditQuery, AuditRow, OUTCOMES};
use crate::urls::query_string;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

fn audit_href(path: &str, query: &AuditQuery) -> String {
    let pairs = query.to_pairs();
    if pairs.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query_string(pairs))
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        query_map
            .with(|map| AuditQuery::from_pairs(map.latest_values().map(|(k, v)| (k.as_ref(), v))))
    });
    let page = Resource::new(move || query.get(), fetch_audit_log);
    let export_href = move || audit_href("/audit/export.csv", &query.get().from_newest());
    let outcome_options = move || {
        let chosen = query.get().outcome;
        std::iter::once("")
            .chain(OUTCOMES)
            .map(|outcome| {
                let label = if outcome.is_empty() { "any" } else { outcome };
                view! {
                    <option value=outcome selected=chosen == outcome>
                        {label}
                    </option>
                }
            })
            .collect_view()
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
                    "Customer (name or tenant id) "
                    <input type="search" name="customer" prop:value=move || query.get().customer />
                </label>
                <label>
                    "Outcome " <select name="outcome">{outcome_options}</select>
                </label>
                <label>
                    "From " <input type="date" name="from" prop:value=move || query.get().from />
                </label>
                <label>
                    "To " <input type="date" name="to" prop:value=move || query.get().to />
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
                match page.await {
                    Ok(page) => view! { <AuditResults page query=query.get_untracked() /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error return_to="/audit" /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditResults(page: AuditPage, query: AuditQuery) -> impl IntoView {
    let shown = page.rows.len();
    let position = if shown == 0 {
        format!(
            "No entry of {} matches.",
            count(page.total, "entry", "entries")
        )
    } else {
        format!(
            "Showing {}–{} of {}, newest first.",
            thousands(page.first),
            thousands(page.first + shown - 1),
            count(page.total, "entry", "entries")
        )
    };
    let newest = (page.first > 1).then(|| {
        view! { <a class="button" href=audit_href("/audit", &query.from_newest())>"Newest"</a> }
    });
    let older = page.older.clone().map(|cursor| {
        let next = AuditQuery {
            before: cursor,
            ..query.clone()
        };
        view! { <a class="button" rel="next" href=audit_href("/audit", &next)>"Older →"</a> }
    });
    let pager = view! {
        <nav class="pager" aria-label="Audit pages">
            {newest} " " {older}
        </nav>
    };
    view! {
        <p id="audit-position" class="summary" data-total=page.total data-first=page.first data-shown=shown>
            {position}
        </p>
        <AuditTable rows=page.rows />
        {pager}
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="audit">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Customer"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Upstream"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|row| view! { <AuditRowView row /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn AuditRowView(row: AuditRow) -> impl IntoView {
    let r = row;
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
    let customer = r.customer_tenant_id.map(|tenant| {
        let name = r
            .customer_name
            .map(|name| view! { <a href=format!("/customers/{tenant}")>{name}</a> <br /> });
        view! {
            {name}
            <code>{tenant.clone()}</code>
        }
    });
    let at = r.at.clone();
    view! {
        <tr class=row_class data-action=action data-id=r.id>
            <td class="date">
                <When at=at />
            </td>
            <td>{r.actor_upn}</td>
            <td>{r.action}</td>
            <td class="customer">{customer}</td>
            <td>{r.target.unwrap_or_default()}</td>
            <td title=error>
                {r.outcome} " " <span class="muted">{r.error.unwrap_or_default()}</span>
            </td>
            <td title=ids>{r.upstream_status.map(|s| s.to_string()).unwrap_or_default()}</td>
        </tr>
    }
}
