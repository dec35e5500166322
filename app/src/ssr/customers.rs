//! Delegated-admin customers: read with the admin's token from the Partner Customer
//! Administration API.

use super::auth::SessionUser;
use super::partner_center::models::DelegatedAdminCustomer;
use super::state::AppState;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::CustomerSummary;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub async fn list(state: &AppState, user: &SessionUser) -> Result<Vec<CustomerSummary>, AppError> {
    let token = state
        .tokens
        .access_token(&user.user_key, &state.config.admin_api_audience)
        .await?;
    let customers = state
        .partner_center
        .all_delegated_admin_customers(&token, Guid::new_v4())
        .await?;
    let now = OffsetDateTime::now_utc();
    Ok(customers.into_iter().map(|c| summarize(c, now)).collect())
}

fn summarize(customer: DelegatedAdminCustomer, now: OffsetDateTime) -> CustomerSummary {
    let last = customer
        .last_sign_in_date_time
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
    CustomerSummary {
        customer_tenant_id: customer.customer_tenant_id,
        organization_display_name: customer.organization_display_name,
        dap_enabled: customer.dap_enabled,
        last_partner_sign_in: last.and_then(|t| t.format(&Rfc3339).ok()),
        days_since_sign_in: last.map(|t| (now - t).whole_days()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn customer(last: Option<&str>) -> DelegatedAdminCustomer {
        serde_json::from_value(serde_json::json!({
            "customerTenantId": "53018d99-ac51-4ec8-b86e-c8a61de43717",
            "organizationDisplayName": "Contoso",
            "dapEnabled": true,
            "lastSignInDateTime": last,
        }))
        .unwrap()
    }

    #[test]
    fn seven_fractional_digits_and_empty_values_parse() {
        let now = datetime!(2022-05-20 06:11:11 UTC);
        let s = summarize(customer(Some("2022-04-20T06:11:11.7227953Z")), now);
        assert_eq!(s.days_since_sign_in, Some(29));
        assert_eq!(summarize(customer(Some("")), now).days_since_sign_in, None);
        assert_eq!(summarize(customer(None), now).last_partner_sign_in, None);
    }
}
