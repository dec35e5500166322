//! `/customers`: every delegated-admin customer, filtered and sorted from the URL, with the
//! staleness chart, the sync panel and the CSV export.

use super::format::{date_part, relative_days, thousands, When};
use super::reports::StartReportForm;
use super::reviews::StartReviewForm;
use super::{
    fingerprint_of, ErrorPanel, IfAllowed, PostForm, SessionResource, Submit, WhileRunning,
};
use crate::api::customers::{fetch_customers_view, fetch_sync_status};
use crate::error::AppError;
use crate::model::access::Permission;
use crate::model::customers::{
    ChartBar, CustomerQuery, CustomerRow, CustomersView, DapFilter, SortDir, SortKey, Staleness,
    SyncStatus, PAGE_SIZES, STALE_PRESETS,
};
use crate::model::gdap::Coverage;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

const PATH: &str = "/customers";

#[component]
pub fn CustomersPage() -> impl IntoView {
    // Signed out: one sign-in prompt, and no request that can only answer 401.
    let session = expect_context::<SessionResource>();
    let signed_in = move || {
        session
            .get()
            .map(|s| s.map(|info| info.user.is_some()).unwrap_or(false))
    };

    // The resources live here, created once per page. Created inside the Suspense below they
    // were created again when it re-rendered on the server, and a discarded one still holding
    // its data back kept the response open for good (seen as a page that never finished).
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        query_map.with(|map| {
            CustomerQuery::from_pairs(map.latest_values().map(|(k, v)| (k.as_ref(), v)))
        })
    });
    let view_data = Resource::new(
        move || query.get(),
        move |query| async move {
            if !is_signed_in(session).await {
                return Err(AppError::Unauthenticated);
            }
            fetch_customers_view(query).await
        },
    );
    let status = Resource::new(
        || (),
        move |_| async move {
            if !is_signed_in(session).await {
                return Err(AppError::Unauthenticated);
            }
            fetch_sync_status().await
        },
    );

    view! {
        <h1>"Delegated-admin customers"</h1>
        <Suspense fallback=|| ()>
            <Show
                when=move || signed_in().unwrap_or(false)
                fallback=move || {
                    signed_in()
                        .map(|_| {
                            view! {
                                <ErrorPanel error=AppError::Unauthenticated return_to=PATH />
                            }
                        })
                }
            >
                <CustomersContent query view_data status />
            </Show>
        </Suspense>
    }
}

async fn is_signed_in(session: SessionResource) -> bool {
    session.await.is_ok_and(|info| info.user.is_some())
}

type ViewResource = Resource<Result<CustomersView, AppError>>;
type StatusResource = Resource<Result<SyncStatus, AppError>>;

