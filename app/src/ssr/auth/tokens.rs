//! Access tokens per audience, redeemed from the admin's refresh token, which stays on the server
//! sealed in the database. Tokens are cached until shortly before they expire.

use super::oidc::Authority;
use super::seal::Sealer;
use crate::error::AppError;
use crate::ssr::storage::Storage;
use crate::ssr::telemetry::{self, Api};
use oauth2::{RefreshToken, RequestTokenError, Scope, TokenResponse};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// A bearer token for one audience. It can only be attached to a request: it has no getter and
/// its `Debug` is redacted, so it cannot end up in HTML, JSON or logs by accident.
///
/// Clones share one slot: when the resource refuses the token (401), [`AccessToken::renewing`]
/// puts a newly redeemed one there, and every holder (a sync's pages, a job's items) sends that.
#[derive(Clone)]
pub struct AccessToken(Arc<Held>);

struct Held {
    current: parking_lot::RwLock<Bearer>,
    broker: Weak<TokenBroker>,
    user_key: String,
    audience: String,
}

/// The token value one request carried: what a refusal names when asking for a renewal.
#[derive(Clone)]
pub struct Bearer(Arc<str>);

impl Bearer {
    pub fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(&*self.0)
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(<redacted>)")
    }
}

impl AccessToken {
    /// The token to send now.
    pub fn bearer(&self) -> Bearer {
        self.0.current.read().clone()
    }

    /// Runs `send` with the current token; when the answer is a refusal of the token
    /// (`refuses_token`), renews it (see [`AccessToken::renew_refused`]) and runs `send` once
    /// more. The one place the clients' retry on a refused token lives.
    pub async fn renewing<T, E, F, Fut>(
        &self,
        refuses_token: impl Fn(&E) -> bool,
        mut send: F,
    ) -> Result<T, E>
    where
        F: FnMut(Bearer) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let bearer = self.bearer();
        match send(bearer.clone()).await {
            Err(error) if refuses_token(&error) && self.renew_refused(&bearer).await => {
                send(self.bearer()).await
            }
            answered => answered,
        }
    }

    /// After the resource refused `refused` with a 401 (not the MFA refusal): a token can lapse
    /// between the cache check and its arrival (`exp` counts whole seconds, clocks drift), or
    /// Continuous Access Evaluation ends it early. Redeems a new one once, unless another holder
    /// already did; true when there is a different token to send. A refused renewal keeps the
    /// caller's refusal, which asks the admin to sign in again.
    async fn renew_refused(&self, refused: &Bearer) -> bool {
        if self.0.current.read().0 != refused.0 {
            return true;
        }
        let Some(broker) = self.0.broker.upgrade() else {
            return false;
        };
        broker.discard(&self.0.user_key, &self.0.audience, refused);
        match broker
            .access_token(&self.0.user_key, &self.0.audience)
            .await
        {
            Ok(renewed) => {
                let renewed = renewed.bearer();
                let changed = renewed.0 != refused.0;
                *self.0.current.write() = renewed;
                tracing::info!(
                    audience = self.0.audience,
                    "the service refused the access token; renewed it for one more try"
                );
                changed
            }
            Err(error) => {
                tracing::warn!(%error, "the service refused the access token and renewing it failed");
                false
            }
        }
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

struct CachedToken {
    token: AccessToken,
    refresh_after: Instant,
}

pub struct TokenBroker {
    /// Handed to the tokens it issues, so a refused one can ask for its renewal.
    this: Weak<TokenBroker>,
    authority: Arc<Authority>,
    storage: Storage,
    sealer: Sealer,
    cache: Mutex<HashMap<(String, String), CachedToken>>,
    /// One redemption at a time per admin: concurrent requests wait and reuse its result.
    redeem_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Why a forgotten refresh token was refused, so later requests still say why.
    refusals: Mutex<HashMap<String, String>>,
}

/// Refresh this long before expiry: two minutes, or a fifth of short (test) lifetimes.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(Duration::from_secs(120))
}

impl TokenBroker {
    pub fn new(authority: Arc<Authority>, storage: Storage, sealer: Sealer) -> Arc<Self> {
        Arc::new_cyclic(|this| TokenBroker {
            this: this.clone(),
            authority,
            storage,
            sealer,
            cache: Mutex::new(HashMap::new()),
            redeem_locks: Mutex::new(HashMap::new()),
            refusals: Mutex::new(HashMap::new()),
        })
    }

