use crate::error::AppError;
use crate::model::consent::{ConsentRecord, Consents};
use leptos::prelude::*;

/// Grants CPV consent in one customer: the checked presets (`preset_<key>`, see `PRESETS`) and
/// `grants`, one per line as `<enterprise application id> <scope,scope>`.
#[server(prefix = "/api", endpoint = "grant_consent")]
pub async fn grant_consent(
    customer_tenant_id: String,
    application_id: String,
    display_name: String,
    preset_graph: Option<String>,
    preset_azure: Option<String>,
    preset_exchange: Option<String>,
    grants: Option<String>,
) -> Result<ConsentRecord, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::model::consent::grants_from_form;
    use crate::ssr::{access, consent, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(Permission::Operate, "grant-consent").await?;
            let customer = Guid::parse(&customer_tenant_id)?;
            let application = Guid::parse(&application_id)?;
            let checked = checked_presets(&preset_graph, &preset_azure, &preset_exchange);
            let grants =
                grants_from_form(&checked, grants.as_deref()).map_err(AppError::InvalidInput)?;
            let display_name = consent::known_name(&state, application, &display_name).await?;
            consent::grant(&state, &user, customer, application, &display_name, &grants).await
        }
        .await,
    )
}

/// The preset keys whose checkbox came with the form.
#[cfg(feature = "ssr")]
pub fn checked_presets(
    graph: &Option<String>,
    azure: &Option<String>,
    exchange: &Option<String>,
) -> Vec<&'static str> {
    [("graph", graph), ("azure", azure), ("exchange", exchange)]
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(key, _)| key)
        .collect()
}

/// One-click revoke; the answer carries the recorded grants, for an undo.
#[server(prefix = "/api", endpoint = "revoke_consent")]
pub async fn revoke_consent(
    customer_tenant_id: String,
    application_id: String,
) -> Result<ConsentRecord, AppError> {
    change(customer_tenant_id, application_id, false).await
}

/// Undo of a revoke: grants again what was recorded.
#[server(prefix = "/api", endpoint = "restore_consent")]
pub async fn restore_consent(
    customer_tenant_id: String,
    application_id: String,
) -> Result<ConsentRecord, AppError> {
    change(customer_tenant_id, application_id, true).await
}

#[cfg(feature = "ssr")]
async fn change(
    customer_tenant_id: String,
    application_id: String,
    restore: bool,
) -> Result<ConsentRecord, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::ssr::{access, consent, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = access::require(
                Permission::Operate,
                if restore {
                    "restore-consent"
                } else {
                    "revoke-consent"
                },
            )
            .await?;
            let customer = Guid::parse(&customer_tenant_id)?;
            let application = Guid::parse(&application_id)?;
            if restore {
                consent::restore(&state, &user, customer, application).await
            } else {
                consent::revoke(&state, &user, customer, application).await
            }
        }
        .await,
    )
}

/// The consents recorded for a customer, the configured CPV application id (form default) and
/// the applications granted before.
#[server(prefix = "/api", endpoint = "consents")]
pub async fn fetch_consents(customer_tenant_id: String) -> Result<Consents, AppError> {
    use crate::ids::Guid;
    use crate::model::access::Permission;
    use crate::ssr::{access, consent, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            access::require(Permission::Read, "consents").await?;
            let customer = Guid::parse(&customer_tenant_id).map_err(|_| AppError::NotFound {
                what: "customer".into(),
            })?;
            Ok(Consents {
                records: consent::list_for(&state, customer).await?,
                default_application_id: state.config.cpv_application_id.clone(),
                known_applications: consent::known_applications(&state).await?,
            })
        }
        .await,
    )
}
