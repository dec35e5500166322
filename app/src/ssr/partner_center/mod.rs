//! The typed client for Partner Center and the Partner Customer Administration API. Every call
//! carries the signed-in admin's token, a fresh MS-RequestId (or the caller's, when retrying a
//! write) and the operation's MS-CorrelationId.

pub mod models;

use crate::error::AppError;
use crate::ids::Guid;
use crate::ssr::auth::tokens::{AccessToken, Bearer};
use crate::ssr::telemetry::{self, Api};
use backon::{ExponentialBuilder, Retryable};
use models::{
    Collection, CustomerUser, DelegatedAdminCustomer, DirectoryRole, ODataPage,
    PartnerCenterErrorBody, UserMember,
};
use reqwest::{Method, StatusCode};
use std::time::Duration;
use url::Url;

/// Largest page the delegated-admin customers API serves.
pub const MAX_PAGE_SIZE: u32 = 300;
const MAX_COLLECTION_PAGES: usize = 1_000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("{status}: {message}")]
    Status {
        status: u16,
        code: Option<String>,
        message: String,
        request_id: String,
        correlation_id: String,
        retry_after: Option<Duration>,
    },
    #[error("no answer from {host}: {detail}")]
    Transport {
        host: String,
        detail: String,
        timeout: bool,
    },
    #[error("unreadable answer: {0}")]
    Decode(String),
    #[error("refused to follow a link to another host: {0}")]
    ForeignLink(String),
}

impl UpstreamError {
    /// Worth retrying with the same MS-RequestId: throttling, server errors, lost connections.
    pub fn is_transient(&self) -> bool {
        match self {
            UpstreamError::Status { status, .. } => *status == 429 || *status >= 500,
            UpstreamError::Transport { .. } => true,
            UpstreamError::Decode(_) | UpstreamError::ForeignLink(_) => false,
        }
    }

