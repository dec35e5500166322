//! `/jobs` (recent bulk jobs), `/jobs/new?{filter}` (bulk consent for the customers of a
//! filter) and `/jobs/{id}` (live progress, per-customer status, cancel, retry, JSON and CSV).

use super::consent::{ApplicationIdField, GrantFields, KnownApplications};
use super::format::{count, repeated_names, thousands, CustomerLink, When};
use super::{
    fingerprint_of, viewer_permissions, Confirm, ErrorPanel, NotAllowed, PostForm, SessionResource,
    Submit, WhileRunning,
};
use crate::api::jobs::{fetch_bulk_selection, fetch_job, fetch_jobs, BulkSelection};
use crate::model::access::Permission;
use crate::model::jobs::{Job, JobItem, JobItemStatus, JobSummary};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map};

fn progress_text(counts: &crate::model::jobs::JobCounts, finished: bool) -> String {
    let mut text = format!(
        "{} of {} handled: {} done, {} failed",
        thousands(counts.handled()),
        thousands(counts.total),
        thousands(counts.done),
        thousands(counts.failed)
    );
    if counts.cancelled > 0 {
        text.push_str(&format!(", {} cancelled", thousands(counts.cancelled)));
    }
    if counts.held > 0 {
        text.push_str(&format!(
            ", {} held because GDAP coverage fell",
            thousands(counts.held)
        ));
    }
    text.push_str(if finished { "." } else { "…" });
    text
}

