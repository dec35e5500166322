//! The partner's GDAP relationships with its customers (Microsoft Graph `tenantRelationships`),
//! generated from the seed on first use: one scenario per customer, chosen so that every
//! coverage class of the reference appears (the first customers take each scenario in turn,
//! so even a small world has them all), then mutable through the test controls.
//!
//! Each customer's expected coverage (the "truth" tests compare the dashboard with) is
//! evaluated here by the reference's rules from the customer's current relationships, so it
//! follows the controls that terminate relationships or delete assignments.

use std::collections::HashMap;

use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use uuid::{uuid, Uuid};

use crate::data::{
    Customer, CLOUD_APPLICATION_ADMINISTRATOR, DIRECTORY_READERS, DIRECTORY_WRITERS,
    GLOBAL_ADMINISTRATOR, GLOBAL_READER, PRIVILEGED_ROLE_ADMINISTRATOR, USER_ADMINISTRATOR,
};
use crate::rng::{SplitMix64, Stream};
use crate::timefmt::format_ticks;

/// Security groups of the partner tenant that access assignments map roles to.
pub(crate) const GROUP_ADMINS: Uuid = uuid!("0c4b7a52-6d1e-4f3a-9b8c-2e7d5f1a6b01");
pub(crate) const GROUP_HELPDESK: Uuid = uuid!("5e2d8c17-3a9f-4b6e-8d41-7c0a9e2f3b02");
pub(crate) const GROUP_READERS: Uuid = uuid!("a91f3e6c-2b7d-4c58-9e03-4d6b8a1c5f03");
/// Tenant of the indirect provider named by reseller relationships.
const INDIRECT_PROVIDER: Uuid = uuid!("c3d5e7f9-1a2b-4c6d-8e0f-9a8b7c6d5e04");

/// Roles that let the dashboard read directory roles and their members (reference table).
const READ_ROLES: &[Uuid] = &[
    DIRECTORY_READERS,
    GLOBAL_READER,
    DIRECTORY_WRITERS,
    USER_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
];
/// Roles that let it add and remove role members.
const WRITE_ROLES: &[Uuid] = &[PRIVILEGED_ROLE_ADMINISTRATOR];
/// Roles that let it grant CPV consent.
const CONSENT_ROLES: &[Uuid] = &[
    GLOBAL_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
    CLOUD_APPLICATION_ADMINISTRATOR,
];

/// What a partner typically asks for: everything the dashboard needs.
const FULL_ROLES: &[Uuid] = &[
    PRIVILEGED_ROLE_ADMINISTRATOR,
    USER_ADMINISTRATOR,
    GLOBAL_READER,
    CLOUD_APPLICATION_ADMINISTRATOR,
];
/// The read-only roles of Microsoft-led transition (`MLT_`) relationships.
const MLT_ROLES: &[Uuid] = &[DIRECTORY_READERS, GLOBAL_READER];

/// A coverage verdict, with the names the dashboard uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    None,
    AtRisk,
    Partial,
    Covered,
}

impl Class {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::None => "none",
            Class::AtRisk => "at_risk",
            Class::Partial => "partial",
            Class::Covered => "covered",
        }
    }
}

/// How a customer's relationships were seeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scenario {
    /// One active relationship with every needed role, auto-extending, one active assignment.
    Covered,
    /// The roles are spread over two active assignments; an old assignment is deleted.
    CoveredSplitAssignments,
    /// An `MLT_` relationship, a terminated old one and a covering one.
    CoveredWithMltAndTerminated,
    /// A reseller (indirect) relationship that covers.
    CoveredReseller,
    /// An older answer without `autoExtendDuration`, ending far in the future.
    CoveredLegacy,
    /// Global Administrator (which cannot auto-extend), ending far in the future.
    CoveredGlobalAdmin,
    /// One relationship ends within 30 days without auto-extend; another one covers.
    CoveredOneOfSeveral,
    /// Active and assigned, but no Privileged Role Administrator anywhere.
    PartialNoPrivilegedRoleAdmin,
    /// The relationship has every role, but the assignment holding PRA is only pending.
    PartialPraAssignmentPending,
    /// A reseller relationship with reading roles only.
    PartialReaderOnly,
    /// Every role, but it ends within 30 days without auto-extend.
    AtRiskEndingSoon,
    /// Only `MLT_` relationships.
    AtRiskMltOnly,
    /// Active but without any access assignment.
    AtRiskNoAssignment,
    /// Active, but its assignments are pending, in error or deleted.
    AtRiskAssignmentsInactive,
    /// No relationship at all.
    NoneNoRelationship,
    /// Only terminated relationships.
    NoneTerminated,
    /// Only expired relationships.
    NoneExpired,
    /// Only relationships still waiting for the customer's approval.
    NoneApprovalPending,
    /// Only relationships in statuses that are not `active` (one the client has never seen).
    NoneOtherStatuses,
}

