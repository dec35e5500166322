//! The typed client for Microsoft Graph's GDAP endpoints (`tenantRelationships`, v1.0), beside
//! the Partner Center client. Every call carries the signed-in admin's Graph token and a fresh
//! `client-request-id`; Graph's `request-id` is recorded with it, as Partner Center's
//! MS-CorrelationId is. Lists are read page by page (`$top` 300) following `@odata.nextLink`,
//! but only on the configured Graph base: the token must not travel anywhere else.

pub mod models;

use crate::error::AppError;
use crate::ids::{Guid, RelationshipId};
use crate::model::gdap;
use crate::ssr::auth::tokens::{AccessToken, Bearer};
use crate::ssr::telemetry::{self, Api};
use backon::{ExponentialBuilder, Retryable};
use futures::{StreamExt, TryStreamExt};
use models::{
    DelegatedAdminAccessAssignment, DelegatedAdminRelationship, GraphErrorBody, GraphPage,
};
use reqwest::StatusCode;
use std::time::Duration;
use url::Url;

/// Largest page Graph serves on these lists (a larger `$top` is a 400).
pub const MAX_PAGE_SIZE: u32 = 300;
/// A service that keeps answering with next links is cut off here (3 million relationships).
const MAX_PAGES: usize = 10_000;
/// Attempts per page before giving up, the first included.
pub const ATTEMPTS: usize = 5;
/// The longest `Retry-After` obeyed: a larger one waits this long, so one answer cannot park a
/// sync for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Access-assignment lists read at once by [`GraphClient::with_assignments`] by default.
pub const DEFAULT_CONCURRENCY: usize = 8;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error(
        "Microsoft Graph answered {status}{}: {message}{}",
        code_suffix(code),
        request_id_suffix(request_id)
    )]
    Status {
        status: u16,
        code: Option<String>,
        message: String,
        /// Graph's `request-id` (header, or the error body's `innerError`), for support.
        request_id: Option<String>,
        client_request_id: Guid,
        retry_after: Option<Duration>,
    },
    #[error("no answer from Microsoft Graph ({host}): {detail}")]
    Transport {
        host: String,
        detail: String,
        timeout: bool,
    },
    #[error("unreadable answer from Microsoft Graph: {0}")]
    Decode(String),
    #[error("refused to follow a next link off the Microsoft Graph base: {0}")]
    ForeignLink(String),
    #[error("Microsoft Graph kept sending next links (more than {0} pages)")]
    TooManyPages(usize),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

fn request_id_suffix(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request-id {id})"))
        .unwrap_or_default()
}

impl GraphError {
    /// Worth retrying: throttling, server errors, lost connections.
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Status { status, .. } => *status == 429 || *status >= 500,
            GraphError::Transport { .. } => true,
            _ => false,
        }
    }

    /// The wait Graph asked for (`Retry-After`, fractions kept), at most [`MAX_RETRY_AFTER`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<GraphError> for AppError {
    fn from(error: GraphError) -> Self {
        let text = error.to_string();
        match error {
            GraphError::Status {
                status,
                code,
                message,
                request_id,
                retry_after,
                ..
            } => match status {
                401 => AppError::SignInRequired {
                    reason: format!("Microsoft Graph refused the token: {message}"),
                },
                403 => AppError::Forbidden {
                    message: format!("Microsoft Graph refused the request: {message}"),
                    correlation_id: request_id,
                },
                404 => AppError::NotFound {
                    what: format!("Microsoft Graph: {message}"),
                },
                429 => AppError::Throttled {
                    retry_after_secs: retry_after.map_or(1, |d| d.as_secs_f64().ceil() as u64),
                    correlation_id: request_id,
                },
                _ => AppError::Upstream {
                    status,
                    code,
                    message: format!("Microsoft Graph: {message}"),
                    correlation_id: request_id,
                },
            },
            GraphError::Transport { .. } => AppError::Unreachable(text),
            GraphError::Decode(_) | GraphError::TooManyPages(_) => AppError::Upstream {
                status: 200,
                code: None,
                message: text,
                correlation_id: None,
            },
            GraphError::ForeignLink(_) => AppError::Internal(text),
        }
    }
}

/// The ids of one Graph call, to quote to Microsoft support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphCall {
    pub client_request_id: Guid,
    /// Graph's `request-id` (absent only if the service left it out).
    pub request_id: Option<String>,
}