    /// The wait the service asked for (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            UpstreamError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Partner Center's refusal of a token issued without multi-factor authentication: 401
    /// with code 10001, "Authentication failed. MFA required." A new sign-in with MFA fixes it.
    pub fn is_mfa_required(&self) -> bool {
        match self {
            UpstreamError::Status {
                status: 401,
                code,
                message,
                ..
            } => code.as_deref() == Some("10001") || message.contains("MFA required"),
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A 401 for the token itself (lapsed, revoked), which a renewed token can fix; the MFA
    /// refusal needs a new sign-in instead.
    pub fn refuses_the_token(&self) -> bool {
        self.status() == Some(401) && !self.is_mfa_required()
    }
}

impl From<UpstreamError> for AppError {
    fn from(error: UpstreamError) -> Self {
        if error.is_mfa_required() {
            let correlation_id = match &error {
                UpstreamError::Status { correlation_id, .. } => Some(correlation_id.clone()),
                _ => None,
            };
            return AppError::MfaRequired { correlation_id };
        }
        match error {
            UpstreamError::Status {
                status,
                code,
                message,
                correlation_id,
                retry_after,
                ..
            } => {
                let correlation_id = Some(correlation_id);
                match status {
                    // Our token was refused: the fix is a new sign-in.
                    401 => AppError::SignInRequired {
                        reason: format!("Partner Center refused the token: {message}"),
                    },
                    403 => AppError::Forbidden {
                        message,
                        correlation_id,
                    },
                    404 => AppError::NotFound { what: message },
                    429 => AppError::Throttled {
                        retry_after_secs: retry_after.map_or(1, |d| d.as_secs().max(1)),
                        correlation_id,
                    },
                    400 => AppError::InvalidInput(message),
                    _ => AppError::Upstream {
                        status,
                        code,
                        message,
                        correlation_id,
                    },
                }
            }
            UpstreamError::Transport { detail, host, .. } => {
                AppError::Unreachable(format!("{host}: {detail}"))
            }
            UpstreamError::Decode(detail) => AppError::Upstream {
                status: 200,
                code: None,
                message: format!("unreadable answer: {detail}"),
                correlation_id: None,
            },
            UpstreamError::ForeignLink(link) => AppError::Internal(format!(
                "the API pointed to another host ({link}); not followed"
            )),
        }
    }
}

/// Attempts per call before giving up (the first try included).
pub const ATTEMPTS: usize = 4;

/// Attempts per bulk-job call while the service answers 429. A 429 applied nothing and says
/// when to come back, so waiting longer is safe: with 10 % of calls throttled at random, four
/// attempts would still fail one item in 10,000 (about one 1,000-customer job in ten).
pub const THROTTLED_ATTEMPTS: usize = 8;

/// The waits between attempts: exponential from 200 ms to 10 s, with jitter, `ATTEMPTS - 1` of
/// them. Bulk jobs walk the same sequence themselves, to audit each attempt.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_max_times(ATTEMPTS - 1)
        .with_jitter()
}

/// The longest `Retry-After` anything here sleeps on. An admin waiting on a page should not
/// wait minutes, and a bulk job would hold its claim doing nothing: a longer one is answered as
/// "throttled, try again in N s" (interactive calls) or puts the job's item off (bulk jobs).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Worth another try right away (after the backoff): transient, and not asking to wait longer
/// than [`MAX_RETRY_AFTER`].
fn worth_waiting_for(error: &UpstreamError) -> bool {
    error.is_transient()
        && error
            .retry_after()
            .is_none_or(|asked| asked <= MAX_RETRY_AFTER)
}

/// Transient failures (429, 5xx, lost connections) are retried with exponential backoff and
/// jitter, waiting at least what `Retry-After` asks, unless it asks for more than
/// [`MAX_RETRY_AFTER`]: then the 429 is the answer.
pub async fn retrying<T, F, Fut>(call: F) -> Result<T, UpstreamError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, UpstreamError>>,
{
    call.retry(backoff())
        .when(worth_waiting_for)
        .adjust(|error, backoff| match (error.retry_after(), backoff) {
            (Some(asked), Some(planned)) => Some(asked.max(planned)),
            (_, planned) => planned,
        })
        .notify(|error, wait| telemetry::retry(Api::PartnerCenter, wait, error.retry_after()))
        .await
}

/// Ids that tie the calls of one user operation together, and make a retried write idempotent.
#[derive(Debug, Clone)]
pub struct CallIds {
    pub request_id: Guid,
    pub correlation_id: Guid,
}

impl CallIds {
    pub fn new(correlation_id: Guid) -> Self {
        CallIds {
            request_id: Guid::new_v4(),
            correlation_id,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PartnerCenterClient {
    http: reqwest::Client,
    partner_center_url: Url,
    admin_api_url: Url,
}

impl PartnerCenterClient {
    pub fn new(http: reqwest::Client, partner_center_url: Url, admin_api_url: Url) -> Self {
        PartnerCenterClient {
            http,
            partner_center_url,
            admin_api_url,
        }
    }

    /// One page of delegated-admin customers: the first when `next_link` is None.
    pub async fn delegated_admin_customers_page(
        &self,
        token: &AccessToken,
        correlation_id: Guid,
        next_link: Option<&str>,
        page_size: u32,
    ) -> Result<ODataPage<DelegatedAdminCustomer>, UpstreamError> {
        let url = match next_link {
            Some(link) => self.same_origin_link(link)?,
            None => {
                let mut url = join(&self.admin_api_url, "delegatedAdminCustomers");
                url.query_pairs_mut()
                    .append_pair("$top", &page_size.clamp(1, MAX_PAGE_SIZE).to_string());
                url
            }
        };
        self.get_json(token, url, correlation_id).await
    }

    /// One page by offset, for fetching pages concurrently; with `count`, the page carries the
    /// total (`@odata.count`).
    pub async fn delegated_admin_customers_at(
        &self,
        token: &AccessToken,
        correlation_id: Guid,
        skip: usize,
        page_size: u32,
        count: bool,
    ) -> Result<ODataPage<DelegatedAdminCustomer>, UpstreamError> {
        let mut url = join(&self.admin_api_url, "delegatedAdminCustomers");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("$top", &page_size.clamp(1, MAX_PAGE_SIZE).to_string());
            if skip > 0 {
                query.append_pair("$skip", &skip.to_string());
            }
            if count {
                query.append_pair("$count", "true");
            }
        }
        self.get_json(token, url, correlation_id).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        token: &AccessToken,
        url: Url,
        correlation_id: Guid,
    ) -> Result<T, UpstreamError> {
        self.send_json(
            token,
            Method::GET,
            url,
            &CallIds::new(correlation_id),
            None::<&()>,
        )
        .await
    }

    /// `GET customers/{cid}/directoryroles`.
    pub async fn directory_roles(
        &self,
        token: &AccessToken,
        correlation_id: Guid,
        customer: Guid,
    ) -> Result<Vec<DirectoryRole>, UpstreamError> {
        self.collection(
            token,
            correlation_id,
            &format!("customers/{customer}/directoryroles"),
        )
        .await
    }

    /// `GET customers/{cid}/directoryroles/{role}/usermembers`.
    pub async fn role_members(
        &self,
        token: &AccessToken,
        correlation_id: Guid,
        customer: Guid,
        role: Guid,
    ) -> Result<Vec<UserMember>, UpstreamError> {
        self.collection(
            token,
            correlation_id,
            &format!("customers/{customer}/directoryroles/{role}/usermembers"),
        )
        .await
    }

    /// `GET customers/{cid}/users`, every page.
    pub async fn customer_users(
        &self,
        token: &AccessToken,
        correlation_id: Guid,
        customer: Guid,
    ) -> Result<Vec<CustomerUser>, UpstreamError> {
        self.collection(
            token,
            correlation_id,
            &format!("customers/{customer}/users"),
        )
        .await
    }

    /// `POST customers/{cid}/directoryroles/{role}/usermembers` (201). Retried calls must reuse
    /// `ids` so Partner Center applies the write once.
    pub async fn add_role_member(
        &self,
        token: &AccessToken,
        ids: &CallIds,
        customer: Guid,
        role: Guid,
        member: &models::NewRoleMember,
    ) -> Result<(), UpstreamError> {
        let url = self.partner_center_url(&format!(
            "customers/{customer}/directoryroles/{role}/usermembers"
        ));
        self.send(token, Method::POST, url, ids, Some(member))
            .await
            .map(drop)
    }

    /// `DELETE customers/{cid}/directoryroles/{role}/usermembers/{user}` (204).
    pub async fn remove_role_member(
        &self,
        token: &AccessToken,
        ids: &CallIds,
        customer: Guid,
        role: Guid,
        user: Guid,
    ) -> Result<(), UpstreamError> {
        let url = self.partner_center_url(&format!(
            "customers/{customer}/directoryroles/{role}/usermembers/{user}"
        ));
        self.send(token, Method::DELETE, url, ids, None::<&()>)
            .await
            .map(drop)
    }

    /// `PATCH customers/{cid}` with `AllowDelegatedAccess: false`: removes DAP (200).
    pub async fn remove_dap(
        &self,
        token: &AccessToken,
        ids: &CallIds,
        customer: Guid,
    ) -> Result<(), UpstreamError> {
        let url = self.partner_center_url(&format!("customers/{customer}"));
        let body = serde_json::json!({
            "AllowDelegatedAccess": false,
            "attributes": {"objectType": "Customer"},
        });
        self.send(token, Method::PATCH, url, ids, Some(&body))
            .await
            .map(drop)
    }

    /// A Partner Center collection, following `links.next` (with the headers it names, such as
    /// MS-ContinuationToken) to the end.
    async fn collection<T: serde::de::DeserializeOwned>(
        &self,
        token: &AccessToken,
        correlation_id: Guid,
        path: &str,
    ) -> Result<Vec<T>, UpstreamError> {
        let mut items = Vec::new();
        let mut url = self.partner_center_url(path);
        let mut headers = Vec::new();
        // A bound on pages guards against a service that keeps answering with a next link.
        for _ in 0..MAX_COLLECTION_PAGES {
            let ids = CallIds::new(correlation_id);
            let response = self
                .send_with_headers(token, Method::GET, url, &ids, None::<&()>, &headers)
                .await?;
            let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
            let page: Collection<T> =
                serde_json::from_slice(&bytes).map_err(|e| UpstreamError::Decode(e.to_string()))?;
            let empty = page.items.is_empty();
            items.extend(page.items);
            match page.links.and_then(|links| links.next) {
                Some(next) if !empty => {
                    url = self.partner_center_link(&next.uri)?;
                    headers = next.headers.into_iter().map(|h| (h.key, h.value)).collect();
                }
                _ => return Ok(items),
            }
        }
        Err(UpstreamError::Decode(format!(
            "{path}: more than {MAX_COLLECTION_PAGES} pages"
        )))
    }

    /// Partner Center's next links are paths relative to the versioned base ("/customers/…").
    fn partner_center_link(&self, uri: &str) -> Result<Url, UpstreamError> {
        if uri.starts_with('/') {
            let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
            let mut url = join(&self.partner_center_url, path);
            url.set_query((!query.is_empty()).then_some(query));
            return Ok(url);
        }
        let url = Url::parse(uri)
            .map_err(|_| UpstreamError::ForeignLink(uri.chars().take(200).collect()))?;
        if url.origin() != self.partner_center_url.origin() {
            return Err(UpstreamError::ForeignLink(
                url.origin().ascii_serialization(),
            ));
        }
        Ok(url)
    }

    /// A next link is followed only on the API's own origin: the token must not travel elsewhere.
    fn same_origin_link(&self, link: &str) -> Result<Url, UpstreamError> {
        let url = self
            .admin_api_url
            .join(link)
            .map_err(|_| UpstreamError::ForeignLink(link.chars().take(200).collect()))?;
        if url.origin() != self.admin_api_url.origin() {
            return Err(UpstreamError::ForeignLink(
                url.origin().ascii_serialization(),
            ));
        }
        Ok(url)
    }

    pub fn partner_center_url(&self, path: &str) -> Url {
        join(&self.partner_center_url, path)
    }

    /// Sends one request and decodes a JSON answer, mapping every failure to `UpstreamError`.
    pub async fn send_json<T: serde::de::DeserializeOwned, B: serde::Serialize + ?Sized>(
        &self,
        token: &AccessToken,
        method: Method,
        url: Url,
        ids: &CallIds,
        body: Option<&B>,
    ) -> Result<T, UpstreamError> {
        let response = self.send(token, method, url, ids, body).await?;
        let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| UpstreamError::Decode(e.to_string()))
    }

    /// Sends one request; a non-success status becomes `UpstreamError::Status`.
    pub async fn send<B: serde::Serialize + ?Sized>(
        &self,
        token: &AccessToken,
        method: Method,
        url: Url,
        ids: &CallIds,
        body: Option<&B>,
    ) -> Result<reqwest::Response, UpstreamError> {
        self.send_with_headers(token, method, url, ids, body, &[])
            .await
    }

    async fn send_with_headers<B: serde::Serialize + ?Sized>(
        &self,
        token: &AccessToken,
        method: Method,
        url: Url,
        ids: &CallIds,
        body: Option<&B>,
        extra_headers: &[(String, String)],
    ) -> Result<reqwest::Response, UpstreamError> {
        // A refused token did nothing upstream, so the same request (same MS-RequestId) goes
        // once more with a renewed one.
        token
            .renewing(UpstreamError::refuses_the_token, |bearer| {
                self.send_once(bearer, &method, &url, ids, body, extra_headers)
            })
            .await
    }

    async fn send_once<B: serde::Serialize + ?Sized>(
        &self,
        bearer: Bearer,
        method: &Method,
        url: &Url,
        ids: &CallIds,
        body: Option<&B>,
        extra_headers: &[(String, String)],
    ) -> Result<reqwest::Response, UpstreamError> {
        let operation = telemetry::operation(
            method.as_str(),
            url,
            &[&self.partner_center_url, &self.admin_api_url],
        );
        let started = std::time::Instant::now();
        let mut request = bearer
            .authorize(self.http.request(method.clone(), url.clone()))
            .header("Accept", "application/json")
            .header("MS-RequestId", ids.request_id.to_string())
            .header("MS-CorrelationId", ids.correlation_id.to_string())
            .header("X-Locale", "en-US");
        for (name, value) in extra_headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let sent = request.send().await;
        let status = telemetry::upstream_answer(Api::PartnerCenter, &operation, &sent, started);
        telemetry::record_correlation_id(&ids.correlation_id);
        tracing::debug!(
            operation,
            status = status.unwrap_or_default(),
            ms_request_id = %ids.request_id,
            ms_correlation_id = %ids.correlation_id,
            "Partner Center call"
        );
        let response = sent.map_err(|e| UpstreamError::Transport {
            host: url.host_str().unwrap_or_default().to_string(),
            detail: describe_reqwest_error(&e),
            timeout: e.is_timeout(),
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(status_error(response, ids).await)
    }
}

fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

fn transport_error(e: &reqwest::Error) -> UpstreamError {
    UpstreamError::Transport {
        host: e
            .url()
            .and_then(|u| u.host_str())
            .unwrap_or_default()
            .to_string(),
        detail: describe_reqwest_error(e),
        timeout: e.is_timeout(),
    }
}

/// reqwest's Display hides the cause ("error sending request"); the chain says what happened.
fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "connection lost".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn status_error(response: reqwest::Response, ids: &CallIds) -> UpstreamError {
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let request_id = header("MS-RequestId").unwrap_or_else(|| ids.request_id.to_string());
    let correlation_id =
        header("MS-CorrelationId").unwrap_or_else(|| ids.correlation_id.to_string());
    let retry_after = header("Retry-After")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = response.bytes().await.unwrap_or_default();
    let body: PartnerCenterErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
    let (code, text) = match body.error {
        Some(odata) => (odata.code, odata.message),
        None => (body.code, body.description.or(body.message)),
    };
    let message = text
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.chars().take(1024).collect())
        .unwrap_or_else(|| default_message(status));
    UpstreamError::Status {
        status: status.as_u16(),
        code,
        message,
        request_id,
        correlation_id,
        retry_after,
    }
}

fn default_message(status: StatusCode) -> String {
    status
        .canonical_reason()
        .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_string)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    fn client() -> PartnerCenterClient {
        PartnerCenterClient::new(
            reqwest::Client::new(),
            Url::parse("https://api.partnercenter.microsoft.com/v1").unwrap(),
            Url::parse("https://admin.example.com/CustomerServiceAdminApi/Web/v1").unwrap(),
        )
    }

    #[test]
    fn joins_paths_under_the_base() {
        assert_eq!(
            client()
                .partner_center_url("customers/x/directoryroles")
                .as_str(),
            "https://api.partnercenter.microsoft.com/v1/customers/x/directoryroles"
        );
    }

    #[test]
    fn next_links_stay_on_the_api_origin() {
        let c = client();
        assert!(c
            .same_origin_link("https://admin.example.com/CustomerServiceAdminApi/Web/v1/delegatedAdminCustomers?$skip=300")
            .is_ok());
        assert!(c
            .same_origin_link("/CustomerServiceAdminApi/Web/v1/delegatedAdminCustomers?$skip=300")
            .is_ok());
        assert!(matches!(
            c.same_origin_link("https://evil.example.com/steal"),
            Err(UpstreamError::ForeignLink(_))
        ));
    }

    #[test]
    fn next_link_property_is_found_by_name() {
        let page: ODataPage<DelegatedAdminCustomer> = serde_json::from_str(
            r#"{"value": [], "@odata.nextLink": "https://admin.example.com/x?$skip=1"}"#,
        )
        .unwrap();
        assert_eq!(
            page.next_link(),
            Some("https://admin.example.com/x?$skip=1")
        );
        let page: ODataPage<DelegatedAdminCustomer> =
            serde_json::from_str(r#"{"value": [], "odata.nextLink": ""}"#).unwrap();
        assert_eq!(page.next_link(), None);
    }

    #[test]
    fn statuses_map_to_app_errors() {
        let status = |status: u16| UpstreamError::Status {
            status,
            code: None,
            message: "m".into(),
            request_id: "r".into(),
            correlation_id: "c".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(AppError::from(status(401)).needs_sign_in());
        let mfa = UpstreamError::Status {
            status: 401,
            code: Some("10001".into()),
            message: "Authentication failed. MFA required.".into(),
            request_id: "r".into(),
            correlation_id: "c".into(),
            retry_after: None,
        };
        let mapped = AppError::from(mfa);
        assert_eq!(
            mapped,
            AppError::MfaRequired {
                correlation_id: Some("c".into())
            }
        );
        assert!(mapped.needs_sign_in());
        assert!(mapped.to_string().contains("sign in again with MFA"));
        assert!(matches!(
            AppError::from(status(403)),
            AppError::Forbidden { .. }
        ));
        assert!(matches!(
            AppError::from(status(404)),
            AppError::NotFound { .. }
        ));
        assert_eq!(
            AppError::from(status(429)),
            AppError::Throttled {
                retry_after_secs: 7,
                correlation_id: Some("c".into())
            }
        );
        assert!(matches!(
            AppError::from(status(503)),
            AppError::Upstream { status: 503, .. }
        ));
        assert!(
            status(503).is_transient() && status(429).is_transient() && !status(400).is_transient()
        );
    }

    fn throttled(retry_after_secs: u64) -> UpstreamError {
        UpstreamError::Status {
            status: 429,
            code: Some("429".into()),
            message: "Rate limit is exceeded.".into(),
            request_id: "r".into(),
            correlation_id: "c".into(),
            retry_after: Some(Duration::from_secs(retry_after_secs)),
        }
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_is_answered_not_slept_on() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            retrying(|| async {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err::<(), _>(throttled(300))
            }),
        )
        .await
        .expect("slept on a Retry-After of 300 s");
        assert_eq!(calls.into_inner(), 1);
        let error = AppError::from(result.unwrap_err());
        assert_eq!(error.status_code(), 429);
        assert_eq!(
            error.to_string(),
            "Partner Center is throttling requests; try again in 300 s."
        );

        // Within the cap it is waited for and retried.
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let answer = retrying(|| async {
            match calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
                0 => Err(throttled(1)),
                _ => Ok(7),
            }
        })
        .await
        .unwrap();
        assert_eq!((answer, calls.into_inner()), (7, 2));
    }
}
