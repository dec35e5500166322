//! The privileged-role report: who holds the most powerful roles in each selected customer.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub id: String,
    pub started_by: String,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The customers filter the report was started from, as a query string.
    pub scope: String,
    pub total: usize,
    pub done: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportHolder {
    pub role_name: String,
    pub display_name: String,
    pub user_principal_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemStatus {
    Pending,
    Done,
    Failed,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Done => "done",
            ItemStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Self {
        match value {
            "done" => ItemStatus::Done,
            "failed" => ItemStatus::Failed,
            _ => ItemStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCustomer {
    pub customer_tenant_id: String,
    pub organization_display_name: String,
    pub status: ItemStatus,
    pub error: Option<String>,
    pub correlation_id: Option<String>,
    pub holders: Vec<ReportHolder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleReport {
    pub summary: ReportSummary,
    /// Failed first, then by organisation name.
    pub customers: Vec<ReportCustomer>,
}
