//! Filter and page a snapshot in the orders it prepared once (nothing is sorted per request).
//! Pure functions: the page, the CSV export and the benchmark all go through `select` or
//! `render`.

use super::record::CustomerRecord;
use super::snapshot::Snapshot;
use crate::model::customers::{
    ChartBar, CustomerFacts, CustomerQuery, CustomerRow, CustomersSummary, CustomersView,
    SignInBucket, SortDir,
};
use crate::ssr::clock::{days_since, format_time};
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

/// Every customer that passes the filters, in the query's order (paging not applied). The
/// order is the snapshot's prepared one: nothing is sorted here.
pub fn select<'a>(
    snapshot: &'a Snapshot,
    query: &CustomerQuery,
    now: OffsetDateTime,
) -> Vec<Selected<'a>> {
    let filter = query.filter();
    in_order(snapshot, query)
        .filter_map(|index| {
            let customer = &snapshot.customers[index];
            let days_since_sign_in = days_since(customer.last_sign_in, now);
            filter
                .admits(&facts(customer, days_since_sign_in))
                .then_some(Selected {
                    index,
                    customer,
                    days_since_sign_in,
                })
        })
        .collect()
}

/// Positions of every customer in the query's order, filters not applied.
fn in_order<'a>(snapshot: &'a Snapshot, query: &CustomerQuery) -> impl Iterator<Item = usize> + 'a {
    let order = snapshot
        .prepared
        .order(query.sort, &snapshot.customers)
        .iter()
        .map(|&i| i as usize);
    // Descending is the ascending order read backwards, ties included.
    let (ascending, descending) = match query.dir {
        SortDir::Asc => (Some(order), None),
        SortDir::Desc => (None, Some(order.rev())),
    };
    ascending
        .into_iter()
        .flatten()
        .chain(descending.into_iter().flatten())
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
    let per_page = query.per_page.max(1) as usize;
    let page_of = |matching: usize| {
        let page_count = u32::try_from(matching.div_ceil(per_page).max(1)).unwrap_or(u32::MAX);
        let page = query.page.clamp(1, page_count);
        (page_count, page, (page as usize - 1) * per_page)
    };
    // Without filters every customer matches: only the page's rows are looked at.
    let (matching, page_count, page, rows) = if query.filters_nothing() {
        let matching = snapshot.customers.len();
        let (page_count, page, start) = page_of(matching);
        let rows = in_order(snapshot, query)
            .skip(start)
            .take(per_page)
            .map(|index| {
                let customer = &snapshot.customers[index];
                row(&Selected {
                    index,
                    customer,
                    days_since_sign_in: days_since(customer.last_sign_in, now),
                })
            })
            .collect();
        (matching, page_count, page, rows)
    } else {
        let selected = select(snapshot, query, now);
        let (page_count, page, start) = page_of(selected.len());
        let rows = selected
            .iter()
            .skip(start)
            .take(per_page)
            .map(row)
            .collect();
        (selected.len(), page_count, page, rows)
    };

    let threshold = query.stale_threshold();
    let dap = snapshot.prepared.dap_sign_ins(&snapshot.customers);
    let (stale_dap, stale_dap_safe) = dap.stale(threshold, now);
    CustomersView {
        query: query.on_page(page),
        rows,
        page_count,
        summary: CustomersSummary {
            all: snapshot.customers.len(),
            dap: dap.len(),
            stale_dap,
            stale_dap_safe,
            stale_threshold: threshold,
            matching,
        },
        chart: SignInBucket::ALL
            .iter()
            .zip(dap.buckets(now))
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
    use crate::model::customers::{DapFilter, SnapshotInfo, SortKey, Staleness};
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

    fn info(customer_count: usize) -> SnapshotInfo {
        SnapshotInfo {
            id: "s".into(),
            synced_at: String::new(),
            synced_by: "a".into(),
            customer_count,
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot::new(
            info(5),
            vec![
                customer("Contoso", true, None),
                customer("Fabrikam", true, Some(10)),
                customer("Adatum", true, Some(200)),
                customer("Northwind", false, Some(400)),
                customer("Tailspin", true, Some(95)),
            ],
        )
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

    /// The view as it was computed before orders were prepared: filter, sort everything, and
    /// count the chart customer by customer.
    fn sorted_in_full(snapshot: &Snapshot, query: &CustomerQuery) -> (Vec<String>, Vec<usize>) {
        let filter = query.filter();
        let mut selected: Vec<&CustomerRecord> = snapshot
            .customers
            .iter()
            .filter(|c| filter.admits(&facts(c, days_since(c.last_sign_in, NOW))))
            .collect();
        selected.sort_by(|a, b| {
            let order = crate::ssr::customers::prepared::compare(query.sort, a, b)
                .then_with(|| a.name_folded.cmp(&b.name_folded))
                .then_with(|| a.tenant_id.cmp(&b.tenant_id));
            match query.dir {
                SortDir::Asc => order,
                SortDir::Desc => order.reverse(),
            }
        });
        let ids = selected.iter().map(|c| c.tenant_id.clone()).collect();
        let dap: Vec<&CustomerRecord> = snapshot
            .customers
            .iter()
            .filter(|c| c.dap_enabled)
            .collect();
        let threshold = query.stale_threshold();
        let stale = dap
            .iter()
            .filter(|c| threshold.admits(days_since(c.last_sign_in, NOW)));
        let mut counts = vec![
            dap.len(),
            stale.clone().count(),
            stale.filter(|c| c.gdap.is_safe()).count(),
        ];
        for bucket in SignInBucket::ALL {
            let in_bucket = dap
                .iter()
                .filter(|c| SignInBucket::of(days_since(c.last_sign_in, NOW)) == bucket);
            counts.push(in_bucket.clone().count());
            counts.push(in_bucket.filter(|c| c.gdap.is_safe()).count());
        }
        (ids, counts)
    }

    /// Many customers with few distinct values, so sorts meet ties and every bucket edge.
    fn crowded_snapshot() -> Snapshot {
        let mut seed: u64 = 7;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let names = ["Contoso", "contoso", "Fabrikam", "Adatum", "Tailspin"];
        let coverages = [
            crate::model::gdap::Coverage::Covered,
            crate::model::gdap::Coverage::Partial,
            crate::model::gdap::Coverage::Unknown,
        ];
        let customers = (0..400)
            .map(|i| {
                let name = names[next(5) as usize];
                let days = match next(8) {
                    0 => None,
                    // Bucket edges, a second either side.
                    1 => Some(
                        Duration::days([30, 90, 180, 365][next(4) as usize])
                            + Duration::seconds(next(3) as i64 - 1),
                    ),
                    _ => Some(Duration::hours(next(500 * 24) as i64)),
                };
                CustomerRecord {
                    tenant_id: format!("00000000-0000-4000-8000-{i:012}"),
                    name: name.to_string(),
                    name_folded: name.to_lowercase(),
                    dap_enabled: next(3) > 0,
                    dap_since: (next(2) == 0).then(|| NOW - Duration::days(next(3) as i64)),
                    dap_ended: None,
                    last_sign_in: days.map(|d| NOW - d),
                    partner_agent_count: next(3) as u32,
                    partner_sign_in_count: next(4) as u32,
                    global_admin_sign_in_count: next(2) as u32,
                    gdap: coverages[next(3) as usize],
                    gdap_reasons: String::new(),
                }
            })
            .collect();
        Snapshot::new(info(400), customers)
    }

    #[test]
    fn prepared_orders_and_counts_equal_sorting_and_counting_in_full() {
        let snapshot = crowded_snapshot();
        let filters = [
            CustomerQuery::default(),
            CustomerQuery {
                dap: DapFilter::On,
                stale: Some(Staleness::AtLeastDays(90)),
                ..CustomerQuery::default()
            },
            CustomerQuery {
                stale: Some(Staleness::Never),
                q: "conto".into(),
                ..CustomerQuery::default()
            },
            CustomerQuery::default().in_bucket(SignInBucket::From180To365),
        ];
        for filter in filters {
            for sort in SortKey::ALL {
                for dir in [SortDir::Asc, SortDir::Desc] {
                    let query = CustomerQuery {
                        sort,
                        dir,
                        per_page: 250,
                        ..filter.clone()
                    };
                    let (ids, counts) = sorted_in_full(&snapshot, &query);
                    let mut shown = Vec::new();
                    let mut page = 1;
                    loop {
                        let view = render(&snapshot, &query.on_page(page), NOW);
                        assert_eq!(view.summary.matching, ids.len(), "{query:?}");
                        shown.extend(view.rows.into_iter().map(|r| r.customer_tenant_id));
                        let s = &view.summary;
                        let mut got = vec![s.dap, s.stale_dap, s.stale_dap_safe];
                        for bar in &view.chart {
                            got.extend([bar.dap_customers, bar.covered]);
                        }
                        assert_eq!(got, counts, "{query:?}");
                        if page >= view.page_count {
                            break;
                        }
                        page += 1;
                    }
                    assert_eq!(shown, ids, "{query:?}");
                    let selected: Vec<String> = select(&snapshot, &query, NOW)
                        .iter()
                        .map(|s| s.customer.tenant_id.clone())
                        .collect();
                    assert_eq!(selected, ids, "{query:?}");
                }
            }
        }
    }
}
