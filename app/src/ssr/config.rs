//! Configuration from environment variables. Demo mode (the in-process simulator, password-less
//! sign-in, a SQLite file under ./data) only with `DASHBOARD_DEMO=true`, and only in settings
//! that cannot be a production deployment. Every error names the variable and what is wrong.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

pub const DEFAULT_PARTNER_CENTER_URL: &str = "https://api.partnercenter.microsoft.com/v1";
pub const DEFAULT_ADMIN_API_URL: &str =
    "https://traf-pcsvcadmin-prod.trafficmanager.net/CustomerServiceAdminApi/Web/v1";
pub const DEFAULT_PARTNER_CENTER_AUDIENCE: &str = "https://api.partnercenter.microsoft.com";
pub const DEFAULT_ADMIN_API_AUDIENCE: &str =
    "https://api.partnercustomeradministration.microsoft.com";
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
pub const DEFAULT_GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/dashboard.db?mode=rwc";
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:3000";
/// Partner Center's documented limit for consent calls: 50 requests per second per applicationId.
pub const DEFAULT_CONSENT_RATE_LIMIT: u32 = 50;
/// A session ends this long after sign-in, however active it is (`DASHBOARD_SESSION_MAX_HOURS`).
pub const DEFAULT_SESSION_MAX_HOURS: u64 = 12;
pub const MAX_SESSION_MAX_HOURS: u64 = 168;

/// Sign-in variables: demo mode refuses each of them, and they go together outside it.
const SIGN_IN_VARIABLES: [&str; 8] = [
    "DASHBOARD_AUTHORITY",
    "DASHBOARD_CLIENT_ID",
    "DASHBOARD_CLIENT_SECRET",
    "DASHBOARD_REDIRECT_URL",
    "DASHBOARD_PARTNER_TENANT_ID",
    "DASHBOARD_PARTNER_CENTER_URL",
    "DASHBOARD_ADMIN_API_URL",
    "DASHBOARD_GRAPH_URL",
];

const NOTHING_CONFIGURED: &str = "is not set and no sign-in is configured. Either set \
     DASHBOARD_DEMO=true for the demo (built-in simulator, password-less sign-in, loopback only), \
     or configure sign-in with Entra ID: DASHBOARD_AUTHORITY, DASHBOARD_CLIENT_ID, \
     DASHBOARD_REDIRECT_URL and DASHBOARD_TOKEN_ENCRYPTION_KEY (see .env.example)";

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
    /// The partner tenant (lower-case GUID): only id tokens whose `tid` is this one sign in.
    pub partner_tenant_id: String,
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
            .field("partner_tenant_id", &self.partner_tenant_id)
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

