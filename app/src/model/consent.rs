//! Control Panel Vendor (CPV) application consent. Partner Center cannot list consents, so the
//! dashboard records what it granted, by whom and when.

use serde::{Deserialize, Serialize};

/// One resource an application is granted, with a comma-separated list of scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub enterprise_application_id: String,
    pub scope: String,
}

/// Common grants offered as presets in the form.
pub const PRESETS: [(&str, &str, &str); 3] = [
    (
        "graph",
        "Microsoft Graph: Directory.Read.All, User.Read.All",
        "00000003-0000-0000-c000-000000000000 Directory.Read.All,User.Read.All",
    ),
    (
        "azure",
        "Azure Service Management: user_impersonation",
        "797f4846-ba00-4fd7-ba43-dac1f8f63013 user_impersonation",
    ),
    (
        "exchange",
        "Exchange Online: Exchange.Manage",
        "00000002-0000-0ff1-ce00-000000000000 Exchange.Manage",
    ),
];

/// First-party Microsoft resources a CPV application is commonly granted, by the app id of
/// their enterprise application (the same in every tenant).
const RESOURCES: [(&str, &str); 7] = [
    ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    ("00000002-0000-0ff1-ce00-000000000000", "Exchange Online"),
    (
        "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        "Azure Service Management",
    ),
    ("00000003-0000-0ff1-ce00-000000000000", "SharePoint Online"),
    (
        "00000002-0000-0000-c000-000000000000",
        "Azure AD Graph (retired)",
    ),
    (
        "fc780465-2017-40d4-a0c5-307022471b92",
        "Microsoft Defender for Endpoint",
    ),
    (
        "48ac35b8-9aa8-4d74-927d-1f4a14a0b239",
        "Skype and Teams Tenant Admin API",
    ),
];

/// The name of a well-known resource, by its enterprise application id.
pub fn resource_name(enterprise_application_id: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(enterprise_application_id))
        .map(|(_, name)| *name)
}

impl Grant {
    /// "Microsoft Graph: Directory.Read.All, User.Read.All"; an unknown resource by its id.
    pub fn describe(&self) -> String {
        let resource = resource_name(&self.enterprise_application_id)
            .unwrap_or(&self.enterprise_application_id);
        format!("{resource}: {}", self.scope.replace(',', ", "))
    }
}

/// A CPV application the dashboard has granted before (or the configured one), offered by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownApplication {
    pub application_id: String,
    /// Empty when nobody named it.
    pub display_name: String,
}

/// A customer's consent panel: what the dashboard granted there, and the applications to offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consents {
    pub records: Vec<ConsentRecord>,
    /// The configured CPV application id, the grant form's default.
    pub default_application_id: Option<String>,
    pub known_applications: Vec<KnownApplication>,
}

/// Grants typed one per line as `<enterprise application id> <scope,scope>`.
pub fn parse_grants(text: &str) -> Result<Vec<Grant>, String> {
    let mut grants = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((id, scope)) = line.split_once(char::is_whitespace) else {
            return Err(format!(
                "line {}: expected '<enterprise application id> <scopes>'",
                number + 1
            ));
        };
        let scope: Vec<&str> = scope
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if scope.is_empty() {
            return Err(format!("line {}: no scope", number + 1));
        }
        grants.push(Grant {
            enterprise_application_id: id.trim().to_ascii_lowercase(),
            scope: scope.join(","),
        });
    }
    if grants.is_empty() {
        return Err("choose at least one grant".into());
    }
    Ok(grants)
}

/// The grants of a consent form: the checked presets (by key, see `PRESETS`) and the typed lines.
pub fn grants_from_form(
    checked_presets: &[&str],
    typed: Option<&str>,
) -> Result<Vec<Grant>, String> {
    let mut lines: Vec<&str> = PRESETS
        .iter()
        .filter(|(key, _, _)| checked_presets.contains(key))
        .map(|(_, _, line)| *line)
        .collect();
    lines.extend(typed);
    parse_grants(&lines.join("\n"))
}

/// What the dashboard knows of one application's consent in one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub customer_tenant_id: String,
    pub application_id: String,
    pub display_name: String,
    pub grants: Vec<Grant>,
    pub granted_by: String,
    /// RFC 3339.
    pub granted_at: String,
    /// Set once revoked; a later grant clears it.
    pub revoked_by: Option<String>,
    pub revoked_at: Option<String>,
    /// "grant" or "revoke" sent to Partner Center and not confirmed yet: while the call runs,
    /// or for good when the dashboard stopped before the answer (the outcome is then unknown;
    /// granting or revoking again settles it).
    #[serde(default)]
    pub pending_action: Option<String>,
    #[serde(default)]
    pub pending_by: Option<String>,
    #[serde(default)]
    pub pending_since: Option<String>,
}

impl ConsentRecord {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_one_per_line() {
        let grants = parse_grants(
            "00000003-0000-0000-C000-000000000000 Directory.Read.All, User.Read.All\n\n \
             797f4846-ba00-4fd7-ba43-dac1f8f63013 user_impersonation",
        )
        .unwrap_or_default();
        assert_eq!(grants.len(), 2);
        assert_eq!(
            grants[0].enterprise_application_id,
            "00000003-0000-0000-c000-000000000000"
        );
        assert_eq!(grants[0].scope, "Directory.Read.All,User.Read.All");
        assert!(parse_grants("").is_err());
        assert!(parse_grants("only-an-id").is_err());
        assert!(parse_grants("id ,").is_err());
    }

    #[test]
    fn form_grants_combine_presets_and_typed_lines() {
        let grants = grants_from_form(
            &["azure", "graph"],
            Some("c5393580-f805-4401-95e8-94b7a6ef2fc2 ActivityFeed.Read"),
        )
        .unwrap_or_default();
        let ids: Vec<&str> = grants
            .iter()
            .map(|g| g.enterprise_application_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "00000003-0000-0000-c000-000000000000",
                "797f4846-ba00-4fd7-ba43-dac1f8f63013",
                "c5393580-f805-4401-95e8-94b7a6ef2fc2"
            ]
        );
        assert!(grants_from_form(&[], None).is_err());
        assert!(grants_from_form(&["unknown"], Some("  ")).is_err());
    }
}
