// Server functions take one argument per form field (ActionForm posts them by name).
#![allow(
    clippy::too_many_arguments,
    reason = "a server function takes its form's fields as arguments"
)]

use crate::error::AppError;
use crate::model::jobs::{Job, JobSummary};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a bulk consent form acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkSelection {
    pub customers: usize,
    /// The first few names, to show what the filter selects.
    pub sample: Vec<String>,
    pub default_application_id: Option<String>,
    #[serde(default)]
    pub known_applications: Vec<crate::model::consent::KnownApplication>,
}

#[cfg(feature = "ssr")]
fn job_id(id: &str) -> Result<crate::ids::Guid, AppError> {
    crate::ids::Guid::parse(id).map_err(|_| AppError::NotFound { what: "job".into() })
}

#[server(prefix = "/api", endpoint = "bulk_selection")]
pub async fn fetch_bulk_selection(filter: String) -> Result<BulkSelection, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, jobs, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Read, "bulk-selection").await?;
            let customers =
                jobs::select_customers(&state, &user, &super::customer_filter(&filter)).await?;
            Ok(BulkSelection {
                customers: customers.len(),
                sample: customers.iter().take(5).map(|(_, n)| n.clone()).collect(),
                default_application_id: state.config.cpv_application_id.clone(),
                known_applications: crate::ssr::consent::known_applications(&state).await?,
            })
        }
        .await,
    )
}

/// Grants (`action=grant`) or revokes (`action=revoke`) CPV consent in every customer of
/// `filter` as a background job, and goes to the job's page.
#[server(prefix = "/api", endpoint = "start_consent_job")]
pub async fn start_consent_job(
    filter: String,
    action: String,
    application_id: String,
    display_name: String,
    preset_graph: Option<String>,
    preset_azure: Option<String>,
    preset_exchange: Option<String>,
    grants: Option<String>,
    confirm: Option<String>,
) -> Result<String, AppError> {
    use crate::api::consent::checked_presets;
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::model::consent::grants_from_form;
    use crate::model::jobs::JobKind;
    use crate::ssr::{access, jobs, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "start-consent-job").await?;
            let application = Guid::parse(&application_id)?;
            let (kind, grants) = match action.as_str() {
                "grant" => {
                    let checked = checked_presets(&preset_graph, &preset_azure, &preset_exchange);
                    let grants = grants_from_form(&checked, grants.as_deref())
                        .map_err(AppError::InvalidInput)?;
                    (JobKind::GrantConsent, grants)
                }
                "revoke" => (JobKind::RevokeConsent, Vec::new()),
                other => {
                    return Err(AppError::InvalidInput(format!(
                        "action must be grant or revoke, not '{}'",
                        other.chars().take(20).collect::<String>()
                    )))
                }
            };
            let request = jobs::ConsentRequest {
                kind,
                application,
                display_name: crate::ssr::consent::known_name(&state, application, &display_name)
                    .await?,
                grants,
                confirmed: confirm.is_some(),
            };
            let id = jobs::start_consent(&state, &user, &super::customer_filter(&filter), request)
                .await?;
            leptos_axum::redirect(&format!("/jobs/{id}"));
            Ok(id.to_string())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "jobs")]
pub async fn fetch_jobs() -> Result<Vec<JobSummary>, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, jobs, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "jobs").await?;
            jobs::list(&state).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "job")]
pub async fn fetch_job(id: String) -> Result<Job, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, jobs, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "job").await?;
            jobs::load(&state, job_id(&id)?).await
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "cancel_job")]
pub async fn cancel_job(id: String) -> Result<(), AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, jobs, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "cancel-job").await?;
            jobs::cancel(&state, &user, job_id(&id)?).await
        }
        .await,
    )
}

/// Starts a new job over the failed (and held) items of a finished one, once confirmed, and goes
/// to it.
#[server(prefix = "/api", endpoint = "retry_failed")]
pub async fn retry_failed(id: String, confirm: Option<String>) -> Result<String, AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, jobs, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "retry-failed").await?;
            let new_id = jobs::retry_failed(&state, &user, job_id(&id)?, confirm.is_some()).await?;
            leptos_axum::redirect(&format!("/jobs/{new_id}"));
            Ok(new_id.to_string())
        }
        .await,
    )
}

/// Sends a held DAP removal after all (confirmed, with the reason), and reloads the job.
#[server(prefix = "/api", endpoint = "release_held")]
pub async fn release_held(
    id: String,
    customer: String,
    confirm: Option<String>,
    note: String,
) -> Result<(), AppError> {
    use crate::model::access::Permission;
    use crate::ssr::{access, jobs, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "release-held-removal").await?;
            let customer = crate::ids::Guid::parse(&customer)?;
            jobs::release_held(
                &state,
                &user,
                job_id(&id)?,
                customer,
                confirm.is_some(),
                &note,
            )
            .await
        }
        .await,
    )
}
