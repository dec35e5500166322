use super::ErrorPanel;
use crate::api::customers::list_customers;
use crate::model::CustomerSummary;
use leptos::prelude::*;

#[component]
pub fn CustomersPage() -> impl IntoView {
    let customers = Resource::new(|| (), |_| list_customers());
    view! {
        <h1>"Delegated-admin customers"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading customers…"</p> }>
            {move || Suspend::new(async move {
                match customers.await {
                    Ok(list) => view! { <CustomerTable customers=list /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error return_to="/customers" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CustomerTable(customers: Vec<CustomerSummary>) -> impl IntoView {
    let dap = customers.iter().filter(|c| c.dap_enabled).count();
    let summary = format!("{} customers, {} with DAP", customers.len(), dap);
    view! {
        <p class="summary" id="customer-summary">{summary}</p>
        <table class="customers">
            <thead>
                <tr>
                    <th scope="col">"Organisation"</th>
                    <th scope="col">"Customer tenant id"</th>
                    <th scope="col">"DAP"</th>
                    <th scope="col">"Last partner sign-in"</th>
                </tr>
            </thead>
            <tbody>
                {customers
                    .into_iter()
                    .map(|c| {
                        let dap = if c.dap_enabled { "on" } else { "off" };
                        let row_id = c.customer_tenant_id.clone();
                        view! {
                            <tr data-tenant-id=row_id>
                                <td class="org">{c.organization_display_name}</td>
                                <td class="tenant">
                                    <code>{c.customer_tenant_id}</code>
                                </td>
                                <td class=format!("dap dap-{dap}")>{dap}</td>
                                <td
                                    class="last-sign-in"
                                    title=c.last_partner_sign_in.clone().unwrap_or_default()
                                >
                                    {relative_days(c.days_since_sign_in)}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

pub fn relative_days(days: Option<i64>) -> String {
    match days {
        None => "never".into(),
        Some(d) if d <= 0 => "today".into(),
        Some(1) => "1 day ago".into(),
        Some(d) => format!("{d} days ago"),
    }
}