/// How log lines are written (`DASHBOARD_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// Read before everything else: the logger is installed before the rest of the
    /// configuration is read, so its errors are logged in the chosen format.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Some(value) = lookup("DASHBOARD_LOG_FORMAT").filter(|v| !v.trim().is_empty()) else {
            return Ok(LogFormat::Text);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(problem(
                "DASHBOARD_LOG_FORMAT",
                format!(
                    "'{value}' must be text (human-readable, the default) or json (one JSON \
                     object per line, for log collectors)"
                ),
            )),
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
    /// Absolute session lifetime, counted from sign-in (besides the idle timeout). Whole hours
    /// from the environment; tests may set a shorter one on the struct.
    pub session_max_age: Duration,
    /// Human-readable or JSON log lines.
    pub log_format: LogFormat,
    /// Where a second listener serves Prometheus metrics (`/metrics` only); none by default, so
    /// they are never public by accident.
    pub metrics_addr: Option<SocketAddr>,
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

        let demo = match get("DASHBOARD_DEMO") {
            Some(v) => parse_flag("DASHBOARD_DEMO", &v)?,
            None => false,
        };

        let upstream = if demo {
            if let Some(name) = SIGN_IN_VARIABLES.iter().find(|name| get(name).is_some()) {
                return Err(problem(
                    "DASHBOARD_DEMO",
                    format!(
                        "is true, but {name} is set: demo mode signs in through the built-in \
                         simulator; unset {name}, or unset DASHBOARD_DEMO to use the configured sign-in"
                    ),
                ));
            }
            Upstream::Demo
        } else {
            Upstream::Configured(Box::new(endpoints_from(&get)?))
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
                let host = match bind_addr.ip() {
                    IpAddr::V4(ip) => ip.to_string(),
                    IpAddr::V6(ip) => format!("[{ip}]"),
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

        if demo {
            refuse_unsafe_demo(
                &bind_addr,
                &public_url,
                &database_url,
                get("DASHBOARD_TOKEN_ENCRYPTION_KEY").is_some(),
            )?;
        }

        let token_key = match get("DASHBOARD_TOKEN_ENCRYPTION_KEY") {
            Some(v) => TokenKeySource::Key(parse_key(&v)?),
            None if demo => TokenKeySource::File(demo_key_file(&database_url)),
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
        let session_max_hours = match get("DASHBOARD_SESSION_MAX_HOURS") {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=MAX_SESSION_MAX_HOURS).contains(&n) => n,
                _ => {
                    return Err(problem(
                        "DASHBOARD_SESSION_MAX_HOURS",
                        format!(
                        "'{v}' must be a whole number of hours from 1 to {MAX_SESSION_MAX_HOURS}"
                    ),
                    ))
                }
            },
            None => DEFAULT_SESSION_MAX_HOURS,
        };
        let metrics_addr = get("DASHBOARD_METRICS_ADDR")
            .map(|v| metrics_addr(&v, &bind_addr))
            .transpose()?;
        let instance_id = get("DASHBOARD_INSTANCE_ID")
            .map(|v| v.trim().to_string())
            // A random part: two processes on one host and port (a restart while the old one
            // is still winding down, containers sharing a hostname) never share a claim.
            .unwrap_or_else(|| {
                let unique = uuid::Uuid::new_v4().simple().to_string();
                format!("{}:{}:{}", host_name(), bind_addr.port(), &unique[..8])
            });

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
            session_max_age: Duration::from_secs(session_max_hours * 3600),
            log_format: LogFormat::from_lookup(get)?,
            metrics_addr,
        })
    }

    pub fn is_demo(&self) -> bool {
        self.upstream == Upstream::Demo
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// The sign-in and API addresses outside demo mode.
fn endpoints_from(get: &impl Fn(&str) -> Option<String>) -> Result<Endpoints, ConfigError> {
    let url_var = |name: &'static str| -> Result<Option<Url>, ConfigError> {
        get(name).map(|v| parse_http_url(name, &v)).transpose()
    };
    let upstream_var = |name: &'static str, default: &str| -> Result<Url, ConfigError> {
        let url = url_var(name)?.map_or_else(|| parse_default(default), Ok)?;
        require_https_upstream(name, &url)?;
        Ok(url)
    };
    let authority = url_var("DASHBOARD_AUTHORITY")?;
    let client_id = get("DASHBOARD_CLIENT_ID");
    let redirect_url = url_var("DASHBOARD_REDIRECT_URL")?;
    let (authority, client_id, redirect_url) = match (authority, client_id, redirect_url) {
        (Some(authority), Some(client_id), Some(redirect_url)) => {
            (authority, client_id, redirect_url)
        }
        (None, None, None) if SIGN_IN_VARIABLES.iter().all(|name| get(name).is_none()) => {
            // Say what to set, both ways, rather than complain about one variable of a group
            // nobody meant to set.
            return Err(problem("DASHBOARD_DEMO", NOTHING_CONFIGURED));
        }
        (authority, client_id, redirect_url) => {
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
                "is missing: DASHBOARD_AUTHORITY, DASHBOARD_CLIENT_ID and DASHBOARD_REDIRECT_URL go together (set all three, or DASHBOARD_DEMO=true for demo mode)",
            ));
        }
    };
    require_https_upstream("DASHBOARD_AUTHORITY", &authority)?;
    if uuid::Uuid::try_parse(client_id.trim()).is_err() {
        return Err(problem(
            "DASHBOARD_CLIENT_ID",
            format!("'{client_id}' is not a GUID (the application (client) id)"),
        ));
    }
    let partner_tenant_id = partner_tenant(&authority, get("DASHBOARD_PARTNER_TENANT_ID"))?;
    Ok(Endpoints {
        authority,
        client_id: client_id.trim().to_string(),
        client_secret: get("DASHBOARD_CLIENT_SECRET"),
        redirect_url,
        partner_center_url: upstream_var(
            "DASHBOARD_PARTNER_CENTER_URL",
            DEFAULT_PARTNER_CENTER_URL,
        )?,
        admin_api_url: upstream_var("DASHBOARD_ADMIN_API_URL", DEFAULT_ADMIN_API_URL)?,
        graph_url: upstream_var("DASHBOARD_GRAPH_URL", DEFAULT_GRAPH_URL)?,
        partner_tenant_id,
    })
}

