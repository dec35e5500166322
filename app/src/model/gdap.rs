//! GDAP coverage of a DAP customer: whether removing DAP keeps the partner's access, decided
//! from the customer's GDAP relationships and their access assignments by the rules of the
//! Graph GDAP reference ("Coverage of a DAP customer" and "Which roles the dashboard needs
//! after DAP"). Pure: the caller passes `now`, so the same data always gives the same verdict.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

/// Role template ids the rules name.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
pub const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
pub const DIRECTORY_WRITERS: &str = "9360feb5-f418-4baa-8175-e2a00bac4301";
pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
pub const CLOUD_APPLICATION_ADMINISTRATOR: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";

/// A relationship ending within this many days without auto-extend puts coverage at risk.
pub const ENDING_SOON_DAYS: i64 = 30;
/// Display names of relationships created by Microsoft's DAP-to-GDAP transition start so.
pub const MLT_PREFIX: &str = "MLT_";

/// Names of the roles the dashboard talks about (others are shown by id).
const ROLE_NAMES: &[(&str, &str)] = &[
    (GLOBAL_ADMINISTRATOR, "Global Administrator"),
    (
        PRIVILEGED_ROLE_ADMINISTRATOR,
        "Privileged Role Administrator",
    ),
    (DIRECTORY_READERS, "Directory Readers"),
    (GLOBAL_READER, "Global Reader"),
    (DIRECTORY_WRITERS, "Directory Writers"),
    (USER_ADMINISTRATOR, "User Administrator"),
    (
        CLOUD_APPLICATION_ADMINISTRATOR,
        "Cloud Application Administrator",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
        "License Administrator",
    ),
    (
        "f023fd81-a637-4b56-95fd-791ac0226033",
        "Service Support Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
];

/// The display name of a role definition id; the id itself when unknown.
pub fn role_name(id: &str) -> String {
    ROLE_NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(id.trim()))
        .map_or_else(|| id.to_string(), |(_, name)| (*name).to_string())
}

/// The coverage classes, from worst to best knowledge of safety.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// The GDAP read failed, was refused, or came back empty for every customer (and what
    /// nothing has been read for yet).
    #[default]
    Unknown,
    /// No relationship with the customer is active.
    None,
    /// Active, but it ends soon without auto-extend, or only `MLT_` relationships, or no active
    /// access assignment.
    AtRisk,
    /// Active and assigned, but a role the dashboard needs is missing.
    Partial,
    /// Every need is met by a lasting, assigned relationship.
    Covered,
}

impl Coverage {
    pub const ALL: [Coverage; 5] = [
        Coverage::Unknown,
        Coverage::None,
        Coverage::AtRisk,
        Coverage::Partial,
        Coverage::Covered,
    ];

    /// The name used in URLs, storage and CSV (`at_risk`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Unknown => "unknown",
            Coverage::None => "none",
            Coverage::AtRisk => "at_risk",
            Coverage::Partial => "partial",
            Coverage::Covered => "covered",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Coverage::Unknown => "unknown",
            Coverage::None => "none",
            Coverage::AtRisk => "at risk",
            Coverage::Partial => "partial",
            Coverage::Covered => "covered",
        }
    }

    /// Only covered customers are safe to remove DAP from (when DAP is also stale).
    pub fn is_safe(self) -> bool {
        self == Coverage::Covered
    }

    /// Whether a customer whose DAP removal was decided at `at_decision` has lost coverage
    /// since, so the removal must not go out unchecked. Not knowing now is a fall, unless the
    /// decision already overrode not knowing. A decision without a recorded coverage (older
    /// than coverage) is held to "covered".
    pub fn fell_since(self, at_decision: Option<Coverage>) -> bool {
        fn rank(coverage: Coverage) -> u8 {
            match coverage {
                Coverage::Unknown => 0,
                Coverage::None => 1,
                Coverage::AtRisk => 2,
                Coverage::Partial => 3,
                Coverage::Covered => 4,
            }
        }
        let at_decision = at_decision.unwrap_or(Coverage::Covered);
        match self {
            Coverage::Unknown => at_decision != Coverage::Unknown,
            now => rank(now) < rank(at_decision),
        }
    }
}

