//! The audit log as shown and exported.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// RFC 3339.
    pub at: String,
    pub actor_upn: String,
    pub action: String,
    pub customer_tenant_id: Option<String>,
    pub target: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub upstream_status: Option<u16>,
    /// succeeded | failed | refused
    pub outcome: String,
    pub error: Option<String>,
}

/// Filters of `/audit`, from its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub actor: String,
    pub action: String,
    pub customer: String,
}

impl AuditQuery {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut query = AuditQuery::default();
        let clean = |v: &str| v.trim().chars().take(200).collect::<String>();
        for (key, value) in pairs {
            match key {
                "actor" => query.actor = clean(value),
                "action" => query.action = clean(value),
                "customer" => query.customer = clean(value),
                _ => {}
            }
        }
        query
    }

    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("customer", &self.customer),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect()
    }
}

/// A role membership change, as the UI reports it (and offers to undo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberChange {
    pub added: bool,
    pub customer_tenant_id: String,
    pub role_id: String,
    pub role_name: String,
    pub user_id: String,
    pub display_name: String,
    pub user_principal_name: String,
}