    /// Keeps a freshly issued refresh token (sealed), the app roles of the verified id token
    /// and, if given, the access token that came with them.
    pub async fn store_sign_in(
        &self,
        user_key: &str,
        upn: &str,
        display_name: &str,
        refresh_token: &str,
        app_roles: &[String],
        first_access_token: Option<(&str, &str, Duration)>,
    ) -> Result<(), AppError> {
        if let Ok(mut refusals) = self.refusals.lock() {
            refusals.remove(user_key);
        }
        let sealed = self.sealer.seal(refresh_token, user_key);
        sqlx::query(
            "INSERT INTO user_credentials
                 (user_key, upn, display_name, refresh_token_sealed, app_roles, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_key) DO UPDATE SET upn = $2, display_name = $3,
                 refresh_token_sealed = $4, app_roles = $5, updated_at_ms = $6",
        )
        .bind(user_key)
        .bind(upn)
        .bind(display_name)
        .bind(sealed)
        .bind(roles_json(app_roles)?)
        .bind(crate::ssr::clock::now_ms())
        .execute(&self.storage.pool)
        .await?;
        // Tokens of the previous sign-in may lack what this one has (MFA, new roles).
        self.forget_cached(user_key);
        if let Some((audience, token, lifetime)) = first_access_token {
            self.remember(user_key, audience, token, lifetime);
        }
        Ok(())
    }

