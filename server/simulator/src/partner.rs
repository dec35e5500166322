//! The simulated partner organisation: its demo users and what each may do.

use uuid::{uuid, Uuid};

use crate::data::{
    role_name, APPLICATION_ADMINISTRATOR, CLOUD_APPLICATION_ADMINISTRATOR, DIRECTORY_READERS,
    DIRECTORY_WRITERS, GLOBAL_READER, PRIVILEGED_ROLE_ADMINISTRATOR, USER_ADMINISTRATOR,
};

/// Display name of the partner organisation.
pub(crate) const PARTNER_NAME: &str = "Northwind Partner";
/// Initial domain of the partner tenant.
pub(crate) const PARTNER_DOMAIN: &str = "northwind-partner.onmicrosoft.com";

/// A demo user of the partner tenant, as shown on the sign-in page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DemoUser {
    /// User principal name, the `login_hint` that signs this user in without the page.
    pub upn: String,
    pub display_name: String,
    /// Entra object id (`oid` claim).
    pub object_id: String,
    /// What this user may do, in words.
    pub rights: String,
}

/// Static description of a demo user.
#[derive(Debug)]
pub(crate) struct PartnerUser {
    pub upn: &'static str,
    pub display_name: &'static str,
    pub object_id: Uuid,
    /// Member of the Partner Center "Admin agent" group: may change relationships (remove DAP).
    pub admin_agent: bool,
    /// App roles of the dashboard's app registration assigned to this user (id token `roles`).
    pub app_roles: &'static [&'static str],
    /// GDAP roles held in every customer tenant.
    pub gdap_roles: &'static [Uuid],
    pub rights: &'static str,
}

const FULL_GDAP: &[Uuid] = &[
    PRIVILEGED_ROLE_ADMINISTRATOR,
    USER_ADMINISTRATOR,
    GLOBAL_READER,
    CLOUD_APPLICATION_ADMINISTRATOR,
    APPLICATION_ADMINISTRATOR,
];

/// The dashboard's app roles, as an admin would define them on its app registration and assign
/// them to partner admins: view, act, and approve DAP removals (four-eyes).
pub const DASHBOARD_READ_ROLE: &str = "Dashboard.Read";
pub const DASHBOARD_OPERATE_ROLE: &str = "Dashboard.Operate";
pub const REVIEW_APPROVER_ROLE: &str = "DapReview.Approve";
const FULL_DASHBOARD: &[&str] = &[
    DASHBOARD_READ_ROLE,
    DASHBOARD_OPERATE_ROLE,
    REVIEW_APPROVER_ROLE,
];

pub(crate) const PARTNER_USERS: &[PartnerUser] = &[
    PartnerUser {
        upn: "avery.admin@northwind-partner.onmicrosoft.com",
        display_name: "Avery Admin",
        object_id: uuid!("5a0c7e2b-91d4-4f63-8b1e-2c7f4a9d3e01"),
        admin_agent: true,
        app_roles: FULL_DASHBOARD,
        gdap_roles: FULL_GDAP,
        rights: "Admin agent; GDAP: Privileged Role Administrator, User Administrator, \
                 Global Reader, Cloud Application Administrator, Application Administrator",
    },
    PartnerUser {
        upn: "riley.reader@northwind-partner.onmicrosoft.com",
        display_name: "Riley Reader",
        object_id: uuid!("b3e8f1a6-0d27-4c95-a4f2-6e1b8c5d7a02"),
        admin_agent: false,
        app_roles: &[DASHBOARD_READ_ROLE],
        gdap_roles: &[GLOBAL_READER],
        rights: "Dashboard: read only; GDAP: Global Reader (not an admin agent)",
    },
    PartnerUser {
        upn: "casey.approver@northwind-partner.onmicrosoft.com",
        display_name: "Casey Approver",
        object_id: uuid!("e7d2a4c9-3f81-4b06-9c5a-1d8e6f2b4a03"),
        admin_agent: true,
        app_roles: FULL_DASHBOARD,
        gdap_roles: FULL_GDAP,
        rights: "Admin agent (second approver); GDAP: Privileged Role Administrator, \
                 User Administrator, Global Reader, Cloud Application Administrator, \
                 Application Administrator",
    },
    PartnerUser {
        upn: "jordan.helpdesk@northwind-partner.onmicrosoft.com",
        display_name: "Jordan Helpdesk",
        object_id: uuid!("9b1f3d5e-2a4c-4e6f-8d0b-3c5e7f9a1b05"),
        admin_agent: false,
        app_roles: &[DASHBOARD_READ_ROLE, DASHBOARD_OPERATE_ROLE],
        gdap_roles: &[USER_ADMINISTRATOR, GLOBAL_READER],
        rights: "Dashboard: read and operate; GDAP: User Administrator, Global Reader \
                 (no Privileged Role Administrator: role changes are refused by Partner Center)",
    },
    PartnerUser {
        upn: "nora.norole@northwind-partner.onmicrosoft.com",
        display_name: "Nora Norole",
        object_id: uuid!("c4a9e2f7-6b13-4d88-9e0a-7f3c5b1d8e04"),
        admin_agent: false,
        app_roles: &[],
        gdap_roles: &[GLOBAL_READER],
        rights: "No dashboard role (sign-in is refused); GDAP: Global Reader",
    },
];

