//! The customers view. Its state lives in the URL (`CustomerQuery`), so a view can be shared,
//! survives reload, and works as a plain GET form without JavaScript.

use crate::model::gdap::Coverage;
use crate::urls::query_string;
use serde::{Deserialize, Serialize};

pub const PAGE_SIZES: [u32; 5] = [25, 50, 100, 250, 500];
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The `stale` presets offered in the form; any other whole number of days is accepted too.
pub const STALE_PRESETS: [u32; 5] = [30, 60, 90, 180, 365];
/// Used for the summary's "stale DAP" count when no `stale` filter is chosen.
pub const DEFAULT_STALE_DAYS: u32 = 90;
const MAX_STALE_DAYS: u32 = 36_500;
const MAX_SEARCH_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DapFilter {
    #[default]
    All,
    On,
    Off,
}

impl DapFilter {
    pub fn param(self) -> &'static str {
        match self {
            DapFilter::All => "all",
            DapFilter::On => "on",
            DapFilter::Off => "off",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "all" => Some(DapFilter::All),
            "on" => Some(DapFilter::On),
            "off" => Some(DapFilter::Off),
            _ => None,
        }
    }

    pub fn admits(self, dap_enabled: bool) -> bool {
        match self {
            DapFilter::All => true,
            DapFilter::On => dap_enabled,
            DapFilter::Off => !dap_enabled,
        }
    }
}

/// `stale=never`: no partner sign-in ever recorded. `stale=<days>`: none for at least that many
/// days, "never" included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Staleness {
    Never,
    AtLeastDays(u32),
}

impl Staleness {
    pub fn param(self) -> String {
        match self {
            Staleness::Never => "never".into(),
            Staleness::AtLeastDays(days) => days.to_string(),
        }
    }

    fn parse(value: &str) -> Option<Self> {
        if value == "never" {
            return Some(Staleness::Never);
        }
        match value.parse::<u32>() {
            Ok(days) if (1..=MAX_STALE_DAYS).contains(&days) => Some(Staleness::AtLeastDays(days)),
            _ => None,
        }
    }

    pub fn admits(self, days_since_sign_in: Option<i64>) -> bool {
        match (self, days_since_sign_in) {
            (_, None) => true,
            (Staleness::Never, Some(_)) => false,
            (Staleness::AtLeastDays(min), Some(days)) => days >= i64::from(min),
        }
    }

    pub fn describe(self) -> String {
        match self {
            Staleness::Never => "never signed in".into(),
            Staleness::AtLeastDays(days) => format!("no partner sign-in for {days}+ days"),
        }
    }
}

/// The staleness chart's bars: DAP customers by days since the last partner sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignInBucket {
    Never,
    Under30,
    From30To90,
    From90To180,
    From180To365,
    Over365,
}

impl SignInBucket {
    pub const ALL: [SignInBucket; 6] = [
        SignInBucket::Never,
        SignInBucket::Under30,
        SignInBucket::From30To90,
        SignInBucket::From90To180,
        SignInBucket::From180To365,
        SignInBucket::Over365,
    ];

