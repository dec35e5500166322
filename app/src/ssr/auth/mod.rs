//! Sign-in (OAuth2 authorization code + PKCE with the oauth2 crate, OIDC id token verified),
//! sessions, and the admin's tokens. Tokens live in this module only.

pub mod oidc;
pub mod seal;
pub mod tokens;

use crate::error::AppError;
use crate::model::access::Permissions;
use crate::model::SignedInUser;
use crate::ssr::state::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
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

fn no_role_message() -> String {
    use crate::model::access::{OPERATE_ROLE, READ_ROLE};
    format!(
        "You signed in, but you hold none of this dashboard's roles. Ask an administrator of your \
         organisation to assign you {READ_ROLE} (to view) or {OPERATE_ROLE} (to make changes) on \
         the dashboard's enterprise application in Entra ID, then sign in again."
    )
}

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

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
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
    session
        .get::<SessionUser>(USER_KEY)
        .await
        .map_err(|e| AppError::Internal(format!("session store: {e}")))
}

#[derive(Deserialize)]
struct LoginParams {
    login_hint: Option<String>,
    return_to: Option<String>,
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

fn sign_in_failed(error: &str, description: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", error)
        .append_pair("description", description)
        .finish();
    Redirect::to(&format!("/signin-error?{query}")).into_response()
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<LoginParams>,
) -> Response {
    let provider = match state.authority.provider().await {
        Ok(provider) => provider,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in authority unavailable");
            return sign_in_failed("authority_unavailable", &e.to_string());
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
    if let Some(hint) = params.login_hint.as_deref().map(str::trim) {
        if !hint.is_empty() && hint.len() <= 256 {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
    }
    let (url, csrf_state) = request.url();
    let pending = PendingSignIn {
        state: csrf_state.secret().clone(),
        nonce,
        pkce_verifier: verifier.secret().clone(),
        return_to: safe_return_path(params.return_to.as_deref()),
    };
    if let Err(e) = session.insert(PENDING_KEY, pending).await {
        return sign_in_failed("session_error", &e.to_string());
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<CallbackParams>,
) -> Response {
    let pending: Option<PendingSignIn> = session.remove(PENDING_KEY).await.ok().flatten();
    if let Some(error) = params.error.as_deref() {
        let description = params.error_description.as_deref().unwrap_or_default();
        tracing::info!(error, "sign-in refused by the authority");
        return sign_in_failed(error, &tokens::explain_aadsts(error, description));
    }
    let Some(pending) = pending else {
        return sign_in_failed(
            "no_sign_in_in_progress",
            "This sign-in was not started here, or it took too long. Start again.",
        );
    };
    if params.state.as_deref() != Some(pending.state.as_str()) {
        return sign_in_failed(
            "state_mismatch",
            "The answer from the sign-in page does not belong to this sign-in. Start again.",
        );
    }
    let Some(code) = params.code else {
        return sign_in_failed(
            "no_code",
            "The sign-in page returned no authorization code.",
        );
    };
    match complete_sign_in(&state, &session, &pending, code).await {
        Ok(user) => {
            tracing::info!(upn = %user.upn, "signed in");
            let entry = crate::ssr::audit::Entry::new(&user.upn, "sign-in");
            if let Err(error) = crate::ssr::audit::record(&state.storage, &entry).await {
                return sign_in_failed("audit_failed", &error.to_string());
            }
            Redirect::to(&pending.return_to).into_response()
        }
        Err((error, description)) => {
            tracing::warn!(error, description, "sign-in failed");
            sign_in_failed(error, &description)
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
    let response = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(state.authority.http())
        .await
        .map_err(|e| match e {
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
    // Without a dashboard role nothing is stored: no credential, no session.
    if Permissions::from_app_roles(&claims.roles).is_none() {
        let entry = crate::ssr::audit::Entry::new(&claims.upn(), "sign-in")
            .refused("holds none of the dashboard's app roles");
        crate::ssr::audit::record(&state.storage, &entry)
            .await
            .map_err(|e| ("audit_failed", e.to_string()))?;
        return Err((NO_DASHBOARD_ROLE, no_role_message()));
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
    };
    let lifetime = response.expires_in().unwrap_or(Duration::from_secs(300));
    state
        .tokens
        .store_sign_in(
            &user.user_key,
            &user.upn,
            &user.display_name,
            refresh_token.secret(),
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

async fn logout(State(state): State<AppState>, session: Session) -> Response {
    if let Ok(Some(user)) = session_user(&session).await {
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
    Redirect::to("/").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

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