    /// The dashboard app roles of the admin's last verified id token (sign-in, or the latest
    /// refresh that returned one); `None` when no credential is stored or the roles are unknown.
    pub async fn current_app_roles(&self, user_key: &str) -> Result<Option<Vec<String>>, AppError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT app_roles FROM user_credentials WHERE user_key = $1")
                .bind(user_key)
                .fetch_optional(&self.storage.pool)
                .await?;
        match row.and_then(|(roles,)| roles) {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| AppError::Internal(format!("stored app roles are unreadable: {e}"))),
        }
    }

    /// How many admins have a stored sign-in (the metrics' gauge).
    pub async fn signed_in_count(&self) -> Result<u64, AppError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_credentials")
            .fetch_one(&self.storage.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Forgets everything held for this admin (sign-out). A redemption under way for the admin
    /// finishes first, so it cannot put a token back into the cache afterwards.
    pub async fn forget(&self, user_key: &str) -> Result<(), AppError> {
        let lock = self.redeem_lock(user_key)?;
        let _guard = lock.lock().await;
        self.forget_cached(user_key);
        sqlx::query("DELETE FROM user_credentials WHERE user_key = $1")
            .bind(user_key)
            .execute(&self.storage.pool)
            .await?;
        Ok(())
    }

    fn forget_cached(&self, user_key: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(key, _), _| key != user_key);
        }
    }

    fn redeem_lock(&self, user_key: &str) -> Result<Arc<tokio::sync::Mutex<()>>, AppError> {
        let mut locks = self
            .redeem_locks
            .lock()
            .map_err(|_| AppError::Internal("token lock poisoned".into()))?;
        Ok(locks.entry(user_key.to_string()).or_default().clone())
    }

    fn issue(&self, user_key: &str, audience: &str, token: &str) -> AccessToken {
        AccessToken(Arc::new(Held {
            current: parking_lot::RwLock::new(Bearer(Arc::from(token))),
            broker: self.this.clone(),
            user_key: user_key.to_string(),
            audience: audience.to_string(),
        }))
    }

    /// Drops the cached token for `audience` if it is still the refused one.
    fn discard(&self, user_key: &str, audience: &str, refused: &Bearer) {
        if let Ok(mut cache) = self.cache.lock() {
            let key = (user_key.to_string(), audience.to_string());
            if cache
                .get(&key)
                .is_some_and(|cached| cached.token.bearer().0 == refused.0)
            {
                cache.remove(&key);
            }
        }
    }

    fn remember(
        &self,
        user_key: &str,
        audience: &str,
        token: &str,
        lifetime: Duration,
    ) -> AccessToken {
        let issued = self.issue(user_key, audience, token);
        let cached = CachedToken {
            token: issued.clone(),
            refresh_after: Instant::now() + lifetime.saturating_sub(refresh_margin(lifetime)),
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert((user_key.to_string(), audience.to_string()), cached);
        }
        issued
    }

    fn cached(&self, user_key: &str, audience: &str) -> Option<AccessToken> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(&(user_key.to_string(), audience.to_string()))
            .filter(|c| Instant::now() < c.refresh_after)
            .map(|c| c.token.clone())
    }

    /// An access token for `audience` (e.g. `https://api.partnercenter.microsoft.com`).
    ///
    /// Errors: `SignInRequired` only when the authority said the grant is dead (the stored
    /// credential is then deleted); `SignInUnavailable` when it could not answer now and
    /// `SignInMisconfigured` when it refused the dashboard's request (both keep the credential).
    pub async fn access_token(
        &self,
        user_key: &str,
        audience: &str,
    ) -> Result<AccessToken, AppError> {
        if let Some(token) = self.cached(user_key, audience) {
            return Ok(token);
        }
        let lock = self.redeem_lock(user_key)?;
        let _guard = lock.lock().await;
        if let Some(token) = self.cached(user_key, audience) {
            return Ok(token);
        }
        self.redeem(user_key, audience).await
    }

    async fn redeem(&self, user_key: &str, audience: &str) -> Result<AccessToken, AppError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT refresh_token_sealed FROM user_credentials WHERE user_key = $1")
                .bind(user_key)
                .fetch_optional(&self.storage.pool)
                .await?;
        let Some((sealed,)) = row else {
            let refused = self
                .refusals
                .lock()
                .ok()
                .and_then(|r| r.get(user_key).cloned());
            return Err(AppError::SignInRequired {
                reason: refused.unwrap_or_else(|| "no stored sign-in for this account".into()),
            });
        };
        let refresh_token =
            self.sealer
                .open(&sealed, user_key)
                .map_err(|e| AppError::SignInRequired {
                    reason: e.to_string(),
                })?;

        let provider =
            self.authority
                .provider()
                .await
                .map_err(|e| AppError::SignInUnavailable {
                    reason: e.to_string(),
                })?;
        // `openid profile` make the authority return an id token, so app roles assigned or
        // removed since the sign-in are seen at the next refresh.
        let started = Instant::now();
        let response = provider
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token))
            .add_scope(Scope::new(format!(
                "{}/.default",
                audience.trim_end_matches('/')
            )))
            .add_scopes(
                ["offline_access", "openid", "profile"]
                    .into_iter()
                    .map(|s| Scope::new(s.to_string())),
            )
            .request_async(self.authority.http())
            .await;
        record_token_call("refresh_token", &response, started);
        let response = match response.map_err(map_token_error) {
            Ok(response) => response,
            Err(error) => {
                if let AppError::SignInRequired { reason } = &error {
                    // The grant is dead: keeping it would only repeat the refusal. Only the
                    // token that was refused is deleted; a newer sign-in stored meanwhile stays.
                    self.forget_cached(user_key);
                    sqlx::query(
                        "DELETE FROM user_credentials
                         WHERE user_key = $1 AND refresh_token_sealed = $2",
                    )
                    .bind(user_key)
                    .bind(&sealed)
                    .execute(&self.storage.pool)
                    .await?;
                    if let Ok(mut refusals) = self.refusals.lock() {
                        refusals.insert(user_key.to_string(), reason.clone());
                    }
                } else {
                    tracing::warn!(error = %error, "token renewal failed; the stored sign-in is kept");
                }
                return Err(error);
            }
        };

        let app_roles = match response.extra_fields().id_token.as_deref() {
            Some(id_token) => Some(self.refreshed_roles(&provider, id_token, user_key).await?),
            None => None,
        };
        let rotated = response
            .refresh_token()
            .map(|token| self.sealer.seal(token.secret(), user_key));
        // Compare-and-swap on the token that was redeemed: a sign-out (the row is gone) or a
        // newer sign-in (another token) while the call was under way must win, or a rotated
        // token saved now would bring a signed-out credential back.
        let updated = sqlx::query(
            "UPDATE user_credentials
             SET refresh_token_sealed = COALESCE($1, refresh_token_sealed),
                 app_roles = COALESCE($2, app_roles), updated_at_ms = $3
             WHERE user_key = $4 AND refresh_token_sealed = $5",
        )
        .bind(rotated)
        .bind(app_roles.as_deref().map(roles_json).transpose()?)
        .bind(crate::ssr::clock::now_ms())
        .bind(user_key)
        .bind(&sealed)
        .execute(&self.storage.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            let still_signed_in: Option<(String,)> =
                sqlx::query_as("SELECT user_key FROM user_credentials WHERE user_key = $1")
                    .bind(user_key)
                    .fetch_optional(&self.storage.pool)
                    .await?;
            if still_signed_in.is_none() {
                return Err(AppError::SignInRequired {
                    reason: "you signed out while your access was being renewed".into(),
                });
            }
        }
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
        Ok(self.remember(
            user_key,
            audience,
            response.access_token().secret(),
            lifetime,
        ))
    }

    /// The app roles of an id token returned at refresh, verified like at sign-in (without the
    /// nonce) and checked to belong to the admin whose credential was redeemed.
    async fn refreshed_roles(
        &self,
        provider: &super::oidc::Provider,
        id_token: &str,
        user_key: &str,
    ) -> Result<Vec<String>, AppError> {
        let claims = self
            .authority
            .verify_refreshed_id_token(provider, id_token)
            .await
            .map_err(|e| match e {
                super::oidc::OidcError::Unreachable(_) => AppError::SignInUnavailable {
                    reason: e.to_string(),
                },
                other => AppError::Internal(format!("at token renewal: {other}")),
            })?;
        if claims.user_key() != user_key {
            return Err(AppError::Internal(
                "at token renewal the authority returned the id token of another account".into(),
            ));
        }
        Ok(claims.roles)
    }
}

