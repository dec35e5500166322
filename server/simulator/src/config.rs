//! Configuration of the simulator: defaults for a demo, overrides from the environment, and the
//! public URLs (authority, API bases) derived from the base URL.

use std::collections::BTreeMap;
use std::env::VarError;
use std::time::Duration;

use url::Url;

use crate::faults::FaultConfig;

/// Application (client) id of the dashboard as registered in the simulated partner tenant.
pub const DEMO_CLIENT_ID: &str = "3b1f6c2d-9a4e-4f7b-8c5d-6e2a1b9f0c38";
/// Tenant id of the simulated partner organisation (the tenant the demo users sign in to).
pub const PARTNER_TENANT_ID: &str = "7d3f9b2a-4c1e-4a8b-9f6d-2e5c8a1b3d47";
/// Audience (resource) of Partner Center REST API tokens.
pub const PARTNER_CENTER_AUDIENCE: &str = "https://api.partnercenter.microsoft.com";
/// Audience (resource) of Partner Customer Administration API tokens.
pub const ADMIN_API_AUDIENCE: &str = "https://api.partnercustomeradministration.microsoft.com";
/// Audience of Microsoft Graph tokens; also used when a token request names no resource scope
/// (Entra defaults to Microsoft Graph).
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

/// Largest supported number of simulated customers.
pub const MAX_CUSTOMERS: usize = 100_000;

/// Everything the simulator needs to know at start-up. All fields are public so callers can
/// start from [`SimConfig::demo`] and adjust what they need. `Debug` redacts the client secret.
#[derive(Clone)]
pub struct SimConfig {
    /// Public origin where `/_sim` is reachable, e.g. `http://127.0.0.1:3000` (no trailing path).
    pub base_url: Url,
    /// Number of delegated-admin customers, `1..=100_000`.
    pub customers: usize,
    /// Seed of all generated data.
    pub seed: u64,
    /// The registered dashboard application id.
    pub client_id: String,
    /// When set, the token endpoint requires this secret (client_secret_post or HTTP Basic).
    pub client_secret: Option<String>,
    /// Lifetime of issued access and id tokens.
    pub access_token_lifetime: Duration,
    /// Lifetime of each issued refresh token (Entra: 90 days of inactivity).
    pub refresh_token_lifetime: Duration,
    /// Accepted application-consent calls per second and applicationId (Partner Center: 50).
    pub consent_rate_limit_per_second: u32,
    /// Faults injected into API calls.
    pub faults: FaultConfig,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("base_url", &self.base_url.as_str())
            .field("customers", &self.customers)
            .field("seed", &self.seed)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .field(
                "consent_rate_limit_per_second",
                &self.consent_rate_limit_per_second,
            )
            .field("faults", &self.faults)
            .finish()
    }
}

/// An environment variable holds a value the simulator cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable}={value:?} is invalid: expected {expected}")]
pub struct SimConfigError {
    /// Name of the variable.
    pub variable: String,
    /// The offending value.
    pub value: String,
    /// What would have been accepted.
    pub expected: String,
}

impl SimConfig {
    /// A configuration for demos: 1500 customers, seed 42, the demo client id, no client secret,
    /// 1 h access tokens, 90 day refresh tokens, 50 consent calls per second, no faults.
    pub fn demo(base_url: Url) -> Self {
        Self {
            base_url,
            customers: 1500,
            seed: 42,
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: None,
            access_token_lifetime: Duration::from_secs(3600),
            refresh_token_lifetime: Duration::from_secs(90 * 24 * 3600),
            consent_rate_limit_per_second: 50,
            faults: FaultConfig::default(),
        }
    }

    /// [`SimConfig::demo`] overridden by environment variables. An empty variable counts as unset.
    ///
    /// | variable | meaning | accepted values |
    /// |---|---|---|
    /// | `DASHBOARD_SIM_CUSTOMERS` | number of customers | integer `1..=100000` |
    /// | `DASHBOARD_SIM_SEED` | seed of the generated data | unsigned 64-bit integer |
    /// | `DASHBOARD_SIM_TOKEN_LIFETIME_SECS` | access/id token lifetime | integer `1..=86400` |
    /// | `DASHBOARD_SIM_CONSENT_RPS` | consent calls per second per applicationId | integer `1..=100000` |
    /// | `DASHBOARD_SIM_LATENCY_MS` | latency added to every API call | integer `0..=60000` |
    /// | `DASHBOARD_SIM_ERROR_RATES` | injected error statuses | `status:probability` list, e.g. `500:0.2,429:0.1` (status `400..=599`, probability `0..=1`) |
    /// | `DASHBOARD_SIM_DROP_RATE` | probability of a dropped connection | number `0..=1` |
    /// | `DASHBOARD_SIM_CLIENT_SECRET` | secret the token endpoint requires | any non-empty string |
    pub fn from_env(base_url: Url) -> Result<Self, SimConfigError> {
        Self::from_lookup(base_url, |name| std::env::var(name))
    }

