use crate::error::AppError;
use crate::model::reviews::{Review, ReviewSummary};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn review_id(id: &str) -> Result<crate::ids::Guid, AppError> {
    crate::ids::Guid::parse(id).map_err(|_| AppError::NotFound {
        what: "DAP-removal review".into(),
    })
}

/// Starts a review over the DAP customers of `filter` (a customers-view query string) and goes
/// to it.
#[server(prefix = "/api", endpoint = "start_review")]
pub async fn start_review(filter: String, title: String) -> Result<String, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, reviews, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "start-review").await?;
            let query = super::customer_filter(&filter);
            let id = reviews::start(&state, &user, &query, &title).await?;
            leptos_axum::redirect(&format!("/reviews/{id}"));
            Ok(id.to_string())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "reviews")]
pub async fn fetch_reviews() -> Result<Vec<ReviewSummary>, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, reviews, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "reviews").await?;
            reviews::list(&state).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "review")]
pub async fn fetch_review(id: String) -> Result<Review, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, reviews, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Read, "review").await?;
            reviews::load(&state, review_id(&id)?, &user).await
        }
        .await,
    )
}

/// `decision`: remove, keep, or approve (a second admin agreeing with a removal).
#[server(prefix = "/api", endpoint = "decide")]
pub async fn decide(
    review: String,
    customer_tenant_id: String,
    decision: String,
    note: Option<String>,
    override_uncovered: Option<String>,
) -> Result<(), AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::model::reviews::Decision;
    use crate::ssr::{access, respond, reviews, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let decision = Decision::parse(&decision).ok_or_else(|| {
                AppError::InvalidInput("decision must be remove, keep or approve".into())
            })?;
            let needed = match decision {
                Decision::Approve => Permission::Approve,
                Decision::Remove | Decision::Keep => Permission::Operate,
            };
            let user = access::require(needed, "review-decision").await?;
            let customer = Guid::parse(&customer_tenant_id)?;
            reviews::decide(
                &state,
                &user,
                review_id(&review)?,
                customer,
                decision,
                note.as_deref().unwrap_or_default(),
                override_uncovered.is_some_and(|v| !v.is_empty() && v != "false"),
            )
            .await
        }
        .await,
    )
}

/// Removes DAP from the ready removals as a bulk job, and goes to the job.
#[server(prefix = "/api", endpoint = "execute_review")]
pub async fn execute_review(id: String, confirm: Option<String>) -> Result<String, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, reviews, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "execute-review").await?;
            let job = reviews::execute(&state, &user, review_id(&id)?, confirm.is_some()).await?;
            leptos_axum::redirect(&format!("/jobs/{job}"));
            Ok(job.to_string())
        }
        .await,
    )
}

/// Closes the review deliberately: the undecided customers keep DAP and nothing more is decided
/// or executed in it.
#[server(prefix = "/api", endpoint = "close_review")]
pub async fn close_review(
    id: String,
    confirm: Option<String>,
    note: Option<String>,
) -> Result<(), AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, respond, reviews, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "close-review").await?;
            reviews::close(
                &state,
                &user,
                review_id(&id)?,
                confirm.is_some(),
                note.as_deref().unwrap_or_default(),
            )
            .await
        }
        .await,
    )
}

/// One decision, with one note, for the ticked customers (`customers[i]`), or for all the
/// customers of the review (`all_matching`, the undecided ones when `show=undecided`).
#[server(prefix = "/api", endpoint = "decide_many")]
pub async fn decide_many(
    review: String,
    customers: Option<Vec<String>>,
    all_matching: Option<String>,
    show: Option<String>,
    decision: String,
    note: Option<String>,
    override_uncovered: Option<String>,
) -> Result<usize, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::model::reviews::Decision;
    use crate::ssr::{access, respond, reviews, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "review-decision").await?;
            let decision = Decision::parse(&decision)
                .filter(|d| *d != Decision::Approve)
                .ok_or_else(|| AppError::InvalidInput("decision must be remove or keep".into()))?;
            let selection = if all_matching.is_some() {
                reviews::Selection::AllMatching {
                    undecided_only: show.as_deref() == Some("undecided"),
                }
            } else {
                reviews::Selection::Customers(
                    customers
                        .unwrap_or_default()
                        .iter()
                        .map(|c| Guid::parse(c))
                        .collect::<Result<_, _>>()?,
                )
            };
            reviews::decide_many(
                &state,
                &user,
                review_id(&review)?,
                selection,
                decision,
                note.as_deref().unwrap_or_default(),
                override_uncovered.is_some_and(|v| !v.is_empty() && v != "false"),
            )
            .await
        }
        .await,
    )
}