fn roles_json(roles: &[String]) -> Result<String, AppError> {
    serde_json::to_string(roles)
        .map_err(|e| AppError::Internal(format!("app roles could not be stored: {e}")))
}

/// A token endpoint call in the metrics, its status the OAuth error code when refused (a
/// known one, else `other_error`: the label stays bounded), `transport` when unanswered.
pub(crate) fn record_token_call<T, RE: std::error::Error + 'static>(
    operation: &str,
    result: &Result<T, RequestTokenError<RE, oauth2::basic::BasicErrorResponse>>,
    started: Instant,
) {
    const KNOWN: [&str; 11] = [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "interaction_required",
        "consent_required",
        "login_required",
        "temporarily_unavailable",
        "server_error",
    ];
    let status = match result {
        Ok(_) => "200",
        Err(RequestTokenError::ServerResponse(response)) => {
            let code = response.error().as_ref();
            KNOWN
                .iter()
                .find(|known| **known == code)
                .copied()
                .unwrap_or("other_error")
        }
        Err(RequestTokenError::Request(_)) => "transport",
        Err(RequestTokenError::Parse(..)) => "unreadable",
        Err(RequestTokenError::Other(_)) => "other_error",
    };
    telemetry::upstream_call(Api::Token, operation, status, started.elapsed());
}

/// What the token endpoint's answer means for the stored credential.
fn map_token_error<RE: std::error::Error + 'static>(
    error: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> AppError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().cloned().unwrap_or_default();
            classify_refusal(response.error().as_ref(), &description)
        }
        RequestTokenError::Request(e) => AppError::SignInUnavailable {
            reason: format!("the token endpoint could not be reached: {}", describe(&e)),
        },
        RequestTokenError::Parse(e, _) => AppError::SignInUnavailable {
            reason: format!("the token endpoint answered something unreadable: {e}"),
        },
        RequestTokenError::Other(e) => AppError::SignInUnavailable {
            reason: format!("the token endpoint failed: {e}"),
        },
    }
}

/// The error and its causes: reqwest's own text hides whether it was a timeout or a refusal.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An OAuth error answer of the token endpoint. Only a dead grant (`invalid_grant`, or an
/// interaction the user must make) asks for a new sign-in; a refusal of the dashboard's own
/// request is a configuration problem; anything else (`temporarily_unavailable`,
/// `server_error`, unknown codes) is treated as temporary, so the credential is never lost to
/// an outage.
pub fn classify_refusal(error: &str, description: &str) -> AppError {
    let explained = explain_aadsts(error, description);
    let code = aadsts_code(description);
    // Missing consent arrives as invalid_grant, but a new sign-in of the same admin does not
    // fix it: the app registration's permissions must be consented.
    let configuration_code = matches!(
        code,
        "AADSTS65001" | "AADSTS650057" | "AADSTS700016" | "AADSTS7000215" | "AADSTS7000222"
    );
    if configuration_code {
        return AppError::SignInMisconfigured { reason: explained };
    }
    match error {
        "invalid_grant" | "interaction_required" | "login_required" => {
            AppError::SignInRequired { reason: explained }
        }
        "invalid_scope"
        | "invalid_client"
        | "unauthorized_client"
        | "unsupported_grant_type"
        | "invalid_request"
        | "consent_required" => AppError::SignInMisconfigured {
            reason: with_error_code(error, explained),
        },
        _ => AppError::SignInUnavailable {
            reason: with_error_code(error, explained),
        },
    }
}

fn with_error_code(error: &str, explained: String) -> String {
    if explained == error {
        explained
    } else {
        format!("{error}: {explained}")
    }
}

fn aadsts_code(description: &str) -> &str {
    description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| word.starts_with("AADSTS"))
        .unwrap_or("")
}

