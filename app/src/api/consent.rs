use crate::error::AppError;
use crate::model::consent::ConsentRecord;
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
    use crate::model::consent::{parse_grants, PRESETS};
    use crate::ssr::{auth, consent, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = auth::current_user().await?;
            let customer = Guid::parse(&customer_tenant_id)?;
            let application = Guid::parse(&application_id)?;
            let checked = [
                ("graph", preset_graph),
                ("azure", preset_azure),
                ("exchange", preset_exchange),
            ];
            let mut lines: Vec<String> = checked
                .iter()
                .filter(|(_, value)| value.is_some())
                .filter_map(|(key, _)| PRESETS.iter().find(|(k, _, _)| k == key))
                .map(|(_, _, line)| line.to_string())
                .collect();
            lines.extend(grants);
            let grants = parse_grants(&lines.join("\n")).map_err(AppError::InvalidInput)?;
            let display_name = display_name.trim().chars().take(256).collect::<String>();
            consent::grant(&state, &user, customer, application, &display_name, &grants).await
        }
        .await,
    )
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
    use crate::ssr::{auth, consent, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let user = auth::current_user().await?;
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

/// The consents recorded for a customer, and the configured CPV application id (form default).
#[server(prefix = "/api", endpoint = "consents")]
pub async fn fetch_consents(
    customer_tenant_id: String,
) -> Result<(Vec<ConsentRecord>, Option<String>), AppError> {
    use crate::ids::Guid;
    use crate::ssr::{auth, consent, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            auth::current_user().await?;
            let customer = Guid::parse(&customer_tenant_id).map_err(|_| AppError::NotFound {
                what: "customer".into(),
            })?;
            let records = consent::list_for(&state, customer).await?;
            Ok((records, state.config.cpv_application_id.clone()))
        }
        .await,
    )
}
