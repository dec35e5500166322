//! Seeded generation of the simulated world: the delegated-admin customers (eagerly, they are
//! cheap) and each customer's directory (lazily: users, roles and members are only built when a
//! call touches that customer).

use time::OffsetDateTime;
use uuid::{uuid, Uuid};

use crate::rng::{SplitMix64, Stream};
use crate::timefmt::{from_ticks, to_ticks};

/// An Entra directory role template (ids and names from the reference).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RoleTemplate {
    pub id: Uuid,
    pub name: &'static str,
}

pub(crate) const GLOBAL_ADMINISTRATOR: Uuid = uuid!("62e90394-69f5-4237-9190-012177145e10");
pub(crate) const PRIVILEGED_ROLE_ADMINISTRATOR: Uuid =
    uuid!("e8611ab8-c189-46e8-94e1-60213ab1f814");
pub(crate) const USER_ADMINISTRATOR: Uuid = uuid!("fe930be7-5e62-47db-91af-98c3a49a38b1");
pub(crate) const DIRECTORY_READERS: Uuid = uuid!("88d8e3e3-8f55-4a1e-953a-9b9898b8876b");
pub(crate) const DIRECTORY_WRITERS: Uuid = uuid!("9360feb5-f418-4baa-8175-e2a00bac4301");
pub(crate) const GLOBAL_READER: Uuid = uuid!("f2ef992c-3afb-46b9-b7cf-a126ee74c451");
pub(crate) const APPLICATION_ADMINISTRATOR: Uuid = uuid!("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3");
pub(crate) const CLOUD_APPLICATION_ADMINISTRATOR: Uuid =
    uuid!("158c047a-c907-4556-b7ef-446551a6b5f7");

#[rustfmt::skip]
pub(crate) const ROLE_TEMPLATES: &[RoleTemplate] = &[
    RoleTemplate { id: GLOBAL_ADMINISTRATOR, name: "Global Administrator" },
    RoleTemplate { id: PRIVILEGED_ROLE_ADMINISTRATOR, name: "Privileged Role Administrator" },
    RoleTemplate { id: USER_ADMINISTRATOR, name: "User Administrator" },
    RoleTemplate { id: uuid!("729827e3-9c14-49f7-bb1b-9608f156bbb8"), name: "Helpdesk Administrator" },
    RoleTemplate { id: DIRECTORY_READERS, name: "Directory Readers" },
    RoleTemplate { id: DIRECTORY_WRITERS, name: "Directory Writers" },
    RoleTemplate { id: GLOBAL_READER, name: "Global Reader" },
    RoleTemplate { id: uuid!("4d6ac14f-3453-41d0-bef9-a3e0c569773a"), name: "License Administrator" },
    RoleTemplate { id: uuid!("f023fd81-a637-4b56-95fd-791ac0226033"), name: "Service Support Administrator" },
    RoleTemplate { id: uuid!("966707d0-3269-4727-9be2-8c3a10f19b9d"), name: "Password Administrator" },
    RoleTemplate { id: uuid!("c4e39bd9-1100-46d3-8c65-fb160da0071f"), name: "Authentication Administrator" },
    RoleTemplate { id: uuid!("7be44c8a-adaf-4e2a-84d6-ab2649e08a13"), name: "Privileged Authentication Administrator" },
    RoleTemplate { id: uuid!("194ae4cb-b126-40b2-bd5b-6091b380977d"), name: "Security Administrator" },
    RoleTemplate { id: uuid!("29232cdf-9323-42fd-ade2-1d097af3e4de"), name: "Exchange Administrator" },
    RoleTemplate { id: uuid!("f28a1f50-f6e7-4571-818b-6a12f2af6b6c"), name: "SharePoint Administrator" },
    RoleTemplate { id: uuid!("69091246-20e8-4a56-aa4d-066075b2a7a8"), name: "Teams Administrator" },
    RoleTemplate { id: uuid!("3a2c62db-5318-420d-8d74-23affee5d9d5"), name: "Intune Administrator" },
    RoleTemplate { id: APPLICATION_ADMINISTRATOR, name: "Application Administrator" },
    RoleTemplate { id: CLOUD_APPLICATION_ADMINISTRATOR, name: "Cloud Application Administrator" },
    RoleTemplate { id: uuid!("b0f54661-2d74-4c50-afa3-1ec803f12efe"), name: "Billing Administrator" },
    RoleTemplate { id: uuid!("4ba39ca4-527c-499a-b93d-d9b492c50246"), name: "Partner Tier1 Support" },
    RoleTemplate { id: uuid!("e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8"), name: "Partner Tier2 Support" },
];