#[component]
fn CustomersContent(
    query: Memo<CustomerQuery>,
    view_data: ViewResource,
    status: StatusResource,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                view_data
                    .await
                    .ok()
                    .filter(|data| data.show_first_steps)
                    .map(|_| view! { <FirstSteps /> })
            })}
        </Suspense>
        <SyncPanel status />
        <FilterForm query=query.get_untracked() />
        <Suspense fallback=|| view! { <p class="loading">"Loading customers…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(data) => view! { <CustomersBody data /> }.into_any(),
                    Err(error) => {
                        let here = query.get_untracked().href(PATH);
                        view! { <ErrorPanel error return_to=here /> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// What a partner admin does first here, until they hide it.
#[component]
fn FirstSteps() -> impl IntoView {
    view! {
            <section class="panel first-steps" id="first-steps" aria-labelledby="first-steps-title">
                <h2 id="first-steps-title">"New here? What to do first"</h2>
                <ol>
                    <li>
                        <strong>"Sync. "</strong>
                        "“Sync now” reads every delegated-admin customer from Partner Center and each one’s GDAP access from Microsoft Graph, with your own sign-in. "
                        "The table, the chart and the counts below come from the latest sync."
                    </li>
                    <li>
                        <strong>"Find stale DAP. "</strong>
                        "Filter to DAP on and no partner sign-in for 90+ days. The GDAP column says whether GDAP still gives the partner the roles it needs there: only then is removing DAP safe."
                    </li>
                    <li>
                        <strong>"Review before removing. "</strong>
                        "Start a review of that filter: decide remove or keep per customer with a note, have a second admin approve, then execute it as one job."
                    </li>
                    <li>
                        <strong>"Consent. "</strong>
                        "Grant or revoke a CPV application’s consent on a customer’s page, or for every customer of a filter as a bulk job."
                    </li>
                </ol>
                <p>
                    "The words (DAP, GDAP, CPV, Admin Agents, MS-RequestId) are explained in " <a href="/help">"Help"</a> "."
                </p>
                <PostForm action="/api/hide_first_steps" class="inline">
                    <Submit class="button">"Got it, hide this"</Submit>
                </PostForm>
            </section>
    }
}

/// A GET form: without JavaScript it loads the page with the new query; hydrated, every change
/// loads it at once (a search after a short pause, the search field keeping the focus).
#[island]
fn FilterForm(query: CustomerQuery) -> impl IntoView {
    let search = NodeRef::<leptos::html::Input>::new();
    let form = NodeRef::<leptos::html::Form>::new();
    #[cfg(feature = "hydrate")]
    let typing = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let (Some(form), Some(input)) = (form.get(), search.get()) else {
            return;
        };
        // Changed before the island was hydrated (a quick change after the page loaded):
        // applied now, as a change after it would be.
        let changed = super::browser::changed_before();
        if !changed.is_empty() {
            let select_changed = changed.iter().any(|name| name != "q");
            let fields = super::browser::form_fields(&form, FILTER_FIELDS);
            let mut next = CustomerQuery::from_pairs(
                fields
                    .iter()
                    .filter(|(k, _)| !(select_changed && *k == "bucket"))
                    .map(|(k, v)| (*k, v.as_str())),
            );
            next.page = 1;
            if !select_changed {
                search_focus::keep();
            }
            super::browser::replace(&next.href(PATH));
            return;
        }
        if search_focus::take() {
            _ = input.focus();
            let end = input.value().encode_utf16().count() as u32;
            _ = input.set_selection_range(end, end);
        }
    });
    let apply = {
        let query = query.clone();
        move |change: &dyn Fn(&mut CustomerQuery)| {
            let mut next = query.clone();
            change(&mut next);
            next.page = 1;
            #[cfg(feature = "hydrate")]
            super::browser::replace(&next.href(PATH));
            #[cfg(not(feature = "hydrate"))]
            let _ = next;
        }
    };
    let on_search = {
        let apply = apply.clone();
        move |ev| {
            let value = event_target_value(&ev);
            #[cfg(feature = "hydrate")]
            {
                let apply = apply.clone();
                if let Some(pending) = typing.get_value() {
                    pending.clear();
                }
                let handle = set_timeout_with_handle(
                    move || {
                        search_focus::keep();
                        apply(&|q: &mut CustomerQuery| q.q = value.clone());
                    },
                    std::time::Duration::from_millis(300),
                );
                typing.set_value(handle.ok());
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = (value, &apply);
        }
    };
    let on_select = move |field: &'static str| {
        let apply = apply.clone();
        move |ev| {
            let value = event_target_value(&ev);
            apply(&|q: &mut CustomerQuery| {
                let mut pairs = q.to_pairs();
                pairs.retain(|(k, _)| *k != field && *k != "bucket" && *k != "page");
                pairs.push((field, value.clone()));
                *q = CustomerQuery::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            });
        }
    };

    let stale_options = {
        let current = query.stale;
        let mut choices: Vec<(String, String)> = vec![
            (String::new(), "any time".into()),
            ("never".into(), "never signed in".into()),
        ];
        choices.extend(
            STALE_PRESETS
                .iter()
                .map(|d| (d.to_string(), format!("{d}+ days"))),
        );
        if let Some(Staleness::AtLeastDays(days)) = current {
            if !STALE_PRESETS.contains(&days) {
                choices.push((days.to_string(), format!("{days}+ days")));
            }
        }
        options(choices, &current.map(Staleness::param).unwrap_or_default())
    };
    let dap_options = {
        let choices = [DapFilter::All, DapFilter::On, DapFilter::Off]
            .map(|d| (d.param().to_string(), d.param().to_string()));
        options(choices, query.dap.param())
    };
    let gdap_options = {
        let mut choices = vec![(String::new(), "all".to_string())];
        choices.extend(
            Coverage::ALL
                .into_iter()
                .rev()
                .map(|c| (c.as_str().to_string(), c.label().to_string())),
        );
        options(
            choices,
            query.gdap.map(Coverage::as_str).unwrap_or_default(),
        )
    };
    let sort_options = {
        let choices = SortKey::ALL.map(|k| (k.param().to_string(), k.label().to_string()));
        options(choices, query.sort.param())
    };
    let dir_options = {
        let choices = [(SortDir::Asc, "ascending"), (SortDir::Desc, "descending")]
            .map(|(d, label)| (d.param().to_string(), label.to_string()));
        options(choices, query.dir.param())
    };
    let per_page_options = {
        let choices = PAGE_SIZES.map(|n| (n.to_string(), n.to_string()));
        options(choices, &query.per_page.to_string())
    };
    let bucket = query
        .bucket
        .map(|bucket| view! { <input type="hidden" name="bucket" value=bucket.param() /> });

    view! {
        <form method="get" action=PATH data-filter="" node_ref=form>
            <fieldset class="filters">
                <legend class="visually-hidden">"Filter customers"</legend>
                <label>
                    "Search "
                    <input
                        type="search"
                        name="q"
                        placeholder="name or tenant id"
                        value=query.q.clone()
                        node_ref=search
                        on:input=on_search
                    />
                </label>
                <label>
                    "DAP " <select name="dap" on:change=on_select("dap")>{dap_options}</select>
                </label>
                <label>
                    "Last partner sign-in "
                    <select name="stale" on:change=on_select("stale")>{stale_options}</select>
                </label>
                <label>
                    "GDAP " <select name="gdap" on:change=on_select("gdap")>{gdap_options}</select>
                </label>
                <label>
                    "Sort " <select name="sort" on:change=on_select("sort")>{sort_options}</select>
                    <select name="dir" aria-label="Direction" on:change=on_select("dir")>
                        {dir_options}
                    </select>
                </label>
                <label>
                    "Per page "
                    <select name="per_page" on:change=on_select("per_page")>{per_page_options}</select>
                </label>
                {bucket}
                <button type="submit" class="button">
                    "Apply"
                </button>
                <a class="button subtle" href=PATH>
                    "Reset"
                </a>
            </fieldset>
        </form>
    }
}

/// The fields of the filter form.
#[cfg(feature = "hydrate")]
const FILTER_FIELDS: &[&str] = &[
    "q", "dap", "stale", "gdap", "sort", "dir", "per_page", "bucket",
];

/// A search loads the page again: the new page's search field takes the focus back.
#[cfg(feature = "hydrate")]
mod search_focus {
    const KEY: &str = "customers-search-focus";

    fn storage() -> Option<web_sys::Storage> {
        leptos::prelude::window().session_storage().ok().flatten()
    }

    pub fn keep() {
        if let Some(storage) = storage() {
            _ = storage.set_item(KEY, "1");
        }
    }

    /// Whether the last page left the focus in the search field (forgotten once asked).
    pub fn take() -> bool {
        let Some(storage) = storage() else {
            return false;
        };
        let kept = storage.get_item(KEY).ok().flatten().is_some();
        _ = storage.remove_item(KEY);
        kept
    }
}

/// `<option>`s as (value, label), the one whose value is `selected` marked so.
fn options(choices: impl IntoIterator<Item = (String, String)>, selected: &str) -> impl IntoView {
    choices
        .into_iter()
        .map(|(value, label)| {
            let is_selected = value == selected;
            view! {
                <option value=value selected=is_selected>
                    {label}
                </option>
            }
        })
        .collect_view()
}

#[component]
fn CustomersBody(data: CustomersView) -> impl IntoView {
    let CustomersView {
        query,
        rows,
        page_count,
        summary,
        chart,
        snapshot: _,
        show_first_steps: _,
    } = data;
    let threshold = summary.stale_threshold.describe();
    let bucket_note = query.bucket.map(|b| {
        view! {
            <p class="bucket-note">
                "Showing DAP customers whose last partner sign-in was " {b.label()} ". "
                <a href=CustomerQuery { bucket: None, ..query.clone() }.href(PATH)>"Clear"</a>
            </p>
        }
    });
    let mut export_query = query.clone();
    export_query.page = 1;
    let export_href = export_query.href("/customers/export.csv");
    let report_filter = crate::urls::query_string(export_query.to_pairs());
    let report_label = format!(
        "Privileged-role report for these {} customers",
        thousands(summary.matching)
    );
    view! {
        <p
            class="summary"
            id="customer-summary"
            data-all=summary.all
            data-dap=summary.dap
            data-stale-dap=summary.stale_dap
            data-stale-dap-safe=summary.stale_dap_safe
            data-matching=summary.matching
        >
            <strong>{thousands(summary.all)}</strong>
            " customers · "
            <strong>{thousands(summary.dap)}</strong>
            " with DAP · "
            <strong>{thousands(summary.stale_dap)}</strong>
            {format!(" stale DAP ({threshold}) · ")}
            <strong>{thousands(summary.matching)}</strong>
            " match the filters"
        </p>
        <p class="summary" id="safe-to-remove">
            "Stale DAP customers safe to remove (GDAP covers them): "
            <a href=CustomerQuery {
                dap: DapFilter::On,
                stale: Some(summary.stale_threshold),
                gdap: Some(Coverage::Covered),
                bucket: None,
                page: 1,
                ..query.clone()
            }
                .href(PATH)>
                <strong>{thousands(summary.stale_dap_safe)}</strong>
            </a>
        </p>
        <StalenessChart chart query=query.clone() />
        {bucket_note}
        <div class="table-actions">
            <a class="button" href=export_href rel="external" download="">
                "Export CSV"
            </a>
            " "
            <StartReportForm filter=report_filter.clone() label=report_label />
            " "
            <IfAllowed permission=Permission::Operate clone:report_filter>
                <a class="button" href=format!("/jobs/new?{report_filter}")>
                    "Bulk consent…"
                </a>
            </IfAllowed>
            " "
            <StartReviewForm filter=report_filter label="DAP-removal review of these customers" />
        </div>
        <CustomerTable rows query=query.clone() />
        <Pager query page_count />
    }
}

/// DAP customers by last partner sign-in. Each bar is an HTML link (to that filter) holding its
/// SVG bar: links inside an SVG would not hydrate as the router's anchors.
#[component]
fn StalenessChart(chart: Vec<ChartBar>, query: CustomerQuery) -> impl IntoView {
    let max = chart
        .iter()
        .map(|b| b.dap_customers)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bars = chart
        .into_iter()
        .map(|bar| {
            let height = 100.0 * bar.dap_customers as f64 / max;
            let href = query.in_bucket(bar.bucket).href(PATH);
            let active = query.bucket == Some(bar.bucket);
            let safe_height = 100.0 * bar.covered as f64 / max;
            let label = format!(
                "{}: {} DAP customers, {} covered by GDAP",
                bar.bucket.label(),
                bar.dap_customers,
                bar.covered
            );
            view! {
                <a
                    href=href
                    class="bar"
                    class:active=active
                    data-bucket=bar.bucket.param()
                    title=label.clone()
                    aria-label=label
                >
                    <span class="count">{thousands(bar.dap_customers)}</span>
                    <svg viewBox="0 0 40 100" preserveAspectRatio="none" aria-hidden="true">
                        <rect
                            x="0"
                            y=format!("{:.1}", 100.0 - height)
                            width="40"
                            height=format!("{height:.1}")
                        />
                        <rect
                            class="covered"
                            x="0"
                            y=format!("{:.1}", 100.0 - safe_height)
                            width="40"
                            height=format!("{safe_height:.1}")
                        />
                    </svg>
                    <span class="axis">{bar.bucket.label()}</span>
                </a>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>
                "DAP customers by last partner sign-in (click a bar to filter); the darker part of each bar is covered by GDAP"
            </figcaption>
            <div class="bars">{bars}</div>
        </figure>
    }
}

#[component]
fn CustomerTable(rows: Vec<CustomerRow>, query: CustomerQuery) -> impl IntoView {
    let headers = SortKey::ALL
        .into_iter()
        .map(|key| {
            let sorted = (query.sort == key).then_some(query.dir);
            let aria = match sorted {
                Some(SortDir::Asc) => "ascending",
                Some(SortDir::Desc) => "descending",
                None => "none",
            };
            let arrow = match sorted {
                Some(SortDir::Asc) => " ▲",
                Some(SortDir::Desc) => " ▼",
                None => "",
            };
            view! {
                <th scope="col" aria-sort=aria title=key.hint()>
                    <a href=query.sorted_by(key).href(PATH) data-sort=key.param()>
                        {key.label()}
                        {arrow}
                    </a>
                </th>
            }
        })
        .collect_view();
    let consent_header = view! {
        <th scope="col" title="Applications with a CPV consent recorded by the dashboard">
            "CPV consent"
        </th>
        <th
            scope="col"
            title="GDAP coverage: whether an active GDAP relationship with the roles the dashboard needs, and an active access assignment, covers the customer once DAP is gone"
        >
            "GDAP"
        </th>
    };
    let empty = rows.is_empty().then(|| {
        view! {
            <tr>
                <td colspan="12" class="empty">
                    "No customer matches these filters."
                </td>
            </tr>
        }
    });
    view! {
        <div class="table-scroll"><table class="customers">
            <thead>
                <tr>{headers} {consent_header}</tr>
            </thead>
            <tbody>
                {empty}
                {rows.into_iter().map(|row| view! { <CustomerRowView row /> }).collect_view()}
            </tbody>
        </table></div>
    }
}

#[component]
fn CustomerRowView(row: CustomerRow) -> impl IntoView {
    let dap = if row.dap_enabled { "on" } else { "off" };
    let href = format!("{PATH}/{}", row.customer_tenant_id);
    let stale = row.dap_enabled && row.days_since_sign_in.is_none_or(|d| d >= 90);
    let row_id = row.customer_tenant_id.clone();
    view! {
        <tr data-tenant-id=row_id class:stale=stale>
            <td class="org">
                <a href=href>{row.organization_display_name}</a>
            </td>
            <td class="tenant">
                <code>{row.customer_tenant_id}</code>
            </td>
            <td class=format!("dap dap-{dap}")>{dap}</td>
            <td class="date" title=row.dap_since.clone().unwrap_or_default()>
                {date_part(row.dap_since.as_deref())}
            </td>
            <td class="date" title=row.dap_ended.clone().unwrap_or_default()>
                {date_part(row.dap_ended.as_deref())}
            </td>
            <td
                class="last-sign-in"
                title=row.last_partner_sign_in.clone().unwrap_or_else(|| "no partner sign-in recorded".into())
                data-days=row.days_since_sign_in.map(|d| d.to_string()).unwrap_or_default()
            >
                {relative_days(row.days_since_sign_in)}
            </td>
            <td class="num">{row.partner_agent_count}</td>
            <td class="num">{row.partner_sign_in_count}</td>
            <td class="num">{row.global_admin_sign_in_count}</td>
            <td class="consent" data-consents=row.consented_applications>
                {match row.consented_applications {
                    0 => "—".to_string(),
                    1 => "1 app".to_string(),
                    n => format!("{n} apps"),
                }}
            </td>
            <td
                class=format!("gdap gdap-{}", row.gdap.as_str())
                data-gdap=row.gdap.as_str()
                title=row.gdap_reasons.clone()
            >
                {row.gdap.label()}
            </td>
        </tr>
    }
}

#[component]
fn Pager(query: CustomerQuery, page_count: u32) -> impl IntoView {
    let page = query.page;
    let previous = (page > 1).then(|| {
        view! {
            <a class="button" rel="prev" href=query.on_page(page - 1).href(PATH)>
                "← Previous"
            </a>
        }
    });
    let next = (page < page_count).then(|| {
        view! {
            <a class="button" rel="next" href=query.on_page(page + 1).href(PATH)>
                "Next →"
            </a>
        }
    });
    view! {
        <nav class="pager" aria-label="Pages">
            {previous}
            <span class="page-of">{format!("Page {page} of {page_count}")}</span>
            {next}
        </nav>
    }
}

/// Last sync, a Sync button, and a progress bar while a sync runs. Hydrated, it follows a running
/// sync and loads the page again as it moves and when it ends (the table then shows the new
/// snapshot); without JavaScript the page refreshes itself until it is done.
#[component]
fn SyncPanel(status: StatusResource) -> impl IntoView {
    view! {
        <section class="sync-panel" aria-live="polite">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => {
                            let follow = status
                                .running
                                .is_some()
                                .then(|| {
                                    view! {
                                        <WhileRunning
                                            endpoint="/api/sync_status"
                                            args=String::new()
                                            seen=fingerprint_of(&status)
                                        />
                                    }
                                });
                            view! {
                                <SyncStatusView status />
                                {follow}
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorPanel error return_to=PATH /> }.into_any(),
                    }
                })}
            </Suspense>
            <IfAllowed permission=Permission::Operate>
                <PostForm action="/api/start_sync">
                    <Submit class="button" attr:id="sync-now">
                        "Sync now"
                    </Submit>
                </PostForm>
            </IfAllowed>
        </section>
    }
}

