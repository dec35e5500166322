//! A customer tenant's directory roles and who holds them.

use serde::{Deserialize, Serialize};

/// Entra role template ids of the roles the dashboard treats as privileged.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
pub const PARTNER_TIER1_SUPPORT: &str = "4ba39ca4-527c-499a-b93d-d9b492c50246";
pub const PARTNER_TIER2_SUPPORT: &str = "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8";

/// The roles of the privileged-role report, in report order.
pub const PRIVILEGED_ROLES: [(&str, &str); 4] = [
    (GLOBAL_ADMINISTRATOR, "Global Administrator"),
    (
        PRIVILEGED_ROLE_ADMINISTRATOR,
        "Privileged Role Administrator",
    ),
    (PARTNER_TIER1_SUPPORT, "Partner Tier1 Support"),
    (PARTNER_TIER2_SUPPORT, "Partner Tier2 Support"),
];

/// GDAP roles that let a partner admin read directory roles (reference section 3).
pub const ROLES_THAT_CAN_READ_ROLES: &str =
    "Directory Readers, Global Reader, User Administrator, \
     Privileged Role Administrator or Directory Writers";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMember {
    pub user_id: String,
    pub display_name: String,
    pub user_principal_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleWithMembers {
    pub role_id: String,
    pub name: String,
    pub members: Vec<RoleMember>,
}

impl RoleWithMembers {
    pub fn is_global_admin(&self) -> bool {
        self.role_id == GLOBAL_ADMINISTRATOR
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserWithRoles {
    pub user_id: String,
    pub display_name: String,
    pub user_principal_name: String,
    /// Role names, sorted.
    pub roles: Vec<String>,
    pub is_global_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDirectory {
    pub customer_tenant_id: String,
    /// From the last customers snapshot, when the customer is in it.
    pub organization_display_name: Option<String>,
    /// Sorted by name, Global Administrator first.
    pub roles: Vec<RoleWithMembers>,
    /// Sorted by display name.
    pub users: Vec<UserWithRoles>,
}
