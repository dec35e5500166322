//! Upstream payloads, as Partner Center sends them (camelCase).

use serde::{Deserialize, Serialize};

/// One item of `GET {admin-base}/delegatedAdminCustomers`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DelegatedAdminCustomer {
    pub customer_tenant_id: String,
    #[serde(default)]
    pub organization_display_name: String,
    #[serde(default)]
    pub partner_agent_count: u32,
    #[serde(default)]
    pub partner_sign_in_count: u32,
    #[serde(default)]
    pub global_admin_sign_in_count: u32,
    #[serde(default)]
    pub dap_enabled: bool,
    pub start_date_time: Option<String>,
    pub end_date_time: Option<String>,
    /// Null or empty: no partner sign-in recorded.
    pub last_sign_in_date_time: Option<String>,
}

/// An OData page. The documentation does not name the next-page property, so any property whose
/// name contains `nextLink` is followed (as Microsoft's own bulk tool does).
#[derive(Debug, Deserialize)]
pub struct ODataPage<T> {
    pub value: Vec<T>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl<T> ODataPage<T> {
    /// `@odata.count`, present when the request asked for `$count=true`.
    pub fn count(&self) -> Option<usize> {
        self.other
            .get("@odata.count")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    }

    pub fn next_link(&self) -> Option<&str> {
        self.other
            .iter()
            .find(|(name, _)| name.contains("nextLink"))
            .and_then(|(_, value)| value.as_str())
            .filter(|link| !link.is_empty())
    }
}

/// A Partner Center REST collection (`{"totalCount", "items", "links": {"next"}}`).
#[derive(Debug, Deserialize)]
pub struct Collection<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    pub links: Option<CollectionLinks>,
}

#[derive(Debug, Deserialize)]
pub struct CollectionLinks {
    pub next: Option<Link>,
}

#[derive(Debug, Deserialize)]
pub struct Link {
    pub uri: String,
    #[serde(default)]
    pub headers: Vec<LinkHeader>,
}

#[derive(Debug, Deserialize)]
pub struct LinkHeader {
    pub key: String,
    pub value: String,
}

/// `GET customers/{cid}/directoryroles` item.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectoryRole {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// `.../usermembers` item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMember {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub user_principal_name: String,
}

/// `GET customers/{cid}/users` item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerUser {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub user_principal_name: String,
}

/// Partner Center REST error body.
#[derive(Debug, Deserialize, Default)]
pub struct PartnerCenterErrorBody {
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: Option<String>,
    pub description: Option<String>,
    // Throttling body: {"statusCode": 429, "message": "..."}
    pub message: Option<String>,
    // OData body on the admin host: {"error": {"code", "message"}}
    pub error: Option<ODataError>,
}

#[derive(Debug, Deserialize)]
pub struct ODataError {
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: Option<String>,
    pub message: Option<String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Body of "add a user to a role" (all four fields are required).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewRoleMember {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub attributes: ObjectType,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectType {
    #[serde(rename = "ObjectType")]
    pub object_type: &'static str,
}
