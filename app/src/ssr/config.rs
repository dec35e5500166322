//! Configuration from environment variables. Nothing configured means demo mode: the in-process
//! simulator and a SQLite file under ./data. Every error names the variable and what is wrong.

use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

pub const DEFAULT_PARTNER_CENTER_URL: &str = "https://api.partnercenter.microsoft.com/v1";
pub const DEFAULT_ADMIN_API_URL: &str =
    "https://traf-pcsvcadmin-prod.trafficmanager.net/CustomerServiceAdminApi/Web/v1";
pub const DEFAULT_PARTNER_CENTER_AUDIENCE: &str = "https://api.partnercenter.microsoft.com";
pub const DEFAULT_ADMIN_API_AUDIENCE: &str =
    "https://api.partnercustomeradministration.microsoft.com";
/// Microsoft Graph (GDAP relationships); sovereign clouds have their own host.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
pub const DEFAULT_GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/dashboard.db?mode=rwc";
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:3000";
/// Partner Center's documented limit for consent calls: 50 requests per second per applicationId.
pub const DEFAULT_CONSENT_RATE_LIMIT: u32 = 50;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn problem(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// Where the OIDC authority and both APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// The in-process simulator under `/_sim/` of this server.
    Demo,
    /// Microsoft (or a standalone simulator) at configured addresses.
    Configured(Box<Endpoints>),
}

#[derive(Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authority: Url,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_url: Url,
    pub partner_center_url: Url,
    pub admin_api_url: Url,
    pub graph_url: Url,
}

// The client secret must never reach a log line.
impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("authority", &self.authority.as_str())
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_url", &self.redirect_url.as_str())
            .field("partner_center_url", &self.partner_center_url.as_str())
            .field("admin_api_url", &self.admin_api_url.as_str())
            .field("graph_url", &self.graph_url.as_str())
            .finish()
    }
}

/// Key that encrypts refresh tokens at rest.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenKeySource {
    Key([u8; 32]),
    /// Demo mode: generated on first start and kept in this file.
    File(PathBuf),
}