    pub fn param(self) -> &'static str {
        match self {
            SignInBucket::Never => "never",
            SignInBucket::Under30 => "0-30",
            SignInBucket::From30To90 => "30-90",
            SignInBucket::From90To180 => "90-180",
            SignInBucket::From180To365 => "180-365",
            SignInBucket::Over365 => "365+",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SignInBucket::Never => "never",
            SignInBucket::Under30 => "0–30 days",
            SignInBucket::From30To90 => "30–90 days",
            SignInBucket::From90To180 => "90–180 days",
            SignInBucket::From180To365 => "180–365 days",
            SignInBucket::Over365 => "over 365 days",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.param() == value)
    }

    pub fn of(days_since_sign_in: Option<i64>) -> Self {
        match days_since_sign_in {
            None => SignInBucket::Never,
            Some(d) if d < 30 => SignInBucket::Under30,
            Some(d) if d < 90 => SignInBucket::From30To90,
            Some(d) if d < 180 => SignInBucket::From90To180,
            Some(d) if d < 365 => SignInBucket::From180To365,
            Some(_) => SignInBucket::Over365,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortKey {
    #[default]
    Name,
    TenantId,
    Dap,
    DapSince,
    DapEnded,
    LastSignIn,
    PartnerAgents,
    PartnerSignIns,
    GlobalAdminSignIns,
}

impl SortKey {
    pub const ALL: [SortKey; 9] = [
        SortKey::Name,
        SortKey::TenantId,
        SortKey::Dap,
        SortKey::DapSince,
        SortKey::DapEnded,
        SortKey::LastSignIn,
        SortKey::PartnerAgents,
        SortKey::PartnerSignIns,
        SortKey::GlobalAdminSignIns,
    ];

    pub fn param(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::TenantId => "tenant",
            SortKey::Dap => "dap",
            SortKey::DapSince => "dap_since",
            SortKey::DapEnded => "dap_ended",
            SortKey::LastSignIn => "last_sign_in",
            SortKey::PartnerAgents => "agents",
            SortKey::PartnerSignIns => "sign_ins",
            SortKey::GlobalAdminSignIns => "ga_sign_ins",
        }
    }

    /// The column header.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "Organisation",
            SortKey::TenantId => "Customer tenant id",
            SortKey::Dap => "DAP",
            SortKey::DapSince => "DAP since",
            SortKey::DapEnded => "DAP ended",
            SortKey::LastSignIn => "Last partner sign-in",
            SortKey::PartnerAgents => "Partner agents (last day)",
            SortKey::PartnerSignIns => "Partner sign-ins (last day)",
            SortKey::GlobalAdminSignIns => "Global Admin sign-ins (last day)",
        }
    }

    /// What the column holds, for its header's tooltip.
    pub fn hint(self) -> &'static str {
        match self {
            SortKey::Name => "The customer's organisation name in Partner Center",
            SortKey::TenantId => "The customer's Entra ID tenant",
            SortKey::Dap => "Whether the partner holds delegated admin privileges (DAP) in the customer",
            SortKey::DapSince => "When DAP was granted",
            SortKey::DapEnded => "When DAP was removed",
            SortKey::LastSignIn => {
                "The last sign-in of any partner agent into the customer tenant through DAP"
            }
            SortKey::PartnerAgents => {
                "Partner agents who signed in to the customer in the last day (Partner Center counts one day)"
            }
            SortKey::PartnerSignIns => {
                "Partner sign-ins into the customer in the last day (Partner Center counts one day)"
            }
            SortKey::GlobalAdminSignIns => {
                "Sign-ins with Global Administrator into the customer in the last day"
            }
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.param() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortDir {
    #[default]
    Asc,
    Desc,
}

impl SortDir {
    pub fn param(self) -> &'static str {
        match self {
            SortDir::Asc => "asc",
            SortDir::Desc => "desc",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "asc" => Some(SortDir::Asc),
            "desc" => Some(SortDir::Desc),
            _ => None,
        }
    }
}

/// Filters, sorting and paging of the customers view. Parsing never fails: an unknown or
/// malformed value falls back to its default, and the form then shows what is in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerQuery {
    /// Part of the organisation name or of the tenant id, case-insensitive.
    pub q: String,
    pub dap: DapFilter,
    pub stale: Option<Staleness>,
    /// Set by clicking a bar of the staleness chart.
    pub bucket: Option<SignInBucket>,
    /// GDAP coverage class.
    #[serde(default)]
    pub gdap: Option<Coverage>,
    pub sort: SortKey,
    pub dir: SortDir,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

impl Default for CustomerQuery {
    fn default() -> Self {
        CustomerQuery {
            q: String::new(),
            dap: DapFilter::All,
            stale: None,
            bucket: None,
            gdap: None,
            sort: SortKey::Name,
            dir: SortDir::Asc,
            page: 1,
            per_page: DEFAULT_PAGE_SIZE,
        }
    }
}