    /// Same as [`SimConfig::from_env`] with an injectable variable source (tests do not touch the
    /// process environment, which other tests share).
    pub(crate) fn from_lookup(
        base_url: Url,
        lookup: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<Self, SimConfigError> {
        let mut config = Self::demo(base_url);
        let var = |name: &str| -> Result<Option<String>, SimConfigError> {
            match lookup(name) {
                Ok(v) if v.trim().is_empty() => Ok(None),
                Ok(v) => Ok(Some(v.trim().to_owned())),
                Err(VarError::NotPresent) => Ok(None),
                Err(VarError::NotUnicode(_)) => Err(SimConfigError {
                    variable: name.to_owned(),
                    value: "<not valid UTF-8>".to_owned(),
                    expected: "a UTF-8 value".to_owned(),
                }),
            }
        };

        if let Some(v) = var("DASHBOARD_SIM_CUSTOMERS")? {
            config.customers =
                parse_ranged("DASHBOARD_SIM_CUSTOMERS", &v, 1, MAX_CUSTOMERS as u64)? as usize;
        }
        if let Some(v) = var("DASHBOARD_SIM_SEED")? {
            config.seed = v.parse().map_err(|_| SimConfigError {
                variable: "DASHBOARD_SIM_SEED".to_owned(),
                value: v.clone(),
                expected: "an unsigned 64-bit integer".to_owned(),
            })?;
        }
        if let Some(v) = var("DASHBOARD_SIM_TOKEN_LIFETIME_SECS")? {
            let secs = parse_ranged("DASHBOARD_SIM_TOKEN_LIFETIME_SECS", &v, 1, 86_400)?;
            config.access_token_lifetime = Duration::from_secs(secs);
        }
        if let Some(v) = var("DASHBOARD_SIM_CONSENT_RPS")? {
            config.consent_rate_limit_per_second =
                parse_ranged("DASHBOARD_SIM_CONSENT_RPS", &v, 1, 100_000)? as u32;
        }
        if let Some(v) = var("DASHBOARD_SIM_LATENCY_MS")? {
            config.faults.latency_ms = parse_ranged("DASHBOARD_SIM_LATENCY_MS", &v, 0, 60_000)?;
        }
        if let Some(v) = var("DASHBOARD_SIM_ERROR_RATES")? {
            config.faults.error_rates =
                parse_error_rates(&v).map_err(|expected| SimConfigError {
                    variable: "DASHBOARD_SIM_ERROR_RATES".to_owned(),
                    value: v.clone(),
                    expected,
                })?;
        }
        if let Some(v) = var("DASHBOARD_SIM_DROP_RATE")? {
            config.faults.drop_rate = parse_probability(&v).ok_or_else(|| SimConfigError {
                variable: "DASHBOARD_SIM_DROP_RATE".to_owned(),
                value: v.clone(),
                expected: "a probability between 0 and 1".to_owned(),
            })?;
        }
        if let Some(v) = var("DASHBOARD_SIM_CLIENT_SECRET")? {
            config.client_secret = Some(v);
        }
        Ok(config)
    }

    /// The base URL as a string without trailing slash, so paths can be appended.
    pub(crate) fn origin(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// The OIDC authority (also the token issuer): `{base}/_sim/login/{PARTNER_TENANT_ID}/v2.0`.
    pub fn authority(&self) -> String {
        format!("{}/_sim/login/{PARTNER_TENANT_ID}/v2.0", self.origin())
    }

    /// Base of the simulated Partner Center REST API (the production `.../v1`).
    pub fn partner_center_base(&self) -> String {
        format!("{}/_sim/partnercenter/v1", self.origin())
    }

    /// Base of the simulated Microsoft Graph (the production `https://graph.microsoft.com/v1.0`).
    pub fn graph_base(&self) -> String {
        format!("{}/_sim/graph/v1.0", self.origin())
    }

    /// Base of the simulated Partner Customer Administration API.
    pub fn admin_api_base(&self) -> String {
        format!(
            "{}/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1",
            self.origin()
        )
    }
}

fn parse_ranged(variable: &str, value: &str, min: u64, max: u64) -> Result<u64, SimConfigError> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(SimConfigError {
            variable: variable.to_owned(),
            value: value.to_owned(),
            expected: format!("an integer in {min}..={max}"),
        }),
    }
}