impl Scenario {
    pub(crate) const ALL: [Scenario; 19] = [
        Scenario::Covered,
        Scenario::PartialNoPrivilegedRoleAdmin,
        Scenario::AtRiskEndingSoon,
        Scenario::NoneNoRelationship,
        Scenario::CoveredSplitAssignments,
        Scenario::PartialPraAssignmentPending,
        Scenario::AtRiskMltOnly,
        Scenario::NoneTerminated,
        Scenario::CoveredWithMltAndTerminated,
        Scenario::PartialReaderOnly,
        Scenario::AtRiskNoAssignment,
        Scenario::NoneExpired,
        Scenario::CoveredReseller,
        Scenario::AtRiskAssignmentsInactive,
        Scenario::NoneApprovalPending,
        Scenario::CoveredLegacy,
        Scenario::NoneOtherStatuses,
        Scenario::CoveredGlobalAdmin,
        Scenario::CoveredOneOfSeveral,
    ];

    /// Weights (per 100) of the scenarios beyond the first customers: covered 45, partial 15,
    /// at risk 15, none 25.
    const WEIGHTS: [(Scenario, u64); 19] = [
        (Scenario::Covered, 15),
        (Scenario::CoveredSplitAssignments, 8),
        (Scenario::CoveredWithMltAndTerminated, 7),
        (Scenario::CoveredReseller, 5),
        (Scenario::CoveredLegacy, 4),
        (Scenario::CoveredGlobalAdmin, 3),
        (Scenario::CoveredOneOfSeveral, 3),
        (Scenario::PartialNoPrivilegedRoleAdmin, 6),
        (Scenario::PartialPraAssignmentPending, 5),
        (Scenario::PartialReaderOnly, 4),
        (Scenario::AtRiskEndingSoon, 5),
        (Scenario::AtRiskMltOnly, 4),
        (Scenario::AtRiskNoAssignment, 3),
        (Scenario::AtRiskAssignmentsInactive, 3),
        (Scenario::NoneNoRelationship, 10),
        (Scenario::NoneTerminated, 5),
        (Scenario::NoneExpired, 4),
        (Scenario::NoneApprovalPending, 4),
        (Scenario::NoneOtherStatuses, 2),
    ];

    #[cfg(test)]
    pub(crate) fn class(self) -> Class {
        use Scenario::*;
        match self {
            Covered
            | CoveredSplitAssignments
            | CoveredWithMltAndTerminated
            | CoveredReseller
            | CoveredLegacy
            | CoveredGlobalAdmin
            | CoveredOneOfSeveral => Class::Covered,
            PartialNoPrivilegedRoleAdmin | PartialPraAssignmentPending | PartialReaderOnly => {
                Class::Partial
            }
            AtRiskEndingSoon | AtRiskMltOnly | AtRiskNoAssignment | AtRiskAssignmentsInactive => {
                Class::AtRisk
            }
            NoneNoRelationship | NoneTerminated | NoneExpired | NoneApprovalPending
            | NoneOtherStatuses => Class::None,
        }
    }

    pub(crate) fn name(self) -> String {
        format!("{self:?}")
    }

    fn pick(index: usize, rng: &mut SplitMix64) -> Self {
        if let Some(s) = Self::ALL.get(index) {
            return *s;
        }
        let mut roll = rng.below(100);
        for (scenario, weight) in Self::WEIGHTS {
            if roll < weight {
                return scenario;
            }
            roll -= weight;
        }
        Scenario::Covered
    }
}

/// A `delegatedAdminAccessAssignment`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Assignment {
    pub id: Uuid,
    pub status: &'static str,
    pub group: Uuid,
    pub roles: Vec<Uuid>,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
}

