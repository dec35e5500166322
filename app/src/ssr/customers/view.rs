//! Filter, sort and page a snapshot. Pure functions: the page, the CSV export and the benchmark
//! all go through `select`.

use super::record::CustomerRecord;
use super::snapshot::Snapshot;
use crate::model::customers::{
    ChartBar, CustomerFacts, CustomerQuery, CustomerRow, CustomersSummary, CustomersView,
    SignInBucket, SortDir, SortKey,
};
use crate::ssr::clock::{days_since, format_time};
use std::cmp::Ordering;
use time::OffsetDateTime;

/// A customer of the view with its staleness as of `now`.
#[derive(Debug, Clone, Copy)]
pub struct Selected<'a> {
    /// Position in the snapshot.
    pub index: usize,
    pub customer: &'a CustomerRecord,
    pub days_since_sign_in: Option<i64>,
}

fn facts(customer: &CustomerRecord, days_since_sign_in: Option<i64>) -> CustomerFacts<'_> {
    CustomerFacts {
        name_folded: &customer.name_folded,
        tenant_id: &customer.tenant_id,
        dap_enabled: customer.dap_enabled,
        days_since_sign_in,
        gdap: customer.gdap,
    }
}

/// Every customer that passes the filters, in the query's order (paging not applied).
pub fn select<'a>(
    customers: &'a [CustomerRecord],
    query: &CustomerQuery,
    now: OffsetDateTime,
) -> Vec<Selected<'a>> {
    let mut selected: Vec<Selected<'a>> = customers
        .iter()
        .enumerate()
        .map(|(index, customer)| Selected {
            index,
            customer,
            days_since_sign_in: days_since(customer.last_sign_in, now),
        })
        .filter(|s| query.admits(&facts(s.customer, s.days_since_sign_in)))
        .collect();
    selected.sort_by(|a, b| {
        let order = compare(query.sort, a.customer, b.customer)
            .then_with(|| a.customer.name_folded.cmp(&b.customer.name_folded))
            .then_with(|| a.customer.tenant_id.cmp(&b.customer.tenant_id));
        match query.dir {
            SortDir::Asc => order,
            SortDir::Desc => order.reverse(),
        }
    });
    selected
}

