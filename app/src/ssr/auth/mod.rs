//! Sign-in (OAuth2 authorization code + PKCE with the oauth2 crate, OIDC id token verified),
//! sessions, and the admin's tokens. Tokens live in this module only.

pub mod oidc;
pub mod seal;
pub mod tokens;

use crate::error::AppError;
use crate::model::access::{Permissions, NO_ROLE_MESSAGE};
use crate::model::SignedInUser;
use crate::ssr::clock::unix_now;
use crate::ssr::state::AppState;
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tower_sessions::Session;

pub use tokens::{AccessToken, TokenBroker};

const PENDING_KEY: &str = "auth.pending";
const USER_KEY: &str = "auth.user";
/// The sign-in error code of an admin who holds none of the dashboard's app roles.
pub const NO_DASHBOARD_ROLE: &str = "no_dashboard_role";

/// What the session remembers about the signed-in admin. No tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionUser {
    /// `tenant:object-id`, the key of the stored credential.
    pub user_key: String,
    pub upn: String,
    pub display_name: String,
    /// App roles from the verified id token (e.g. `DapReview.Approve`).
    #[serde(default)]
    pub app_roles: Vec<String>,
    /// Unix seconds of the sign-in, for the absolute session lifetime. Sessions stored before
    /// it was recorded read 0: already over the limit, so they sign in again.
    #[serde(default)]
    pub signed_in_at: i64,
}

impl SessionUser {
    pub fn public(&self) -> SignedInUser {
        SignedInUser {
            display_name: self.display_name.clone(),
            upn: self.upn.clone(),
            permissions: self.permissions(),
        }
    }

    pub fn permissions(&self) -> Permissions {
        Permissions::from_app_roles(&self.app_roles)
    }
}

/// A sign-in under way, between `/login` and `/auth/callback`.
#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    state: String,
    nonce: String,
    pkce_verifier: String,
    return_to: String,
}

/// The signed-in admin of the current request, for server functions.
pub async fn current_user() -> Result<SessionUser, AppError> {
    let session: Session = leptos_axum::extract()
        .await
        .map_err(|e| AppError::Internal(format!("no session layer: {e}")))?;
    session_user(&session)
        .await?
        .ok_or(AppError::Unauthenticated)
}

pub async fn session_user(session: &Session) -> Result<Option<SessionUser>, AppError> {
    Ok(session.get::<SessionUser>(USER_KEY).await?)
}

/// Only same-site paths: an open redirect after sign-in would be a phishing aid.
fn safe_return_path(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => "/customers".to_string(),
    }
}

/// Whether a session signed in at `signed_in_at` (unix seconds) has outlived `max_age` at `now`,
/// however active it was. A sign-in time in the future (clock stepped back) counts from now.
pub fn session_expired(signed_in_at: i64, now: i64, max_age: Duration) -> bool {
    let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    now.saturating_sub(signed_in_at) >= max_age
}

/// Ends the session if it has outlived the absolute lifetime, however active it was.
pub async fn end_if_expired(state: &AppState, session: &Session) {
    if let Ok(Some(user)) = session.get::<SessionUser>(USER_KEY).await {
        if session_expired(user.signed_in_at, unix_now(), state.config.session_max_age) {
            tracing::info!(upn = %user.upn, "session reached its absolute lifetime; signed out");
            if let Err(e) = session.flush().await {
                tracing::warn!(error = %e, "could not end an expired session");
            }
        }
    }
}

/// Why a sign-in did not complete: only the dashboard's own code (and a known AADSTS number),
/// which the sign-in error page words itself, so a crafted link cannot put text on our page.
/// What the authority or the library said is logged where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInFailure {
    pub error: &'static str,
    pub aadsts: Option<&'static str>,
}

fn failure(error: &'static str, aadsts: Option<&'static str>) -> SignInFailure {
    SignInFailure { error, aadsts }
}

/// The id token's tenant must be the partner tenant: an `organizations` authority (or a
/// guest account) would otherwise let another organisation's admins in.
fn is_partner_tenant(tid: Option<&str>, partner_tenant_id: &str) -> bool {
    tid.is_some_and(|tid| tid.trim().eq_ignore_ascii_case(partner_tenant_id))
}

