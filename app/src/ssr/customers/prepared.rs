//! What a snapshot works out once, so that a page of the customers view costs what the page
//! shows and not what the portfolio holds: one order per sort key, and the DAP customers'
//! last sign-ins in order for the counts and the chart. Each is made on first use and kept for
//! the snapshot's life (a snapshot never changes once loaded).

use super::record::CustomerRecord;
use crate::model::customers::{SignInBucket, SortKey, Staleness};
use crate::ssr::clock::days_since;
use std::cmp::Ordering;
use std::sync::OnceLock;
use time::OffsetDateTime;

/// The sign-in buckets from the stalest to the freshest, the order of an ascending sign-in time
/// (`None`, never signed in, sorts first).
const STALEST_FIRST: [SignInBucket; 6] = [
    SignInBucket::Never,
    SignInBucket::Over365,
    SignInBucket::From180To365,
    SignInBucket::From90To180,
    SignInBucket::From30To90,
    SignInBucket::Under30,
];

#[derive(Debug, Default)]
pub struct Prepared {
    orders: [OnceLock<Box<[u32]>>; SortKey::ALL.len()],
    dap_sign_ins: OnceLock<DapSignIns>,
}

impl Prepared {
    /// Positions of `customers` ascending by `key`, ties in the customers' own order (by name,
    /// then tenant id); read backwards for descending.
    pub fn order(&self, key: SortKey, customers: &[CustomerRecord]) -> &[u32] {
        let slot = SortKey::ALL.iter().position(|k| *k == key).unwrap_or(0);
        self.orders[slot].get_or_init(|| {
            let mut order: Vec<u32> = (0..customers.len())
                .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
                .collect();
            // Stable: equal keys keep the name order the snapshot is held in.
            order.sort_by(|&a, &b| compare(key, &customers[a as usize], &customers[b as usize]));
            order.into_boxed_slice()
        })
    }

    pub fn dap_sign_ins(&self, customers: &[CustomerRecord]) -> &DapSignIns {
        self.dap_sign_ins.get_or_init(|| DapSignIns::of(customers))
    }
}

pub fn compare(key: SortKey, a: &CustomerRecord, b: &CustomerRecord) -> Ordering {
    match key {
        SortKey::Name => a.name_folded.cmp(&b.name_folded),
        SortKey::TenantId => a.tenant_id.cmp(&b.tenant_id),
        SortKey::Dap => a.dap_enabled.cmp(&b.dap_enabled),
        SortKey::DapSince => a.dap_since.cmp(&b.dap_since),
        SortKey::DapEnded => a.dap_ended.cmp(&b.dap_ended),
        // "Never" sorts as the oldest sign-in.
        SortKey::LastSignIn => a.last_sign_in.cmp(&b.last_sign_in),
        SortKey::PartnerAgents => a.partner_agent_count.cmp(&b.partner_agent_count),
        SortKey::PartnerSignIns => a.partner_sign_in_count.cmp(&b.partner_sign_in_count),
        SortKey::GlobalAdminSignIns => a
            .global_admin_sign_in_count
            .cmp(&b.global_admin_sign_in_count),
    }
}

/// The DAP customers' last partner sign-ins, oldest first, with how many of the first n are
/// covered by GDAP. Days since a sign-in only fall as the sign-in gets later, so every
/// staleness filter and every chart bar is a run of this order, found by binary search.
#[derive(Debug)]
pub struct DapSignIns {
    at: Box<[Option<OffsetDateTime>]>,
    /// `covered_before[n]`: GDAP-covered customers among the first n.
    covered_before: Box<[u32]>,
}

impl DapSignIns {
    fn of(customers: &[CustomerRecord]) -> Self {
        let mut dap: Vec<(Option<OffsetDateTime>, bool)> = customers
            .iter()
            .filter(|c| c.dap_enabled)
            .map(|c| (c.last_sign_in, c.gdap.is_safe()))
            .collect();
        dap.sort_by_key(|(at, _)| *at);
        let mut covered_before = Vec::with_capacity(dap.len() + 1);
        covered_before.push(0u32);
        let mut covered = 0u32;
        for (_, safe) in &dap {
            covered += u32::from(*safe);
            covered_before.push(covered);
        }
        DapSignIns {
            at: dap.into_iter().map(|(at, _)| at).collect(),
            covered_before: covered_before.into_boxed_slice(),
        }
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// DAP customers that `threshold` counts as stale as of `now`, and how many of them GDAP
    /// covers.
    pub fn stale(&self, threshold: Staleness, now: OffsetDateTime) -> (usize, usize) {
        let end = self
            .at
            .partition_point(|at| threshold.admits(days_since(*at, now)));
        (end, self.covered_before[end] as usize)
    }

    /// Per bucket of `SignInBucket::ALL`: DAP customers, and how many of them GDAP covers.
    pub fn buckets(&self, now: OffsetDateTime) -> [(usize, usize); SignInBucket::ALL.len()] {
        let rank = |at: &Option<OffsetDateTime>| {
            let bucket = SignInBucket::of(days_since(*at, now));
            STALEST_FIRST.iter().position(|b| *b == bucket).unwrap_or(0)
        };
        let mut counts = [(0, 0); SignInBucket::ALL.len()];
        let mut start = 0;
        for (rank_of_bucket, bucket) in STALEST_FIRST.iter().enumerate() {
            let end = self.at.partition_point(|at| rank(at) <= rank_of_bucket);
            if let Some(slot) = SignInBucket::ALL.iter().position(|b| b == bucket) {
                counts[slot] = (
                    end - start,
                    (self.covered_before[end] - self.covered_before[start]) as usize,
                );
            }
            start = end;
        }
        counts
    }
}
