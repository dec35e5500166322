//! What an admin may do inside the dashboard: app roles of the dashboard's app registration,
//! read from the verified id token's `roles` claim. Partner Center's own GDAP roles decide what
//! an admin may do in a customer tenant; these decide what the dashboard lets them try.

use serde::{Deserialize, Serialize};

/// One right inside the dashboard, each granted by one app role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// See every page and export: granted by `Dashboard.Read`, and by either other role (an
    /// operator or an approver must see what they act on).
    Read,
    /// Role changes, consent, bulk jobs, sync, reports, starting and deciding reviews,
    /// executing them, cancelling and retrying jobs.
    Operate,
    /// Approving DAP removals under the four-eyes rule.
    Approve,
}

pub const READ_ROLE: &str = "Dashboard.Read";
pub const OPERATE_ROLE: &str = "Dashboard.Operate";
pub const APPROVE_ROLE: &str = "DapReview.Approve";

/// What an admin without any dashboard role reads after signing in.
pub const NO_ROLE_MESSAGE: &str = "You signed in, but you hold none of this dashboard's roles. \
     Ask an administrator of your organisation to assign you Dashboard.Read (to view) or \
     Dashboard.Operate (to make changes) on the dashboard's enterprise application in Entra ID, \
     then sign in again.";

impl Permission {
    pub const ALL: [Permission; 3] = [Permission::Read, Permission::Operate, Permission::Approve];

    /// The app role an admin asks for to get this permission.
    pub fn app_role(self) -> &'static str {
        match self {
            Permission::Read => READ_ROLE,
            Permission::Operate => OPERATE_ROLE,
            Permission::Approve => APPROVE_ROLE,
        }
    }

    /// What the permission allows, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::Read => "viewing the dashboard",
            Permission::Operate => "changing anything through the dashboard",
            Permission::Approve => "approving DAP removals",
        }
    }
}

/// The permissions of one admin, as the pages need them to show or hide actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub read: bool,
    pub operate: bool,
    pub approve: bool,
}

impl Permissions {
    /// Only exact role values count: a role's display name or a different case is another role.
    pub fn from_app_roles<S: AsRef<str>>(roles: &[S]) -> Self {
        let has = |role: &str| roles.iter().any(|r| r.as_ref() == role);
        let operate = has(OPERATE_ROLE);
        let approve = has(APPROVE_ROLE);
        Permissions {
            read: has(READ_ROLE) || operate || approve,
            operate,
            approve,
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => self.read,
            Permission::Operate => self.operate,
            Permission::Approve => self.approve,
        }
    }

    /// True when the admin holds no dashboard role at all.
    pub fn is_none(self) -> bool {
        !(self.read || self.operate || self.approve)
    }

    /// The sentence a page shows beside an action the admin may not take.
    pub fn missing_reason(permission: Permission) -> String {
        format!(
            "{} needs the dashboard role {}: ask an administrator of your organisation to assign it to you in Entra ID.",
            super::gdap::capitalise(permission.describe()),
            permission.app_role()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_grants_its_permission_and_any_role_grants_read() {
        let none = Permissions::from_app_roles::<&str>(&[]);
        assert!(none.is_none());
        assert!(Permission::ALL.iter().all(|p| !none.allows(*p)));

        let reader = Permissions::from_app_roles(&["Dashboard.Read"]);
        assert!(reader.allows(Permission::Read));
        assert!(!reader.allows(Permission::Operate));
        assert!(!reader.allows(Permission::Approve));

        let operator = Permissions::from_app_roles(&["Dashboard.Operate"]);
        assert!(operator.read && operator.operate && !operator.approve);

        let approver = Permissions::from_app_roles(&["DapReview.Approve"]);
        assert!(approver.read && !approver.operate && approver.approve);
    }

    #[test]
    fn role_values_match_exactly() {
        let roles = Permissions::from_app_roles(&["dashboard.operate", "Dashboard.Operate "]);
        assert!(roles.is_none());
    }

    #[test]
    fn the_no_role_page_names_the_roles_to_ask_for() {
        assert!(NO_ROLE_MESSAGE.contains(READ_ROLE));
        assert!(NO_ROLE_MESSAGE.contains(OPERATE_ROLE));
    }

    #[test]
    fn the_reason_names_the_role_to_ask_for() {
        let reason = Permissions::missing_reason(Permission::Operate);
        assert!(reason.starts_with("Changing anything"), "{reason}");
        assert!(reason.contains("Dashboard.Operate"), "{reason}");
    }
}
