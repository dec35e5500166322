//! `/reports` (recent privileged-role reports, start one for the DAP customers) and
//! `/reports/{id}` (live progress, results, failures, CSV).

use super::format::{repeated_names, thousands, CustomerLink, When};
use super::{fingerprint_of, ErrorPanel, IfAllowed, PostForm, Submit, WhileRunning};
use crate::api::reports::{fetch_role_report, fetch_role_reports};
use crate::model::access::Permission;
use crate::model::reports::{ItemStatus, ReportCustomer, ReportSummary, RoleReport};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// A button that starts a report over the customers that pass `filter` (a query string); the
/// server function goes to the new report.
#[component]
pub fn StartReportForm(#[prop(into)] filter: String, #[prop(into)] label: String) -> impl IntoView {
    view! {
        <IfAllowed permission=Permission::Operate>
            <PostForm action="/api/start_role_report" class="inline" clone:filter clone:label>
                <input type="hidden" name="filter" value=filter />
                <Submit class="button">{label}</Submit>
            </PostForm>
        </IfAllowed>
    }
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let reports = Resource::new(|| (), |_| fetch_role_reports());
    view! {
        <h1>"Privileged-role reports"</h1>
        <p class="muted">
            "Who holds Global Administrator, Privileged Role Administrator and the Partner Tier1/Tier2 Support roles in each customer. "
            "Start one here for every DAP customer, or from the customers view for the customers of a filter."
        </p>
        <StartReportForm filter="dap=on" label="Report on all DAP customers" />
        <Suspense fallback=|| view! { <p class="loading">"Loading reports…"</p> }>
            {move || Suspend::new(async move {
                match reports.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="muted">"No report yet."</p> }.into_any()
                    }
                    Ok(list) => view! { <ReportList list /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error return_to="/reports" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ReportList(list: Vec<ReportSummary>) -> impl IntoView {
    view! {
        <table class="reports">
            <thead>
                <tr>
                    <th scope="col">"Started"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Customers"</th>
                    <th scope="col">"Progress"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|r| {
                        let progress = match &r.finished_at {
                            Some(_) => format!("done ({} failed)", r.failed),
                            None => format!("{} of {}", r.done + r.failed, r.total),
                        };
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/reports/{}", r.id)>
                                        <When at=r.started_at.clone() />
                                    </a>
                                </td>
                                <td>{r.started_by}</td>
                                <td class="num">{thousands(r.total)}</td>
                                <td>{progress}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn ReportPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let report = Resource::new(id, fetch_role_report);

    view! {
        <p class="breadcrumb">
            <a href="/reports">"← Reports"</a>
        </p>
        <h1>"Privileged-role report"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading the report…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <ReportView report /> }.into_any(),
                    Err(error) => {
                        view! { <ErrorPanel error return_to=format!("/reports/{}", id()) /> }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn ReportView(report: RoleReport) -> impl IntoView {
    let seen = fingerprint_of(&report);
    let s = report.summary;
    let finished = s.finished_at.is_some();
    let handled = s.done + s.failed;
    let scope = if s.scope.is_empty() {
        "all customers".to_string()
    } else {
        s.scope.clone()
    };
    let customers_link = if s.scope.is_empty() {
        "/customers".to_string()
    } else {
        format!("/customers?{}", s.scope)
    };
    view! {
        <p class="report-meta" id="report-progress" data-total=s.total data-done=s.done data-failed=s.failed data-finished=finished.to_string()>
            "Started by " {s.started_by} " for " <a href=customers_link>{scope}</a> ". "
            {format!(
                "{} of {} customers read, {} failed.",
                thousands(handled),
                thousands(s.total),
                thousands(s.failed),
            )}
        </p>
        <progress value=handled max=s.total.max(1) aria-label="Report progress"></progress>
        {(!finished)
            .then(|| {
                view! {
                    <WhileRunning
                        endpoint="/api/role_report"
                        args=format!("id={}", crate::urls::encode_component(&s.id))
                        seen
                    />
                }
            })}
        <div class="table-actions">
            <a class="button" href=format!("/reports/{}/export.csv", s.id) rel="external" download="">
                "Export CSV"
            </a>
        </div>
        <div class="table-scroll"><table class="report">
            <thead>
                <tr>
                    <th scope="col">"Customer"</th>
                    <th scope="col">"Privileged role holders"</th>
                </tr>
            </thead>
            <tbody>
                {
                    let repeated = repeated_names(
                        report.customers.iter().map(|c| c.organization_display_name.as_str()),
                    );
                    report
                        .customers
                        .into_iter()
                        .map(|customer| {
                            let ambiguous = repeated.contains(&customer.organization_display_name);
                            view! { <ReportRow customer ambiguous /> }
                        })
                        .collect_view()
                }
            </tbody>
        </table></div>
    }
}

#[component]
fn ReportRow(
    customer: ReportCustomer,
    /// Another customer of the report has the same name.
    ambiguous: bool,
) -> impl IntoView {
    let status = customer.status;
    let body = match status {
        ItemStatus::Pending => view! { <span class="muted">"waiting…"</span> }.into_any(),
        ItemStatus::Failed => {
            let correlation = customer
                .correlation_id
                .map(|id| view! { " MS-CorrelationId: " <code>{id}</code> });
            view! {
                <span class="failed">{customer.error.unwrap_or_default()} {correlation}</span>
            }
            .into_any()
        }
        ItemStatus::Done if customer.holders.is_empty() => {
            view! { <span class="muted">"none of these roles is held"</span> }.into_any()
        }
        ItemStatus::Done => view! {
            <ul class="members">
                {customer
                    .holders
                    .into_iter()
                    .map(|h| {
                        view! {
                            <li>
                                <span class="badge role">{h.role_name}</span>
                                " "
                                <span class="member-name">{h.display_name}</span>
                                " "
                                <span class="upn">{h.user_principal_name}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any(),
    };
    view! {
        <tr data-tenant-id=customer.customer_tenant_id.clone() data-status=status.as_str()>
            <td>
                <CustomerLink
                    name=customer.organization_display_name
                    tenant_id=customer.customer_tenant_id.clone()
                    ambiguous
                />
            </td>
            <td>{body}</td>
        </tr>
    }
}