impl CustomerQuery {
    /// The filter in words ("DAP on, no partner sign-in for 90+ days"), for titles; "all
    /// customers" when nothing filters.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.dap {
            DapFilter::On => parts.push("DAP on".to_string()),
            DapFilter::Off => parts.push("DAP off".to_string()),
            DapFilter::All => {}
        }
        if let Some(stale) = self.stale {
            parts.push(stale.describe());
        }
        if let Some(bucket) = self.bucket {
            parts.push(format!("last partner sign-in {}", bucket.label()));
        }
        if let Some(coverage) = self.gdap {
            parts.push(format!("GDAP {}", coverage.label()));
        }
        if !self.q.is_empty() {
            parts.push(format!("matching “{}”", self.q));
        }
        if parts.is_empty() {
            "all customers".into()
        } else {
            parts.join(", ")
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut query = CustomerQuery::default();
        for (key, value) in pairs {
            let value = value.trim();
            match key {
                "q" => query.q = value.chars().take(MAX_SEARCH_CHARS).collect(),
                "dap" => query.dap = DapFilter::parse(value).unwrap_or_default(),
                "stale" => query.stale = Staleness::parse(value),
                "bucket" => query.bucket = SignInBucket::parse(value),
                "gdap" => query.gdap = Coverage::parse(value),
                "sort" => query.sort = SortKey::parse(value).unwrap_or_default(),
                "dir" => query.dir = SortDir::parse(value).unwrap_or_default(),
                "page" => query.page = value.parse::<u32>().ok().filter(|p| *p >= 1).unwrap_or(1),
                "per_page" => {
                    query.per_page = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| PAGE_SIZES.contains(n))
                        .unwrap_or(DEFAULT_PAGE_SIZE)
                }
                _ => {}
            }
        }
        query
    }

    /// The parameters that differ from the defaults, in a stable order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let defaults = CustomerQuery::default();
        let mut pairs = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if self.dap != defaults.dap {
            pairs.push(("dap", self.dap.param().to_string()));
        }
        if let Some(stale) = self.stale {
            pairs.push(("stale", stale.param()));
        }
        if let Some(bucket) = self.bucket {
            pairs.push(("bucket", bucket.param().to_string()));
        }
        if let Some(gdap) = self.gdap {
            pairs.push(("gdap", gdap.as_str().to_string()));
        }
        if self.sort != defaults.sort || self.dir != defaults.dir {
            pairs.push(("sort", self.sort.param().to_string()));
            pairs.push(("dir", self.dir.param().to_string()));
        }
        if self.page != 1 {
            pairs.push(("page", self.page.to_string()));
        }
        if self.per_page != defaults.per_page {
            pairs.push(("per_page", self.per_page.to_string()));
        }
        pairs
    }

    /// `path?query`, or just `path` for the default view.
    pub fn href(&self, path: &str) -> String {
        let query = query_string(self.to_pairs());
        if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        }
    }

    /// Header click: sort on `key`, or flip the direction when it is already the sort key.
    pub fn sorted_by(&self, key: SortKey) -> Self {
        let dir = match (self.sort == key, self.dir) {
            (true, SortDir::Asc) => SortDir::Desc,
            (true, SortDir::Desc) => SortDir::Asc,
            (false, _) => SortDir::Asc,
        };
        CustomerQuery {
            sort: key,
            dir,
            page: 1,
            ..self.clone()
        }
    }

    pub fn on_page(&self, page: u32) -> Self {
        CustomerQuery {
            page: page.max(1),
            ..self.clone()
        }
    }

    /// Chart click: DAP customers in that sign-in bucket.
    pub fn in_bucket(&self, bucket: SignInBucket) -> Self {
        CustomerQuery {
            dap: DapFilter::On,
            stale: None,
            bucket: Some(bucket),
            page: 1,
            ..self.clone()
        }
    }

    /// The threshold of the summary's "stale DAP" count.
    pub fn stale_threshold(&self) -> Staleness {
        self.stale
            .unwrap_or(Staleness::AtLeastDays(DEFAULT_STALE_DAYS))
    }

    /// No filter is set: every customer passes.
    pub fn filters_nothing(&self) -> bool {
        self.q.is_empty()
            && self.dap == DapFilter::All
            && self.stale.is_none()
            && self.bucket.is_none()
            && self.gdap.is_none()
    }

    /// The filters, ready to test customer after customer: the search is folded once here,
    /// not once per customer.
    pub fn filter(&self) -> Filter<'_> {
        Filter {
            query: self,
            search: self.q.to_lowercase(),
        }
    }
}

/// A query's filters (not the paging), made by [`CustomerQuery::filter`].
pub struct Filter<'q> {
    query: &'q CustomerQuery,
    /// The search text, lower-cased.
    search: String,
}

impl Filter<'_> {
    /// Does a customer pass the filters (not the paging)?
    pub fn admits(&self, customer: &CustomerFacts<'_>) -> bool {
        let query = self.query;
        query.dap.admits(customer.dap_enabled)
            && query
                .stale
                .is_none_or(|s| s.admits(customer.days_since_sign_in))
            && query
                .bucket
                .is_none_or(|b| SignInBucket::of(customer.days_since_sign_in) == b)
            && query.gdap.is_none_or(|g| customer.gdap == g)
            && (self.search.is_empty() || customer.matches_search(&self.search))
    }
}