#[component]
fn SyncStatusView(status: SyncStatus) -> impl IntoView {
    let snapshot = status.snapshot.map(|s| {
        view! {
            <p class="last-sync">
                "Last synced "
                <When at=s.synced_at.clone() />
                " by "
                {s.synced_by}
                {format!(" ({} customers)", thousands(s.customer_count))}
            </p>
        }
    });
    let failure = status.last_failure.map(|f| {
        let correlation = f
            .correlation_id
            .map(|id| view! { " MS-CorrelationId: " <code>{id}</code> });
        view! {
            <p class="sync-failure" role="alert">
                "The last sync failed; the list below is the previous one. " {f.message}
                {correlation}
            </p>
        }
    });
    let running = status.running.map(|p| {
        let dap = match p.pages_total {
            Some(total) => format!(
                "DAP list page {} of {total}, {} customers read",
                p.pages_done,
                thousands(p.customers_read)
            ),
            None => "reading the DAP list".to_string(),
        };
        let gdap = match p.gdap_total {
            Some(total) => format!("GDAP {} of {total} calls", p.gdap_done),
            None => "listing GDAP relationships".to_string(),
        };
        let label = format!("Syncing: {dap}; {gdap}.");
        view! {
            <div class="sync-progress" id="sync-progress">
                {match p.bar() {
                    Some((value, max)) => {
                        view! { <progress value=value max=max aria-label="Sync progress"></progress> }
                            .into_any()
                    }
                    None => view! { <progress aria-label="Sync progress"></progress> }.into_any(),
                }}
                <span>{label}</span>
            </div>
        }
    });
    view! {
        {snapshot}
        {failure}
        {running}
    }
}