/// A `delegatedAdminRelationship` and its access assignments.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Relationship {
    /// Two GUIDs joined by `-`: the relationship's own and the customer tenant's.
    pub id: String,
    pub display_name: String,
    pub duration_days: u32,
    pub customer_tenant_id: Uuid,
    pub customer_display_name: String,
    pub roles: Vec<Uuid>,
    pub status: &'static str,
    /// `None`: the property is absent (older answers).
    pub auto_extend: Option<&'static str>,
    pub created: OffsetDateTime,
    pub activated: Option<OffsetDateTime>,
    pub last_modified: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
    /// A reseller relationship: whether the partner's consent is pending.
    pub reseller_consent_pending: Option<bool>,
    pub assignments: Vec<Assignment>,
}

impl Relationship {
    fn is_active(&self) -> bool {
        self.status == "active"
    }

    fn is_mlt(&self) -> bool {
        self.display_name.starts_with("MLT_")
    }

    /// A relationship with Global Administrator cannot auto-extend, whatever it says.
    fn auto_extends(&self) -> bool {
        !self.roles.contains(&GLOBAL_ADMINISTRATOR)
            && self
                .auto_extend
                .is_some_and(|d| !matches!(d, "PT0S" | "P0D"))
    }

    fn ends_soon(&self, now: OffsetDateTime) -> bool {
        !self.auto_extends() && self.end.is_some_and(|end| end - now <= Duration::days(30))
    }

    fn active_assignments(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments.iter().filter(|a| a.status == "active")
    }

    /// The resource as Graph lists it.
    pub(crate) fn to_json(&self) -> Value {
        let mut value = json!({
            "@odata.type": if self.reseller_consent_pending.is_some() {
                "#microsoft.graph.resellerDelegatedAdminRelationship"
            } else {
                "#microsoft.graph.delegatedAdminRelationship"
            },
            "@odata.etag": etag(self.last_modified),
            "id": self.id,
            "displayName": self.display_name,
            "duration": format!("P{}D", self.duration_days),
            "customer": {
                "tenantId": self.customer_tenant_id,
                "displayName": self.customer_display_name,
            },
            "accessDetails": {"unifiedRoles": unified_roles(&self.roles)},
            "status": self.status,
            "createdDateTime": format_ticks(self.created),
            "activatedDateTime": self.activated.map(format_ticks),
            "lastModifiedDateTime": format_ticks(self.last_modified),
            "endDateTime": self.end.map(format_ticks),
        });
        if let Some(object) = value.as_object_mut() {
            if let Some(duration) = self.auto_extend {
                object.insert("autoExtendDuration".into(), duration.into());
            }
            if let Some(pending) = self.reseller_consent_pending {
                object.insert("isPartnerConsentPending".into(), pending.into());
                object.insert(
                    "indirectProviderTenantId".into(),
                    INDIRECT_PROVIDER.to_string().into(),
                );
            }
        }
        value
    }
}

impl Assignment {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "@odata.etag": etag(self.last_modified),
            "id": self.id,
            "status": self.status,
            "accessContainer": {
                "accessContainerId": self.group,
                "accessContainerType": "securityGroup",
            },
            "accessDetails": {"unifiedRoles": unified_roles(&self.roles)},
            "createdDateTime": format_ticks(self.created),
            "lastModifiedDateTime": format_ticks(self.last_modified),
        })
    }
}

fn unified_roles(roles: &[Uuid]) -> Value {
    roles
        .iter()
        .map(|r| json!({"roleDefinitionId": r}))
        .collect()
}

fn etag(modified: OffsetDateTime) -> String {
    format!("W/\"JyIw{:x}Iic=\"", modified.unix_timestamp())
}

/// The expected coverage of one customer from its relationships, by the reference's rules:
/// none without an `active` relationship; at risk when no active, non-`MLT_` relationship has an
/// active assignment and stays (not ending within 30 days without auto-extend); partial when
/// the roles of the active assignments of the lasting relationships miss a need; else covered.
pub(crate) fn evaluate(relationships: &[&Relationship], now: OffsetDateTime) -> Class {
    let active: Vec<&&Relationship> = relationships.iter().filter(|r| r.is_active()).collect();
    if active.is_empty() {
        return Class::None;
    }
    let lasting: Vec<&&Relationship> = active
        .iter()
        .copied()
        .filter(|r| r.active_assignments().next().is_some() && !r.ends_soon(now))
        .collect();
    if !lasting.iter().any(|r| !r.is_mlt()) {
        return Class::AtRisk;
    }
    let held: Vec<Uuid> = lasting
        .iter()
        .flat_map(|r| {
            r.active_assignments()
                .flat_map(|a| a.roles.iter().filter(|role| r.roles.contains(role)))
        })
        .copied()
        .collect();
    let has = |needed: &[Uuid]| needed.iter().any(|n| held.contains(n));
    if has(READ_ROLES) && has(WRITE_ROLES) && has(CONSENT_ROLES) {
        Class::Covered
    } else {
        Class::Partial
    }
}