/// GDAP roles that allow reading roles, users and role members (reference §3).
pub(crate) const READ_ROLES: &[Uuid] = &[
    DIRECTORY_READERS,
    GLOBAL_READER,
    USER_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
    DIRECTORY_WRITERS,
];
/// GDAP roles that allow changing role membership (reference §4).
pub(crate) const ROLE_WRITE_ROLES: &[Uuid] = &[PRIVILEGED_ROLE_ADMINISTRATOR];
/// GDAP roles that allow granting or removing application consent.
pub(crate) const CONSENT_ROLES: &[Uuid] = &[
    PRIVILEGED_ROLE_ADMINISTRATOR,
    CLOUD_APPLICATION_ADMINISTRATOR,
    APPLICATION_ADMINISTRATOR,
];

impl PartnerUser {
    pub(crate) fn by_upn(upn: &str) -> Option<&'static PartnerUser> {
        PARTNER_USERS
            .iter()
            .find(|u| u.upn.eq_ignore_ascii_case(upn.trim()))
    }

    pub(crate) fn by_object_id(id: &Uuid) -> Option<&'static PartnerUser> {
        PARTNER_USERS.iter().find(|u| u.object_id == *id)
    }

    /// `Ok` when the user holds one of `roles`; otherwise the description of a 403, naming the
    /// roles that would have allowed it.
    pub(crate) fn require_any(&self, roles: &[Uuid], action: &str) -> Result<(), String> {
        if roles.iter().any(|r| self.gdap_roles.contains(r)) {
            return Ok(());
        }
        let needed: Vec<String> = roles.iter().map(role_name).collect();
        let held: Vec<String> = self.gdap_roles.iter().map(role_name).collect();
        Err(format!(
            "The caller {} does not have the rights to {action}: this requires the GDAP role {} \
             (the caller holds: {}).",
            self.upn,
            needed.join(" or "),
            if held.is_empty() {
                "none".to_owned()
            } else {
                held.join(", ")
            }
        ))
    }

    pub(crate) fn to_public(&self) -> DemoUser {
        DemoUser {
            upn: self.upn.to_owned(),
            display_name: self.display_name.to_owned(),
            object_id: self.object_id.to_string(),
            rights: self.rights.to_owned(),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    #[test]
    fn rights_match_the_roles() {
        let reader = PartnerUser::by_upn("RILEY.reader@northwind-partner.onmicrosoft.com").unwrap();
        assert!(reader.require_any(READ_ROLES, "read").is_ok());
        let err = reader
            .require_any(ROLE_WRITE_ROLES, "add a role member")
            .unwrap_err();
        assert!(err.contains("Privileged Role Administrator"), "{err}");
        assert!(err.contains("Global Reader"), "{err}");
        assert!(reader.require_any(CONSENT_ROLES, "consent").is_err());
        let admin = PartnerUser::by_object_id(&PARTNER_USERS[0].object_id).unwrap();
        assert!(admin.require_any(ROLE_WRITE_ROLES, "x").is_ok());
        assert!(admin.require_any(CONSENT_ROLES, "x").is_ok());
        assert!(PARTNER_USERS
            .iter()
            .all(|u| u.upn.ends_with(PARTNER_DOMAIN)));
    }
}
