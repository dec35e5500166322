//! Access tokens per audience, redeemed from the admin's refresh token, which stays on the server
//! sealed in the database. Tokens are cached until shortly before they expire.

use super::oidc::Authority;
use super::seal::Sealer;
use crate::error::AppError;
use crate::ssr::storage::Storage;
use oauth2::{RefreshToken, RequestTokenError, Scope, TokenResponse};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A bearer token for one audience. It can only be attached to a request: it has no getter and
/// its `Debug` is redacted, so it cannot end up in HTML, JSON or logs by accident.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    pub fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(&*self.0)
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
    pub fn new(authority: Arc<Authority>, storage: Storage, sealer: Sealer) -> Self {
        TokenBroker {
            authority,
            storage,
            sealer,
            cache: Mutex::new(HashMap::new()),
            redeem_locks: Mutex::new(HashMap::new()),
            refusals: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps a freshly issued refresh token (sealed) and, if given, the access token that came
    /// with it.
    pub async fn store_sign_in(
        &self,
        user_key: &str,
        upn: &str,
        display_name: &str,
        refresh_token: &str,
        first_access_token: Option<(&str, &str, Duration)>,
    ) -> Result<(), AppError> {
        if let Ok(mut refusals) = self.refusals.lock() {
            refusals.remove(user_key);
        }
        self.save_refresh_token(user_key, upn, display_name, refresh_token)
            .await?;
        if let Some((audience, token, lifetime)) = first_access_token {
            self.remember(user_key, audience, token, lifetime);
        }
        Ok(())
    }

    async fn save_refresh_token(
        &self,
        user_key: &str,
        upn: &str,
        display_name: &str,
        refresh_token: &str,
    ) -> Result<(), AppError> {
        let sealed = self.sealer.seal(refresh_token, user_key);
        sqlx::query(
            "INSERT INTO user_credentials (user_key, upn, display_name, refresh_token_sealed, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_key) DO UPDATE SET upn = $2, display_name = $3,
                 refresh_token_sealed = $4, updated_at_ms = $5",
        )
        .bind(user_key)
        .bind(upn)
        .bind(display_name)
        .bind(sealed)
        .bind(crate::ssr::storage::now_ms())
        .execute(&self.storage.pool)
        .await
        .map_err(|e| AppError::Internal(format!("storing the credential failed: {e}")))?;
        Ok(())
    }

    /// Forgets everything held for this admin (sign-out).
    pub async fn forget(&self, user_key: &str) -> Result<(), AppError> {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(key, _), _| key != user_key);
        }
        sqlx::query("DELETE FROM user_credentials WHERE user_key = $1")
            .bind(user_key)
            .execute(&self.storage.pool)
            .await
            .map_err(|e| AppError::Internal(format!("deleting the credential failed: {e}")))?;
        Ok(())
    }

    fn remember(&self, user_key: &str, audience: &str, token: &str, lifetime: Duration) {
        let cached = CachedToken {
            token: AccessToken(Arc::from(token)),
            refresh_after: Instant::now() + lifetime.saturating_sub(refresh_margin(lifetime)),
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert((user_key.to_string(), audience.to_string()), cached);
        }
    }

    fn cached(&self, user_key: &str, audience: &str) -> Option<AccessToken> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(&(user_key.to_string(), audience.to_string()))
            .filter(|c| Instant::now() < c.refresh_after)
            .map(|c| c.token.clone())
    }

    /// An access token for `audience` (e.g. `https://api.partnercenter.microsoft.com`).
    pub async fn access_token(
        &self,
        user_key: &str,
        audience: &str,
    ) -> Result<AccessToken, AppError> {
        if let Some(token) = self.cached(user_key, audience) {
            return Ok(token);
        }
        let lock = {
            let mut locks = self
                .redeem_locks
                .lock()
                .map_err(|_| AppError::Internal("token lock poisoned".into()))?;
            locks.entry(user_key.to_string()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if let Some(token) = self.cached(user_key, audience) {
            return Ok(token);
        }
        self.redeem(user_key, audience).await
    }

    async fn redeem(&self, user_key: &str, audience: &str) -> Result<AccessToken, AppError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT upn, display_name, refresh_token_sealed FROM user_credentials WHERE user_key = $1",
        )
        .bind(user_key)
        .fetch_optional(&self.storage.pool)
        .await
        .map_err(|e| AppError::Internal(format!("reading the credential failed: {e}")))?;
        let Some((upn, display_name, sealed)) = row else {
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

        let provider = self
            .authority
            .provider()
            .await
            .map_err(|e| AppError::Unreachable(e.to_string()))?;
        let response = provider
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token))
            .add_scope(Scope::new(format!(
                "{}/.default",
                audience.trim_end_matches('/')
            )))
            .add_scope(Scope::new("offline_access".into()))
            .request_async(self.authority.http())
            .await
            .map_err(map_token_error);
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                // Expired or revoked: the stored token can never work again, and keeping it
                // would only repeat the refusal. The admin signs in again.
                if let AppError::SignInRequired { reason } = &error {
                    self.forget(user_key).await?;
                    if let Ok(mut refusals) = self.refusals.lock() {
                        refusals.insert(user_key.to_string(), reason.clone());
                    }
                }
                return Err(error);
            }
        };

        if let Some(rotated) = response.refresh_token() {
            self.save_refresh_token(user_key, &upn, &display_name, rotated.secret())
                .await?;
        }
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
        let token = response.access_token().secret();
        self.remember(user_key, audience, token, lifetime);
        Ok(AccessToken(Arc::from(token.as_str())))
    }
}

/// Entra's refusals of a refresh token mean "sign in again"; say why in words.
fn map_token_error<RE: std::error::Error + 'static>(
    error: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> AppError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().cloned().unwrap_or_default();
            AppError::SignInRequired {
                reason: explain_aadsts(response.error().as_ref(), &description),
            }
        }
        RequestTokenError::Request(e) => AppError::Unreachable(format!("token endpoint: {e}")),
        RequestTokenError::Parse(e, _) => {
            AppError::Internal(format!("token endpoint answered unreadable JSON: {e}"))
        }
        RequestTokenError::Other(e) => AppError::Internal(format!("token endpoint: {e}")),
    }
}

/// Maps the AADSTS codes a partner admin meets to a sentence; the code stays in the text so it
/// can be looked up.
pub fn explain_aadsts(error: &str, description: &str) -> String {
    let code = description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| word.starts_with("AADSTS"))
        .unwrap_or("");
    let meaning = match code {
        "AADSTS700082" => "the refresh token expired after 90 days without use",
        "AADSTS50173" => "the grant was revoked (password change or admin action)",
        "AADSTS50078" | "AADSTS50079" => "multi-factor authentication has expired or is required",
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
        let token = AccessToken(Arc::from("eyJhbGciOi.secret"));
        assert!(!format!("{token:?}").contains("secret"));
    }
}
