//! Bulk jobs: grant or revoke CPV consent in many customers, or remove DAP, as a background job
//! with a status per customer. Also served as `/jobs/{id}.json`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    GrantConsent,
    RevokeConsent,
    RemoveDap,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::GrantConsent => "grant-consent",
            JobKind::RevokeConsent => "revoke-consent",
            JobKind::RemoveDap => "remove-dap",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "grant-consent" => Some(JobKind::GrantConsent),
            "revoke-consent" => Some(JobKind::RevokeConsent),
            "remove-dap" => Some(JobKind::RemoveDap),
            _ => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            JobKind::GrantConsent => "Grant CPV consent",
            JobKind::RevokeConsent => "Revoke CPV consent",
            JobKind::RemoveDap => "Remove DAP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobItemStatus {
    Pending,
    Done,
    Failed,
    Cancelled,
    /// Not sent: a check right before the call found a reason to stop (a DAP removal whose
    /// customer lost GDAP coverage since the decision). An admin may release it deliberately.
    Held,
}

impl JobItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobItemStatus::Pending => "pending",
            JobItemStatus::Done => "done",
            JobItemStatus::Failed => "failed",
            JobItemStatus::Cancelled => "cancelled",
            JobItemStatus::Held => "held",
        }
    }

    pub fn parse(value: &str) -> Self {
        match value {
            "done" => JobItemStatus::Done,
            "failed" => JobItemStatus::Failed,
            "cancelled" => JobItemStatus::Cancelled,
            "held" => JobItemStatus::Held,
            _ => JobItemStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    pub total: usize,
    pub pending: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub held: usize,
}

impl JobCounts {
    pub fn handled(&self) -> usize {
        self.done + self.failed + self.cancelled + self.held
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: String,
    pub kind: JobKind,
    pub started_by: String,
    /// RFC 3339.
    pub created_at: String,
    pub finished_at: Option<String>,
    pub application_id: Option<String>,
    pub display_name: Option<String>,
    /// The customers filter (query string) the job was started from, empty for a review's job.
    pub scope: String,
    /// That filter in words ("DAP on, no partner sign-in for 90+ days").
    #[serde(default)]
    pub scope_description: String,
    pub review_id: Option<String>,
    pub cancel_requested_by: Option<String>,
    pub counts: JobCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobItem {
    pub customer_tenant_id: String,
    pub organization_display_name: String,
    pub status: JobItemStatus,
    pub attempts: u32,
    pub upstream_status: Option<u16>,
    /// Why it failed, or a note on success ("already consented").
    pub detail: Option<String>,
    /// The MS-RequestId every attempt for this customer carries.
    pub request_id: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub summary: JobSummary,
    /// Failed first, then in the order they run.
    pub items: Vec<JobItem>,
}
