//! The OpenID Connect authority: discovery, JWKS and id-token verification. Endpoints come from
//! the authority's discovery document, so any standards-compliant IdP works, not only Entra ID.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields, RedirectUrl,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::RwLock;
use url::Url;

/// The token endpoint's answer, with the OIDC `id_token` beside the OAuth2 fields.
pub type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

pub type OidcClient = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

#[derive(Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField(<redacted>)")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the sign-in authority could not be reached: {0}")]
    Unreachable(String),
    #[error("the sign-in authority answered something unexpected: {0}")]
    BadResponse(String),
    #[error("the id token is not valid: {0}")]
    InvalidIdToken(String),
}

/// Claims of a verified id token that the dashboard uses.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub oid: Option<String>,
    pub sub: String,
    pub tid: Option<String>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    pub upn: Option<String>,
    pub nonce: Option<String>,
    #[serde(default)]
    pub amr: Vec<String>,
    /// App roles of the dashboard's app registration assigned to the admin.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl IdClaims {
    /// Stable per user across sign-ins: tenant + object id (sub is per-application in Entra).
    pub fn user_key(&self) -> String {
        format!(
            "{}:{}",
            self.tid.as_deref().unwrap_or("-"),
            self.oid.as_deref().unwrap_or(&self.sub)
        )
    }

    pub fn upn(&self) -> String {
        self.preferred_username
            .clone()
            .or_else(|| self.upn.clone())
            .unwrap_or_else(|| self.sub.clone())
    }

    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.upn())
    }
}

pub struct Authority {
    http: reqwest::Client,
    authority: Url,
    client_id: String,
    client_secret: Option<String>,
    redirect_url: Url,
    partner_tenant_id: String,
    provider: RwLock<Option<Arc<Provider>>>,
}

/// What discovery yields, fetched on first use (the in-process simulator is not listening yet
/// at start-up) and kept; the key set is refetched when an unknown key id shows up.
pub struct Provider {
    pub discovery: Discovery,
    pub client: OidcClient,
    keys: RwLock<JwkSet>,
}

impl Authority {
    pub fn new(
        http: reqwest::Client,
        authority: Url,
        client_id: String,
        client_secret: Option<String>,
        redirect_url: Url,
        partner_tenant_id: String,
    ) -> Self {
        Authority {
            http,
            authority,
            client_id,
            client_secret,
            redirect_url,
            partner_tenant_id,
            provider: RwLock::new(None),
        }
    }

    /// The only tenant whose admins may use the dashboard (lower-case GUID).
    pub fn partner_tenant_id(&self) -> &str {
        &self.partner_tenant_id
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn provider(&self) -> Result<Arc<Provider>, OidcError> {
        if let Some(provider) = self.provider.read().await.as_ref() {
            return Ok(provider.clone());
        }
        let mut slot = self.provider.write().await;
        if let Some(provider) = slot.as_ref() {
            return Ok(provider.clone());
        }
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.authority.as_str().trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&discovery_url).await?;
        let keys: JwkSet = self.get_json(discovery.jwks_uri.as_str()).await?;
        let mut client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(discovery.authorization_endpoint.clone()))
            .set_token_uri(TokenUrl::from_url(discovery.token_endpoint.clone()))
            .set_redirect_uri(RedirectUrl::from_url(self.redirect_url.clone()));
        if let Some(secret) = &self.client_secret {
            client = client
                .set_client_secret(ClientSecret::new(secret.clone()))
                // Entra accepts both; the post form avoids URL-encoding surprises in Basic auth.
                .set_auth_type(oauth2::AuthType::RequestBody);
        }
        let provider = Arc::new(Provider {
            discovery,
            client,
            keys: RwLock::new(keys),
        });
        *slot = Some(provider.clone());
        Ok(provider)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| OidcError::Unreachable(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(OidcError::BadResponse(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| OidcError::BadResponse(format!("{url}: {e}")))
    }

    /// Verifies signature (against the authority's JWKS), issuer, audience, expiry and nonce.
    pub async fn verify_id_token(
        &self,
        provider: &Provider,
        id_token: &str,
        expected_nonce: &str,
    ) -> Result<IdClaims, OidcError> {
        self.verify(provider, id_token, Some(expected_nonce)).await
    }

    /// The id token of a refresh-token redemption: checked like at sign-in, except the nonce,
    /// which belongs to an interactive request and is not sent at refresh.
    pub async fn verify_refreshed_id_token(
        &self,
        provider: &Provider,
        id_token: &str,
    ) -> Result<IdClaims, OidcError> {
        self.verify(provider, id_token, None).await
    }

    async fn verify(
        &self,
        provider: &Provider,
        id_token: &str,
        expected_nonce: Option<&str>,
    ) -> Result<IdClaims, OidcError> {
        let header = decode_header(id_token)
            .map_err(|e| OidcError::InvalidIdToken(format!("malformed header: {e}")))?;
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| OidcError::InvalidIdToken("no key id (kid) in the header".into()))?;

        let mut jwk = provider.keys.read().await.find(&kid).cloned();
        if jwk.is_none() {
            // Keys rotate: refetch once before giving up.
            let fresh: JwkSet = self.get_json(provider.discovery.jwks_uri.as_str()).await?;
            jwk = fresh.find(&kid).cloned();
            *provider.keys.write().await = fresh;
        }
        let jwk = jwk.ok_or_else(|| {
            OidcError::InvalidIdToken(format!("signing key {kid} is not in the authority's JWKS"))
        })?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| OidcError::InvalidIdToken(format!("unusable signing key: {e}")))?;

        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 60;
        // Multi-tenant authorities publish "{tenantid}" in the issuer: check it after decoding.
        let issuer_template = provider.discovery.issuer.clone();
        if !issuer_template.contains("{tenantid}") {
            validation.set_issuer(&[&issuer_template]);
        }
        let data = decode::<IdClaims>(id_token, &key, &validation)
            .map_err(|e| OidcError::InvalidIdToken(e.to_string()))?;
        let claims = data.claims;
        if issuer_template.contains("{tenantid}") {
            let expected =
                issuer_template.replace("{tenantid}", claims.tid.as_deref().unwrap_or("-"));
            if claims.iss != expected {
                return Err(OidcError::InvalidIdToken("issuer does not match".into()));
            }
        }
        if expected_nonce.is_some_and(|nonce| claims.nonce.as_deref() != Some(nonce)) {
            return Err(OidcError::InvalidIdToken(
                "nonce does not match this sign-in".into(),
            ));
        }
        Ok(claims)
    }
}
