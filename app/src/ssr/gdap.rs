//! GDAP coverage: whether an active relationship with the roles the dashboard needs, and an
//! active access assignment, covers each customer, read from Microsoft Graph with the signed-in
//! admin's own token. A failed read, a refusal or an empty answer for everyone is "unknown",
//! never "none".

use super::auth::SessionUser;
use super::graph::DEFAULT_CONCURRENCY;
use super::state::AppState;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::gdap::{self, Coverage, Relationship, Verdict};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Assignment lists read at once by the partner-wide read (one per active relationship, so about
/// one per customer): Graph allows 130,000 requests per 10 s per application, and at 32 lists of
/// 50 ms each 10,000 customers take about 16 s instead of a minute at the default 8.
pub const PARTNER_WIDE_CONCURRENCY: usize = 32;

/// How far the partner-wide read has got, for the sync's progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStep {
    /// The relationships are listed, in `pages` pages; `assignment_reads` lists follow.
    Listed {
        pages: usize,
        assignment_reads: usize,
    },
    /// One relationship's access assignments are read.
    AssignmentsRead,
}

/// Every relationship of the partner with the assignments of the active ones.
async fn read_all(
    app: &AppState,
    user: &SessionUser,
    on_step: &(dyn Fn(ReadStep) + Sync),
) -> Result<Vec<Relationship>, AppError> {
    let token = app
        .tokens
        .access_token(&user.user_key, &app.config.graph_audience)
        .await?;
    let listing = app.graph.list_relationships(&token).await?;
    on_step(ReadStep::Listed {
        pages: listing.calls.len(),
        assignment_reads: listing
            .items
            .iter()
            .filter(|r| r.status().eq_ignore_ascii_case("active"))
            .count(),
    });
    let models = app
        .graph
        .with_assignments(
            &token,
            &listing.items,
            true,
            PARTNER_WIDE_CONCURRENCY,
            &|| on_step(ReadStep::AssignmentsRead),
        )
        .await?;
    Ok(models.items)
}

/// The coverage of each customer (by lower-case tenant id). `Err` carries the verdict every
/// customer gets when the partner-wide read cannot be trusted.
pub async fn coverage_of_all(
    app: &AppState,
    user: &SessionUser,
    now: OffsetDateTime,
    on_step: &(dyn Fn(ReadStep) + Sync),
) -> Result<HashMap<String, Verdict>, Verdict> {
    let read = read_all(app, user, on_step).await;
    if let Err(error) = &read {
        tracing::warn!(%error, "GDAP relationships could not be read");
    }
    if let Some(unknown) = gdap::partner_wide_unknown(read.as_deref()) {
        return Err(unknown);
    }
    let mut by_customer: HashMap<String, Vec<Relationship>> = HashMap::new();
    for relationship in read.unwrap_or_default() {
        by_customer
            .entry(relationship.customer_tenant_id.trim().to_ascii_lowercase())
            .or_default()
            .push(relationship);
    }
    Ok(by_customer
        .into_iter()
        .map(|(tenant, relationships)| (tenant, gdap::classify(&relationships, now)))
        .collect())
}

/// The verdict of a customer without any relationship in a trusted partner-wide answer.
pub fn without_relationships(now: OffsetDateTime) -> Verdict {
    gdap::classify(&[], now)
}

/// One customer's relationships (each with its assignments) and verdict, read now with the
/// token of the admin whose credential is `user_key`.
pub async fn for_customer(
    app: &AppState,
    user_key: &str,
    customer: Guid,
) -> Result<(Vec<Relationship>, Verdict), AppError> {
    let token = app
        .tokens
        .access_token(user_key, &app.config.graph_audience)
        .await?;
    let listing = app
        .graph
        .list_relationships_for_customer(&token, customer)
        .await?;
    let relationships = app
        .graph
        .with_assignments(&token, &listing.items, false, DEFAULT_CONCURRENCY, &|| {})
        .await?
        .items;
    let verdict = gdap::classify(&relationships, OffsetDateTime::now_utc());
    Ok((relationships, verdict))
}

/// What the GDAP read right before a DAP removal found.
#[derive(Debug, Clone)]
pub struct Recheck {
    /// For the audit: the coverage at decision and now.
    pub note: String,
    /// Why the removal must not go out: the coverage fell since the decision.
    pub fell: Option<String>,
}

/// Reads one customer's GDAP again right before its DAP removal, as the admin who started the
/// job, and compares it with the coverage the decision was taken against. A read that fails is
/// unknown, which is a fall.
pub async fn recheck_before_removal(
    app: &AppState,
    user_key: &str,
    customer: Guid,
    at_decision: Option<Coverage>,
) -> Recheck {
    let verdict = match for_customer(app, user_key, customer).await {
        Ok((_, verdict)) => verdict,
        Err(error) => Verdict::unknown(format!(
            "GDAP could not be read right before the call: {}",
            super::for_browser(error)
        )),
    };
    let decided = at_decision.map_or("not recorded", Coverage::label);
    let now = verdict.coverage.label();
    Recheck {
        note: format!("GDAP coverage at decision: {decided}; at execution: {now}"),
        fell: verdict.coverage.fell_since(at_decision).then(|| {
            format!(
                "held, not sent: GDAP coverage fell from {decided} at the decision to {now} \
                 ({}). Release it to remove DAP anyway.",
                verdict.reasons.join(" ")
            )
        }),
    }
}

/// The coverage to store for one customer when this sync could not read GDAP: the previous
/// sync's, if it knew, marked as kept; otherwise the unknown verdict itself.
pub fn keep_previous(
    previous: Option<(Coverage, &str, &str)>,
    unknown: &Verdict,
) -> (Coverage, Vec<String>) {
    match previous {
        Some((coverage, reasons, synced_at)) if coverage != Coverage::Unknown => {
            let mut kept = vec![format!(
                "Kept from the sync of {synced_at}: this sync could not read GDAP ({}).",
                unknown.reasons.join(" ")
            )];
            kept.extend(reasons.lines().map(str::to_string));
            (coverage, kept)
        }
        _ => (Coverage::Unknown, unknown.reasons.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_read_keeps_the_last_known_coverage_and_says_so() {
        let unknown = Verdict::unknown("Graph answered 503");
        let (coverage, reasons) = keep_previous(
            Some((
                Coverage::Covered,
                "All roles assigned.",
                "2026-11-29 10:00 UTC",
            )),
            &unknown,
        );
        assert_eq!(coverage, Coverage::Covered);
        assert!(reasons[0].contains("Kept from the sync of 2026-11-29 10:00 UTC"));
        assert!(reasons[0].contains("Graph answered 503"));
        assert_eq!(reasons[1], "All roles assigned.");

        let (coverage, reasons) = keep_previous(
            Some((Coverage::Unknown, "never read", "2026-11-29 10:00 UTC")),
            &unknown,
        );
        assert_eq!(coverage, Coverage::Unknown);
        assert_eq!(reasons, ["Graph answered 503"]);
        assert_eq!(keep_previous(None, &unknown).0, Coverage::Unknown);
    }
}