/// What the dashboard does in a customer tenant, and the GDAP roles that allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DashboardAction {
    /// Reading directory roles and their members.
    ReadRoles,
    /// Adding and removing role members.
    ChangeRoleMembers,
    /// Granting CPV application consent.
    Consent,
}

impl DashboardAction {
    pub const ALL: [DashboardAction; 3] = [
        DashboardAction::ReadRoles,
        DashboardAction::ChangeRoleMembers,
        DashboardAction::Consent,
    ];

    /// Any one of these roles allows the action (Microsoft's DAP-to-GDAP API mapping).
    pub fn allowed_by(self) -> &'static [&'static str] {
        match self {
            DashboardAction::ReadRoles => &[
                DIRECTORY_READERS,
                GLOBAL_READER,
                DIRECTORY_WRITERS,
                USER_ADMINISTRATOR,
                PRIVILEGED_ROLE_ADMINISTRATOR,
            ],
            DashboardAction::ChangeRoleMembers => &[PRIVILEGED_ROLE_ADMINISTRATOR],
            DashboardAction::Consent => &[
                GLOBAL_ADMINISTRATOR,
                PRIVILEGED_ROLE_ADMINISTRATOR,
                CLOUD_APPLICATION_ADMINISTRATOR,
            ],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DashboardAction::ReadRoles => "reading directory roles and their members",
            DashboardAction::ChangeRoleMembers => "adding and removing role members",
            DashboardAction::Consent => "granting CPV application consent",
        }
    }
}

/// An access assignment: roles of a relationship granted to a security group of the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessAssignment {
    pub id: String,
    /// As Graph says it (`active`, `pending`, `deleted`...; unknown values are kept).
    pub status: String,
    /// The partner tenant's security group.
    pub group_id: Option<String>,
    /// Role definition ids.
    pub roles: Vec<String>,
}

impl AccessAssignment {
    pub fn is_active(&self) -> bool {
        self.status.trim().eq_ignore_ascii_case("active")
    }
}

/// A GDAP relationship with one customer and its access assignments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    pub id: String,
    pub display_name: String,
    pub customer_tenant_id: String,
    /// As Graph says it; anything but `active` grants nothing.
    pub status: String,
    /// ISO 8601, e.g. `P730D`.
    pub duration: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub activated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
    /// `P180D`; `PT0S`/`P0D` or absent: none.
    pub auto_extend_duration: Option<String>,
    /// Role definition ids the relationship includes.
    pub roles: Vec<String>,
    /// A reseller (indirect provider) relationship.
    pub reseller: bool,
    pub assignments: Vec<AccessAssignment>,
}

impl Relationship {
    pub fn is_active(&self) -> bool {
        self.status.trim().eq_ignore_ascii_case("active")
    }

    pub fn is_mlt(&self) -> bool {
        self.display_name.starts_with(MLT_PREFIX)
    }

    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    /// Whether it renews itself: a non-zero `autoExtendDuration`, and no Global Administrator
    /// (such relationships cannot auto-extend, whatever the field says).
    pub fn auto_extends(&self) -> bool {
        !self.has_role(GLOBAL_ADMINISTRATOR)
            && self
                .auto_extend_duration
                .as_deref()
                .and_then(iso_duration)
                .is_some_and(|d| d > Duration::ZERO)
    }

    /// The end: `endDateTime`, or activation plus duration when Graph left the end out.
    pub fn ends(&self) -> Option<OffsetDateTime> {
        self.end.or_else(|| {
            let duration = self.duration.as_deref().and_then(iso_duration)?;
            self.activated.map(|a| a + duration)
        })
    }

    /// Ends within [`ENDING_SOON_DAYS`] (or already ended) without auto-extend.
    pub fn ends_soon(&self, now: OffsetDateTime) -> bool {
        !self.auto_extends()
            && self
                .ends()
                .is_some_and(|end| end - now <= Duration::days(ENDING_SOON_DAYS))
    }

    fn active_assignments(&self) -> impl Iterator<Item = &AccessAssignment> {
        self.assignments.iter().filter(|a| a.is_active())
    }

    /// Roles granted through active assignments (and part of the relationship, since an
    /// assignment cannot grant more than its relationship holds).
    fn granted_roles(&self) -> impl Iterator<Item = String> + '_ {
        self.active_assignments()
            .flat_map(|a| a.roles.iter())
            .filter(|r| self.has_role(r))
            .map(|r| r.to_ascii_lowercase())
    }
}

