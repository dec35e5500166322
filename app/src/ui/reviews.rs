//! `/reviews` (recent DAP-removal reviews, start one) and `/reviews/{id}` (a decision per
//! customer with a note, four-eyes approvals, execution as a bulk job, CSV).

use super::format::{count, repeated_names, thousands, utc_minute, CustomerLink, When};
use super::{Confirm, ErrorPanel, IfAllowed, PostForm, Submit};
use crate::api::reviews::{fetch_review, fetch_reviews};
use crate::model::access::Permission;
use crate::model::gdap::Coverage;
use crate::model::reviews::{Decision, DecisionRecord, Review, ReviewCustomer, ReviewSummary};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The default review: DAP customers without a partner sign-in for 90 days.
pub const STALE_DAP_FILTER: &str = "dap=on&stale=90";

fn day(rfc3339: Option<&str>) -> String {
    rfc3339.map_or_else(|| "never".to_string(), |t| t.chars().take(10).collect())
}

/// A button that starts a review of the DAP customers of `filter` (a query string); the server
/// function goes to the new review.
#[component]
pub fn StartReviewForm(#[prop(into)] filter: String, #[prop(into)] label: String) -> impl IntoView {
    view! {
        <IfAllowed permission=Permission::Operate>
            <PostForm action="/api/start_review" class="inline start-review" clone:filter clone:label>
                <input type="hidden" name="filter" value=filter />
                <input type="hidden" name="title" value="" />
                <Submit class="button">{label}</Submit>
            </PostForm>
        </IfAllowed>
    }
}