/// The tenant whose admins may sign in: the authority's tenant segment (the last one before
/// `v2.0`) when it is a GUID, else (`organizations`, `common`, a domain name)
/// `DASHBOARD_PARTNER_TENANT_ID`, which is then required: without it any Entra tenant's user
/// could sign in.
fn partner_tenant(authority: &Url, configured: Option<String>) -> Result<String, ConfigError> {
    // `…/{tenant}/v2.0` (Microsoft: the first segment; the simulator has a prefix).
    let segment = authority
        .path_segments()
        .and_then(|mut segments| {
            segments.rfind(|s| !s.is_empty() && !s.eq_ignore_ascii_case("v2.0"))
        })
        .unwrap_or_default();
    let from_authority = uuid::Uuid::try_parse(segment).ok();
    let configured = match configured {
        Some(value) => Some(uuid::Uuid::try_parse(value.trim()).map_err(|_| {
            problem(
                "DASHBOARD_PARTNER_TENANT_ID",
                format!("'{value}' is not a GUID (the partner tenant's id)"),
            )
        })?),
        None => None,
    };
    let tenant = match (from_authority, configured) {
        (Some(a), Some(c)) if a != c => {
            return Err(problem(
                "DASHBOARD_PARTNER_TENANT_ID",
                format!("'{c}' is not the tenant of DASHBOARD_AUTHORITY ({a})"),
            ))
        }
        (Some(tenant), _) | (None, Some(tenant)) => tenant,
        (None, None) => {
            return Err(problem(
                "DASHBOARD_PARTNER_TENANT_ID",
                format!(
                    "is required: the authority's tenant '{segment}' is not a tenant id, so \
                     the partner tenant's GUID must be given (only its admins may sign in)"
                ),
            ))
        }
    };
    Ok(tenant.hyphenated().to_string())
}

/// Tokens and partner data travel to these addresses: TLS, except to this machine (tests
/// point the dashboard at a standalone simulator on loopback).
fn require_https_upstream(name: &'static str, url: &Url) -> Result<(), ConfigError> {
    if url.scheme() == "https" || is_loopback_host(url) {
        return Ok(());
    }
    Err(problem(
        name,
        format!("'{url}' must be https (plain http is only accepted for loopback addresses)"),
    ))
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Demo mode signs anyone in without a password: it must not be reachable from elsewhere, nor
/// share a production database or key.
fn refuse_unsafe_demo(
    bind_addr: &SocketAddr,
    public_url: &Url,
    database_url: &str,
    token_key_set: bool,
) -> Result<(), ConfigError> {
    let refuse = |variable: &'static str, what: String| {
        Err(problem(
            variable,
            format!("{what}: refused because DASHBOARD_DEMO=true (demo mode signs anyone in without a password)"),
        ))
    };
    if !bind_addr.ip().is_loopback() {
        return refuse(
            "DASHBOARD_BIND_ADDR",
            format!("{bind_addr} is not a loopback address (use 127.0.0.1 or [::1])"),
        );
    }
    if public_url.scheme() == "https" || !is_loopback_host(public_url) {
        return refuse(
            "DASHBOARD_PUBLIC_URL",
            format!("{public_url} is not a plain http loopback address"),
        );
    }
    if !database_url.starts_with("sqlite:") {
        return refuse(
            "DASHBOARD_DATABASE_URL",
            "a PostgreSQL database (demo data lives in SQLite)".to_string(),
        );
    }
    if token_key_set {
        return refuse(
            "DASHBOARD_TOKEN_ENCRYPTION_KEY",
            "a token encryption key is set (demo mode keeps its own beside the database)"
                .to_string(),
        );
    }
    Ok(())
}