/// The template with this id, if it is one of the known directory roles.
pub(crate) fn role_template(id: &Uuid) -> Option<&'static RoleTemplate> {
    ROLE_TEMPLATES.iter().find(|t| t.id == *id)
}

/// Display name of a role id (for messages); the id itself when unknown.
pub(crate) fn role_name(id: &Uuid) -> String {
    role_template(id).map_or_else(|| id.to_string(), |t| t.name.to_owned())
}

/// One delegated-admin customer as listed by the Partner Customer Administration API.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Customer {
    /// Position in generation order (the list's natural order) and the directory seed.
    pub index: usize,
    pub tenant_id: Uuid,
    pub display_name: String,
    /// Lower-cased name: string filters compare case-insensitively, like Entra's.
    pub name_folded: String,
    pub dap_enabled: bool,
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
    pub last_sign_in: Option<OffsetDateTime>,
    pub partner_agent_count: u32,
    pub partner_sign_in_count: u32,
    pub global_admin_sign_in_count: u32,
}

impl Customer {
    /// The customer's initial domain, e.g. `contosologistics17.onmicrosoft.com`.
    pub(crate) fn domain(&self) -> String {
        let mut slug: String = ascii_fold(&self.display_name)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect();
        if slug.is_empty() {
            slug.push_str("tenant");
        }
        format!("{slug}{}.onmicrosoft.com", self.index)
    }
}

/// A user of a customer tenant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DirectoryUser {
    pub id: Uuid,
    pub user_principal_name: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub usage_location: Option<&'static str>,
}

/// An activated directory role and its members (user ids, in insertion order).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DirectoryRole {
    pub template: &'static RoleTemplate,
    pub members: Vec<Uuid>,
}

/// A customer tenant's directory.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Directory {
    pub users: Vec<DirectoryUser>,
    pub roles: Vec<DirectoryRole>,
}

impl Directory {
    pub(crate) fn user(&self, id: &Uuid) -> Option<&DirectoryUser> {
        self.users.iter().find(|u| u.id == *id)
    }

    pub(crate) fn role(&self, id: &Uuid) -> Option<&DirectoryRole> {
        self.roles.iter().find(|r| r.template.id == *id)
    }

    pub(crate) fn role_mut(&mut self, id: &Uuid) -> Option<&mut DirectoryRole> {
        self.roles.iter_mut().find(|r| r.template.id == *id)
    }
}

#[rustfmt::skip]
const BRANDS: &[&str] = &[
    "Contoso", "Fabrikam", "Northwind", "Tailspin Toys", "Woodgrove", "Litware", "Proseware",
    "Wingtip Toys", "Alpine Ski House", "Coho Winery", "Fourth Coffee", "Margie's Travel",
    "Adventure Works", "Blue Yonder Airlines", "City Power & Light", "Consolidated Messenger",
    "Graphic Design Institute", "Humongous Insurance", "Lamna Healthcare", "Lucerne Publishing",
    "Munson's Pickles and Preserves", "Nod Publishers", "Relecloud", "Southridge Video",
    "Trey Research", "VanArsdel", "Wide World Importers", "A. Datum", "Bellows College",
    "Best For You Organics", "First Up Consultants", "Woodgrove Bank", "Fabrikam Residences",
];

#[rustfmt::skip]
const SECTORS: &[&str] = &[
    "Logistics", "Dental Care", "Engineering", "Solicitors", "Bakery", "Architects",
    "Veterinary Clinic", "Brewing", "Analytics", "Robotics", "Insurance Brokers", "Consulting",
    "Manufacturing", "Retail", "Pharmacy", "Legal", "Hospitality", "Construction", "Textiles",
    "Fisheries", "Software", "Marine Services", "Accounting", "Healthcare", "Media", "Energy",
    "Opticians", "Property Management", "Freight", "Catering",
];

#[rustfmt::skip]
const CITIES: &[&str] = &[
    "Zürich", "São Paulo", "Kraków", "Malmö", "Reykjavík", "Québec", "København", "Seattle",
    "Dublin", "Auckland", "Nairobi", "Lyon", "Osaka", "Porto", "Bergen", "Tallinn", "Cork", "Graz",
    "Düsseldorf", "Montréal", "Bogotá", "Łódź", "Göteborg", "Århus", "İstanbul", "Cape Town",
];

#[rustfmt::skip]
const SUFFIXES: &[&str] = &[
    "Ltd", "GmbH", "S.A.", "Inc.", "B.V.", "AB", "K.K.", "LLC", "Pty Ltd", "S.r.l.", "Oy", "AS",
    "A/S", "AG", "SARL", "S.L.", "plc",
];