#[component]
pub fn ReviewsPage() -> impl IntoView {
    let reviews = Resource::new(|| (), |_| fetch_reviews());
    view! {
        <h1>"DAP-removal reviews"</h1>
        <p class="muted">
            "A review lists the DAP customers of a filter. For each one a reviewer decides to remove DAP or keep it, with a note; "
            "where the four-eyes rule is on, a second admin approves each removal. Executing the review removes DAP from the approved customers as a bulk job; "
            "the review stays open for the undecided ones until an admin closes it. "
            "Start one here for the DAP customers without a partner sign-in for 90 days, or from the customers view for any filter."
        </p>
        <StartReviewForm filter=STALE_DAP_FILTER label="Review stale DAP (no sign-in for 90 days)" />
        <Suspense fallback=|| view! { <p class="loading">"Loading reviews…"</p> }>
            {move || Suspend::new(async move {
                match reviews.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="muted">"No review yet."</p> }.into_any()
                    }
                    Ok(list) => view! { <ReviewList list /> }.into_any(),
                    Err(error) => view! { <ErrorPanel error return_to="/reviews" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ReviewList(list: Vec<ReviewSummary>) -> impl IntoView {
    view! {
        <table class="reviews">
            <thead>
                <tr>
                    <th scope="col">"Review"</th>
                    <th scope="col">"Started by"</th>
                    <th scope="col">"Customers"</th>
                    <th scope="col">"State"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|r| {
                        let state = match (&r.closed_at, &r.executed_at, &r.job_id) {
                            (Some(at), _, _) => view! { "closed " <When at=at.clone() /> }.into_any(),
                            (None, Some(at), Some(job)) => {
                                view! {
                                    "open · last executed " <When at=at.clone() /> " · "
                                    <a href=format!("/jobs/{job}")>"job"</a>
                                }
                                    .into_any()
                            }
                            _ => view! { "open" }.into_any(),
                        };
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/reviews/{}", r.id)>{r.title}</a>
                                </td>
                                <td>{r.started_by}</td>
                                <td class="num">{thousands(r.customers)}</td>
                                <td>{state}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Customers per page of a review.
const REVIEW_PAGE_SIZE: usize = 50;

/// Which customers of a review a page shows, from its URL (`?show=undecided&page=2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Showing {
    undecided_only: bool,
    /// 1-based.
    page: usize,
}

impl Showing {
    fn href(self, review: &str) -> String {
        let mut pairs = Vec::new();
        if self.undecided_only {
            pairs.push("show=undecided".to_string());
        }
        if self.page > 1 {
            pairs.push(format!("page={}", self.page));
        }
        if pairs.is_empty() {
            format!("/reviews/{review}")
        } else {
            format!("/reviews/{review}?{}", pairs.join("&"))
        }
    }
}

#[component]
pub fn ReviewPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let showing = move || Showing {
        undecided_only: query.read().get("show").as_deref() == Some("undecided"),
        page: query
            .read()
            .get("page")
            .and_then(|p| p.parse().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1),
    };
    let id = move || params.read().get("id").unwrap_or_default();
    let review = Resource::new(id, fetch_review);
    view! {
        <p class="breadcrumb">
            <a href="/reviews">"← Reviews"</a>
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading the review…"</p> }>
            {move || {
                let showing = showing();
                Suspend::new(async move {
                match review.await {
                    Ok(review) => {
                        view! { <ReviewView review showing /> }.into_any()
                    }
                    Err(error) => {
                        view! { <ErrorPanel error return_to=format!("/reviews/{}", id()) /> }
                            .into_any()
                    }
                }
            })}}
        </Suspense>
    }
}

#[component]
fn ReviewView(review: Review, showing: Showing) -> impl IntoView {
    let s = review.summary;
    let open = s.is_open();
    let rule = if s.four_eyes {
        "Four-eyes rule on: each removal needs approval by a second, different admin."
    } else {
        "Four-eyes rule off: a removal decision is enough."
    };
    let executed = execution_notice(&s);
    let actions = (open && review.viewer_can_operate).then(|| {
        view! {
            <ExecuteForm
                review_id=s.id.clone()
                ready=s.ready
                undecided=s.undecided()
            />
            " "
            <CloseForm review_id=s.id.clone() ready=s.ready undecided=s.undecided() />
        }
    });
    let (can_decide, can_approve) = (review.viewer_can_operate, review.viewer_can_approve);
    let review_id = s.id.clone();
    let repeated = repeated_names(
        review
            .customers
            .iter()
            .map(|c| c.organization_display_name.as_str()),
    );
    let matching: Vec<_> = review
        .customers
        .into_iter()
        .filter(|c| !showing.undecided_only || c.decision.is_none())
        .collect();
    let pages = matching.len().div_ceil(REVIEW_PAGE_SIZE).max(1);
    let page = showing.page.min(pages);
    let first = (page - 1) * REVIEW_PAGE_SIZE;
    let shown: Vec<_> = matching
        .iter()
        .skip(first)
        .take(REVIEW_PAGE_SIZE)
        .cloned()
        .collect();
    // Type-erased: the page's view type is deep enough already for the wasm build's layout
    // queries.
    let pager = review_pager(&s.id, showing, page, pages, matching.len()).into_any();
    let selectable = open && can_decide;
    let decidable = matching
        .iter()
        .filter(|c| c.executed_job_id.is_none())
        .count();
    let bulk = selectable.then(|| {
        view! {
            <BulkDecision
                review_id=s.id.clone()
                undecided_only=showing.undecided_only
                matching=decidable
            />
        }
        .into_any()
    });
    view! {
        <h1>{s.title.clone()}</h1>
        <p
            class="report-meta"
            id="review-summary"
            data-customers=s.customers
            data-decided=s.decided
            data-removals=s.removals
            data-ready=s.ready
            data-four-eyes=s.four_eyes.to_string()
            data-executed=s.executed
            data-open=open.to_string()
        >
            "Started by " {s.started_by.clone()} " at " <When at=s.started_at.clone() /> " for "
            <a href=format!("/customers?{}", s.scope)>{format!("the DAP customers of: {}", s.scope_description)}</a> ". "
            {format!(
                "{} of {} decided: {} to remove ({} ready, {} executed), {} kept, {} undecided. ",
                thousands(s.decided),
                count(s.customers, "customer", "customers"),
                thousands(s.removals),
                thousands(s.ready),
                thousands(s.executed),
                thousands(s.decided.saturating_sub(s.removals)),
                thousands(s.undecided()),
            )} {rule}
        </p>
        <progress
            value=s.decided
            max=s.customers.max(1)
            aria-label="Customers decided"
        ></progress>
        {executed}
        <div class="table-actions">
            {actions} " "
            <a class="button" href=format!("/reviews/{}/export.csv", s.id) rel="external" download="">
                "Export CSV"
            </a>
        </div>
        {pager}
        {bulk}
        <div class="table-scroll"><table class="review">
            <thead>
                <tr>
                    {selectable
                        .then(|| {
                            view! {
                                <th scope="col">
                                    <span class="visually-hidden">"Select"</span>
                                </th>
                            }
                        })}
                    <th scope="col">"Customer"</th>
                    <th scope="col">"DAP since"</th>
                    <th scope="col">"Last partner sign-in"</th>
                    <th scope="col" title="GDAP coverage when the review started">
                        "GDAP"
                    </th>
                    <th scope="col">"Decision"</th>
                    {(open && (can_decide || can_approve))
                        .then(|| view! { <th scope="col">"Decide"</th> })}
                </tr>
            </thead>
            <tbody>
                {shown
                    .into_iter()
                    .enumerate()
                    .map(|(i, customer)| {
                        let select_index = (selectable && customer.executed_job_id.is_none())
                            .then_some(first + i);
                        let ambiguous = repeated.contains(&customer.organization_display_name);
                        view! {
                            <ReviewRow
                                customer
                                review_id=review_id.clone()
                                can_decide
                                can_approve
                                four_eyes=s.four_eyes
                                open
                                select_index
                                selectable
                                ambiguous
                            />
                        }
                    })
                    .collect_view()}
            </tbody>
        </table></div>
    }
}

fn describe(record: &DecisionRecord) -> String {
    let overridden = (record.decision == Decision::Remove)
        .then_some(record.coverage)
        .flatten()
        .filter(|c| !c.is_safe())
        .map(|c| format!(" (GDAP {}: override)", c.label()))
        .unwrap_or_default();
    format!(
        "{} by {} at {}{overridden}",
        record.decision.as_str(),
        record.decided_by,
        utc_minute(&record.decided_at)
    )
}

#[component]
fn ReviewRow(
    customer: ReviewCustomer,
    review_id: String,
    /// The signed-in admin may decide (`Dashboard.Operate`).
    can_decide: bool,
    /// The signed-in admin may approve others' removals (`DapReview.Approve`).
    can_approve: bool,
    four_eyes: bool,
    open: bool,
    /// Ticked for a bulk decision as `customers[i]` of the `bulk-decide` form.
    select_index: Option<usize>,
    /// The table has a selection column (this row may still have no box).
    selectable: bool,
    /// Another customer of the review has the same name.
    ambiguous: bool,
) -> impl IntoView {
    let select = selectable.then(|| {
        let label = format!("Select {}", customer.organization_display_name);
        let tenant = customer.customer_tenant_id.clone();
        let checkbox = select_index.map(|i| {
            view! {
                <input
                    type="checkbox"
                    form="bulk-decide"
                    name=format!("customers[{i}]")
                    value=tenant
                    aria-label=label
                />
            }
        });
        view! { <td class="select">{checkbox}</td> }
    });
    // A removal handed to a job is final: the row shows the job instead of the forms.
    let executed_job = customer.executed_job_id.clone();
    let has_decide_column = open && (can_decide || can_approve);
    let open = open && executed_job.is_none();
    let decision = customer.decision.clone();
    let decision_name = decision
        .as_ref()
        .map_or("", |d| d.decision.as_str())
        .to_string();
    let approved = customer.approval.is_some();
    let offer_approval = open
        && four_eyes
        && can_approve
        && !approved
        && decision
            .as_ref()
            .is_some_and(|d| d.decision == Decision::Remove && !d.by_viewer);
    let current = match &decision {
        None => view! { <span class="muted">"undecided"</span> }.into_any(),
        Some(d) => {
            let note = (!d.note.is_empty()).then(|| view! { <q class="note">{d.note.clone()}</q> });
            let approval = customer
                .approval
                .as_ref()
                .map(|a| view! { <br /> <span class="approval">{format!("approved by {} at {}", a.decided_by, utc_minute(&a.decided_at))}</span> });
            let waiting = (four_eyes && d.decision == Decision::Remove && !approved).then(
                || view! { <br /> <span class="muted">"awaiting a second admin's approval"</span> },
            );
            view! {
                <span class=format!("badge decision-{}", d.decision.as_str())>{describe(d)}</span>
                " "
                {note}
                {approval}
                {waiting}
            }
            .into_any()
        }
    };
    let tenant = customer.customer_tenant_id.clone();
    let coverage = customer.gdap;
    let coverage_cell = view! {
        <td
            class=format!("gdap gdap-{}", customer.gdap.as_str())
            data-gdap=customer.gdap.as_str()
            title=customer.gdap_reasons.clone()
        >
            {if customer.gdap.is_safe() {
                "covered: safe to remove".to_string()
            } else {
                customer.gdap.label().to_string()
            }}
        </td>
    };
    let executed_cell = executed_job.filter(|_| has_decide_column).map(|job| {
        view! {
            <td>
                <a href=format!("/jobs/{job}")>"Removal executed: see the job"</a>
            </td>
        }
    });
    let forms = (open && (can_decide || can_approve)).then(|| {
        let approve = offer_approval.then(|| {
            view! { <ApproveForm review_id=review_id.clone() customer_tenant_id=tenant.clone() /> }
        });
        let decide = can_decide.then(|| {
            view! {
                <DecideForm review_id=review_id.clone() customer_tenant_id=tenant.clone() coverage />
            }
        });
        view! { <td>{decide} {approve}</td> }
    });
    view! {
        <tr
            data-tenant-id=customer.customer_tenant_id.clone()
            data-decision=decision_name
            data-approved=approved.to_string()
            data-ready=customer.will_be_removed.to_string()
        >
            {select}
            <td>
                <CustomerLink
                    name=customer.organization_display_name
                    tenant_id=customer.customer_tenant_id.clone()
                    ambiguous
                />
            </td>
            <td>{day(customer.dap_since.as_deref())}</td>
            <td>{day(customer.last_sign_in.as_deref())}</td>
            {coverage_cell}
            <td>{current}</td>
            {forms}
            {executed_cell}
        </tr>
    }
}

/// Remove or keep one customer, with a note; the page shows the decision once saved.
#[component]
fn DecideForm(review_id: String, customer_tenant_id: String, coverage: Coverage) -> impl IntoView {
    let uncovered = !coverage.is_safe();
    view! {
        <PostForm action="/api/decide" class="decide">
            <input type="hidden" name="review" value=review_id />
            <input type="hidden" name="customer_tenant_id" value=customer_tenant_id />
            <select name="decision" aria-label="Decision" required>
                <option value="" selected disabled>"Decide…"</option>
                {proposal_options(coverage)}
            </select>
            " "
            <input type="text" name="note" placeholder="Note (needed to remove)" maxlength="1000" aria-label="Note (needed to remove)" />
            " "
            {uncovered.then(|| view! {
                <label class="confirm override">
                    <input type="checkbox" name="override_uncovered" />
                    " remove although GDAP does not cover it (give the reason in the note)"
                </label>
                " "
            })}
            <Submit class="button">"Save"</Submit>
        </PostForm>
    }
}

/// A second admin's approval of a removal.
#[component]
fn ApproveForm(review_id: String, customer_tenant_id: String) -> impl IntoView {
    view! {
        <PostForm action="/api/decide" class="inline approve">
            <input type="hidden" name="review" value=review_id />
            <input type="hidden" name="customer_tenant_id" value=customer_tenant_id />
            <input type="hidden" name="decision" value="approve" />
            <input type="hidden" name="note" value="" />
            <Submit class="button primary">"Approve removal"</Submit>
        </PostForm>
    }
}

/// What earlier executions did, or who closed the review.
fn execution_notice(s: &ReviewSummary) -> Option<AnyView> {
    let latest = match (&s.job_id, &s.executed_by, &s.executed_at) {
        (Some(job), Some(by), Some(at)) => Some(view! {
            " Latest execution by " {by.clone()} " at " <When at=at.clone() /> ": "
            <a href=format!("/jobs/{job}")>"the DAP-removal job"</a> "."
        }),
        _ => None,
    };
    match (&s.closed_by, &s.closed_at) {
        (Some(by), Some(at)) => {
            let note = s
                .close_note
                .clone()
                .filter(|n| !n.is_empty())
                .map(|n| view! { " " <q class="note">{n}</q> });
            Some(
                view! {
                    <p class="notice" id="review-closed">
                        "Closed by " {by.clone()} " at " <When at=at.clone() /> ": nothing more is decided or executed here. "
                        {format!("DAP removal executed for {}.", count(s.executed, "customer", "customers"))}
                        {latest}
                        {note}
                    </p>
                }
                .into_any(),
            )
        }
        _ => latest.map(|latest| {
            view! {
                <p class="notice" id="review-executed">
                    {format!(
                        "DAP removal executed for {} so far; the review stays open for the {} undecided until an admin closes it.",
                        count(s.executed, "customer", "customers"),
                        thousands(s.undecided()),
                    )}
                    {latest}
                </p>
            }
            .into_any()
        }),
    }
}

/// Removes DAP from the ready removals, after a confirmation naming both counts. The server
/// function goes to the job.
#[component]
fn ExecuteForm(review_id: String, ready: usize, undecided: usize) -> impl IntoView {
    let consequence = format!(
        "I confirm: {} lose DAP now (the partner keeps only what GDAP grants); {} still undecided \
         keep it, and the review stays open for them.",
        count(ready, "customer", "customers"),
        thousands(undecided)
    );
    view! {
        <PostForm action="/api/execute_review" class="inline" id="execute-review">
            <input type="hidden" name="id" value=review_id />
            <Confirm text=consequence unavailable=ready == 0 />
            " "
            <Submit class="button danger" unavailable=ready == 0>
                {format!("Remove DAP from {}", count(ready, "customer", "customers"))}
            </Submit>
        </PostForm>
    }
}

/// Closes the review deliberately, after a confirmation naming what stays undone.
#[component]
fn CloseForm(review_id: String, ready: usize, undecided: usize) -> impl IntoView {
    let consequence = format!(
        "I confirm: close the review; {} undecided and {} not executed keep DAP.",
        count(undecided, "customer", "customers"),
        count(ready, "ready removal", "ready removals"),
    );
    view! {
        <PostForm action="/api/close_review" class="inline" id="close-review">
            <input type="hidden" name="id" value=review_id />
            <Confirm text=consequence />
            " "
            <input type="text" name="note" placeholder="Why close it (optional)" maxlength="1000" aria-label="Why close the review" />
            " "
            <Submit class="button">"Close the review"</Submit>
        </PostForm>
    }
}

/// The decisions offered, the proposed one first: removal is proposed only where GDAP covers
/// the customer; elsewhere keeping DAP is, and a removal needs the override.
fn proposal_options(coverage: Coverage) -> impl IntoView {
    if coverage.is_safe() {
        view! {
            <option value="remove">"Remove DAP (proposed: GDAP covers it)"</option>
            <option value="keep">"Keep DAP"</option>
        }
        .into_any()
    } else {
        view! {
            <option value="keep">{format!("Keep DAP (proposed: GDAP coverage is {})", coverage.label())}</option>
            <option value="remove">"Remove DAP (needs the override)"</option>
        }
        .into_any()
    }
}

/// "All / Undecided only" and the pages of the current choice, as plain links.
fn review_pager(
    review: &str,
    showing: Showing,
    page: usize,
    pages: usize,
    matching: usize,
) -> impl IntoView {
    let link = |undecided_only: bool, page: usize| {
        Showing {
            undecided_only,
            page,
        }
        .href(review)
    };
    let current = |on: bool| on.then_some("page");
    let previous = (page > 1).then(|| {
        view! { <a rel="prev" href=link(showing.undecided_only, page - 1)>"← Previous"</a> }
    });
    let next = (page < pages).then(|| {
        view! { <a rel="next" href=link(showing.undecided_only, page + 1)>"Next →"</a> }
    });
    let first = (page - 1) * REVIEW_PAGE_SIZE + 1;
    let last = (first + REVIEW_PAGE_SIZE - 1).min(matching);
    let position = if matching == 0 {
        "No customer here.".to_string()
    } else {
        format!(
            "Showing {}–{} of {}, page {page} of {pages}.",
            thousands(first),
            thousands(last),
            count(matching, "customer", "customers")
        )
    };
    view! {
        <nav class="pager" aria-label="Review customers" id="review-pager" data-matching=matching>
            <a href=link(false, 1) aria-current=current(!showing.undecided_only)>"All"</a>
            <a href=link(true, 1) aria-current=current(showing.undecided_only)>"Undecided only"</a>
            <span>{position}</span>
            {previous}
            {next}
        </nav>
    }
}

/// One decision for the ticked customers of the page, or for all the customers shown.
#[component]
fn BulkDecision(review_id: String, undecided_only: bool, matching: usize) -> impl IntoView {
    let all_label = if undecided_only {
        format!(
            " all {} undecided",
            count(matching, "customer", "customers")
        )
    } else {
        format!(
            " all {} of the review",
            count(matching, "customer", "customers")
        )
    };
    view! {
        <PostForm action="/api/decide_many" id="bulk-decide" class="bulk-decide">
            <input type="hidden" name="review" value=review_id />
            <input type="hidden" name="show" value=if undecided_only { "undecided" } else { "" } />
            <fieldset>
                <legend>"Decide the ticked customers"</legend>
                <label>
                    <input type="checkbox" name="all_matching" />
                    {all_label}
                </label>
                " "
                <select name="decision" aria-label="Decision for the selected" required>
                    <option value="" selected disabled>"Decide…"</option>
                    <option value="remove">"Remove DAP"</option>
                    <option value="keep">"Keep DAP"</option>
                </select>
                " "
                <input type="text" name="note" placeholder="Note (needed to remove)" maxlength="1000" aria-label="Note for the selected (needed to remove)" />
                " "
                <label class="confirm override">
                    <input type="checkbox" name="override_uncovered" />
                    " remove also where GDAP does not cover (give the reason in the note)"
                </label>
                " "
                <Submit class="button">"Decide the selected"</Submit>
            </fieldset>
        </PostForm>
    }
}
