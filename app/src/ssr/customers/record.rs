//! One customer as a snapshot stores it, read from the Partner Customer Administration API.

use crate::model::gdap::Coverage;
use crate::ssr::clock::parse_time;
use crate::ssr::partner_center::models::DelegatedAdminCustomer;
use time::OffsetDateTime;

/// The reason of a customer whose GDAP has not been read.
pub const NOT_READ: &str = "GDAP has not been read for this customer.";

/// One customer as stored in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub tenant_id: String,
    pub name: String,
    /// Trimmed, lower-cased name: for search and sorting.
    pub name_folded: String,
    pub dap_enabled: bool,
    pub dap_since: Option<OffsetDateTime>,
    pub dap_ended: Option<OffsetDateTime>,
    pub last_sign_in: Option<OffsetDateTime>,
    pub partner_agent_count: u32,
    pub partner_sign_in_count: u32,
    pub global_admin_sign_in_count: u32,
    /// GDAP coverage as of the sync, and its reasons (one per line).
    pub gdap: Coverage,
    pub gdap_reasons: String,
}

impl CustomerRecord {
    pub fn from_upstream(customer: DelegatedAdminCustomer) -> Self {
        CustomerRecord {
            tenant_id: customer.customer_tenant_id.trim().to_ascii_lowercase(),
            name_folded: customer.organization_display_name.trim().to_lowercase(),
            name: customer.organization_display_name,
            dap_enabled: customer.dap_enabled,
            dap_since: parse_time(customer.start_date_time.as_deref()),
            dap_ended: parse_time(customer.end_date_time.as_deref()),
            last_sign_in: parse_time(customer.last_sign_in_date_time.as_deref()),
            partner_agent_count: customer.partner_agent_count,
            partner_sign_in_count: customer.partner_sign_in_count,
            global_admin_sign_in_count: customer.global_admin_sign_in_count,
            gdap: Coverage::Unknown,
            gdap_reasons: NOT_READ.to_string(),
        }
    }
}