#[rustfmt::skip]
const SURNAMES: &[&str] = &[
    "Smith", "Jones", "Müller", "O'Brien", "García", "Nowak", "Jensen", "Tanaka", "Rossi",
    "Dubois", "Andersen", "Silva", "Kowalski", "Schmidt", "Byrne", "Larsen",
];

/// Names that trip up escaping, quoting, CSV export and fonts (~2 % of customers).
const AWKWARD_NAMES: &[&str] = &[
    "Smith, Jones & Partners Ltd",
    "\"Quoted\" Holdings",
    "東京トレーディング株式会社",
    "Müller & Söhne GmbH",
    "<script>alert('x')</script> Labs",
    "<b>Bold</b> Consulting",
    "O'Brien & Daughters Ltd",
    "Ελληνική Ναυτιλιακή Α.Ε.",
    "شركة الخليج للتجارة",
    "50% Off Outlet & Co.",
    "Back\\slash Ventures",
    "Rocket 🚀 Startups",
    "Semi;colon = Trading, Inc.",
    "  Leading Spaces Ltd",
];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Zoë", "José", "Łukasz", "Søren", "Chloé", "Björn", "Małgorzata", "Ngozi", "Aiko", "Mei",
    "Priya", "Oliver", "Amelia", "Liam", "Noah", "Emma", "Mateo", "Sofía", "Jürgen", "Ines",
    "François", "Ólafur", "Ayşe", "Kenji", "Fatima", "Hamid", "Anaïs", "Dagný", "Tomás", "Elif",
    "Wei", "Yuki", "Kwame", "Ingrid", "Ravi", "Grace", "Arjun", "Hannah", "Lars", "Marta",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Müller", "O'Connor", "García", "Nowak", "Kowalski", "Jensen", "Tanaka", "Nguyen", "Smith",
    "Johansson", "Silva", "Rossi", "Dubois", "Andersen", "Sigurðsson", "Öztürk", "Schmidt",
    "Brown", "Wójcik", "Fernández", "Kim", "Patel", "Okafor", "Haddad", "Larsen", "Novák", "Costa",
    "Byrne", "Virtanen", "Lefèvre", "Yamamoto", "Chen", "Moreau", "Bergström", "Dvořák",
];

#[rustfmt::skip]
const USAGE_LOCATIONS: &[&str] = &[
    "US", "GB", "DE", "FR", "NL", "SE", "PL", "CH", "BR", "JP", "DK", "IS", "CA", "IE", "NZ",
];

const DAY_TICKS: i64 = 24 * 3600 * 10_000_000;
/// 2019-01-01T00:00:00Z and 2024-12-31T23:59:59Z, the range of relationship start dates.
const START_MIN_SECS: i64 = 1_546_300_800;
const START_MAX_SECS: i64 = 1_735_689_599;

/// All customers, in generation order. Each customer has its own random stream, so customer `i`
/// is the same whatever the total count.
pub(crate) fn generate_customers(seed: u64, count: usize, now: OffsetDateTime) -> Vec<Customer> {
    (0..count)
        .map(|i| generate_customer(seed, i, now))
        .collect()
}

fn generate_customer(seed: u64, index: usize, now: OffsetDateTime) -> Customer {
    let mut rng = SplitMix64::for_item(seed, Stream::Customer, index as u64);
    let tenant_id = rng.uuid();
    let display_name = organisation_name(&mut rng);
    let now_ticks = to_ticks(now);

    let start_min = START_MIN_SECS * 10_000_000;
    let start_max = START_MAX_SECS * 10_000_000;
    let mut start = start_min + rng.below((start_max - start_min) as u64) as i64;

    // Last partner sign-in, in buckets relative to start-up: never 15 %, < 30 days 30 %,
    // 30–90 days 20 %, 90–365 days 20 %, older 15 %.
    let bucket = rng.unit();
    let age_days = match bucket {
        b if b < 0.15 => None,
        b if b < 0.45 => Some((0, 30)),
        b if b < 0.65 => Some((30, 90)),
        b if b < 0.85 => Some((90, 365)),
        _ => Some((365, 1460)),
    };
    let last_sign_in = age_days.map(|(lo, hi)| {
        let age = lo * DAY_TICKS + rng.below(((hi - lo) * DAY_TICKS) as u64) as i64;
        now_ticks - age
    });
    if let Some(last) = last_sign_in {
        // A partner cannot have signed in before the relationship started.
        if last < start {
            start = (last - rng.between(1, 400) as i64 * DAY_TICKS).max(start_min.min(last));
        }
    }

    let dap_enabled = rng.chance(0.6);
    let end = if !dap_enabled && rng.chance(0.8) {
        let span = (now_ticks - start).max(1);
        Some(start + rng.below(span as u64) as i64)
    } else {
        None
    };

    let signed_in_last_day = last_sign_in.is_some_and(|t| now_ticks - t < DAY_TICKS);
    let (agents, sign_ins, global_admin) = if signed_in_last_day {
        let agents = rng.between(1, 3) as u32;
        let sign_ins = rng.between(u64::from(agents), u64::from(agents) * 4) as u32;
        (agents, sign_ins, rng.between(0, 2) as u32)
    } else {
        (0, 0, 0)
    };

    Customer {
        index,
        tenant_id,
        name_folded: display_name.to_lowercase(),
        display_name,
        dap_enabled,
        start: from_ticks(start),
        end: end.map(from_ticks),
        last_sign_in: last_sign_in.map(from_ticks),
        partner_agent_count: agents,
        partner_sign_in_count: sign_ins,
        global_admin_sign_in_count: global_admin,
    }
}

