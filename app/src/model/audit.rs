//! The audit log as shown and exported.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// The entry's id: with `at`, the paging cursor.
    pub id: String,
    /// RFC 3339.
    pub at: String,
    pub actor_upn: String,
    pub action: String,
    pub customer_tenant_id: Option<String>,
    /// The customer's name in the current snapshot, when it is there.
    pub customer_name: Option<String>,
    pub target: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub upstream_status: Option<u16>,
    /// succeeded | failed | refused | attempted
    pub outcome: String,
    pub error: Option<String>,
}

/// Entries per page of `/audit`.
pub const AUDIT_PAGE_SIZE: usize = 100;

/// The outcomes an entry can have, for the filter.
pub const OUTCOMES: [&str; 4] = ["succeeded", "failed", "refused", "attempted"];

/// One page of the audit log: entries `first`..`first + rows.len() - 1` (1-based) of `total`
/// matching, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub total: usize,
    pub first: usize,
    /// The cursor of the next (older) page, when there is one.
    pub older: Option<String>,
}

/// Filters of `/audit`, from its URL. Text filters match case-insensitively as substrings; the
/// customer filter matches tenant ids and customer names. Dates are UTC days, both included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    pub actor: String,
    pub action: String,
    pub customer: String,
    /// One of [`OUTCOMES`], or empty for any.
    pub outcome: String,
    /// `YYYY-MM-DD`, or empty.
    pub from: String,
    pub to: String,
    /// Keyset cursor (`{at_ms}.{id}` of the last entry shown): entries older than it.
    pub before: String,
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
                "outcome" if OUTCOMES.contains(&value.trim()) => query.outcome = clean(value),
                "from" if day(value).is_some() => query.from = clean(value),
                "to" if day(value).is_some() => query.to = clean(value),
                "before" if cursor(value).is_some() => query.before = clean(value),
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
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
            ("before", &self.before),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect()
    }

    /// The same filters from the newest entry (for the first page and the export).
    pub fn from_newest(&self) -> Self {
        AuditQuery {
            before: String::new(),
            ..self.clone()
        }
    }

    /// The cursor, parsed: `(at_ms, id)`.
    pub fn cursor(&self) -> Option<(i64, String)> {
        cursor(&self.before)
    }

    /// The date range as Unix milliseconds: `[from 00:00, to + 1 day 00:00)` UTC.
    pub fn range_ms(&self) -> (Option<i64>, Option<i64>) {
        const DAY_MS: i64 = 86_400_000;
        (
            day(&self.from).map(|d| d * DAY_MS),
            day(&self.to).map(|d| (d + 1) * DAY_MS),
        )
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn day(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.trim(), format).ok()?;
    Some((date - time::macros::date!(1970 - 01 - 01)).whole_days())
}

fn cursor(text: &str) -> Option<(i64, String)> {
    let (at, id) = text.trim().split_once('.')?;
    let id_ok =
        !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    Some((at.parse().ok()?, id.to_string())).filter(|_| id_ok)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_from_the_url_keep_only_what_parses() {
        let query = AuditQuery::from_pairs([
            ("outcome", "refused"),
            ("from", "2026-11-01"),
            ("to", "2026-11-30"),
            (
                "before",
                "1764500000000.0b6d3c9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e",
            ),
            ("actor", " avery "),
        ]);
        assert_eq!(query.outcome, "refused");
        assert_eq!(query.actor, "avery");
        assert_eq!(
            query.cursor(),
            Some((
                1_764_500_000_000,
                "0b6d3c9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e".to_string()
            ))
        );
        // 2026-11-01T00:00Z and 2026-12-01T00:00Z.
        assert_eq!(
            query.range_ms(),
            (Some(1_793_491_200_000), Some(1_796_083_200_000))
        );
        let junk = AuditQuery::from_pairs([
            ("outcome", "deleted"),
            ("from", "yesterday"),
            ("before", "1.'; DROP TABLE audit_log"),
        ]);
        assert_eq!(junk, AuditQuery::default());
        assert!(query.from_newest().before.is_empty());
    }
}
