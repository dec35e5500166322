//! DAP-removal reviews: the customers of a filter, a remove-or-keep decision for each with a
//! note, (four-eyes) a second admin's approval of each removal, then a bulk job.

use crate::model::gdap::Coverage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Remove,
    Keep,
    /// A second admin agrees with the latest removal decision.
    Approve,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Remove => "remove",
            Decision::Keep => "keep",
            Decision::Approve => "approve",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "remove" => Some(Decision::Remove),
            "keep" => Some(Decision::Keep),
            "approve" => Some(Decision::Approve),
            _ => None,
        }
    }
}

/// Longest note a reviewer can leave.
pub const MAX_NOTE_CHARS: usize = 1000;

/// A note as stored: trimmed, and refused (with the reason) when too long.
pub fn checked_note(note: &str) -> Result<&str, String> {
    let note = note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(format!(
            "The note is longer than {MAX_NOTE_CHARS} characters."
        ));
    }
    Ok(note)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub decision: Decision,
    pub note: String,
    pub decided_by: String,
    /// RFC 3339.
    pub decided_at: String,
    /// Decided by the admin viewing the review (identities are compared on the server).
    #[serde(default)]
    pub by_viewer: bool,
    /// The GDAP coverage the decision was taken against (`None` on older decisions).
    #[serde(default)]
    pub coverage: Option<Coverage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCustomer {
    pub customer_tenant_id: String,
    pub organization_display_name: String,
    pub dap_since: Option<String>,
    pub last_sign_in: Option<String>,
    /// The latest remove or keep decision.
    pub decision: Option<DecisionRecord>,
    /// The approval of that decision by another admin (four-eyes).
    pub approval: Option<DecisionRecord>,
    /// Executing the review now removes DAP from this customer.
    pub will_be_removed: bool,
    /// The job an earlier execution handed this customer's removal to: its decision is final.
    #[serde(default)]
    pub executed_job_id: Option<String>,
    /// Every decision and approval, oldest first.
    pub history: Vec<DecisionRecord>,
    /// GDAP coverage when the review started, and its reasons (one per line).
    #[serde(default)]
    pub gdap: Coverage,
    #[serde(default)]
    pub gdap_reasons: String,
}

impl ReviewCustomer {
    /// The latest decision is a removal and, under the four-eyes rule, another admin approved it.
    pub fn removal_stands(&self, four_eyes: bool) -> bool {
        self.decision
            .as_ref()
            .is_some_and(|d| d.decision == Decision::Remove)
            && (!four_eyes || self.approval.is_some())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSummary {
    pub id: String,
    pub title: String,
    pub started_by: String,
    pub started_at: String,
    /// The customers filter it was started from (query string).
    pub scope: String,
    /// That filter in words ("DAP on, no partner sign-in for 90+ days").
    pub scope_description: String,
    pub four_eyes: bool,
    pub customers: usize,
    pub decided: usize,
    pub removals: usize,
    /// Removals that executing would carry out now (approved, where four-eyes applies, and
    /// not handed to a job yet).
    pub ready: usize,
    /// Customers whose removal earlier executions handed to a job.
    #[serde(default)]
    pub executed: usize,
    /// The latest execution.
    pub executed_by: Option<String>,
    pub executed_at: Option<String>,
    pub job_id: Option<String>,
    /// Closed deliberately (or, before reviews stayed open, by its execution): no decision or
    /// execution after that.
    #[serde(default)]
    pub closed_by: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub close_note: Option<String>,
}

impl ReviewSummary {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    pub fn undecided(&self) -> usize {
        self.customers.saturating_sub(self.decided)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub summary: ReviewSummary,
    /// The signed-in admin may decide and execute (`Dashboard.Operate`).
    pub viewer_can_operate: bool,
    /// The signed-in admin may approve others' removals (`DapReview.Approve`).
    pub viewer_can_approve: bool,
    pub customers: Vec<ReviewCustomer>,
}
