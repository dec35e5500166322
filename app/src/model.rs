//! Data that crosses the wire between server functions and components. No tokens here, ever.

use serde::{Deserialize, Serialize};

/// The signed-in partner admin, as shown in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub display_name: String,
    pub upn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: Option<SignedInUser>,
    /// True when the dashboard talks to the built-in simulator instead of Microsoft.
    pub demo_mode: bool,
}

/// One delegated-admin customer as listed by the Partner Customer Administration API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSummary {
    pub customer_tenant_id: String,
    pub organization_display_name: String,
    pub dap_enabled: bool,
    /// RFC 3339; None when no partner sign-in was ever recorded.
    pub last_partner_sign_in: Option<String>,
    /// Whole days since the last partner sign-in, computed on the server at render time.
    pub days_since_sign_in: Option<i64>,
}