/// An action that would stop working once DAP is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    pub action: DashboardAction,
    /// Why, for people: which roles would have allowed it.
    pub description: String,
}

/// The coverage of one customer, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub coverage: Coverage,
    /// Human-readable, most important first.
    pub reasons: Vec<String>,
    /// What stops working after DAP removal, given the roles GDAP grants (empty when covered,
    /// and when the coverage is unknown: nothing is known then).
    pub breaks: Vec<Broken>,
}

impl Verdict {
    /// The read failed or was refused, or nothing came back for anyone.
    pub fn unknown(reason: impl Into<String>) -> Self {
        Verdict {
            coverage: Coverage::Unknown,
            reasons: vec![reason.into()],
            breaks: Vec::new(),
        }
    }
}

/// One customer's relationships (with their access assignments) and the verdict, for its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerGdap {
    pub relationships: Vec<Relationship>,
    pub verdict: Verdict,
}

/// Why an answer with no relationship for any customer is not "none" (the empty-list trap).
pub const EMPTY_FOR_EVERYONE: &str = "Microsoft Graph returned no GDAP relationship for any \
     customer. A partner admin who is not in the Admin Agents group gets exactly this answer, \
     so it proves nothing: coverage is unknown.";

/// Whether the partner-wide answer can be trusted: `None` when it can, else the verdict every
/// customer gets. `read` is the outcome of listing every relationship of the partner.
pub fn partner_wide_unknown<E: std::fmt::Display>(
    read: Result<&[Relationship], E>,
) -> Option<Verdict> {
    match read {
        Err(error) => Some(Verdict::unknown(format!(
            "The GDAP relationships could not be read: {error}"
        ))),
        Ok([]) => Some(Verdict::unknown(EMPTY_FOR_EVERYONE)),
        Ok(_) => None,
    }
}

