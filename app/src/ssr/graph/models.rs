//! Microsoft Graph payloads of `tenantRelationships` (v1.0), as the service sends them. Every
//! property but `id` may be absent or null (older answers lack `autoExtendDuration`, pending
//! relationships have no dates), and unknown properties are ignored, so a new field or status
//! never breaks a sync.

use crate::model::gdap;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A page of a Graph collection.
#[derive(Debug, Deserialize)]
pub struct GraphPage<T> {
    #[serde(default = "none")]
    pub value: Option<Vec<T>>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

fn none<T>() -> Option<T> {
    None
}

/// `delegatedAdminRelationship` (or `resellerDelegatedAdminRelationship`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DelegatedAdminRelationship {
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// ISO 8601, e.g. `P730D`.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub customer: Option<RelationshipCustomer>,
    #[serde(default)]
    pub access_details: Option<AccessDetails>,
    /// `active`, `approvalPending`, ... or a value added later: kept as sent.
    #[serde(default)]
    pub status: Option<String>,
    /// `P180D`; `PT0S`/`P0D`: none; absent in older answers.
    #[serde(default)]
    pub auto_extend_duration: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub activated_date_time: Option<String>,
    #[serde(default)]
    pub last_modified_date_time: Option<String>,
    #[serde(default)]
    pub end_date_time: Option<String>,
    /// Reseller relationships only.
    #[serde(default)]
    pub is_partner_consent_pending: Option<bool>,
    #[serde(default)]
    pub indirect_provider_tenant_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RelationshipCustomer {
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessDetails {
    #[serde(default)]
    pub unified_roles: Option<Vec<UnifiedRole>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UnifiedRole {
    #[serde(default)]
    pub role_definition_id: Option<String>,
}

/// `delegatedAdminAccessAssignment`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DelegatedAdminAccessAssignment {
    pub id: String,
    /// `pending`, `active`, `deleting`, `deleted`, `error`, ... kept as sent.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub access_container: Option<AccessContainer>,
    #[serde(default)]
    pub access_details: Option<AccessDetails>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub last_modified_date_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessContainer {
    /// A security group of the partner tenant.
    #[serde(default)]
    pub access_container_id: Option<String>,
    #[serde(default)]
    pub access_container_type: Option<String>,
}

/// Graph's error body: `{"error": {"code", "message", "innerError": {"request-id", ...}}}`.
#[derive(Debug, Default, Deserialize)]
pub struct GraphErrorBody {
    #[serde(default)]
    pub error: Option<GraphErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GraphErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(rename = "innerError", alias = "innererror", default)]
    pub inner_error: Option<InnerError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InnerError {
    #[serde(rename = "request-id", default)]
    pub request_id: Option<String>,
    #[serde(rename = "client-request-id", default)]
    pub client_request_id: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
}

fn role_ids(details: Option<&AccessDetails>) -> Vec<String> {
    details
        .and_then(|d| d.unified_roles.as_ref())
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r.role_definition_id.as_deref())
                .map(|id| id.trim().to_ascii_lowercase())
                .filter(|id| !id.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// A Graph date-time: RFC 3339 with up to seven fractional digits; a missing offset is UTC.
pub fn parse_graph_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339))
        .ok()
}

impl DelegatedAdminRelationship {
    pub fn is_reseller(&self) -> bool {
        self.odata_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("reseller"))
            || self.indirect_provider_tenant_id.is_some()
    }

    pub fn customer_tenant_id(&self) -> Option<&str> {
        self.customer.as_ref().and_then(|c| c.tenant_id.as_deref())
    }

    pub fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("unknownFutureValue")
    }

    /// The relationship as the coverage rules see it, with its access assignments.
    pub fn to_model(&self, assignments: &[DelegatedAdminAccessAssignment]) -> gdap::Relationship {
        gdap::Relationship {
            id: self.id.clone(),
            display_name: self.display_name.clone().unwrap_or_default(),
            customer_tenant_id: self
                .customer_tenant_id()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
            status: self.status().to_string(),
            duration: self.duration.clone(),
            activated: self
                .activated_date_time
                .as_deref()
                .and_then(parse_graph_time),
            end: self.end_date_time.as_deref().and_then(parse_graph_time),
            auto_extend_duration: self.auto_extend_duration.clone(),
            roles: role_ids(self.access_details.as_ref()),
            reseller: self.is_reseller(),
            assignments: assignments.iter().map(|a| a.to_model()).collect(),
        }
    }
}

impl DelegatedAdminAccessAssignment {
    pub fn to_model(&self) -> gdap::AccessAssignment {
        gdap::AccessAssignment {
            id: self.id.clone(),
            status: self
                .status
                .clone()
                .unwrap_or_else(|| "unknownFutureValue".into()),
            group_id: self
                .access_container
                .as_ref()
                .and_then(|c| c.access_container_id.clone()),
            roles: role_ids(self.access_details.as_ref()),
        }
    }
}