/// Every relationship of the partner, in customer order, and the scenario of each customer.
pub(crate) struct GdapWorld {
    pub relationships: Vec<Relationship>,
    pub scenarios: HashMap<Uuid, Scenario>,
    by_id: HashMap<String, usize>,
}

impl GdapWorld {
    pub(crate) fn generate(seed: u64, customers: &[Customer], now: OffsetDateTime) -> Self {
        let mut relationships = Vec::new();
        let mut scenarios = HashMap::with_capacity(customers.len());
        for customer in customers {
            let mut g = Generator {
                rng: SplitMix64::for_item(seed, Stream::Gdap, customer.index as u64),
                customer,
                now,
                out: Vec::new(),
            };
            let scenario = Scenario::pick(customer.index, &mut g.rng);
            g.build(scenario);
            scenarios.insert(customer.tenant_id, scenario);
            relationships.extend(g.out);
        }
        let by_id = relationships
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Self {
            relationships,
            scenarios,
            by_id,
        }
    }

    pub(crate) fn relationship(&self, id: &str) -> Option<&Relationship> {
        self.by_id.get(id).and_then(|i| self.relationships.get(*i))
    }

    pub(crate) fn relationship_mut(&mut self, id: &str) -> Option<&mut Relationship> {
        self.by_id
            .get(id)
            .and_then(|i| self.relationships.get_mut(*i))
    }

    pub(crate) fn of_customer(&self, tenant: &Uuid) -> Vec<&Relationship> {
        self.relationships
            .iter()
            .filter(|r| r.customer_tenant_id == *tenant)
            .collect()
    }
}

struct Generator<'a> {
    rng: SplitMix64,
    customer: &'a Customer,
    now: OffsetDateTime,
    out: Vec<Relationship>,
}

/// How a relationship's dates relate to now.
#[derive(Clone, Copy)]
enum Timing {
    /// Active for a while, ending more than 100 days from now.
    Active,
    /// Active, ending within 1..=29 days.
    EndingSoon,
    /// Active, ending in 400..=700 days.
    EndingLate,
    /// Not yet approved: no activation, no end.
    Pending,
    /// Ended in the past.
    Ended,
}