#[component]
pub fn JobsPage() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| fetch_jobs());
    view! {
        <h1>"Bulk jobs"</h1>
        <p class="muted">
            "Bulk consent and DAP removal run as background jobs: at most the configured number of consent calls per second per application, "
            "throttling and server errors retried with the same MS-RequestId, and a restart resumes where the job stopped. "
            "Start bulk consent from the " <a href="/customers">"customers view"</a>
            " (it acts on the customers of the current filter), and DAP removal from a "
            <a href="/reviews">"review"</a> "."
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading jobs…"</p> }>
            {move || Suspend::new(async move {
                match jobs.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="muted">"No job yet."</p> }.into_any()
                    }
                    Ok(list) => view! { <JobList list /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error return_to="/jobs" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Where a job's customers came from: its review, or its filter in words.
fn job_origin(s: &JobSummary) -> AnyView {
    match &s.review_id {
        Some(review) => {
            view! { <a href=format!("/reviews/{review}")>"a DAP-removal review"</a> }.into_any()
        }
        None => {
            let description = if s.scope.is_empty() {
                "all customers".to_string()
            } else {
                s.scope_description.clone()
            };
            view! { <a href=format!("/customers?{}", s.scope)>{description}</a> }.into_any()
        }
    }
}

/// "running", "cancelling", "cancelled" or "finished".
fn job_state(s: &JobSummary) -> &'static str {
    match (s.finished_at.is_some(), s.cancel_requested_by.is_some()) {
        (false, false) => "running",
        (false, true) => "cancelling",
        (true, true) => "cancelled",
        (true, false) => "finished",
    }
}

/// The application of a consent job: its name when known, and its id.
fn job_application(s: &JobSummary) -> Option<impl IntoView> {
    s.application_id.clone().map(|app| {
        let name = s.display_name.clone().filter(|n| !n.is_empty());
        view! {
            <br />
            <span class="application">
                {name.map(|n| view! { {n} " " })}
                <code>{app}</code>
            </span>
        }
    })
}

#[component]
fn JobList(list: Vec<JobSummary>) -> impl IntoView {
    view! {
        <div class="table-scroll"><table class="jobs">
            <thead>
                <tr>
                    <th scope="col">"Started"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Customers"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Outcome"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|job| {
                        let finished = job.finished_at.is_some();
                        let state = job_state(&job);
                        view! {
                            <tr data-job-id=job.id.clone() data-state=state>
                                <td>
                                    <a href=format!("/jobs/{}", job.id)><When at=job.created_at.clone() /></a>
                                </td>
                                <td>{job.kind.title()} {job_application(&job)}</td>
                                <td>{job_origin(&job)}</td>
                                <td>{job.started_by.clone()}</td>
                                <td>{state}</td>
                                <td>{progress_text(&job.counts, finished)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table></div>
    }
}

/// Bulk consent for the customers of the filter in the query string.
#[component]
pub fn NewJobPage() -> impl IntoView {
    let location = use_location();
    let filter = move || location.search.get().trim_start_matches('?').to_string();
    let selection = Resource::new(filter, fetch_bulk_selection);
    let session = expect_context::<SessionResource>();
    view! {
        <p class="breadcrumb">
            <a href=move || format!("/customers?{}", filter())>"← Customers"</a>
        </p>
        <h1>"Bulk CPV consent"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Counting the customers…"</p> }>
            {move || Suspend::new(async move {
                let permissions = viewer_permissions(session).await;
                match selection.await {
                    Ok(_) if !permissions.operate => {
                        view! { <NotAllowed permission=Permission::Operate /> }.into_any()
                    }
                    Ok(selection) => {
                        view! { <BulkConsentForms selection filter=filter() /> }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error return_to="/customers" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The server function goes to the new job.
#[component]
fn BulkConsentForms(selection: BulkSelection, filter: String) -> impl IntoView {
    let default_app = selection.default_application_id.unwrap_or_default();
    let known = selection.known_applications;
    let grant_app = default_app.clone();
    let grant_filter = filter.clone();
    let more = selection.customers.saturating_sub(selection.sample.len());
    let sample = selection.sample.join(", ");
    let sample = if more > 0 {
        format!("{sample} and {} more", thousands(more))
    } else {
        sample
    };
    view! {
        <p id="bulk-selection" data-customers=selection.customers>
            <strong>{thousands(selection.customers)}</strong>
            " customers selected by the filter: "
            {sample}
        </p>
        <KnownApplications known />
        <section class="panel">
            <h2>"Grant consent"</h2>
            <PostForm action="/api/start_consent_job" class="grant-consent" id="bulk-grant">
                <input type="hidden" name="filter" value=grant_filter />
                <input type="hidden" name="action" value="grant" />
                <GrantFields default_app=grant_app />
                <Confirm text=format!(
                    "I confirm: this application gets the grants above in {}.",
                    count(selection.customers, "customer", "customers")
                ) />
                " "
                <Submit class="button primary">
                    {format!("Grant in {}", count(selection.customers, "customer", "customers"))}
                </Submit>
            </PostForm>
        </section>
        <section class="panel">
            <h2>"Revoke consent"</h2>
            <PostForm action="/api/start_consent_job" id="bulk-revoke">
                <input type="hidden" name="filter" value=filter />
                <input type="hidden" name="action" value="revoke" />
                <input type="hidden" name="display_name" value="" />
                <ApplicationIdField default_app />
                " "
                <Confirm text=format!(
                    "I confirm: this application loses its consent in {}.",
                    count(selection.customers, "customer", "customers")
                ) />
                " "
                <Submit class="button danger">
                    {format!("Revoke in {}", count(selection.customers, "customer", "customers"))}
                </Submit>
            </PostForm>
        </section>
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let session = expect_context::<SessionResource>();
    let job = Resource::new(id, fetch_job);
    view! {
        <p class="breadcrumb">
            <a href="/jobs">"← Jobs"</a>
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading the job…"</p> }>
            {move || Suspend::new(async move {
                let can_operate = viewer_permissions(session).await.operate;
                match job.await {
                    Ok(job) => view! { <JobView job can_operate /> }.into_any(),
                    Err(error) => {
                        view! { <ErrorPanel error return_to=format!("/jobs/{}", id()) /> }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn CancelJobForm(id: String) -> impl IntoView {
    view! {
        <PostForm action="/api/cancel_job" class="inline">
            <input type="hidden" name="id" value=id />
            <Submit class="button danger">"Cancel the job"</Submit>
        </PostForm>
    }
}

/// The server function goes to the new job.
#[component]
fn RetryFailedForm(id: String, consequence: String, label: String) -> impl IntoView {
    view! {
        <PostForm action="/api/retry_failed" class="inline" id="retry-failed">
            <input type="hidden" name="id" value=id />
            <Confirm text=consequence />
            " "
            <Submit class="button">{label}</Submit>
        </PostForm>
    }
}

#[component]
fn ReleaseHeldForm(id: String, customer: String) -> impl IntoView {
    view! {
        <PostForm action="/api/release_held" class="release-held">
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="customer" value=customer />
            <Confirm text="I confirm: remove DAP anyway; the partner may lose access to this customer." />
            " "
            <input
                type="text"
                name="note"
                required
                maxlength="1000"
                placeholder="Why"
                aria-label="Why it is released"
            />
            " "
            <Submit class="button danger">"Release"</Submit>
        </PostForm>
    }
}

#[component]
fn JobView(job: Job, can_operate: bool) -> impl IntoView {
    let seen = fingerprint_of(&job);
    let s = job.summary;
    let may_release = can_operate && s.finished_at.is_some() && s.cancel_requested_by.is_none();
    let finished = s.finished_at.is_some();
    let counts = s.counts.clone();
    let application = s.application_id.clone().map(|app| {
        let name = s
            .display_name
            .clone()
            .filter(|n| !n.is_empty())
            .map(|n| format!(" ({n})"));
        view! { " Application " <code>{app}</code> {name} "." }
    });
    let origin = job_origin(&s);
    let cancelling = s.cancel_requested_by.clone().filter(|_| !finished).map(|by| {
        view! { <p class="notice">"Cancel requested by " {by} ": stopping after the calls in flight."</p> }
    });
    let job_id = s.id.clone();
    let items_job_id = s.id.clone();
    let kind = s.kind;
    let controls = if !can_operate {
        ().into_any()
    } else if finished {
        (counts.failed + counts.held > 0)
            .then(move || {
                let label = match (counts.failed, counts.held) {
                    (failed, 0) => format!("Retry the {} failed", thousands(failed)),
                    (0, held) => format!("Check the {} held again", thousands(held)),
                    (failed, held) => format!(
                        "Retry the {} failed and check the {} held again",
                        thousands(failed),
                        thousands(held)
                    ),
                };
                let consequence = format!(
                    "I confirm: {} with new MS-RequestIds ({}).",
                    kind.title(),
                    count(counts.failed + counts.held, "customer", "customers")
                );
                view! { <RetryFailedForm id=job_id consequence label /> }
            })
            .into_any()
    } else {
        (s.cancel_requested_by.is_none())
            .then(move || {
                view! { <CancelJobForm id=job_id /> }
            })
            .into_any()
    };
    view! {
        <h1>{s.kind.title()}</h1>
        <p
            class="report-meta"
            id="job-progress"
            data-total=counts.total
            data-done=counts.done
            data-failed=counts.failed
            data-cancelled=counts.cancelled
            data-held=counts.held
            data-finished=finished.to_string()
        >
            "Started by " {s.started_by.clone()} " at " <When at=s.created_at.clone() /> " for " {origin}
            "." {application} " " {progress_text(&counts, finished)}
        </p>
        <progress value=counts.handled() max=counts.total.max(1) aria-label="Job progress"></progress>
        {(!finished)
            .then(|| {
                view! {
                    <WhileRunning
                        endpoint="/api/job"
                        args=format!("id={}", crate::urls::encode_component(&s.id))
                        seen
                    />
                }
            })}
        {cancelling}
        <div class="table-actions">
            {controls}
            " "
            <a class="button" href=format!("/jobs/{}/export.csv", s.id) rel="external" download="">
                "Export CSV"
            </a>
            " "
            <a class="button" href=format!("/jobs/{}.json", s.id) rel="external">
                "JSON"
            </a>
        </div>
        <div class="table-scroll"><table class="job-items">
            <thead>
                <tr>
                    <th scope="col">"Customer"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Attempts"</th>
                    <th scope="col">"Detail"</th>
                </tr>
            </thead>
            <tbody>
                {
                    let repeated = repeated_names(
                        job.items.iter().map(|i| i.organization_display_name.as_str()),
                    );
                    job.items
                        .into_iter()
                        .map(|item| {
                            let job_id = items_job_id.clone();
                            let ambiguous = repeated.contains(&item.organization_display_name);
                            view! { <JobItemRow item job_id may_release ambiguous /> }
                        })
                        .collect_view()
                }
            </tbody>
        </table></div>
    }
}

#[component]
fn JobItemRow(
    item: JobItem,
    job_id: String,
    may_release: bool,
    /// Another item has the same customer name.
    ambiguous: bool,
) -> impl IntoView {
    let status = item.status;
    let class = match status {
        JobItemStatus::Failed | JobItemStatus::Held => "failed",
        JobItemStatus::Done => "done",
        _ => "muted",
    };
    let detail = item.detail.unwrap_or_default();
    let customer = item.customer_tenant_id.clone();
    let release_form = (may_release && status == JobItemStatus::Held)
        .then(|| view! { <ReleaseHeldForm id=job_id customer /> });
    view! {
        <tr data-tenant-id=item.customer_tenant_id.clone() data-status=status.as_str()>
            <td>
                <CustomerLink
                    name=item.organization_display_name
                    tenant_id=item.customer_tenant_id.clone()
                    ambiguous
                />
            </td>
            <td class=class>{status.as_str()}</td>
            <td class="num">{item.attempts}</td>
            <td>
                {detail} " " <span class="request-id" title="MS-RequestId">
                    {item.request_id}
                </span> {release_form}
            </td>
        </tr>
    }
}