/// `YYYY-MM-DD`, for reasons and pages.
pub fn day(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

fn quoted_names<'a>(relationships: impl IntoIterator<Item = &'a Relationship>) -> String {
    relationships
        .into_iter()
        .map(|r| format!("'{}'", r.display_name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn breaks_for(held: &BTreeSet<String>, when: &str) -> Vec<Broken> {
    DashboardAction::ALL
        .into_iter()
        .filter(|action| !action.allowed_by().iter().any(|r| held.contains(*r)))
        .map(|action| Broken {
            action,
            description: format!(
                "{} {when}: it needs {}.",
                capitalise(action.label()),
                action
                    .allowed_by()
                    .iter()
                    .map(|r| role_name(r))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        })
        .collect()
}

/// The text with its first letter in upper case, for sentences built from labels.
pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// The coverage of one customer from its relationships (each with its access assignments).
/// A partner-wide failure or empty answer must be checked first with
/// [`partner_wide_unknown`]: an empty list here means this customer has no relationship.
pub fn classify(relationships: &[Relationship], now: OffsetDateTime) -> Verdict {
    let active: Vec<&Relationship> = relationships.iter().filter(|r| r.is_active()).collect();
    if active.is_empty() {
        let reasons = if relationships.is_empty() {
            vec!["No GDAP relationship with this customer.".to_string()]
        } else {
            let mut reasons = vec!["No GDAP relationship with this customer is active.".into()];
            reasons.extend(relationships.iter().map(|r| {
                format!(
                    "'{}' is {} and grants nothing.",
                    r.display_name,
                    r.status.trim()
                )
            }));
            reasons
        };
        return Verdict {
            coverage: Coverage::None,
            reasons,
            breaks: breaks_for(&BTreeSet::new(), "will stop working when DAP is removed"),
        };
    }

    let assigned: Vec<&Relationship> = active
        .iter()
        .copied()
        .filter(|r| r.active_assignments().next().is_some())
        .collect();
    let lasting: Vec<&Relationship> = assigned
        .iter()
        .copied()
        .filter(|r| !r.ends_soon(now))
        .collect();
    let mut notes: Vec<String> = Vec::new();
    for r in &active {
        if r.active_assignments().next().is_none() {
            notes.push(format!(
                "'{}' is active but none of its access assignments is active, so its roles \
                 grant nothing.",
                r.display_name
            ));
        } else if r.ends_soon(now) {
            notes.push(match r.ends() {
                Some(end) if end > now => format!(
                    "'{}' ends on {} (in {} days) and does not auto-extend.",
                    r.display_name,
                    day(end),
                    (end - now).whole_days()
                ),
                _ => format!(
                    "'{}' has reached its end date and does not auto-extend.",
                    r.display_name
                ),
            });
        }
    }

    if !lasting.iter().any(|r| !r.is_mlt()) {
        let mut reasons = Vec::new();
        if active.iter().all(|r| r.is_mlt()) {
            reasons.push(format!(
                "Only Microsoft-led transition (MLT_) relationships are active ({}): they were \
                 created by Microsoft's DAP-to-GDAP transition with read-only roles.",
                quoted_names(active.iter().copied())
            ));
        }
        reasons.extend(notes);
        // Today's access: everything active and assigned, even if it ends soon or is MLT_.
        let held_now: BTreeSet<String> = assigned.iter().flat_map(|r| r.granted_roles()).collect();
        return Verdict {
            coverage: Coverage::AtRisk,
            reasons,
            breaks: breaks_for(&held_now, "will not work through GDAP after DAP removal"),
        };
    }

    let held: BTreeSet<String> = lasting.iter().flat_map(|r| r.granted_roles()).collect();
    let breaks = breaks_for(&held, "will stop working when DAP is removed");
    let sources = quoted_names(lasting.iter().copied().filter(|r| !r.is_mlt()));
    if breaks.is_empty() {
        let mut reasons = vec![format!(
            "{sources} active, with active access assignments granting {}.",
            held.iter()
                .map(|r| role_name(r))
                .collect::<Vec<_>>()
                .join(", ")
        )];
        reasons.extend(notes);
        Verdict {
            coverage: Coverage::Covered,
            reasons,
            breaks,
        }
    } else {
        let needs = breaks
            .iter()
            .map(|b| b.action.label())
            .collect::<Vec<_>>()
            .join(" and ");
        let mut reasons = vec![format!(
            "{sources} active and assigned, but no active access assignment grants a role for \
             {needs}."
        )];
        if breaks
            .iter()
            .any(|b| b.action == DashboardAction::ChangeRoleMembers)
        {
            reasons.push(
                "Privileged Role Administrator is in no active access assignment.".to_string(),
            );
        }
        reasons.extend(notes);
        Verdict {
            coverage: Coverage::Partial,
            reasons,
            breaks,
        }
    }
}

/// A duration in ISO 8601 (`P180D`, `PT0S`, `P1Y2M3DT4H5M6S`, `P2W`). Years count 365 days and
/// months 30, which is close enough for "does it auto-extend" and "when does it end".
pub fn iso_duration(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix(['P', 'p'])?;
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut in_time = false;
    let mut components = 0;
    let mut number = String::new();
    for c in rest.chars() {
        match c {
            'T' | 't' if !in_time && number.is_empty() => in_time = true,
            '0'..='9' | '.' => number.push(c),
            unit => {
                let value: f64 = number.parse().ok()?;
                number.clear();
                let seconds = match (in_time, unit.to_ascii_uppercase()) {
                    (false, 'Y') => 365.0 * 86_400.0,
                    (false, 'M') => 30.0 * 86_400.0,
                    (false, 'W') => 7.0 * 86_400.0,
                    (false, 'D') => 86_400.0,
                    (true, 'H') => 3_600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return None,
                };
                let part = value * seconds;
                if !part.is_finite() || part > 1.0e12 {
                    return None;
                }
                total += Duration::seconds_f64(part);
                components += 1;
            }
        }
    }
    (number.is_empty() && components > 0).then_some(total)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn coverage_falls_when_it_drops_below_the_decision_or_becomes_unknown() {
        use Coverage::*;
        assert!(!Covered.fell_since(Some(Covered)));
        assert!(Partial.fell_since(Some(Covered)));
        assert!(None.fell_since(Some(Covered)));
        assert!(Unknown.fell_since(Some(Covered)));
        assert!(Unknown.fell_since(Some(None)), "not knowing is a fall");
        // An override of an uncovered customer holds only if it got worse.
        assert!(!None.fell_since(Some(None)));
        assert!(!Partial.fell_since(Some(AtRisk)));
        assert!(None.fell_since(Some(AtRisk)));
        assert!(!Unknown.fell_since(Some(Unknown)));
        assert!(!None.fell_since(Some(Unknown)));
        // No coverage recorded with the decision: it must be covered now.
        assert!(!Covered.fell_since(Option::None));
        assert!(Partial.fell_since(Option::None));
    }

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);
    const FULL: &[&str] = &[
        PRIVILEGED_ROLE_ADMINISTRATOR,
        USER_ADMINISTRATOR,
        GLOBAL_READER,
        CLOUD_APPLICATION_ADMINISTRATOR,
    ];

    fn assignment(status: &str, roles: &[&str]) -> AccessAssignment {
        AccessAssignment {
            id: "a".into(),
            status: status.into(),
            group_id: Some("g".into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// Active, auto-extending, ending in a year, with one active assignment of `roles`.
    fn relationship(name: &str, roles: &[&str]) -> Relationship {
        Relationship {
            id: "r".into(),
            display_name: name.into(),
            customer_tenant_id: "c".into(),
            status: "active".into(),
            duration: Some("P730D".into()),
            activated: Some(NOW - Duration::days(365)),
            end: Some(NOW + Duration::days(365)),
            auto_extend_duration: Some("P180D".into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            reseller: false,
            assignments: vec![assignment("active", roles)],
        }
    }

    fn ending_in(mut r: Relationship, days: i64, auto_extend: Option<&str>) -> Relationship {
        r.end = Some(NOW + Duration::days(days));
        r.auto_extend_duration = auto_extend.map(str::to_string);
        r
    }

    fn actions(v: &Verdict) -> Vec<DashboardAction> {
        v.breaks.iter().map(|b| b.action).collect()
    }

    #[test]
    fn one_assigned_relationship_with_every_role_covers() {
        let v = classify(&[relationship("Default", FULL)], NOW);
        assert_eq!(v.coverage, Coverage::Covered, "{v:?}");
        assert!(v.breaks.is_empty());
        assert!(v.reasons[0].contains("'Default'"), "{:?}", v.reasons);
        assert!(v.reasons[0].contains("Privileged Role Administrator"));
    }

    #[test]
    fn no_relationship_is_none_and_everything_breaks() {
        let v = classify(&[], NOW);
        assert_eq!(v.coverage, Coverage::None);
        assert_eq!(actions(&v), DashboardAction::ALL.to_vec());
        assert_eq!(v.reasons, vec!["No GDAP relationship with this customer."]);
    }

    #[test]
    fn only_terminated_expired_or_pending_relationships_are_none() {
        for status in [
            "terminated",
            "expired",
            "approvalPending",
            "created",
            "terminationRequested",
            "expiring",
            "unknownFutureValue",
            "somethingNew",
        ] {
            let mut r = relationship("Default", FULL);
            r.status = status.into();
            let v = classify(&[r], NOW);
            assert_eq!(v.coverage, Coverage::None, "{status}");
            assert!(
                v.reasons.iter().any(|m| m.contains(status)),
                "{status}: {:?}",
                v.reasons
            );
        }
        let mut pending = relationship("Request", FULL);
        pending.status = "approvalPending".into();
        pending.activated = None;
        pending.end = None;
        let mut terminated = relationship("Old", FULL);
        terminated.status = "terminated".into();
        let v = classify(&[pending, terminated], NOW);
        assert_eq!(v.coverage, Coverage::None);
    }

    #[test]
    fn status_casing_does_not_matter() {
        let mut r = relationship("Default", FULL);
        r.status = "Active".into();
        r.assignments[0].status = "ACTIVE".into();
        assert_eq!(classify(&[r], NOW).coverage, Coverage::Covered);
    }

    #[test]
    fn ending_within_30_days_without_auto_extend_is_at_risk() {
        for auto_extend in [None, Some("PT0S"), Some("P0D")] {
            let r = ending_in(relationship("Default", FULL), 12, auto_extend);
            let v = classify(&[r], NOW);
            assert_eq!(v.coverage, Coverage::AtRisk, "{auto_extend:?}");
            assert!(
                v.reasons[0].contains("2026-12-12") && v.reasons[0].contains("in 12 days"),
                "{:?}",
                v.reasons
            );
            // It still works today: nothing is listed as broken by roles.
            assert!(v.breaks.is_empty(), "{v:?}");
        }
        // Auto-extending, it is fine; ending in 31 days, too.
        let r = ending_in(relationship("Default", FULL), 12, Some("P180D"));
        assert_eq!(classify(&[r], NOW).coverage, Coverage::Covered);
        let r = ending_in(relationship("Default", FULL), 31, Some("PT0S"));
        assert_eq!(classify(&[r], NOW).coverage, Coverage::Covered);
    }

    #[test]
    fn global_administrator_cannot_auto_extend_whatever_the_field_says() {
        let roles = [
            GLOBAL_ADMINISTRATOR,
            PRIVILEGED_ROLE_ADMINISTRATOR,
            GLOBAL_READER,
        ];
        let r = ending_in(relationship("Admin", &roles), 10, Some("P180D"));
        assert_eq!(classify(&[r], NOW).coverage, Coverage::AtRisk);
        let r = ending_in(relationship("Admin", &roles), 200, Some("PT0S"));
        assert_eq!(classify(&[r], NOW).coverage, Coverage::Covered);
    }

    #[test]
    fn a_missing_end_date_is_computed_from_activation_and_duration() {
        let mut r = relationship("Default", FULL);
        r.end = None;
        r.auto_extend_duration = None;
        r.activated = Some(NOW - Duration::days(720));
        assert_eq!(classify(&[r.clone()], NOW).coverage, Coverage::AtRisk);
        r.activated = Some(NOW - Duration::days(100));
        assert_eq!(classify(&[r], NOW).coverage, Coverage::Covered);
    }

    #[test]
    fn only_mlt_relationships_are_at_risk() {
        let roles = [DIRECTORY_READERS, GLOBAL_READER];
        let v = classify(
            &[
                relationship("MLT_0123abcd_1", &roles),
                relationship("MLT_0123abcd_2", &roles),
            ],
            NOW,
        );
        assert_eq!(v.coverage, Coverage::AtRisk);
        assert!(v.reasons[0].contains("MLT_"), "{:?}", v.reasons);
        assert_eq!(
            actions(&v),
            vec![DashboardAction::ChangeRoleMembers, DashboardAction::Consent],
            "MLT_ roles read but do not write"
        );
    }

    #[test]
    fn no_active_assignment_is_at_risk() {
        for statuses in [vec![], vec!["pending", "deleted", "error", "deleting"]] {
            let mut r = relationship("Default", FULL);
            r.assignments = statuses.iter().map(|s| assignment(s, FULL)).collect();
            let v = classify(&[r], NOW);
            assert_eq!(v.coverage, Coverage::AtRisk, "{statuses:?}");
            assert!(v.reasons[0].contains("none of its access assignments is active"));
            assert_eq!(actions(&v), DashboardAction::ALL.to_vec());
        }
    }

    #[test]
    fn no_privileged_role_administrator_in_an_active_assignment_is_partial() {
        let roles = [
            GLOBAL_READER,
            USER_ADMINISTRATOR,
            CLOUD_APPLICATION_ADMINISTRATOR,
        ];
        let v = classify(&[relationship("Helpdesk", &roles)], NOW);
        assert_eq!(v.coverage, Coverage::Partial, "{v:?}");
        assert_eq!(actions(&v), vec![DashboardAction::ChangeRoleMembers]);
        assert!(v.breaks[0]
            .description
            .contains("Privileged Role Administrator"));
        assert!(v
            .reasons
            .iter()
            .any(|m| m.contains("Privileged Role Administrator")));

        // PRA in the relationship, but its assignment is only pending.
        let mut r = relationship("Default", FULL);
        r.assignments = vec![
            assignment("active", &[GLOBAL_READER]),
            assignment("pending", &[PRIVILEGED_ROLE_ADMINISTRATOR]),
        ];
        let v = classify(&[r], NOW);
        assert_eq!(v.coverage, Coverage::Partial);
        assert_eq!(
            actions(&v),
            vec![DashboardAction::ChangeRoleMembers, DashboardAction::Consent]
        );
    }

    #[test]
    fn an_assignment_cannot_grant_a_role_its_relationship_lacks() {
        let mut r = relationship("Default", &[GLOBAL_READER]);
        r.assignments = vec![assignment("active", FULL)];
        let v = classify(&[r], NOW);
        assert_eq!(v.coverage, Coverage::Partial);
    }

    #[test]
    fn a_terminated_relationship_does_not_cover_even_with_an_active_assignment() {
        let mut old = relationship("Old", FULL);
        old.status = "terminated".into();
        let helpdesk = relationship("Helpdesk", &[GLOBAL_READER]);
        let v = classify(&[old, helpdesk], NOW);
        assert_eq!(v.coverage, Coverage::Partial);
    }

    #[test]
    fn several_relationships_where_one_covers() {
        let soon = ending_in(relationship("Pilot", FULL), 5, Some("PT0S"));
        let mlt = relationship("MLT_x_1", &[DIRECTORY_READERS]);
        let mut pending = relationship("Request", FULL);
        pending.status = "approvalPending".into();
        let lasting = relationship("Default", FULL);
        let v = classify(&[soon.clone(), mlt.clone(), pending, lasting], NOW);
        assert_eq!(v.coverage, Coverage::Covered, "{v:?}");
        assert!(
            v.reasons.iter().any(|m| m.contains("'Pilot' ends")),
            "the ending one is still mentioned: {:?}",
            v.reasons
        );
        // Without the lasting one, the ending one alone is at risk even beside an MLT_.
        assert_eq!(classify(&[soon, mlt], NOW).coverage, Coverage::AtRisk);
    }

    #[test]
    fn roles_spread_over_relationships_and_assignments_add_up() {
        let readers = relationship("Readers", &[GLOBAL_READER]);
        let admins = relationship("Admins", &[PRIVILEGED_ROLE_ADMINISTRATOR]);
        assert_eq!(
            classify(&[readers, admins], NOW).coverage,
            Coverage::Covered
        );
        let mut split = relationship("Split", FULL);
        split.assignments = vec![
            assignment("active", &[GLOBAL_READER]),
            assignment("active", &[CLOUD_APPLICATION_ADMINISTRATOR]),
        ];
        let v = classify(&[split], NOW);
        assert_eq!(v.coverage, Coverage::Partial);
        assert_eq!(actions(&v), vec![DashboardAction::ChangeRoleMembers]);
    }

    #[test]
    fn a_failed_read_or_an_empty_answer_for_everyone_is_unknown_never_none() {
        let failed = partner_wide_unknown::<&str>(Err("503 Service Unavailable")).unwrap();
        assert_eq!(failed.coverage, Coverage::Unknown);
        assert!(failed.reasons[0].contains("503"));
        let empty = partner_wide_unknown::<&str>(Ok(&[])).unwrap();
        assert_eq!(empty.coverage, Coverage::Unknown);
        assert!(empty.reasons[0].contains("Admin Agents"));
        assert!(empty.breaks.is_empty());
        let some = [relationship("Default", FULL)];
        assert!(partner_wide_unknown::<&str>(Ok(&some)).is_none());
    }

    #[test]
    fn classes_have_stable_names_and_order() {
        for c in Coverage::ALL {
            assert_eq!(Coverage::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!(Coverage::parse("AT_RISK"), Some(Coverage::AtRisk));
        assert_eq!(Coverage::parse("safe"), None);
        assert!(Coverage::Covered.is_safe() && !Coverage::Partial.is_safe());
        assert!(Coverage::None < Coverage::Covered);
    }

    #[test]
    fn iso_durations() {
        assert_eq!(iso_duration("P180D"), Some(Duration::days(180)));
        assert_eq!(iso_duration("PT0S"), Some(Duration::ZERO));
        assert_eq!(iso_duration("P0D"), Some(Duration::ZERO));
        assert_eq!(iso_duration("P2Y"), Some(Duration::days(730)));
        assert_eq!(
            iso_duration("P1DT2H"),
            Some(Duration::days(1) + Duration::hours(2))
        );
        for bad in ["", "P", "180D", "P1X", "PT", "P1H", "P1D2"] {
            assert_eq!(iso_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn verdicts_round_trip_through_json() {
        let v = classify(&[relationship("Helpdesk", &[GLOBAL_READER])], NOW);
        let json = serde_json::to_string(&v).unwrap();
        let back: Verdict = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
        let r = relationship("Default", FULL);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Relationship>(&json).unwrap(), r);
    }
}