impl std::fmt::Debug for TokenKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenKeySource::Key(_) => f.write_str("Key(<redacted>)"),
            TokenKeySource::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub upstream: Upstream,
    pub bind_addr: SocketAddr,
    /// The origin browsers use to reach us; also decides whether cookies are `Secure`.
    pub public_url: Url,
    pub database_url: String,
    pub partner_center_audience: String,
    pub admin_api_audience: String,
    /// Token audience of Microsoft Graph (the refresh token is redeemed for `{it}/.default`).
    pub graph_audience: String,
    pub cpv_application_id: Option<String>,
    pub token_key: TokenKeySource,
    /// Consent calls per second per applicationId, across every job (Partner Center allows 50).
    pub consent_rate_limit_per_second: u32,
    /// DAP-removal reviews: a removal needs approval by a second, different admin.
    pub review_four_eyes: bool,
    /// Names this process in job claims; a restarted process with the same name resumes its
    /// jobs at once instead of waiting for its old claim to lapse.
    pub instance_id: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `lookup` returns a variable's value; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let bind_addr = match get("DASHBOARD_BIND_ADDR").or_else(|| get("LEPTOS_SITE_ADDR")) {
            Some(v) => v.trim().parse::<SocketAddr>().map_err(|_| {
                problem(
                    "DASHBOARD_BIND_ADDR",
                    format!("'{v}' is not an address like 127.0.0.1:3000"),
                )
            })?,
            None => DEFAULT_BIND_ADDR
                .parse()
                .map_err(|_| problem("DASHBOARD_BIND_ADDR", "bad built-in default"))?,
        };

        let url_var = |name: &'static str| -> Result<Option<Url>, ConfigError> {
            get(name).map(|v| parse_http_url(name, &v)).transpose()
        };

        let authority = url_var("DASHBOARD_AUTHORITY")?;
        let client_id = get("DASHBOARD_CLIENT_ID");
        let redirect_url = url_var("DASHBOARD_REDIRECT_URL")?;
        let client_secret = get("DASHBOARD_CLIENT_SECRET");

        let upstream = match (&authority, &client_id, &redirect_url) {
            (None, None, None) => {
                if client_secret.is_some() {
                    return Err(problem(
                        "DASHBOARD_CLIENT_SECRET",
                        "is set, but DASHBOARD_AUTHORITY, DASHBOARD_CLIENT_ID and DASHBOARD_REDIRECT_URL are not",
                    ));
                }
                for name in [
                    "DASHBOARD_PARTNER_CENTER_URL",
                    "DASHBOARD_ADMIN_API_URL",
                    "DASHBOARD_GRAPH_URL",
                ] {
                    if get(name).is_some() {
                        return Err(problem(
                            name,
                            "is set, but DASHBOARD_AUTHORITY is not: configure the sign-in too, or unset it for demo mode",
                        ));
                    }
                }
                Upstream::Demo
            }
            (Some(authority), Some(client_id), Some(redirect_url)) => {
                if uuid::Uuid::try_parse(client_id.trim()).is_err() {
                    return Err(problem(
                        "DASHBOARD_CLIENT_ID",
                        format!("'{client_id}' is not a GUID (the application (client) id)"),
                    ));
                }
                Upstream::Configured(Box::new(Endpoints {
                    authority: authority.clone(),
                    client_id: client_id.trim().to_string(),
                    client_secret,
                    redirect_url: redirect_url.clone(),
                    partner_center_url: url_var("DASHBOARD_PARTNER_CENTER_URL")?
                        .map_or_else(|| parse_default(DEFAULT_PARTNER_CENTER_URL), Ok)?,
                    admin_api_url: url_var("DASHBOARD_ADMIN_API_URL")?
                        .map_or_else(|| parse_default(DEFAULT_ADMIN_API_URL), Ok)?,
                    graph_url: url_var("DASHBOARD_GRAPH_URL")?
                        .map_or_else(|| parse_default(DEFAULT_GRAPH_URL), Ok)?,
                }))
            }
            _ => {
                let missing = [
                    ("DASHBOARD_AUTHORITY", authority.is_none()),
                    ("DASHBOARD_CLIENT_ID", client_id.is_none()),
                    ("DASHBOARD_REDIRECT_URL", redirect_url.is_none()),
                ]
                .into_iter()
                .find(|(_, missing)| *missing)
                .map(|(name, _)| name)
                .unwrap_or("DASHBOARD_AUTHORITY");
                return Err(problem(
                    missing,
                    "is missing: DASHBOARD_AUTHORITY, DASHBOARD_CLIENT_ID and DASHBOARD_REDIRECT_URL go together (set all three, or none for demo mode)",
                ));
            }
        };

        let public_url = match (&upstream, url_var("DASHBOARD_PUBLIC_URL")?) {
            (_, Some(url)) => url,
            (Upstream::Configured(endpoints), None) => {
                let mut origin = endpoints.redirect_url.clone();
                origin.set_path("/");
                origin.set_query(None);
                origin
            }
            (Upstream::Demo, None) => {
                // A wildcard bind is reached through loopback in demo mode.
                let host = if bind_addr.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    bind_addr.ip().to_string()
                };
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                parse_default(&format!("http://{host}:{}/", bind_addr.port()))?
            }
        };

        let database_url =
            get("DASHBOARD_DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(problem(
                "DASHBOARD_DATABASE_URL",
                "must start with sqlite: or postgres:// (the two supported databases)",
            ));
        }

        let cpv_application_id = match get("DASHBOARD_CPV_APPLICATION_ID") {
            Some(v) => {
                let id = uuid::Uuid::try_parse(v.trim()).map_err(|_| {
                    problem(
                        "DASHBOARD_CPV_APPLICATION_ID",
                        format!("'{v}' is not a GUID"),
                    )
                })?;
                Some(id.hyphenated().to_string())
            }
            None => None,
        };

        let token_key = match get("DASHBOARD_TOKEN_ENCRYPTION_KEY") {
            Some(v) => TokenKeySource::Key(parse_key(&v)?),
            None if upstream == Upstream::Demo => {
                TokenKeySource::File(PathBuf::from("data/token-encryption.key"))
            }
            None => {
                return Err(problem(
                    "DASHBOARD_TOKEN_ENCRYPTION_KEY",
                    "is required outside demo mode: 32 random bytes, base64 (e.g. `openssl rand -base64 32`)",
                ))
            }
        };

        let consent_rate_limit_per_second = match get("DASHBOARD_CONSENT_RATE_LIMIT") {
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=50).contains(&n) => n,
                _ => {
                    return Err(problem(
                        "DASHBOARD_CONSENT_RATE_LIMIT",
                        format!("'{v}' must be a whole number of requests per second from 1 to 50 (Partner Center's limit)"),
                    ))
                }
            },
            None => DEFAULT_CONSENT_RATE_LIMIT,
        };
        let review_four_eyes = match get("DASHBOARD_REVIEW_FOUR_EYES") {
            Some(v) => parse_flag("DASHBOARD_REVIEW_FOUR_EYES", &v)?,
            None => false,
        };
        let instance_id = get("DASHBOARD_INSTANCE_ID")
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| format!("{}:{}", host_name(), bind_addr.port()));

        Ok(Config {
            upstream,
            bind_addr,
            public_url,
            database_url,
            partner_center_audience: get("DASHBOARD_PARTNER_CENTER_AUDIENCE")
                .unwrap_or_else(|| DEFAULT_PARTNER_CENTER_AUDIENCE.into()),
            admin_api_audience: get("DASHBOARD_ADMIN_API_AUDIENCE")
                .unwrap_or_else(|| DEFAULT_ADMIN_API_AUDIENCE.into()),
            graph_audience: get("DASHBOARD_GRAPH_AUDIENCE")
                .map(|v| v.trim().trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_GRAPH_AUDIENCE.into()),
            cpv_application_id,
            token_key,
            consent_rate_limit_per_second,
            review_four_eyes,
            instance_id,
        })
    }

    pub fn is_demo(&self) -> bool {
        self.upstream == Upstream::Demo
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

fn parse_flag(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(problem(name, format!("'{value}' must be true or false"))),
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn parse_default(value: &str) -> Result<Url, ConfigError> {
    Url::parse(value).map_err(|e| problem("(built-in default)", e.to_string()))
}

fn parse_http_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value.trim())
        .map_err(|e| problem(name, format!("'{value}' is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(problem(
            name,
            format!("'{value}' must be an http(s) URL with a host"),
        ));
    }
    Ok(url)
}