fn compare(key: SortKey, a: &CustomerRecord, b: &CustomerRecord) -> Ordering {
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

pub fn row(selected: &Selected<'_>) -> CustomerRow {
    let c = selected.customer;
    CustomerRow {
        customer_tenant_id: c.tenant_id.clone(),
        organization_display_name: c.name.clone(),
        dap_enabled: c.dap_enabled,
        dap_since: c.dap_since.map(format_time),
        dap_ended: c.dap_ended.map(format_time),
        last_partner_sign_in: c.last_sign_in.map(format_time),
        days_since_sign_in: selected.days_since_sign_in,
        partner_agent_count: c.partner_agent_count,
        partner_sign_in_count: c.partner_sign_in_count,
        global_admin_sign_in_count: c.global_admin_sign_in_count,
        consented_applications: 0,
        gdap: c.gdap,
        gdap_reasons: c.gdap_reasons.clone(),
    }
}

pub fn render(snapshot: &Snapshot, query: &CustomerQuery, now: OffsetDateTime) -> CustomersView {
    let selected = select(&snapshot.customers, query, now);
    let matching = selected.len();
    let per_page = query.per_page.max(1) as usize;
    let page_count = u32::try_from(matching.div_ceil(per_page).max(1)).unwrap_or(u32::MAX);
    let page = query.page.clamp(1, page_count);
    let start = (page as usize - 1) * per_page;
    let rows = selected
        .iter()
        .skip(start)
        .take(per_page)
        .map(row)
        .collect();

    let threshold = query.stale_threshold();
    let mut dap = 0;
    let mut stale_dap = 0;
    let mut stale_dap_safe = 0;
    let mut bars = [(0usize, 0usize); SignInBucket::ALL.len()];
    for customer in snapshot.customers.iter().filter(|c| c.dap_enabled) {
        let days = days_since(customer.last_sign_in, now);
        let safe = customer.gdap.is_safe();
        dap += 1;
        if threshold.admits(days) {
            stale_dap += 1;
            stale_dap_safe += usize::from(safe);
        }
        let bucket = SignInBucket::of(days);
        if let Some(i) = SignInBucket::ALL.iter().position(|b| *b == bucket) {
            bars[i].0 += 1;
            bars[i].1 += usize::from(safe);
        }
    }
    CustomersView {
        query: query.on_page(page),
        rows,
        page_count,
        summary: CustomersSummary {
            all: snapshot.customers.len(),
            dap,
            stale_dap,
            stale_dap_safe,
            stale_threshold: threshold,
            matching,
        },
        chart: SignInBucket::ALL
            .iter()
            .zip(bars)
            .map(|(bucket, (dap_customers, covered))| ChartBar {
                bucket: *bucket,
                dap_customers,
                covered,
            })
            .collect(),
        snapshot: snapshot.info.clone(),
        show_first_steps: false,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use crate::model::customers::{DapFilter, SnapshotInfo, Staleness};
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    fn customer(name: &str, dap: bool, days_ago: Option<i64>) -> CustomerRecord {
        CustomerRecord {
            tenant_id: format!("00000000-0000-4000-8000-{:012}", name.len()),
            name: name.to_string(),
            name_folded: name.to_lowercase(),
            dap_enabled: dap,
            dap_since: None,
            dap_ended: None,
            last_sign_in: days_ago.map(|d| NOW - Duration::days(d)),
            partner_agent_count: 0,
            partner_sign_in_count: 0,
            global_admin_sign_in_count: 0,
            gdap: crate::model::gdap::Coverage::Unknown,
            gdap_reasons: String::new(),
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            info: SnapshotInfo {
                id: "s".into(),
                synced_at: String::new(),
                synced_by: "a".into(),
                customer_count: 5,
            },
            customers: vec![
                customer("Contoso", true, None),
                customer("Fabrikam", true, Some(10)),
                customer("Adatum", true, Some(200)),
                customer("Northwind", false, Some(400)),
                customer("Tailspin", true, Some(95)),
            ],
        }
    }

    fn names(view: &CustomersView) -> Vec<&str> {
        view.rows
            .iter()
            .map(|r| r.organization_display_name.as_str())
            .collect()
    }

    #[test]
    fn stale_dap_filter_sorted_by_last_sign_in() {
        let query = CustomerQuery {
            dap: DapFilter::On,
            stale: Some(Staleness::AtLeastDays(90)),
            sort: SortKey::LastSignIn,
            ..CustomerQuery::default()
        };
        let view = render(&snapshot(), &query, NOW);
        assert_eq!(names(&view), ["Contoso", "Adatum", "Tailspin"]);
        assert_eq!(view.summary.matching, 3);
        assert_eq!(
            (view.summary.all, view.summary.dap, view.summary.stale_dap),
            (5, 4, 3)
        );
        assert_eq!(view.rows[1].days_since_sign_in, Some(200));
    }

    #[test]
    fn chart_counts_dap_customers_per_bucket() {
        let view = render(&snapshot(), &CustomerQuery::default(), NOW);
        let counts: Vec<usize> = view.chart.iter().map(|b| b.dap_customers).collect();
        assert_eq!(counts, [1, 1, 0, 1, 1, 0]);
        let bucket = view.chart[3].bucket;
        let filtered = render(&snapshot(), &view.query.in_bucket(bucket), NOW);
        assert_eq!(names(&filtered), ["Tailspin"]);
    }

    #[test]
    fn paging_clamps_to_the_last_page() {
        let query = CustomerQuery {
            per_page: 25,
            page: 9,
            ..CustomerQuery::default()
        };
        let view = render(&snapshot(), &query, NOW);
        assert_eq!(
            (view.page_count, view.query.page, view.rows.len()),
            (1, 1, 5)
        );
        let desc = CustomerQuery::default().sorted_by(SortKey::Name);
        assert_eq!(names(&render(&snapshot(), &desc, NOW))[0], "Tailspin");
    }
}