/// Maps the AADSTS codes a partner admin meets to a sentence; the code stays in the text so it
/// can be looked up.
pub fn explain_aadsts(error: &str, description: &str) -> String {
    let code = aadsts_code(description);
    let meaning = match code {
        "AADSTS700082" => "the refresh token expired after 90 days without use",
        "AADSTS50173" => "the grant was revoked (password change or admin action)",
        "AADSTS50078" | "AADSTS50079" | "AADSTS50076" => {
            "multi-factor authentication has expired or is required"
        }
        "AADSTS700084" => "the refresh token expired (its lifetime is limited)",
        "AADSTS650057" => "the app registration does not list the requested permission",
        "AADSTS7000215" | "AADSTS7000222" => "the client secret is wrong or expired",
        "AADSTS70011" => "the requested scope is not valid for this application",
        "AADSTS65001" => "consent for the Partner Center API is missing",
        "AADSTS70043" => "the sign-in frequency policy requires a new sign-in",
        "AADSTS65004" => "consent was declined",
        "AADSTS50011" => "the redirect URL is not registered for this application",
        "AADSTS700016" => "the application is not registered in this tenant",
        _ => "",
    };
    let first_line = description.lines().next().unwrap_or_default().trim();
    match (meaning.is_empty(), first_line.is_empty()) {
        (false, _) => format!("{code}: {meaning}"),
        (true, false) => first_line.chars().take(300).collect(),
        (true, true) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aadsts_codes_become_sentences() {
        assert_eq!(
            explain_aadsts(
                "invalid_grant",
                "AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: x"
            ),
            "AADSTS700082: the refresh token expired after 90 days without use"
        );
        assert_eq!(
            explain_aadsts(
                "invalid_grant",
                "AADSTS50173: The provided grant has expired."
            ),
            "AADSTS50173: the grant was revoked (password change or admin action)"
        );
        assert_eq!(
            explain_aadsts("invalid_grant", "Something else"),
            "Something else"
        );
        assert_eq!(explain_aadsts("invalid_grant", ""), "invalid_grant");
    }

    #[test]
    fn only_a_dead_grant_asks_for_a_new_sign_in() {
        let dead = [
            ("invalid_grant", "AADSTS700082: The refresh token has expired."),
            ("invalid_grant", "AADSTS50173: The provided grant has expired."),
            ("invalid_grant", "AADSTS50078: Presented multi-factor authentication has expired."),
            ("invalid_grant", "AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks."),
            ("interaction_required", "AADSTS50076: you must use multi-factor authentication."),
            ("invalid_grant", "AADSTS700084: The refresh token was issued to a single page app."),
        ];
        for (error, description) in dead {
            assert!(
                matches!(
                    classify_refusal(error, description),
                    AppError::SignInRequired { .. }
                ),
                "{error} {description}"
            );
        }
        let temporary = [
            (
                "temporarily_unavailable",
                "AADSTS90033: A transient error has occurred.",
            ),
            (
                "server_error",
                "AADSTS50000: There was an error issuing a token.",
            ),
            ("something_new", ""),
        ];
        for (error, description) in temporary {
            match classify_refusal(error, description) {
                AppError::SignInUnavailable { reason } => {
                    assert!(reason.contains(error), "{reason}")
                }
                other => panic!("{error}: expected SignInUnavailable, got {other:?}"),
            }
        }
        let configuration = [
            (
                "invalid_scope",
                "AADSTS70011: The provided value for scope is not valid.",
            ),
            (
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            ),
            (
                "invalid_grant",
                "AADSTS65001: The user or administrator has not consented.",
            ),
        ];
        for (error, description) in configuration {
            let mapped = classify_refusal(error, description);
            assert!(
                matches!(mapped, AppError::SignInMisconfigured { .. }),
                "{error}: {mapped:?}"
            );
            let text = mapped.to_string();
            assert!(text.contains("will not help"), "{text}");
            assert!(!text.contains("Please sign in again"), "{text}");
        }
    }

    #[test]
    fn margin_scales_with_short_lifetimes() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(120)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(5)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn access_token_debug_is_redacted() {
        let token = AccessToken(Arc::new(Held {
            current: parking_lot::RwLock::new(Bearer(Arc::from("eyJhbGciOi.secret"))),
            broker: Weak::new(),
            user_key: "key".into(),
            audience: "https://api.partnercenter.microsoft.com".into(),
        }));
        assert!(!format!("{token:?}").contains("secret"));
        assert!(!format!("{:?}", token.bearer()).contains("secret"));
    }
}