fn organisation_name(rng: &mut SplitMix64) -> String {
    if rng.chance(0.02) {
        return (*rng.pick(AWKWARD_NAMES)).to_owned();
    }
    match rng.below(6) {
        0 => (*rng.pick(BRANDS)).to_owned(),
        1 => format!("{} {}", rng.pick(BRANDS), rng.pick(SECTORS)),
        2 => format!(
            "{} {} {}",
            rng.pick(BRANDS),
            rng.pick(SECTORS),
            rng.pick(SUFFIXES)
        ),
        3 => format!(
            "{} {} {}",
            rng.pick(CITIES),
            rng.pick(SECTORS),
            rng.pick(SUFFIXES)
        ),
        4 => format!("{} {}", rng.pick(BRANDS), rng.pick(CITIES)),
        _ => format!(
            "{} & {} {}",
            rng.pick(SURNAMES),
            rng.pick(SURNAMES),
            rng.pick(SUFFIXES)
        ),
    }
}

/// A customer's directory as generated from the seed (before any mutation).
pub(crate) fn generate_directory(seed: u64, customer: &Customer) -> Directory {
    let mut rng = SplitMix64::for_item(seed, Stream::Directory, customer.index as u64);
    let domain = customer.domain();

    let user_count = rng.between(4, 12) as usize;
    let mut users: Vec<DirectoryUser> = Vec::with_capacity(user_count);
    for _ in 0..user_count {
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
        let local = format!("{}.{}", mail_part(first), mail_part(last));
        let mut upn = format!("{local}@{domain}");
        let mut n = 2;
        while users.iter().any(|u| u.user_principal_name == upn) {
            upn = format!("{local}{n}@{domain}");
            n += 1;
        }
        let usage_location = if rng.chance(0.8) {
            Some(*rng.pick(USAGE_LOCATIONS))
        } else {
            None
        };
        users.push(DirectoryUser {
            id: rng.uuid(),
            user_principal_name: upn,
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            display_name: format!("{first} {last}"),
            usage_location,
        });
    }

    // Global Administrator always, with one or two members; then 3–7 other roles.
    let mut chosen: Vec<&'static RoleTemplate> = ROLE_TEMPLATES
        .iter()
        .filter(|t| t.id != GLOBAL_ADMINISTRATOR)
        .collect();
    let extra = rng.between(3, 7) as usize;
    for i in 0..extra {
        let j = i + rng.below((chosen.len() - i) as u64) as usize;
        chosen.swap(i, j);
    }
    chosen.truncate(extra);
    chosen.sort_by_key(|t| ROLE_TEMPLATES.iter().position(|x| x == *t));

    let mut roles = Vec::with_capacity(extra + 1);
    if let Some(ga) = role_template(&GLOBAL_ADMINISTRATOR) {
        let count = rng.between(1, 2) as usize;
        roles.push(DirectoryRole {
            template: ga,
            members: pick_members(&mut rng, &users, count),
        });
    }
    for template in chosen {
        let count = rng.between(0, 3) as usize;
        roles.push(DirectoryRole {
            template,
            members: pick_members(&mut rng, &users, count),
        });
    }
    Directory { users, roles }
}