fn parse_key(value: &str) -> Result<[u8; 32], ConfigError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| problem("DASHBOARD_TOKEN_ENCRYPTION_KEY", "is not valid base64"))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        problem(
            "DASHBOARD_TOKEN_ENCRYPTION_KEY",
            format!("must decode to 32 bytes, got {}", b.len()),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| map.get(k).cloned())
    }

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn nothing_configured_is_demo_mode() {
        let c = config(&[]).unwrap();
        assert!(c.is_demo());
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert!(!c.secure_cookies());
    }

    #[test]
    fn full_configuration_talks_to_microsoft() {
        let c = config(&[
            (
                "DASHBOARD_AUTHORITY",
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            ),
            (
                "DASHBOARD_CLIENT_ID",
                "7d8a8e0c-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            ),
            ("DASHBOARD_CLIENT_SECRET", "s3cret"),
            (
                "DASHBOARD_REDIRECT_URL",
                "https://dash.example.com/auth/callback",
            ),
            ("DASHBOARD_TOKEN_ENCRYPTION_KEY", KEY),
            ("DASHBOARD_DATABASE_URL", "postgres://localhost/dash"),
        ])
        .unwrap();
        let Upstream::Configured(endpoints) = &c.upstream else {
            panic!("expected configured upstream");
        };
        assert_eq!(
            endpoints.partner_center_url.as_str(),
            DEFAULT_PARTNER_CENTER_URL
        );
        assert_eq!(c.public_url.as_str(), "https://dash.example.com/");
        assert!(c.secure_cookies());
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "secret leaked into Debug"
        );
        assert!(!format!("{c:?}").contains(KEY));
    }

    #[test]
    fn errors_name_the_variable() {
        let err =
            config(&[("DASHBOARD_AUTHORITY", "https://login.example.com/t/v2.0")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_CLIENT_ID");

        let err = config(&[("DASHBOARD_BIND_ADDR", "localhost")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_BIND_ADDR");

        let err = config(&[("DASHBOARD_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_DATABASE_URL");

        let err = config(&[("DASHBOARD_CPV_APPLICATION_ID", "not-a-guid")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_CPV_APPLICATION_ID");

        let err = config(&[("DASHBOARD_TOKEN_ENCRYPTION_KEY", "c2hvcnQ=")]).unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");

        let err = config(&[
            ("DASHBOARD_AUTHORITY", "ftp://login.example.com"),
            (
                "DASHBOARD_CLIENT_ID",
                "7d8a8e0c-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            ),
            (
                "DASHBOARD_REDIRECT_URL",
                "https://dash.example.com/auth/callback",
            ),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_AUTHORITY");

        let err = config(&[
            ("DASHBOARD_AUTHORITY", "https://login.example.com/t/v2.0"),
            (
                "DASHBOARD_CLIENT_ID",
                "7d8a8e0c-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            ),
            (
                "DASHBOARD_REDIRECT_URL",
                "https://dash.example.com/auth/callback",
            ),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_TOKEN_ENCRYPTION_KEY");

        let err =
            config(&[("DASHBOARD_PARTNER_CENTER_URL", "https://pc.example.com/v1")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_PARTNER_CENTER_URL");
    }

    #[test]
    fn graph_url_and_audience_default_to_microsoft_graph_and_can_be_set() {
        let microsoft = [
            (
                "DASHBOARD_AUTHORITY",
                "https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0",
            ),
            (
                "DASHBOARD_CLIENT_ID",
                "7d8a8e0c-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            ),
            (
                "DASHBOARD_REDIRECT_URL",
                "https://dash.example.com/auth/callback",
            ),
            ("DASHBOARD_TOKEN_ENCRYPTION_KEY", KEY),
        ];
        let c = config(&microsoft).unwrap();
        let Upstream::Configured(endpoints) = &c.upstream else {
            panic!("expected configured upstream");
        };
        assert_eq!(endpoints.graph_url.as_str(), DEFAULT_GRAPH_URL);
        assert_eq!(c.graph_audience, "https://graph.microsoft.com");
        assert_eq!(config(&[]).unwrap().graph_audience, DEFAULT_GRAPH_AUDIENCE);

        let mut sovereign = microsoft.to_vec();
        sovereign.push(("DASHBOARD_GRAPH_URL", "https://graph.microsoft.us/v1.0"));
        sovereign.push(("DASHBOARD_GRAPH_AUDIENCE", "https://graph.microsoft.us/"));
        let c = config(&sovereign).unwrap();
        let Upstream::Configured(endpoints) = &c.upstream else {
            panic!("expected configured upstream");
        };
        assert_eq!(
            endpoints.graph_url.as_str(),
            "https://graph.microsoft.us/v1.0"
        );
        assert_eq!(c.graph_audience, "https://graph.microsoft.us");

        let mut bad = microsoft.to_vec();
        bad.push(("DASHBOARD_GRAPH_URL", "graph.microsoft.com"));
        assert_eq!(config(&bad).unwrap_err().variable, "DASHBOARD_GRAPH_URL");
        // In demo mode Graph is the simulator's: a URL alone is a mistake, named.
        let err =
            config(&[("DASHBOARD_GRAPH_URL", "https://graph.microsoft.com/v1.0")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_GRAPH_URL");
    }

    #[test]
    fn wildcard_bind_is_reached_through_loopback_in_demo_mode() {
        let c = config(&[("DASHBOARD_BIND_ADDR", "0.0.0.0:8080")]).unwrap();
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn job_settings_have_safe_defaults_and_clear_errors() {
        let c = config(&[("DASHBOARD_BIND_ADDR", "127.0.0.1:3107")]).unwrap();
        assert_eq!(c.consent_rate_limit_per_second, 50);
        assert!(!c.review_four_eyes);
        assert!(c.instance_id.ends_with(":3107"), "{}", c.instance_id);

        let c = config(&[
            ("DASHBOARD_CONSENT_RATE_LIMIT", "20"),
            ("DASHBOARD_REVIEW_FOUR_EYES", "true"),
            ("DASHBOARD_INSTANCE_ID", "blue"),
        ])
        .unwrap();
        assert_eq!(c.consent_rate_limit_per_second, 20);
        assert!(c.review_four_eyes);
        assert_eq!(c.instance_id, "blue");

        for bad in ["0", "51", "fast"] {
            let e = config(&[("DASHBOARD_CONSENT_RATE_LIMIT", bad)]).unwrap_err();
            assert_eq!(e.variable, "DASHBOARD_CONSENT_RATE_LIMIT");
        }
        let e = config(&[("DASHBOARD_REVIEW_FOUR_EYES", "maybe")]).unwrap_err();
        assert_eq!(e.variable, "DASHBOARD_REVIEW_FOUR_EYES");
    }
}