impl Generator<'_> {
    fn days(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::days(self.rng.between(lo, hi) as i64)
    }

    fn relationship(
        &mut self,
        name: &str,
        roles: &[Uuid],
        status: &'static str,
        timing: Timing,
    ) -> usize {
        let duration_days = 730;
        let full = Duration::days(i64::from(duration_days));
        let (created, activated, end) = match timing {
            Timing::Active => {
                let activated = self.now - self.days(30, 600);
                (
                    activated - self.days(1, 10),
                    Some(activated),
                    Some(activated + full),
                )
            }
            Timing::EndingSoon => {
                let end = self.now + self.days(1, 29);
                let activated = end - full;
                (activated - self.days(1, 10), Some(activated), Some(end))
            }
            Timing::EndingLate => {
                let end = self.now + self.days(400, 700);
                let activated = end - full;
                (activated - self.days(1, 10), Some(activated), Some(end))
            }
            Timing::Pending => (self.now - self.days(1, 20), None, None),
            Timing::Ended => {
                let end = self.now - self.days(1, 300);
                let activated = end - full;
                (activated - self.days(1, 10), Some(activated), Some(end))
            }
        };
        let last_modified = end
            .filter(|e| *e < self.now)
            .or(activated)
            .unwrap_or(created);
        let id = format!("{}-{}", self.rng.uuid(), self.customer.tenant_id);
        let n = self.out.len() + 1;
        let display_name = format!("{name}_{}_{n}", self.customer.index);
        self.out.push(Relationship {
            id,
            display_name,
            duration_days,
            customer_tenant_id: self.customer.tenant_id,
            customer_display_name: self.customer.display_name.clone(),
            roles: roles.to_vec(),
            status,
            auto_extend: Some(if roles.contains(&GLOBAL_ADMINISTRATOR) {
                "PT0S"
            } else {
                "P180D"
            }),
            created,
            activated,
            last_modified,
            end,
            reseller_consent_pending: None,
            assignments: Vec::new(),
        });
        self.out.len() - 1
    }

    fn assign(&mut self, relationship: usize, group: Uuid, roles: &[Uuid], status: &'static str) {
        let id = self.rng.uuid();
        let Some(r) = self.out.get_mut(relationship) else {
            return;
        };
        let created = r.activated.unwrap_or(r.created);
        r.assignments.push(Assignment {
            id,
            status,
            group,
            roles: roles.to_vec(),
            created,
            last_modified: created,
        });
    }

    fn set(&mut self, relationship: usize, f: impl FnOnce(&mut Relationship)) {
        if let Some(r) = self.out.get_mut(relationship) {
            f(r);
        }
    }

    fn build(&mut self, scenario: Scenario) {
        use Scenario::*;
        match scenario {
            Covered => {
                let r = self.relationship("Default", FULL_ROLES, "active", Timing::Active);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
            }
            CoveredSplitAssignments => {
                let r = self.relationship("Support", FULL_ROLES, "active", Timing::Active);
                self.assign(
                    r,
                    GROUP_HELPDESK,
                    &[GLOBAL_READER, USER_ADMINISTRATOR],
                    "active",
                );
                self.assign(
                    r,
                    GROUP_ADMINS,
                    &[
                        PRIVILEGED_ROLE_ADMINISTRATOR,
                        CLOUD_APPLICATION_ADMINISTRATOR,
                    ],
                    "active",
                );
                self.assign(r, GROUP_READERS, &[GLOBAL_READER], "deleted");
            }
            CoveredWithMltAndTerminated => {
                let mlt = self.relationship("MLT", MLT_ROLES, "active", Timing::Active);
                self.assign(mlt, GROUP_READERS, MLT_ROLES, "active");
                let old = self.relationship("Legacy", FULL_ROLES, "terminated", Timing::Ended);
                self.assign(old, GROUP_ADMINS, FULL_ROLES, "deleted");
                let r = self.relationship("Default", FULL_ROLES, "active", Timing::Active);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
            }
            CoveredReseller => {
                let r = self.relationship("Indirect", FULL_ROLES, "active", Timing::Active);
                self.set(r, |r| r.reseller_consent_pending = Some(false));
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
            }
            CoveredLegacy => {
                let r = self.relationship("Default", FULL_ROLES, "active", Timing::EndingLate);
                self.set(r, |r| r.auto_extend = None);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
            }
            CoveredGlobalAdmin => {
                let roles = [
                    GLOBAL_ADMINISTRATOR,
                    PRIVILEGED_ROLE_ADMINISTRATOR,
                    GLOBAL_READER,
                ];
                let r = self.relationship("Admin", &roles, "active", Timing::EndingLate);
                self.assign(r, GROUP_ADMINS, &roles, "active");
            }
            CoveredOneOfSeveral => {
                let soon = self.relationship("Pilot", FULL_ROLES, "active", Timing::EndingSoon);
                self.set(soon, |r| r.auto_extend = Some("P0D"));
                self.assign(soon, GROUP_ADMINS, FULL_ROLES, "active");
                let r = self.relationship("Default", FULL_ROLES, "active", Timing::Active);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
                self.relationship("Request", FULL_ROLES, "approvalPending", Timing::Pending);
            }
            PartialNoPrivilegedRoleAdmin => {
                let roles = [
                    GLOBAL_READER,
                    USER_ADMINISTRATOR,
                    CLOUD_APPLICATION_ADMINISTRATOR,
                ];
                let r = self.relationship("Helpdesk", &roles, "active", Timing::Active);
                self.assign(r, GROUP_HELPDESK, &roles, "active");
            }
            PartialPraAssignmentPending => {
                let r = self.relationship("Default", FULL_ROLES, "active", Timing::Active);
                self.assign(r, GROUP_READERS, &[GLOBAL_READER], "active");
                self.assign(
                    r,
                    GROUP_ADMINS,
                    &[
                        PRIVILEGED_ROLE_ADMINISTRATOR,
                        CLOUD_APPLICATION_ADMINISTRATOR,
                    ],
                    "pending",
                );
            }
            PartialReaderOnly => {
                let roles = [DIRECTORY_READERS, USER_ADMINISTRATOR];
                let r = self.relationship("Indirect", &roles, "active", Timing::Active);
                self.set(r, |r| r.reseller_consent_pending = Some(true));
                self.assign(r, GROUP_HELPDESK, &roles, "active");
            }
            AtRiskEndingSoon => {
                let auto_extend = match self.rng.below(3) {
                    0 => Some("PT0S"),
                    1 => Some("P0D"),
                    _ => None,
                };
                let r = self.relationship("Default", FULL_ROLES, "active", Timing::EndingSoon);
                self.set(r, |r| r.auto_extend = auto_extend);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
            }
            AtRiskMltOnly => {
                let r = self.relationship("MLT", MLT_ROLES, "active", Timing::Active);
                self.assign(r, GROUP_READERS, MLT_ROLES, "active");
                if self.rng.chance(0.5) {
                    let r = self.relationship("MLT", MLT_ROLES, "active", Timing::EndingLate);
                    self.assign(r, GROUP_READERS, MLT_ROLES, "active");
                }
            }
            AtRiskNoAssignment => {
                self.relationship("Default", FULL_ROLES, "active", Timing::Active);
            }
            AtRiskAssignmentsInactive => {
                let r = self.relationship("Default", FULL_ROLES, "active", Timing::Active);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "pending");
                self.assign(r, GROUP_HELPDESK, &[GLOBAL_READER], "error");
                self.assign(r, GROUP_READERS, &[GLOBAL_READER], "deleted");
            }
            NoneNoRelationship => {}
            NoneTerminated => {
                let r = self.relationship("Default", FULL_ROLES, "terminated", Timing::Ended);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "deleted");
            }
            NoneExpired => {
                let r = self.relationship("Default", FULL_ROLES, "expired", Timing::Ended);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "deleted");
                if self.rng.chance(0.5) {
                    self.relationship("MLT", MLT_ROLES, "expired", Timing::Ended);
                }
            }
            NoneApprovalPending => {
                self.relationship("Default", FULL_ROLES, "approvalPending", Timing::Pending);
                if self.rng.chance(0.5) {
                    self.relationship("Draft", FULL_ROLES, "created", Timing::Pending);
                }
            }
            NoneOtherStatuses => {
                let r = self.relationship(
                    "Default",
                    FULL_ROLES,
                    "terminationRequested",
                    Timing::Active,
                );
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
                // A status added after the client was written: never to be taken for active.
                let r = self.relationship("Future", FULL_ROLES, "suspended", Timing::Active);
                self.assign(r, GROUP_ADMINS, FULL_ROLES, "active");
            }
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use crate::data::generate_customers;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    #[test]
    fn every_seeded_customer_evaluates_to_its_scenario_class() {
        let customers = generate_customers(42, 3000, NOW);
        let world = GdapWorld::generate(42, &customers, NOW);
        let mut seen = std::collections::HashSet::new();
        for c in &customers {
            let scenario = world.scenarios[&c.tenant_id];
            seen.insert(scenario);
            let rels = world.of_customer(&c.tenant_id);
            assert_eq!(
                evaluate(&rels, NOW),
                scenario.class(),
                "{scenario:?} of customer {}",
                c.index
            );
            for r in rels {
                assert!(r.display_name.len() <= 50, "{}", r.display_name);
                assert_eq!(r.id.len(), 73, "{}", r.id);
                assert!(r.id.ends_with(&c.tenant_id.to_string()));
            }
        }
        assert_eq!(seen.len(), Scenario::ALL.len(), "every scenario appears");
        let names: std::collections::HashSet<_> = world
            .relationships
            .iter()
            .map(|r| &r.display_name)
            .collect();
        assert_eq!(
            names.len(),
            world.relationships.len(),
            "display names are unique"
        );
        // The same seed gives the same world.
        let again = GdapWorld::generate(42, &customers, NOW);
        assert_eq!(again.relationships, world.relationships);
    }

    #[test]
    fn the_first_customers_take_every_scenario_in_turn() {
        let customers = generate_customers(7, Scenario::ALL.len(), NOW);
        let world = GdapWorld::generate(7, &customers, NOW);
        for (c, scenario) in customers.iter().zip(Scenario::ALL) {
            assert_eq!(world.scenarios[&c.tenant_id], scenario);
        }
        let weights: u64 = Scenario::WEIGHTS.iter().map(|(_, w)| w).sum();
        assert_eq!(weights, 100);
    }
}