/// What the filters look at; borrowed so the server filters its snapshot without copying.
pub struct CustomerFacts<'a> {
    /// Lower-cased organisation name.
    pub name_folded: &'a str,
    pub tenant_id: &'a str,
    pub dap_enabled: bool,
    pub days_since_sign_in: Option<i64>,
    pub gdap: Coverage,
}

impl CustomerFacts<'_> {
    /// `search` is lower-cased already.
    fn matches_search(&self, search: &str) -> bool {
        self.name_folded.contains(search) || self.tenant_id.contains(search)
    }
}

/// One row of the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    pub customer_tenant_id: String,
    pub organization_display_name: String,
    pub dap_enabled: bool,
    /// RFC 3339 (as Partner Center sends it, up to 7 fractional digits).
    pub dap_since: Option<String>,
    pub dap_ended: Option<String>,
    /// None: no partner sign-in recorded.
    pub last_partner_sign_in: Option<String>,
    /// Whole days since the last partner sign-in, at the time the view was computed.
    pub days_since_sign_in: Option<i64>,
    pub partner_agent_count: u32,
    pub partner_sign_in_count: u32,
    pub global_admin_sign_in_count: u32,
    /// Applications with an active CPV consent the dashboard recorded for this customer.
    #[serde(default)]
    pub consented_applications: u32,
    /// GDAP coverage as of the snapshot, with its reasons (one per line).
    #[serde(default)]
    pub gdap: Coverage,
    #[serde(default)]
    pub gdap_reasons: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomersSummary {
    pub all: usize,
    pub dap: usize,
    /// DAP customers that pass `stale_threshold`.
    pub stale_dap: usize,
    /// Of those, the ones GDAP covers: DAP can go without losing access.
    #[serde(default)]
    pub stale_dap_safe: usize,
    pub stale_threshold: Staleness,
    /// Customers that pass the current filters.
    pub matching: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartBar {
    pub bucket: SignInBucket,
    pub dap_customers: usize,
    /// Of those, the ones GDAP covers (the safe part of the bar).
    #[serde(default)]
    pub covered: usize,
}

/// The stored list the view is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub id: String,
    /// RFC 3339.
    pub synced_at: String,
    pub synced_by: String,
    pub customer_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomersView {
    /// The query in effect (after defaults and clamping), for the form.
    pub query: CustomerQuery,
    pub rows: Vec<CustomerRow>,
    pub page_count: u32,
    pub summary: CustomersSummary,
    pub chart: Vec<ChartBar>,
    pub snapshot: SnapshotInfo,
    /// The admin has not hidden the "what to do first" explanation yet.
    #[serde(default)]
    pub show_first_steps: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    pub started_by: String,
    /// RFC 3339.
    pub started_at: String,
    pub pages_done: u32,
    /// Known once the first page has answered with the total count.
    pub pages_total: Option<u32>,
    pub customers_read: usize,
    /// GDAP calls (relationship pages, then one assignments list per active relationship).
    pub gdap_done: u32,
    /// Known once the relationships are listed.
    pub gdap_total: Option<u32>,
}

impl SyncProgress {
    /// One bar for both reads: `(value, max)`, or None while either total is unknown.
    pub fn bar(&self) -> Option<(u32, u32)> {
        let max = self.pages_total?.saturating_add(self.gdap_total?);
        Some((
            self.pages_done.saturating_add(self.gdap_done).min(max),
            max.max(1),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncFailure {
    /// RFC 3339.
    pub at: String,
    pub message: String,
    pub correlation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub running: Option<SyncProgress>,
    /// The last sync's failure, when it failed after the current snapshot was taken.
    pub last_failure: Option<SyncFailure>,
    pub snapshot: Option<SnapshotInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> CustomerQuery {
        let pairs: Vec<(&str, &str)> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .collect();
        CustomerQuery::from_pairs(pairs)
    }

    #[test]
    fn a_filter_in_words() {
        assert_eq!(
            parse("dap=on&stale=90").describe(),
            "DAP on, no partner sign-in for 90+ days"
        );
        assert_eq!(
            parse("gdap=covered&q=contoso").describe(),
            "GDAP covered, matching “contoso”"
        );
        assert_eq!(parse("").describe(), "all customers");
    }

    #[test]
    fn one_progress_bar_counts_the_dap_pages_and_the_gdap_calls() {
        let mut p = SyncProgress {
            started_by: "a".into(),
            started_at: "t".into(),
            pages_done: 3,
            pages_total: Some(34),
            customers_read: 3000,
            gdap_done: 0,
            gdap_total: None,
        };
        assert_eq!(p.bar(), None, "GDAP's total is not known yet");
        (p.gdap_done, p.gdap_total) = (5, Some(40));
        assert_eq!(p.bar(), Some((8, 74)));
        p.pages_total = None;
        assert_eq!(p.bar(), None);
    }

    #[test]
    fn unknown_and_malformed_values_fall_back_to_defaults() {
        let query = parse("dap=maybe&stale=-3&sort=evil&dir=up&page=0&per_page=7&bucket=x&zzz=1");
        assert_eq!(query, CustomerQuery::default());
        assert_eq!(parse("stale=99999999999"), CustomerQuery::default());
        assert_eq!(query.href("/customers"), "/customers");
    }

    #[test]
    fn a_query_round_trips_through_its_href() {
        let query =
            parse("q=Contoso Ltd&dap=on&stale=120&sort=last_sign_in&dir=desc&page=3&per_page=100");
        assert_eq!(query.stale, Some(Staleness::AtLeastDays(120)));
        let href = query.href("/customers");
        assert_eq!(
            href,
            "/customers?q=Contoso+Ltd&dap=on&stale=120&sort=last_sign_in&dir=desc&page=3&per_page=100"
        );
        let (_, raw) = href.split_once('?').unwrap_or_default();
        assert_eq!(parse(&raw.replace('+', " ")), query);
    }

    #[test]
    fn stale_includes_never_and_never_means_only_never() {
        let at_90 = Staleness::AtLeastDays(90);
        assert!(at_90.admits(None));
        assert!(at_90.admits(Some(90)));
        assert!(!at_90.admits(Some(89)));
        assert!(Staleness::Never.admits(None));
        assert!(!Staleness::Never.admits(Some(400)));
    }

    #[test]
    fn buckets_partition_the_days() {
        assert_eq!(SignInBucket::of(None), SignInBucket::Never);
        assert_eq!(SignInBucket::of(Some(0)), SignInBucket::Under30);
        assert_eq!(SignInBucket::of(Some(29)), SignInBucket::Under30);
        assert_eq!(SignInBucket::of(Some(30)), SignInBucket::From30To90);
        assert_eq!(SignInBucket::of(Some(179)), SignInBucket::From90To180);
        assert_eq!(SignInBucket::of(Some(364)), SignInBucket::From180To365);
        assert_eq!(SignInBucket::of(Some(365)), SignInBucket::Over365);
        for bucket in SignInBucket::ALL {
            assert_eq!(SignInBucket::parse(bucket.param()), Some(bucket));
        }
    }

    #[test]
    fn clicking_a_header_toggles_the_direction_and_resets_the_page() {
        let query = parse("page=4");
        let by_name = query.sorted_by(SortKey::Name);
        assert_eq!((by_name.dir, by_name.page), (SortDir::Desc, 1));
        let by_days = by_name.sorted_by(SortKey::LastSignIn);
        assert_eq!(
            (by_days.sort, by_days.dir),
            (SortKey::LastSignIn, SortDir::Asc)
        );
    }

    #[test]
    fn search_matches_name_or_tenant_id_case_insensitively() {
        let facts = CustomerFacts {
            name_folded: "müller & söhne gmbh",
            tenant_id: "53018d99-ac51-4ec8-b86e-c8a61de43717",
            dap_enabled: true,
            days_since_sign_in: Some(3),
            gdap: Coverage::Partial,
        };
        assert!(parse("q=MÜLLER").filter().admits(&facts));
        assert!(parse("gdap=partial").filter().admits(&facts));
        assert!(!parse("gdap=covered").filter().admits(&facts));
        assert_eq!(
            parse("gdap=at_risk").to_pairs(),
            [("gdap", "at_risk".to_string())]
        );
        assert_eq!(parse("gdap=bogus").gdap, None);
        assert!(parse("q=ac51-4ec8").filter().admits(&facts));
        assert!(!parse("q=contoso").filter().admits(&facts));
        assert!(!parse("q=müller&dap=off").filter().admits(&facts));
    }
}