/// Every item of a list, and the calls that read it (one per page).
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub calls: Vec<GraphCall>,
}

/// The waits between attempts: exponential from 200 ms to 10 s with jitter, stretched to what
/// `Retry-After` asks.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_max_times(ATTEMPTS - 1)
        .with_jitter()
}

/// `Retry-After` in seconds, fractions allowed (`2.128`). HTTP dates are not used by Graph.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs).min(MAX_RETRY_AFTER))
}

#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    /// e.g. `https://graph.microsoft.com/v1.0`, without a trailing slash in its path.
    base: Url,
}

impl GraphClient {
    pub fn new(http: reqwest::Client, mut base: Url) -> Self {
        let path = base.path().trim_end_matches('/').to_string();
        base.set_path(&path);
        base.set_query(None);
        base.set_fragment(None);
        GraphClient { http, base }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!(
            "{}/{}",
            self.base.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        ));
        url
    }

    fn relationships_url(&self, filter: Option<&str>) -> Url {
        let mut url = self.url("tenantRelationships/delegatedAdminRelationships");
        let mut query = format!("$top={MAX_PAGE_SIZE}");
        if let Some(filter) = filter {
            // %20 rather than '+' for spaces: OData parsers differ on '+'.
            let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes())
                .collect::<String>()
                .replace('+', "%20");
            query = format!("$filter={encoded}&{query}");
        }
        url.set_query(Some(&query));
        url
    }

    /// Every GDAP relationship of the partner. Empty for an admin outside Admin Agents (the
    /// empty-list trap): see [`gdap::partner_wide_unknown`].
    pub async fn list_relationships(
        &self,
        token: &AccessToken,
    ) -> Result<Listing<DelegatedAdminRelationship>, GraphError> {
        self.list(token, self.relationships_url(None)).await
    }

    /// The relationships of one customer tenant (`$filter=customer/tenantId eq '…'`).
    pub async fn list_relationships_for_customer(
        &self,
        token: &AccessToken,
        customer: Guid,
    ) -> Result<Listing<DelegatedAdminRelationship>, GraphError> {
        let filter = format!("customer/tenantId eq '{customer}'");
        self.list(token, self.relationships_url(Some(&filter)))
            .await
    }

    /// The access assignments (role → partner security group) of a relationship.
    pub async fn list_access_assignments(
        &self,
        token: &AccessToken,
        relationship: &RelationshipId,
    ) -> Result<Listing<DelegatedAdminAccessAssignment>, GraphError> {
        let mut url = self.url(&format!(
            "tenantRelationships/delegatedAdminRelationships/{relationship}/accessAssignments"
        ));
        url.set_query(Some(&format!("$top={MAX_PAGE_SIZE}")));
        self.list(token, url).await
    }

    /// The relationships in the coverage model, each with its access assignments, read with at
    /// most `concurrency` lists at once. With `active_only`, relationships that are not active
    /// get no assignment read (they grant nothing whatever their assignments say).
    /// Relationships whose id is not a valid relationship id are refused (never put in a URL).
    /// `on_read` is told of each relationship whose assignments have been read.
    pub async fn with_assignments(
        &self,
        token: &AccessToken,
        relationships: &[DelegatedAdminRelationship],
        active_only: bool,
        concurrency: usize,
        on_read: &(dyn Fn() + Sync),
    ) -> Result<Listing<gdap::Relationship>, GraphError> {
        let results: Vec<(gdap::Relationship, Vec<GraphCall>)> =
            // Owned items: a closure over borrowed ones is not `Send` for every lifetime, and
            // a sync runs this inside a spawned task.
            futures::stream::iter(relationships.iter().cloned().map(|relationship| async move {
                let active = relationship.status().eq_ignore_ascii_case("active");
                if active_only && !active {
                    return Ok((relationship.to_model(&[]), Vec::new()));
                }
                let id = RelationshipId::parse(&relationship.id).map_err(|_| {
                    GraphError::Decode(format!(
                        "relationship id '{}' is not two GUIDs joined by '-'",
                        relationship.id.chars().take(80).collect::<String>()
                    ))
                })?;
                let assignments = self.list_access_assignments(token, &id).await?;
                on_read();
                Ok::<_, GraphError>((relationship.to_model(&assignments.items), assignments.calls))
            }))
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        let mut listing = Listing {
            items: Vec::with_capacity(results.len()),
            calls: Vec::new(),
        };
        for (relationship, calls) in results {
            listing.items.push(relationship);
            listing.calls.extend(calls);
        }
        Ok(listing)
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        token: &AccessToken,
        first: Url,
    ) -> Result<Listing<T>, GraphError> {
        let mut listing = Listing {
            items: Vec::new(),
            calls: Vec::new(),
        };
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let (page, call) = self.page::<T>(token, &url).await?;
            listing.calls.push(call);
            listing.items.extend(page.value.unwrap_or_default());
            match page.next_link.filter(|link| !link.trim().is_empty()) {
                Some(link) => url = self.next_link(&link)?,
                None => return Ok(listing),
            }
        }
        Err(GraphError::TooManyPages(MAX_PAGES))
    }

    /// A next link is followed only under the configured base (same origin, same path prefix).
    fn next_link(&self, link: &str) -> Result<Url, GraphError> {
        let foreign = || GraphError::ForeignLink(link.chars().take(200).collect());
        let url = self.base.join(link).map_err(|_| foreign())?;
        let prefix = format!("{}/", self.base.path().trim_end_matches('/'));
        if url.origin() != self.base.origin() || !url.path().starts_with(&prefix) {
            return Err(foreign());
        }
        Ok(url)
    }

    /// One page, retried on throttling, server errors and lost connections.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        token: &AccessToken,
        url: &Url,
    ) -> Result<(GraphPage<T>, GraphCall), GraphError> {
        (|| self.page_once::<T>(token, url.clone()))
            .retry(backoff())
            .when(GraphError::is_transient)
            .adjust(|error, planned| match (error.retry_after(), planned) {
                (Some(asked), Some(planned)) => Some(asked.max(planned)),
                (_, planned) => planned,
            })
            .notify(|error, wait| telemetry::retry(Api::Graph, wait, error.retry_after()))
            .await
    }

    async fn page_once<T: serde::de::DeserializeOwned>(
        &self,
        token: &AccessToken,
        url: Url,
    ) -> Result<(GraphPage<T>, GraphCall), GraphError> {
        let host = url.host_str().unwrap_or_default().to_string();
        // A lapsed or revoked token: one more read with a renewed one.
        let (response, client_request_id, request_id) = token
            .renewing(
                |error: &GraphError| error.status() == Some(401),
                |bearer| self.get_once(bearer, &url),
            )
            .await?;
        let call = GraphCall {
            client_request_id,
            request_id,
        };
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(host, &e))?;
        let page = serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode(e.to_string()))?;
        Ok((page, call))
    }

    /// One GET: the response when it succeeded, with its client-request-id and request-id.
    async fn get_once(
        &self,
        bearer: Bearer,
        url: &Url,
    ) -> Result<(reqwest::Response, Guid, Option<String>), GraphError> {
        let client_request_id = Guid::new_v4();
        let operation = telemetry::operation("GET", url, &[&self.base]);
        let started = std::time::Instant::now();
        let sent = bearer
            .authorize(self.http.get(url.clone()))
            .header("Accept", "application/json")
            .header("client-request-id", client_request_id.to_string())
            .header("return-client-request-id", "true")
            .send()
            .await;
        let status = telemetry::upstream_answer(Api::Graph, &operation, &sent, started);
        let host = url.host_str().unwrap_or_default().to_string();
        let response = sent.map_err(|e| transport_error(host, &e))?;
        let request_id = header(&response, "request-id");
        tracing::debug!(
            operation,
            status = status.unwrap_or_default(),
            %client_request_id,
            request_id = request_id.as_deref().unwrap_or("-"),
            "Graph call"
        );
        if !response.status().is_success() {
            return Err(status_error(response, client_request_id, request_id).await);
        }
        Ok((response, client_request_id, request_id))
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn transport_error(host: String, e: &reqwest::Error) -> GraphError {
    let mut detail = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "connection lost".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    GraphError::Transport {
        host,
        detail,
        timeout: e.is_timeout(),
    }
}

async fn status_error(
    response: reqwest::Response,
    client_request_id: Guid,
    request_id: Option<String>,
) -> GraphError {
    let status = response.status();
    let retry_after = header(&response, "Retry-After").and_then(|v| parse_retry_after(&v));
    let bytes = response.bytes().await.unwrap_or_default();
    error_from_body(status, &bytes, client_request_id, request_id, retry_after)
}

fn error_from_body(
    status: StatusCode,
    bytes: &[u8],
    client_request_id: Guid,
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> GraphError {
    let body: GraphErrorBody = serde_json::from_slice(bytes).unwrap_or_default();
    let detail = body.error.unwrap_or_default();
    let message = detail
        .message
        .filter(|m| !m.trim().is_empty())
        .map(|m| m.chars().take(1024).collect())
        .unwrap_or_else(|| {
            status
                .canonical_reason()
                .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_string)
        });
    let request_id = request_id.or_else(|| detail.inner_error.and_then(|i| i.request_id));
    GraphError::Status {
        status: status.as_u16(),
        code: detail.code.filter(|c| !c.trim().is_empty()),
        message,
        request_id,
        client_request_id,
        retry_after,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::models::parse_graph_time;
    use super::*;

    fn client() -> GraphClient {
        GraphClient::new(
            reqwest::Client::new(),
            Url::parse("https://graph.microsoft.com/v1.0/").unwrap(),
        )
    }

    #[test]
    fn urls_are_built_under_the_base_with_top_300() {
        let c = client();
        assert_eq!(
            c.relationships_url(None).as_str(),
            "https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships?$top=300"
        );
        assert_eq!(
            c.relationships_url(Some("customer/tenantId eq '53018d99-ac51-4ec8-b86e-c8a61de43717'"))
                .as_str(),
            "https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships\
             ?$filter=customer%2FtenantId%20eq%20%2753018d99-ac51-4ec8-b86e-c8a61de43717%27&$top=300"
        );
    }

    #[test]
    fn next_links_stay_under_the_graph_base() {
        let c = client();
        assert!(c
            .next_link("https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships?$skipToken=abc")
            .is_ok());
        for foreign in [
            "https://evil.example.com/v1.0/tenantRelationships",
            "http://graph.microsoft.com/v1.0/tenantRelationships",
            "https://graph.microsoft.com/beta/tenantRelationships",
            "https://graph.microsoft.com/v1.0evil/x",
            "//evil.example.com/v1.0/x",
        ] {
            assert!(
                matches!(c.next_link(foreign), Err(GraphError::ForeignLink(_))),
                "{foreign}"
            );
        }
    }

    #[test]
    fn retry_after_keeps_fractions_and_is_bounded() {
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_secs_f64(2.128))
        );
        assert_eq!(parse_retry_after(" 1 "), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER));
        for bad in ["", "-1", "NaN", "inf", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(bad), None, "{bad}");
        }
    }

    #[test]
    fn graph_error_bodies_become_clear_messages() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2026-11-30T12:00:00","request-id":"5e0f4b1c-0000-4000-8000-000000000001","client-request-id":"x"}}}"#;
        let id = Guid::new_v4();
        let error = error_from_body(StatusCode::FORBIDDEN, body, id, None, None);
        assert_eq!(
            error.to_string(),
            "Microsoft Graph answered 403 Authorization_RequestDenied: Insufficient privileges \
             to complete the operation. (request-id 5e0f4b1c-0000-4000-8000-000000000001)"
        );
        assert!(!error.is_transient());
        let app = AppError::from(error);
        assert!(matches!(app, AppError::Forbidden { .. }), "{app:?}");

        // Not JSON at all: the status says what happened.
        let error = error_from_body(
            StatusCode::SERVICE_UNAVAILABLE,
            b"<html>",
            id,
            Some("rid".into()),
            Some(Duration::from_millis(1500)),
        );
        assert_eq!(
            error.to_string(),
            "Microsoft Graph answered 503: Service Unavailable (request-id rid)"
        );
        assert!(error.is_transient());
        assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));
        let throttled = error_from_body(
            StatusCode::TOO_MANY_REQUESTS,
            b"{}",
            id,
            None,
            Some(Duration::from_millis(2128)),
        );
        assert_eq!(
            AppError::from(throttled),
            AppError::Throttled {
                retry_after_secs: 3,
                correlation_id: None
            }
        );
        let refused = error_from_body(StatusCode::UNAUTHORIZED, b"{}", id, None, None);
        assert!(AppError::from(refused).needs_sign_in());
    }

    #[test]
    fn every_documented_shape_is_accepted() {
        // Unknown fields, nulls, a missing autoExtendDuration, an unknown status, a reseller.
        let page: GraphPage<DelegatedAdminRelationship> = serde_json::from_str(
            r##"{
              "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#x",
              "@odata.nextLink": "https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships?$skipToken=x",
              "value": [
                {"@odata.type": "#microsoft.graph.delegatedAdminRelationship",
                 "@odata.etag": "W/\"x\"",
                 "id": "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b836",
                 "displayName": "Default_1", "duration": "P730D",
                 "customer": {"tenantId": "8777B240-c6f0-4469-9e98-a3205431b836", "displayName": null},
                 "accessDetails": {"unifiedRoles": [{"roleDefinitionId": "E8611AB8-c189-46e8-94e1-60213ab1f814"}]},
                 "status": "active", "autoExtendDuration": "P180D",
                 "createdDateTime": "2022-02-10T11:24:42.3148266Z",
                 "activatedDateTime": "2022-02-10T11:26:44.9941884Z",
                 "lastModifiedDateTime": "2022-02-10T11:26:44.9941884Z",
                 "endDateTime": "2024-02-10T11:26:44.9941884Z",
                 "someNewProperty": {"nested": [1, 2]}},
                {"@odata.type": "#microsoft.graph.resellerDelegatedAdminRelationship",
                 "id": "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b837",
                 "displayName": "Indirect", "customer": {"tenantId": "8777b240-c6f0-4469-9e98-a3205431b837"},
                 "accessDetails": {"unifiedRoles": null}, "status": "someFutureStatus",
                 "activatedDateTime": null, "endDateTime": null,
                 "isPartnerConsentPending": true, "indirectProviderTenantId": "c3d5e7f9-1a2b-4c6d-8e0f-9a8b7c6d5e04"},
                {"id": "x", "accessDetails": null, "customer": null}
              ]
            }"##,
        )
        .unwrap();
        let items = page.value.unwrap();
        assert_eq!(items.len(), 3);
        let first = items[0].to_model(&[]);
        assert_eq!(
            first.customer_tenant_id,
            "8777b240-c6f0-4469-9e98-a3205431b836"
        );
        assert_eq!(first.roles, vec![gdap::PRIVILEGED_ROLE_ADMINISTRATOR]);
        assert!(first.activated.is_some() && first.end.is_some());
        assert!(!first.reseller);
        let second = items[1].to_model(&[]);
        assert!(second.reseller);
        assert!(second.roles.is_empty() && second.end.is_none());
        assert_eq!(second.status, "someFutureStatus");
        assert!(!second.is_active());
        let third = items[2].to_model(&[]);
        assert_eq!(third.status, "unknownFutureValue");

        let assignments: GraphPage<DelegatedAdminAccessAssignment> = serde_json::from_str(
            r#"{"value": [{"id": "a", "status": "active",
                 "accessContainer": {"accessContainerId": "g", "accessContainerType": "securityGroup"},
                 "accessDetails": {"unifiedRoles": [{"roleDefinitionId": "f2ef992c-3afb-46b9-b7cf-a126ee74c451"}]}},
                {"id": "b"}]}"#,
        )
        .unwrap();
        let assignments = assignments.value.unwrap();
        let model = assignments[0].to_model();
        assert_eq!(model.group_id.as_deref(), Some("g"));
        assert!(model.is_active());
        assert_eq!(assignments[1].to_model().status, "unknownFutureValue");

        let empty: GraphPage<DelegatedAdminAccessAssignment> =
            serde_json::from_str(r#"{"value": null}"#).unwrap();
        assert!(empty.value.is_none() && empty.next_link.is_none());
    }

    #[test]
    fn graph_times_parse_with_seven_digits_or_no_offset() {
        assert!(parse_graph_time("2022-02-10T11:24:42.3148266Z").is_some());
        assert_eq!(
            parse_graph_time("2022-02-10T11:24:42"),
            parse_graph_time("2022-02-10T11:24:42Z")
        );
        assert!(parse_graph_time("").is_none());
        assert!(parse_graph_time("yesterday").is_none());
    }
}