/// `count` distinct user ids, in directory order.
fn pick_members(rng: &mut SplitMix64, users: &[DirectoryUser], count: usize) -> Vec<Uuid> {
    let mut picked: Vec<usize> = Vec::with_capacity(count);
    while picked.len() < count.min(users.len()) {
        let i = rng.below(users.len() as u64) as usize;
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    picked.sort_unstable();
    picked.into_iter().map(|i| users[i].id).collect()
}

/// The ASCII part of a name usable in a mailbox: `Zoë` → `zoe`, `O'Connor` → `oconnor`.
fn mail_part(name: &str) -> String {
    ascii_fold(name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// Lower-cases and transliterates common Latin letters with diacritics; drops the rest.
pub(crate) fn ascii_fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'č' => "c",
            'ď' | 'ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
            'ğ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => "i",
            'ł' => "l",
            'ñ' | 'ń' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
            'ř' => "r",
            'ś' | 'ş' | 'š' => "s",
            'ß' => "ss",
            'ť' => "t",
            'þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    #[test]
    fn same_seed_same_customers_and_directories() {
        let a = generate_customers(42, 300, NOW);
        let b = generate_customers(42, 300, NOW);
        assert_eq!(a, b);
        for c in a.iter().take(20) {
            assert_eq!(generate_directory(42, c), generate_directory(42, c));
        }
        let other = generate_customers(43, 300, NOW);
        assert_ne!(a[0].tenant_id, other[0].tenant_id);
        // A prefix does not depend on the total count.
        assert_eq!(generate_customers(42, 10, NOW), a[..10].to_vec());
    }

    #[test]
    fn customers_have_plausible_distribution() {
        let customers = generate_customers(7, 5000, NOW);
        let ids: HashSet<_> = customers.iter().map(|c| c.tenant_id).collect();
        assert_eq!(ids.len(), customers.len());
        let share = |f: &dyn Fn(&Customer) -> bool| {
            customers.iter().filter(|c| f(c)).count() as f64 / customers.len() as f64
        };
        let dap = share(&|c| c.dap_enabled);
        assert!((0.55..0.65).contains(&dap), "dap {dap}");
        let never = share(&|c| c.last_sign_in.is_none());
        assert!((0.12..0.18).contains(&never), "never {never}");
        let recent = share(&|c| c.last_sign_in.is_some_and(|t| NOW - t < Duration::days(30)));
        assert!((0.26..0.34).contains(&recent), "recent {recent}");
        let stale = share(&|c| {
            c.last_sign_in
                .is_some_and(|t| NOW - t > Duration::days(365))
        });
        assert!((0.12..0.18).contains(&stale), "stale {stale}");
        let awkward = share(&|c| AWKWARD_NAMES.contains(&c.display_name.as_str()));
        assert!((0.01..0.03).contains(&awkward), "awkward {awkward}");
        for c in &customers {
            assert!(c.start < NOW);
            assert!(
                c.start.year() >= 2018 && c.start.year() <= 2024,
                "{:?}",
                c.start
            );
            if let Some(last) = c.last_sign_in {
                assert!(last >= c.start);
                if NOW - last > Duration::days(1) {
                    assert_eq!(c.partner_agent_count + c.partner_sign_in_count, 0);
                }
            }
            if c.dap_enabled {
                assert!(c.end.is_none());
            }
        }
        assert!(customers.iter().any(|c| !c.dap_enabled && c.end.is_some()));
    }

    #[test]
    fn directories_follow_the_rules() {
        for c in generate_customers(42, 200, NOW) {
            let d = generate_directory(42, &c);
            assert!((4..=12).contains(&d.users.len()));
            assert_eq!(d.roles[0].template.id, GLOBAL_ADMINISTRATOR);
            assert!(!d.roles[0].members.is_empty());
            assert!((4..=8).contains(&d.roles.len()));
            let upns: HashSet<_> = d.users.iter().map(|u| &u.user_principal_name).collect();
            assert_eq!(upns.len(), d.users.len());
            for u in &d.users {
                assert!(
                    u.user_principal_name.is_ascii(),
                    "{}",
                    u.user_principal_name
                );
                assert!(u.user_principal_name.ends_with(".onmicrosoft.com"));
            }
            for r in &d.roles {
                for m in &r.members {
                    assert!(d.user(m).is_some());
                }
            }
        }
    }

    #[test]
    fn folding_handles_diacritics() {
        assert_eq!(mail_part("Zoë"), "zoe");
        assert_eq!(mail_part("Łukasz"), "lukasz");
        assert_eq!(mail_part("O'Connor"), "oconnor");
        assert_eq!(mail_part("Sigurðsson"), "sigurdsson");
        assert_eq!(ascii_fold("東京"), "");
    }
}