/// Demo mode keeps its generated key next to its SQLite database (`data/` by default).
fn demo_key_file(database_url: &str) -> PathBuf {
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|path| !path.is_empty() && !path.starts_with(':'));
    let dir = path
        .and_then(|path| std::path::Path::new(path).parent())
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("data"), std::path::Path::to_path_buf);
    dir.join("token-encryption.key")
}

/// The metrics listener's address: its own port, so `/metrics` is never served where the
/// dashboard is.
fn metrics_addr(value: &str, bind_addr: &SocketAddr) -> Result<SocketAddr, ConfigError> {
    let addr = value.trim().parse::<SocketAddr>().map_err(|_| {
        problem(
            "DASHBOARD_METRICS_ADDR",
            format!("'{value}' is not an address like 127.0.0.1:9464"),
        )
    })?;
    let same_ip = addr.ip() == bind_addr.ip()
        || addr.ip().is_unspecified()
        || bind_addr.ip().is_unspecified();
    if addr.port() == bind_addr.port() && same_ip {
        return Err(problem(
            "DASHBOARD_METRICS_ADDR",
            format!("{addr} is where the dashboard listens (DASHBOARD_BIND_ADDR): metrics need an address of their own"),
        ));
    }
    Ok(addr)
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
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
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

    fn demo(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![("DASHBOARD_DEMO", "true")];
        all.extend_from_slice(vars);
        config(&all)
    }

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const TENANT: &str = "4b6f1c2d-8e9a-4f01-b234-56789abcdef0";
    const CLIENT: &str = "7d8a8e0c-1b2c-4d5e-8f90-a1b2c3d4e5f6";

    /// A complete sign-in configuration; `overrides` replace or add variables.
    fn signed_in(overrides: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars: HashMap<&str, &str> = [
            (
                "DASHBOARD_AUTHORITY",
                "https://login.microsoftonline.com/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
            ),
            ("DASHBOARD_CLIENT_ID", CLIENT),
            (
                "DASHBOARD_REDIRECT_URL",
                "https://dash.example.com/auth/callback",
            ),
            ("DASHBOARD_TOKEN_ENCRYPTION_KEY", KEY),
        ]
        .into_iter()
        .collect();
        vars.extend(overrides.iter().copied());
        let vars: Vec<(&str, &str)> = vars.into_iter().collect();
        config(&vars)
    }

    #[test]
    fn demo_mode_only_when_asked_for() {
        let c = demo(&[]).unwrap();
        assert!(c.is_demo());
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert!(!c.secure_cookies());
        assert_eq!(
            c.token_key,
            TokenKeySource::File(PathBuf::from("data/token-encryption.key"))
        );

        let c = demo(&[("DASHBOARD_DATABASE_URL", "sqlite:///tmp/x/demo.db?mode=rwc")]).unwrap();
        assert_eq!(
            c.token_key,
            TokenKeySource::File(PathBuf::from("/tmp/x/token-encryption.key")),
            "the demo key lives beside the demo database"
        );

        let c = demo(&[("DASHBOARD_BIND_ADDR", "[::1]:3001")]).unwrap();
        assert_eq!(c.public_url.as_str(), "http://[::1]:3001/");
    }

    #[test]
    fn nothing_configured_says_what_to_set() {
        for vars in [
            &[][..],
            &[("DASHBOARD_DEMO", "false")][..],
            &[("DASHBOARD_DATABASE_URL", "sqlite://data/x.db")][..],
        ] {
            let err = config(vars).unwrap_err();
            assert_eq!(err.variable, "DASHBOARD_DEMO", "{err}");
            let text = err.to_string();
            for option in [
                "DASHBOARD_DEMO=true",
                "DASHBOARD_AUTHORITY",
                "DASHBOARD_CLIENT_ID",
                "DASHBOARD_REDIRECT_URL",
                "DASHBOARD_TOKEN_ENCRYPTION_KEY",
            ] {
                assert!(text.contains(option), "{option} missing from: {text}");
            }
        }
        let err = config(&[("DASHBOARD_DEMO", "maybe")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_DEMO");
    }

    #[test]
    fn demo_mode_refuses_every_unsafe_setting() {
        let refused = [
            (
                ("DASHBOARD_DATABASE_URL", "postgres://db.example.com/dash"),
                "DASHBOARD_DATABASE_URL",
            ),
            (
                ("DASHBOARD_DATABASE_URL", "postgresql://localhost/dash"),
                "DASHBOARD_DATABASE_URL",
            ),
            (
                ("DASHBOARD_BIND_ADDR", "0.0.0.0:3000"),
                "DASHBOARD_BIND_ADDR",
            ),
            (("DASHBOARD_BIND_ADDR", "[::]:3000"), "DASHBOARD_BIND_ADDR"),
            (
                ("DASHBOARD_BIND_ADDR", "10.1.2.3:3000"),
                "DASHBOARD_BIND_ADDR",
            ),
            (("LEPTOS_SITE_ADDR", "0.0.0.0:3000"), "DASHBOARD_BIND_ADDR"),
            (
                ("DASHBOARD_PUBLIC_URL", "https://dash.example.com/"),
                "DASHBOARD_PUBLIC_URL",
            ),
            (
                ("DASHBOARD_PUBLIC_URL", "https://127.0.0.1:3000/"),
                "DASHBOARD_PUBLIC_URL",
            ),
            (
                ("DASHBOARD_PUBLIC_URL", "http://dash.example.com/"),
                "DASHBOARD_PUBLIC_URL",
            ),
            (
                ("DASHBOARD_TOKEN_ENCRYPTION_KEY", KEY),
                "DASHBOARD_TOKEN_ENCRYPTION_KEY",
            ),
        ];
        for ((name, value), variable) in refused {
            let err = demo(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, variable, "{name}={value}: {err}");
            assert!(
                err.to_string().contains("DASHBOARD_DEMO"),
                "{name}={value}: the refusal names DASHBOARD_DEMO: {err}"
            );
        }
        // Loopback in all its spellings is fine.
        demo(&[("DASHBOARD_BIND_ADDR", "127.0.0.2:3000")]).unwrap();
        demo(&[("DASHBOARD_PUBLIC_URL", "http://localhost:3000/")]).unwrap();
    }

    #[test]
    fn demo_mode_refuses_sign_in_configuration() {
        for name in SIGN_IN_VARIABLES {
            let value = if name.ends_with("_URL") || name.ends_with("AUTHORITY") {
                "https://login.example.com/x"
            } else {
                TENANT
            };
            let err = demo(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, "DASHBOARD_DEMO", "{name}: {err}");
            assert!(err.to_string().contains(name), "{err}");
        }
        // Everything at once, as a production .env with DASHBOARD_DEMO=true added by mistake.
        let err = signed_in(&[("DASHBOARD_DEMO", "true")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_DEMO");
    }

    #[test]
    fn full_configuration_talks_to_microsoft() {
        let c = signed_in(&[
            ("DASHBOARD_CLIENT_SECRET", "s3cret"),
            ("DASHBOARD_DATABASE_URL", "postgres://localhost/dash"),
            ("DASHBOARD_BIND_ADDR", "0.0.0.0:8080"),
        ])
        .unwrap();
        let Upstream::Configured(endpoints) = &c.upstream else {
            panic!("expected configured upstream");
        };
        assert_eq!(
            endpoints.partner_center_url.as_str(),
            DEFAULT_PARTNER_CENTER_URL
        );
        assert_eq!(endpoints.partner_tenant_id, TENANT);
        assert_eq!(c.public_url.as_str(), "https://dash.example.com/");
        assert!(c.secure_cookies());
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "secret leaked into Debug"
        );
        assert!(!format!("{c:?}").contains(KEY));
        assert_eq!(c.session_max_age, Duration::from_secs(12 * 3600));
    }

    #[test]
    fn upstream_addresses_must_be_https_except_on_loopback() {
        for name in [
            "DASHBOARD_AUTHORITY",
            "DASHBOARD_PARTNER_CENTER_URL",
            "DASHBOARD_ADMIN_API_URL",
        ] {
            for plain in [
                "http://login.example.com/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
                "http://10.0.0.5/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
                "http://localhost.example.com/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
            ] {
                let err = signed_in(&[(name, plain)]).unwrap_err();
                assert_eq!(err.variable, name, "{plain}: {err}");
                assert!(err.to_string().contains("https"), "{err}");
            }
            for loopback in [
                "http://127.0.0.1:4010/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
                "http://127.8.9.10:4010/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
                "http://[::1]:4010/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
                "http://localhost:4010/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
            ] {
                signed_in(&[(name, loopback)]).unwrap();
            }
        }
    }

    #[test]
    fn the_partner_tenant_comes_from_the_authority_or_must_be_given() {
        for authority in [
            "https://login.microsoftonline.com/organizations/v2.0",
            "https://login.microsoftonline.com/common/v2.0",
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
        ] {
            let err = signed_in(&[("DASHBOARD_AUTHORITY", authority)]).unwrap_err();
            assert_eq!(err.variable, "DASHBOARD_PARTNER_TENANT_ID", "{authority}");
        }
        let err = signed_in(&[
            (
                "DASHBOARD_AUTHORITY",
                "https://login.microsoftonline.com/organizations/v2.0",
            ),
            ("DASHBOARD_PARTNER_TENANT_ID", "contoso"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_PARTNER_TENANT_ID");
        // A tenant id that contradicts the authority's.
        let err = signed_in(&[(
            "DASHBOARD_PARTNER_TENANT_ID",
            "00000000-0000-4000-8000-000000000001",
        )])
        .unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_PARTNER_TENANT_ID");
    }

    #[test]
    fn partner_tenant_values() {
        let tenant_of = |c: Config| match c.upstream {
            Upstream::Configured(e) => e.partner_tenant_id,
            Upstream::Demo => panic!("demo"),
        };
        let c = signed_in(&[
            (
                "DASHBOARD_AUTHORITY",
                "https://login.microsoftonline.com/organizations/v2.0",
            ),
            (
                "DASHBOARD_PARTNER_TENANT_ID",
                "4B6F1C2D-8E9A-4F01-B234-56789ABCDEF0",
            ),
        ])
        .unwrap();
        assert_eq!(tenant_of(c), TENANT, "normalised to lower case");
        let c = signed_in(&[("DASHBOARD_PARTNER_TENANT_ID", TENANT)]).unwrap();
        assert_eq!(tenant_of(c), TENANT);
        // A standalone simulator's authority has a path prefix before the tenant.
        let c = signed_in(&[(
            "DASHBOARD_AUTHORITY",
            "http://127.0.0.1:4010/_sim/login/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
        )])
        .unwrap();
        assert_eq!(tenant_of(c), TENANT);
    }

    #[test]
    fn session_lifetime_is_bounded() {
        for bad in ["0", "169", "12h", "-1"] {
            let err = signed_in(&[("DASHBOARD_SESSION_MAX_HOURS", bad)]).unwrap_err();
            assert_eq!(err.variable, "DASHBOARD_SESSION_MAX_HOURS", "{bad}");
        }
    }

    #[test]
    fn session_lifetime_values() {
        let c = signed_in(&[("DASHBOARD_SESSION_MAX_HOURS", "1")]).unwrap();
        assert_eq!(c.session_max_age, Duration::from_secs(3600));
        let c = signed_in(&[("DASHBOARD_SESSION_MAX_HOURS", "168")]).unwrap();
        assert_eq!(c.session_max_age, Duration::from_secs(168 * 3600));
        assert_eq!(
            demo(&[]).unwrap().session_max_age,
            Duration::from_secs(12 * 3600)
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let err =
            config(&[("DASHBOARD_AUTHORITY", "https://login.example.com/t/v2.0")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_CLIENT_ID");

        let err = config(&[("DASHBOARD_CLIENT_SECRET", "s3cret")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_AUTHORITY");

        let err = demo(&[("DASHBOARD_BIND_ADDR", "localhost")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_BIND_ADDR");

        let err = demo(&[("DASHBOARD_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_DATABASE_URL");

        let err = demo(&[("DASHBOARD_CPV_APPLICATION_ID", "not-a-guid")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_CPV_APPLICATION_ID");

        let err = signed_in(&[("DASHBOARD_TOKEN_ENCRYPTION_KEY", "c2hvcnQ=")]).unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");

        let err = signed_in(&[("DASHBOARD_AUTHORITY", "ftp://login.example.com")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_AUTHORITY");

        let err = config(&[
            (
                "DASHBOARD_AUTHORITY",
                "https://login.example.com/4b6f1c2d-8e9a-4f01-b234-56789abcdef0/v2.0",
            ),
            ("DASHBOARD_CLIENT_ID", CLIENT),
            (
                "DASHBOARD_REDIRECT_URL",
                "https://dash.example.com/auth/callback",
            ),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_TOKEN_ENCRYPTION_KEY");

        let err =
            config(&[("DASHBOARD_PARTNER_CENTER_URL", "https://pc.example.com/v1")]).unwrap_err();
        assert_eq!(err.variable, "DASHBOARD_AUTHORITY");
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
            (
                "DASHBOARD_PARTNER_TENANT_ID",
                "0b9a4e2c-6d1f-4a8e-9c3b-5f7e2d1a0c4b",
            ),
        ];
        let c = config(&microsoft).unwrap();
        let Upstream::Configured(endpoints) = &c.upstream else {
            panic!("expected configured upstream");
        };
        assert_eq!(endpoints.graph_url.as_str(), DEFAULT_GRAPH_URL);
        assert_eq!(c.graph_audience, "https://graph.microsoft.com");
        assert_eq!(demo(&[]).unwrap().graph_audience, DEFAULT_GRAPH_AUDIENCE);

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
        // In demo mode Graph is the simulator's: a URL is a mistake, named.
        let err = demo(&[("DASHBOARD_GRAPH_URL", "https://graph.microsoft.com/v1.0")]).unwrap_err();
        assert!(err.problem.contains("DASHBOARD_GRAPH_URL"), "{err}");
    }

    #[test]
    fn job_settings_have_safe_defaults_and_clear_errors() {
        let c = demo(&[("DASHBOARD_BIND_ADDR", "127.0.0.1:3107")]).unwrap();
        assert_eq!(c.consent_rate_limit_per_second, 50);
        assert!(!c.review_four_eyes);
        assert!(c.instance_id.contains(":3107:"), "{}", c.instance_id);
        let again = demo(&[("DASHBOARD_BIND_ADDR", "127.0.0.1:3107")]).unwrap();
        assert_ne!(c.instance_id, again.instance_id, "unique per process");

        let c = demo(&[
            ("DASHBOARD_CONSENT_RATE_LIMIT", "20"),
            ("DASHBOARD_REVIEW_FOUR_EYES", "true"),
            ("DASHBOARD_INSTANCE_ID", "blue"),
        ])
        .unwrap();
        assert_eq!(c.consent_rate_limit_per_second, 20);
        assert!(c.review_four_eyes);
        assert_eq!(c.instance_id, "blue");

        for bad in ["0", "51", "fast"] {
            let e = demo(&[("DASHBOARD_CONSENT_RATE_LIMIT", bad)]).unwrap_err();
            assert_eq!(e.variable, "DASHBOARD_CONSENT_RATE_LIMIT");
        }
        let e = demo(&[("DASHBOARD_REVIEW_FOUR_EYES", "maybe")]).unwrap_err();
        assert_eq!(e.variable, "DASHBOARD_REVIEW_FOUR_EYES");
    }

    #[test]
    fn metrics_are_off_unless_given_an_address_of_their_own() {
        assert_eq!(demo(&[]).unwrap().metrics_addr, None);
        let c = signed_in(&[("DASHBOARD_METRICS_ADDR", "0.0.0.0:9464")]).unwrap();
        assert_eq!(c.metrics_addr, Some("0.0.0.0:9464".parse().unwrap()));
        for bad in ["9464", "localhost:9464", "127.0.0.1:3000", "0.0.0.0:3000"] {
            let e = demo(&[("DASHBOARD_METRICS_ADDR", bad)]).unwrap_err();
            assert_eq!(e.variable, "DASHBOARD_METRICS_ADDR", "{bad}");
        }
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(demo(&[]).unwrap().log_format, LogFormat::Text);
        for (value, format) in [
            ("text", LogFormat::Text),
            ("json", LogFormat::Json),
            (" JSON ", LogFormat::Json),
        ] {
            let c = demo(&[("DASHBOARD_LOG_FORMAT", value)]).unwrap();
            assert_eq!(c.log_format, format, "{value}");
        }
        for bad in ["xml", "logfmt", "true"] {
            let e = demo(&[("DASHBOARD_LOG_FORMAT", bad)]).unwrap_err();
            assert_eq!(e.variable, "DASHBOARD_LOG_FORMAT");
            assert!(
                e.problem.contains("text") && e.problem.contains("json"),
                "{e}"
            );
        }
    }
}