/// Starts a sign-in: remembers its state, nonce and PKCE verifier in the session and gives the
/// authority's URL to send the browser to.
pub async fn begin_sign_in(
    state: &AppState,
    session: &Session,
    login_hint: Option<&str>,
    return_to: Option<&str>,
) -> Result<url::Url, SignInFailure> {
    let provider = match state.authority.provider().await {
        Ok(provider) => provider,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in authority unavailable");
            return Err(failure("authority_unavailable", None));
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = CsrfToken::new_random().secret().clone();
    let mut request = provider
        .client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(
            ["openid", "profile", "offline_access"]
                .into_iter()
                .map(|s| Scope::new(s.to_string())),
        )
        .add_scope(Scope::new(format!(
            "{}/user_impersonation",
            state.config.partner_center_audience.trim_end_matches('/')
        )))
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", nonce.clone());
    if let Some(hint) = login_hint.map(str::trim) {
        if !hint.is_empty() && hint.len() <= 256 {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
    }
    let (url, csrf_state) = request.url();
    let pending = PendingSignIn {
        state: csrf_state.secret().clone(),
        nonce,
        pkce_verifier: verifier.secret().clone(),
        return_to: safe_return_path(return_to),
    };
    if let Err(e) = session.insert(PENDING_KEY, pending).await {
        tracing::error!(error = %e, "could not store the sign-in under way");
        return Err(failure("session_error", None));
    }
    Ok(url)
}

/// What the authority sent back to the redirect URI.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Completes the sign-in the authority answered: checks the state, redeems the code, verifies the
/// id token, stores the credential and starts the session. Gives the path to return to.
pub async fn finish_sign_in(
    state: &AppState,
    session: &Session,
    params: CallbackParams,
) -> Result<String, SignInFailure> {
    let pending: Option<PendingSignIn> = session.remove(PENDING_KEY).await.ok().flatten();
    if let Some(error) = params.error.as_deref() {
        let description = params.error_description.as_deref().unwrap_or_default();
        tracing::info!(error, description, "sign-in refused by the authority");
        return Err(failure(
            crate::ui::signin::authority_error_code(error),
            crate::ui::signin::known_aadsts(description),
        ));
    }
    let Some(pending) = pending else {
        return Err(failure("no_sign_in_in_progress", None));
    };
    if params.state.as_deref() != Some(pending.state.as_str()) {
        return Err(failure("state_mismatch", None));
    }
    let Some(code) = params.code else {
        return Err(failure("no_code", None));
    };
    match complete_sign_in(state, session, &pending, code).await {
        Ok(user) => {
            tracing::info!(upn = %user.upn, "signed in");
            let entry = crate::ssr::audit::Entry::new(&user.upn, "sign-in");
            if let Err(error) = crate::ssr::audit::record(&state.storage, &entry).await {
                tracing::error!(%error, "could not audit a sign-in");
                return Err(failure("audit_failed", None));
            }
            Ok(pending.return_to)
        }
        Err((error, description)) => {
            tracing::warn!(error, description, "sign-in failed");
            Err(failure(
                error,
                crate::ui::signin::known_aadsts(&description),
            ))
        }
    }
}

async fn complete_sign_in(
    state: &AppState,
    session: &Session,
    pending: &PendingSignIn,
    code: String,
) -> Result<SessionUser, (&'static str, String)> {
    let provider = state
        .authority
        .provider()
        .await
        .map_err(|e| ("authority_unavailable", e.to_string()))?;
    let started = std::time::Instant::now();
    let response = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(state.authority.http())
        .await;
    tokens::record_token_call("authorization_code", &response, started);
    let response = response.map_err(|e| match e {
        oauth2::RequestTokenError::ServerResponse(r) => (
            "token_refused",
            tokens::explain_aadsts(
                r.error().as_ref(),
                r.error_description()
                    .map(String::as_str)
                    .unwrap_or_default(),
            ),
        ),
        other => ("token_request_failed", other.to_string()),
    })?;
    let id_token = response.extra_fields().id_token.as_deref().ok_or((
        "no_id_token",
        "The authority returned no id token.".to_string(),
    ))?;
    let claims = state
        .authority
        .verify_id_token(&provider, id_token, &pending.nonce)
        .await
        .map_err(|e| ("invalid_id_token", e.to_string()))?;
    if !is_partner_tenant(claims.tid.as_deref(), state.authority.partner_tenant_id()) {
        let tid = claims.tid.clone().unwrap_or_else(|| "(none)".into());
        let entry = crate::ssr::audit::Entry::new(&claims.upn(), "sign-in")
            .target(format!("tenant {tid}"))
            .refused("the account belongs to another tenant than the partner tenant");
        // The refusal stands even when it cannot be audited; `record` logs that failure.
        let _ = crate::ssr::audit::record(&state.storage, &entry).await;
        return Err((
            "foreign_tenant",
            format!("id token of tenant {tid}, not the partner tenant"),
        ));
    }
    // Without a dashboard role nothing is stored: no credential, no session.
    if Permissions::from_app_roles(&claims.roles).is_none() {
        let entry = crate::ssr::audit::Entry::new(&claims.upn(), "sign-in")
            .refused("holds none of the dashboard's app roles");
        crate::ssr::audit::record(&state.storage, &entry)
            .await
            .map_err(|e| ("audit_failed", e.to_string()))?;
        return Err((NO_DASHBOARD_ROLE, NO_ROLE_MESSAGE.to_string()));
    }
    let refresh_token = response.refresh_token().ok_or((
        "no_refresh_token",
        "The authority returned no refresh token (offline_access was not granted).".to_string(),
    ))?;
    let user = SessionUser {
        user_key: claims.user_key(),
        upn: claims.upn(),
        display_name: claims.display_name(),
        app_roles: claims.roles.clone(),
        signed_in_at: unix_now(),
    };
    let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
    state
        .tokens
        .store_sign_in(
            &user.user_key,
            &user.upn,
            &user.display_name,
            refresh_token.secret(),
            &user.app_roles,
            Some((
                &state.config.partner_center_audience,
                response.access_token().secret(),
                lifetime,
            )),
        )
        .await
        .map_err(|e| ("storage_error", e.to_string()))?;
    // A new session id at sign-in defeats session fixation.
    session
        .cycle_id()
        .await
        .map_err(|e| ("session_error", e.to_string()))?;
    session
        .insert(USER_KEY, user.clone())
        .await
        .map_err(|e| ("session_error", e.to_string()))?;
    Ok(user)
}

/// Forgets the admin's stored credential and tokens, audits the sign-out and ends the session.
pub async fn sign_out(state: &AppState, session: &Session) {
    if let Ok(Some(user)) = session_user(session).await {
        if let Err(e) = state.tokens.forget(&user.user_key).await {
            tracing::warn!(error = %e, "could not delete the stored credential at sign-out");
        }
        tracing::info!(upn = %user.upn, "signed out");
        let entry = crate::ssr::audit::Entry::new(&user.upn, "sign-out");
        // The session ends regardless; the failure is logged by `record`.
        let _ = crate::ssr::audit::record(&state.storage, &entry).await;
    }
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "could not end the session");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_at_their_absolute_lifetime() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let signed_in = 1_800_000_000;
        assert!(!session_expired(signed_in, signed_in, hours(12)));
        assert!(!session_expired(
            signed_in,
            signed_in + 12 * 3600 - 1,
            hours(12)
        ));
        assert!(session_expired(signed_in, signed_in + 12 * 3600, hours(12)));
        assert!(session_expired(signed_in, signed_in + 13 * 3600, hours(12)));
        // Recorded before the lifetime existed (serde default 0): over the limit.
        assert!(session_expired(0, signed_in, hours(168)));
        // A sign-in time ahead of the clock does not make a session immortal.
        assert!(!session_expired(signed_in + 60, signed_in, hours(1)));
        let legacy: SessionUser = serde_json::from_value(serde_json::json!({
            "user_key": "t:o", "upn": "a@b.c", "display_name": "A"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(legacy.signed_in_at, 0);
    }

    #[test]
    fn only_the_partner_tenant_signs_in() {
        let partner = "4b6f1c2d-8e9a-4f01-b234-56789abcdef0";
        assert!(is_partner_tenant(Some(partner), partner));
        assert!(is_partner_tenant(
            Some("4B6F1C2D-8E9A-4F01-B234-56789ABCDEF0"),
            partner
        ));
        assert!(!is_partner_tenant(
            Some("00000000-0000-4000-8000-000000000001"),
            partner
        ));
        assert!(!is_partner_tenant(None, partner));
        assert!(!is_partner_tenant(Some(""), partner));
    }

    #[test]
    fn return_paths_stay_on_site() {
        assert_eq!(
            safe_return_path(Some("/customers?dap=on")),
            "/customers?dap=on"
        );
        assert_eq!(safe_return_path(Some("//evil.example.com")), "/customers");
        assert_eq!(
            safe_return_path(Some("https://evil.example.com")),
            "/customers"
        );
        assert_eq!(safe_return_path(Some("/\\evil.example.com")), "/customers");
        assert_eq!(safe_return_path(None), "/customers");
    }
}