/// A finite probability in `0..=1`.
pub(crate) fn parse_probability(value: &str) -> Option<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && (0.0..=1.0).contains(p))
}

/// Parses `"500:0.2,429:0.1"`; the error says what is expected.
pub(crate) fn parse_error_rates(value: &str) -> Result<BTreeMap<u16, f64>, String> {
    const EXPECTED: &str =
        "a comma-separated list of status:probability pairs such as 500:0.2,429:0.1 \
         (status 400..=599, probability 0..=1)";
    let mut rates = BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (status, rate) = item.split_once(':').ok_or_else(|| EXPECTED.to_owned())?;
        let status: u16 = status
            .trim()
            .parse()
            .ok()
            .filter(|s| (400..=599).contains(s))
            .ok_or_else(|| EXPECTED.to_owned())?;
        let rate = parse_probability(rate).ok_or_else(|| EXPECTED.to_owned())?;
        rates.insert(status, rate);
    }
    Ok(rates)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned().ok_or(VarError::NotPresent)
    }

    fn base() -> Url {
        Url::parse("http://127.0.0.1:3000").unwrap()
    }

    #[test]
    fn derived_urls_have_no_double_slash() {
        let c = SimConfig::demo(base());
        assert_eq!(
            c.authority(),
            format!("http://127.0.0.1:3000/_sim/login/{PARTNER_TENANT_ID}/v2.0")
        );
        assert_eq!(
            c.partner_center_base(),
            "http://127.0.0.1:3000/_sim/partnercenter/v1"
        );
        assert_eq!(
            c.admin_api_base(),
            "http://127.0.0.1:3000/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1"
        );
    }

    #[test]
    fn env_overrides_apply() {
        let c = SimConfig::from_lookup(
            base(),
            lookup(&[
                ("DASHBOARD_SIM_CUSTOMERS", "200"),
                ("DASHBOARD_SIM_SEED", "7"),
                ("DASHBOARD_SIM_TOKEN_LIFETIME_SECS", "60"),
                ("DASHBOARD_SIM_CONSENT_RPS", "5"),
                ("DASHBOARD_SIM_LATENCY_MS", "10"),
                ("DASHBOARD_SIM_ERROR_RATES", "500:0.2, 429:0.1"),
                ("DASHBOARD_SIM_DROP_RATE", "0.05"),
                ("DASHBOARD_SIM_CLIENT_SECRET", "s3cret"),
                ("DASHBOARD_SIM_UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.customers, 200);
        assert_eq!(c.seed, 7);
        assert_eq!(c.access_token_lifetime, Duration::from_secs(60));
        assert_eq!(c.consent_rate_limit_per_second, 5);
        assert_eq!(c.faults.latency_ms, 10);
        assert_eq!(c.faults.error_rates.get(&500), Some(&0.2));
        assert_eq!(c.faults.error_rates.get(&429), Some(&0.1));
        assert_eq!(c.faults.drop_rate, 0.05);
        assert_eq!(c.client_secret.as_deref(), Some("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let c =
            SimConfig::from_lookup(base(), lookup(&[("DASHBOARD_SIM_CUSTOMERS", " ")])).unwrap();
        assert_eq!(c.customers, 1500);
    }

    #[test]
    fn invalid_values_name_the_variable_value_and_expectation() {
        let cases = [
            ("DASHBOARD_SIM_CUSTOMERS", "0", "1..=100000"),
            ("DASHBOARD_SIM_CUSTOMERS", "100001", "1..=100000"),
            ("DASHBOARD_SIM_SEED", "-1", "unsigned"),
            ("DASHBOARD_SIM_TOKEN_LIFETIME_SECS", "abc", "1..=86400"),
            ("DASHBOARD_SIM_CONSENT_RPS", "0", "1..=100000"),
            ("DASHBOARD_SIM_ERROR_RATES", "500=0.2", "status:probability"),
            ("DASHBOARD_SIM_ERROR_RATES", "200:0.2", "400..=599"),
            ("DASHBOARD_SIM_ERROR_RATES", "500:1.5", "0..=1"),
            ("DASHBOARD_SIM_DROP_RATE", "NaN", "between 0 and 1"),
        ];
        for (var, value, expected) in cases {
            let err = SimConfig::from_lookup(base(), lookup(&[(var, value)])).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(var), "{text}");
            assert!(text.contains(value), "{text}");
            assert!(text.contains(expected), "{text}");
        }
    }
}
